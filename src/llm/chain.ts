import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { LlmError, toLlmError } from "./errors.ts";
import type { DraftEngine, DraftRequest, LlmAttempt, LlmProvider } from "./types.ts";

/**
 * Providers tried in order under one deadline, each behind a circuit breaker: after
 * `failures` consecutive failures a provider is skipped for `halfOpenAfterMs`, then one
 * trial call decides whether it closes again. The caller's abort stops everything.
 */

export type BreakerState = "closed" | "open" | "half_open";

export interface ChainOptions {
  providers: LlmProvider[];
  deadlineMs: number;
  clock: Clock;
  log: Logger;
  breaker?: { failures?: number; halfOpenAfterMs?: number };
}

function createBreaker(failures: number, halfOpenAfterMs: number, clock: Clock) {
  let consecutive = 0;
  let openedAt: number | undefined;
  let trial = false;
  return {
    state(): BreakerState {
      if (openedAt === undefined) return "closed";
      return clock.now() - openedAt >= halfOpenAfterMs ? "half_open" : "open";
    },
    /** May a call go through now? In half-open, only one trial at a time. */
    allow(): boolean {
      const state = this.state();
      if (state === "closed") return true;
      if (state === "half_open" && !trial) {
        trial = true;
        return true;
      }
      return false;
    },
    success() {
      consecutive = 0;
      openedAt = undefined;
      trial = false;
    },
    failure() {
      consecutive++;
      if (trial || consecutive >= failures) openedAt = clock.now();
      trial = false;
    },
  };
}

export function createProviderChain(options: ChainOptions): DraftEngine & {
  breakerStates(): Record<string, BreakerState>;
} {
  const { clock, log } = options;
  const failures = options.breaker?.failures ?? 5;
  const halfOpenAfterMs = options.breaker?.halfOpenAfterMs ?? 30_000;
  const breakers = new Map(
    options.providers.map((p) => [p.name, createBreaker(failures, halfOpenAfterMs, clock)]),
  );

  return {
    breakerStates: () => Object.fromEntries([...breakers].map(([name, b]) => [name, b.state()])),

    async draft(request: DraftRequest, { signal }) {
      const deadline = AbortSignal.timeout(options.deadlineMs);
      const combined = AbortSignal.any([signal, deadline]);
      const attempts: LlmAttempt[] = [];
      for (const provider of options.providers) {
        const breaker = breakers.get(provider.name);
        if (breaker && !breaker.allow()) {
          attempts.push({ provider: provider.name, status: "breaker_open", latencyMs: 0 });
          continue;
        }
        if (combined.aborted) break;
        const started = clock.now();
        try {
          const result = await provider.draft(request, { signal: combined });
          breaker?.success();
          attempts.push({
            provider: provider.name,
            model: result.model,
            status: "ok",
            latencyMs: clock.now() - started,
            usage: result.usage,
          });
          return { ...result, attempts };
        } catch (raw) {
          if (signal.aborted) throw raw;
          const error = deadline.aborted
            ? new LlmError(provider.name, "timeout", `deadline of ${options.deadlineMs} ms reached`, {
                cause: raw,
              })
            : toLlmError(provider.name, raw);
          breaker?.failure();
          attempts.push({
            provider: provider.name,
            status: error.kind,
            latencyMs: clock.now() - started,
            error: error.message,
          });
          log.warn({ provider: provider.name, kind: error.kind, err: error.message }, "LLM provider failed");
          if (deadline.aborted) break;
        }
      }
      const summary =
        attempts.map((a) => `${a.provider}: ${a.status}`).join("; ") || "no provider configured";
      const error = new LlmError("chain", "unavailable", `draft unavailable (${summary})`);
      error.attempts = attempts;
      throw error;
    },
  };
}
