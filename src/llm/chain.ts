import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { fromSdkError, LlmError, type LlmErrorKind } from "./errors.ts";
import type {
  DraftEngine,
  DraftOptions,
  DraftRequest,
  DraftResult,
  DraftUsage,
  LlmProvider,
} from "./types.ts";

/**
 * Providers tried in order under ONE deadline, each behind a circuit breaker: after
 * `failures` consecutive failures a provider is skipped for `halfOpenAfterMs`, then one
 * trial call decides whether it closes again. The caller's abort stops everything.
 *
 * Time comes from `clock` only (the deadline timer is `clock.sleep`, the breaker reads
 * `clock.now()`), so tests drive both with a fake clock.
 */

export type BreakerState = "closed" | "open" | "half_open";

export interface ChainAttempt {
  provider: string;
  model?: string | undefined;
  status: "ok" | LlmErrorKind | "breaker_open";
  latencyMs: number;
  usage?: DraftUsage | undefined;
  error?: string | undefined;
}

export interface ChainOptions {
  providers: LlmProvider[];
  deadlineMs: number;
  clock: Clock;
  log: Logger;
  breaker?: { failures?: number | undefined; halfOpenAfterMs?: number | undefined } | undefined;
  /** Called once per attempt (breaker skips included), e.g. to record llm_calls. */
  onCall?: ((record: ChainAttempt) => void) | undefined;
}

export interface ProviderChain extends DraftEngine {
  draft(request: DraftRequest, options: DraftOptions): Promise<DraftResult & { attempts: ChainAttempt[] }>;
  breakerStates(): Record<string, BreakerState>;
}

function createBreaker(failures: number, halfOpenAfterMs: number, clock: Clock) {
  let consecutive = 0;
  let openedAt: number | undefined;
  let trialInFlight = false;
  return {
    state(): BreakerState {
      if (openedAt === undefined) return "closed";
      return clock.now() - openedAt >= halfOpenAfterMs ? "half_open" : "open";
    },
    /** May a call go through now? When half-open, only one trial call at a time. */
    allow(): boolean {
      const state = this.state();
      if (state === "closed") return true;
      if (state === "half_open" && !trialInFlight) {
        trialInFlight = true;
        return true;
      }
      return false;
    },
    success() {
      consecutive = 0;
      openedAt = undefined;
      trialInFlight = false;
    },
    failure() {
      consecutive++;
      // A failed trial re-opens at once; otherwise open on the N-th consecutive failure.
      if (trialInFlight || consecutive >= failures) openedAt = clock.now();
      trialInFlight = false;
    },
    /** The call ended without a verdict (the caller aborted): let another trial through. */
    release() {
      trialInFlight = false;
    },
  };
}

const describe = (value: unknown) =>
  value instanceof Error ? value.message : value === undefined ? "aborted" : String(value);

/** Rejects with the signal's reason once it aborts, so a provider that ignores its signal cannot outlive the deadline. */
function whenAborted(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

/** One provider's call under what is left of the deadline: its result, or the attempt that failed. */
async function attempt(
  ctx: Pick<ChainOptions, "clock" | "log" | "deadlineMs">,
  provider: LlmProvider,
  breaker: ReturnType<typeof createBreaker> | undefined,
  request: DraftRequest,
  signals: { caller: AbortSignal; deadline: AbortSignal; combined: AbortSignal },
  deadlineAt: number,
): Promise<{ attempt: ChainAttempt; result: DraftResult } | { attempt: ChainAttempt; raw: unknown }> {
  const { clock, log, deadlineMs } = ctx;
  const { caller, deadline, combined } = signals;
  const started = clock.now();
  const abort = whenAborted(combined);
  try {
    const result = await Promise.race([
      provider.draft(request, { signal: combined, timeLeftMs: deadlineAt - clock.now() }),
      abort.promise,
    ]);
    breaker?.success();
    const usage = result.usage;
    return {
      attempt: {
        provider: provider.name,
        model: result.model,
        status: "ok",
        latencyMs: clock.now() - started,
        usage,
      },
      result,
    };
  } catch (raw) {
    const latencyMs = clock.now() - started;
    if (caller.aborted) {
      breaker?.release();
      return {
        attempt: { provider: provider.name, status: "aborted", latencyMs, error: describe(caller.reason) },
        raw,
      };
    }
    const error = deadline.aborted
      ? new LlmError(provider.name, "timeout", `deadline of ${deadlineMs} ms reached`, { cause: raw })
      : fromSdkError(provider.name, raw);
    breaker?.failure();
    log.warn({ provider: provider.name, kind: error.kind, err: error.message }, "LLM provider failed");
    return {
      attempt: { provider: provider.name, status: error.kind, latencyMs, error: error.message },
      raw,
    };
  } finally {
    abort.dispose();
  }
}

export function createProviderChain(options: ChainOptions): ProviderChain {
  const { clock, log, deadlineMs } = options;
  const failures = options.breaker?.failures ?? 5;
  const halfOpenAfterMs = options.breaker?.halfOpenAfterMs ?? 30_000;
  const breakers = new Map(
    options.providers.map((p) => [p.name, createBreaker(failures, halfOpenAfterMs, clock)]),
  );

  return {
    providers: options.providers.map((p) => p.name),
    breakerStates: () => Object.fromEntries([...breakers].map(([name, b]) => [name, b.state()])),

    async draft(request, { signal }) {
      const attempts: ChainAttempt[] = [];
      const record = (attempt: ChainAttempt) => {
        attempts.push(attempt);
        try {
          options.onCall?.(attempt);
        } catch (error) {
          log.error({ err: describe(error) }, "onCall failed");
        }
      };
      const abortedByCaller = (cause: unknown) => {
        const error = new LlmError("chain", "aborted", `aborted: ${describe(signal.reason ?? cause)}`, {
          cause: signal.reason ?? cause,
        });
        error.attempts = attempts;
        return error;
      };
      if (signal.aborted) throw abortedByCaller(signal.reason);

      // One deadline for the whole chain: each fallback gets only what is left of it.
      const deadlineAt = clock.now() + deadlineMs;
      const deadline = new AbortController();
      const stopTimer = new AbortController();
      clock.sleep(deadlineMs, stopTimer.signal).then(
        () => deadline.abort(new LlmError("chain", "timeout", `deadline of ${deadlineMs} ms reached`)),
        () => {},
      );
      const combined = AbortSignal.any([signal, deadline.signal]);
      const skipped: string[] = [];

      try {
        for (const provider of options.providers) {
          if (signal.aborted) throw abortedByCaller(signal.reason);
          if (deadline.signal.aborted || clock.now() >= deadlineAt) {
            skipped.push(provider.name);
            continue;
          }
          const breaker = breakers.get(provider.name);
          if (breaker && !breaker.allow()) {
            record({ provider: provider.name, status: "breaker_open", latencyMs: 0 });
            continue;
          }
          const signals = { caller: signal, deadline: deadline.signal, combined };
          const outcome = await attempt(options, provider, breaker, request, signals, deadlineAt);
          record(outcome.attempt);
          if ("result" in outcome) return { ...outcome.result, attempts };
          if (signal.aborted) throw abortedByCaller(outcome.raw);
        }
      } finally {
        stopTimer.abort();
      }

      const reasons = [
        ...attempts.map((a) => `${a.provider}: ${a.status}`),
        ...skipped.map((name) => `${name}: no time left`),
      ];
      const error = new LlmError(
        "chain",
        "unavailable",
        `draft unavailable (${reasons.join("; ") || "no provider configured"})`,
      );
      error.attempts = attempts;
      throw error;
    },
  };
}
