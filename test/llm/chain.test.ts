import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { createProviderChain } from "../../src/llm/chain.ts";
import { LlmError } from "../../src/llm/errors.ts";
import type { DraftRequest, DraftResult, LlmProvider } from "../../src/llm/types.ts";
import { silentLogger } from "../../src/log.ts";

const request: DraftRequest = {
  system: "s",
  conversation: "c",
  query: "q",
  knowledge: [],
  temperature: 0,
  maxTokens: 100,
};
const result = (provider: string): DraftResult => ({
  text: `from ${provider}`,
  confidence: 0.8,
  intent: "x",
  needsHuman: false,
  citations: [],
  usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 },
  model: `${provider}-model`,
  provider,
});

function fakeClock() {
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async () => {} };
  return { clock, advance: (ms: number) => (now += ms) };
}

/** A provider that follows a script: "ok", an error kind, or "hang" (waits for abort). */
function scripted(name: string, script: string[]) {
  const calls: string[] = [];
  const provider: LlmProvider = {
    name,
    draft: (_req, { signal }) => {
      const step = script.shift() ?? "ok";
      calls.push(step);
      if (step === "ok") return Promise.resolve(result(name));
      if (step === "hang") {
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
        );
      }
      return Promise.reject(new LlmError(name, step as LlmError["kind"], step));
    },
  };
  return { provider, calls };
}

const signal = () => new AbortController().signal;

describe("provider chain", () => {
  it("falls back in order and records every attempt", async () => {
    const a = scripted("anthropic", ["rate_limited"]);
    const b = scripted("openai", ["malformed"]);
    const c = scripted("offline", ["ok"]);
    const chain = createProviderChain({
      providers: [a.provider, b.provider, c.provider],
      deadlineMs: 1_000,
      ...fakeClock(),
      log: silentLogger,
    });
    const out = await chain.draft(request, { signal: signal() });
    expect(out.provider).toBe("offline");
    expect(out.attempts.map((x) => `${x.provider}:${x.status}`)).toEqual([
      "anthropic:rate_limited",
      "openai:malformed",
      "offline:ok",
    ]);
  });

  it("gives every provider the same overall deadline and reports the chain unavailable", async () => {
    const slow = scripted("anthropic", ["hang"]);
    const never = scripted("openai", ["ok"]);
    const chain = createProviderChain({
      providers: [slow.provider, never.provider],
      deadlineMs: 80,
      ...fakeClock(),
      log: silentLogger,
    });
    const started = Date.now();
    const error = (await chain.draft(request, { signal: signal() }).catch((e) => e)) as LlmError;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.kind).toBe("unavailable");
    expect(error.message).toContain("anthropic: timeout");
    // the deadline is shared: no time was left for the fallback
    expect(never.calls).toEqual([]);
  });

  it("opens the breaker after consecutive failures, skips the provider, half-opens later and closes on success", async () => {
    const { clock, advance } = fakeClock();
    const flaky = scripted("openai", ["server", "server", "ok"]);
    const backup = scripted("offline", []);
    const chain = createProviderChain({
      providers: [flaky.provider, backup.provider],
      deadlineMs: 1_000,
      clock,
      log: silentLogger,
      breaker: { failures: 2, halfOpenAfterMs: 30_000 },
    });
    await chain.draft(request, { signal: signal() });
    await chain.draft(request, { signal: signal() });
    expect(chain.breakerStates()).toEqual({ openai: "open", offline: "closed" });
    const skipped = await chain.draft(request, { signal: signal() });
    expect(skipped.attempts[0]).toMatchObject({ provider: "openai", status: "breaker_open" });
    expect(flaky.calls).toHaveLength(2);

    advance(30_000);
    expect(chain.breakerStates().openai).toBe("half_open");
    const trial = await chain.draft(request, { signal: signal() });
    expect(trial.provider).toBe("openai");
    expect(chain.breakerStates().openai).toBe("closed");
  });

  it("stops at once when the caller aborts", async () => {
    const slow = scripted("anthropic", ["hang"]);
    const next = scripted("offline", ["ok"]);
    const chain = createProviderChain({
      providers: [slow.provider, next.provider],
      deadlineMs: 5_000,
      ...fakeClock(),
      log: silentLogger,
    });
    const controller = new AbortController();
    const pending = chain.draft(request, { signal: controller.signal });
    controller.abort(new Error("shutting down"));
    await expect(pending).rejects.toThrow("shutting down");
    expect(next.calls).toEqual([]);
  });
});
