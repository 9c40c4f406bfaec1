import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { type ChainAttempt, createProviderChain } from "../../src/llm/chain.ts";
import { LlmError, type LlmErrorKind } from "../../src/llm/errors.ts";
import type { DraftOptions, DraftRequest, DraftResult, LlmProvider } from "../../src/llm/types.ts";
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
  usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 2 },
  model: `${provider}-model`,
  provider,
});

/** A clock whose time only moves when the test says so; sleeps resolve when their time comes. */
function manualClock() {
  let now = 0;
  const timers: Array<{ at: number; resolve: () => void }> = [];
  const clock: Clock = {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const timer = { at: now + ms, resolve };
        timers.push(timer);
        signal?.addEventListener(
          "abort",
          () => {
            timers.splice(timers.indexOf(timer), 1);
            reject(signal.reason);
          },
          { once: true },
        );
      }),
  };
  /** Moves time on and fires due timers (synchronously, so providers can call it too). */
  const advance = (ms: number) => {
    now += ms;
    for (const timer of timers.filter((t) => t.at <= now)) {
      timers.splice(timers.indexOf(timer), 1);
      timer.resolve();
    }
  };
  return { clock, advance, pendingTimers: () => timers.length };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

type Step = "ok" | "hang" | LlmErrorKind | ((options: DraftOptions) => Promise<DraftResult>);

/** A provider that follows a script: "ok", an error kind, "hang" (waits for its signal), or a function. */
function scripted(name: string, script: Step[] = []) {
  const calls: AbortSignal[] = [];
  const provider: LlmProvider = {
    name,
    draft: (_req, options) => {
      const step = script.shift() ?? "ok";
      calls.push(options.signal);
      if (typeof step === "function") return step(options);
      if (step === "ok") return Promise.resolve(result(name));
      if (step === "hang") {
        return new Promise((_, reject) =>
          options.signal.addEventListener("abort", () => reject(options.signal.reason), { once: true }),
        );
      }
      return Promise.reject(new LlmError(name, step, step));
    },
  };
  return { provider, calls };
}

const signal = () => new AbortController().signal;

function chainOf(providers: LlmProvider[], extra: Partial<Parameters<typeof createProviderChain>[0]> = {}) {
  const time = manualClock();
  const records: ChainAttempt[] = [];
  const chain = createProviderChain({
    providers,
    deadlineMs: 1_000,
    clock: time.clock,
    log: silentLogger,
    onCall: (record) => records.push(record),
    ...extra,
  });
  return { chain, records, ...time };
}

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LlmError);
  return error as LlmError;
}

describe("provider chain", () => {
  it("returns the first provider's draft and records one ok attempt", async () => {
    const a = scripted("anthropic", ["ok"]);
    const b = scripted("openai");
    const { chain, records, pendingTimers } = chainOf([a.provider, b.provider]);
    const out = await chain.draft(request, { signal: signal() });
    expect(out).toMatchObject({ provider: "anthropic", text: "from anthropic" });
    expect(out.attempts).toEqual([
      {
        provider: "anthropic",
        model: "anthropic-model",
        status: "ok",
        latencyMs: 0,
        usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 2 },
      },
    ]);
    expect(records).toEqual(out.attempts);
    expect(b.calls).toHaveLength(0);
    // the deadline timer is cleared once the chain is done
    expect(pendingTimers()).toBe(0);
  });

  it("falls through every error kind in order and records every attempt", async () => {
    const kinds: LlmErrorKind[] = [
      "bad_request",
      "auth",
      "malformed",
      "refusal",
      "empty",
      "timeout",
      "server",
      "rate_limited",
    ];
    const failing = kinds.map((kind) => scripted(`p_${kind}`, [kind]));
    const last = scripted("offline", ["ok"]);
    const { chain, records } = chainOf([...failing.map((f) => f.provider), last.provider]);
    const out = await chain.draft(request, { signal: signal() });
    expect(out.provider).toBe("offline");
    expect(out.attempts.map((a) => `${a.provider}:${a.status}`)).toEqual([
      ...kinds.map((kind) => `p_${kind}:${kind}`),
      "offline:ok",
    ]);
    expect(records).toHaveLength(kinds.length + 1);
    expect(records[0]).toMatchObject({
      provider: "p_bad_request",
      status: "bad_request",
      error: expect.any(String),
    });
  });

  it("maps a raw SDK-style error thrown by a provider", async () => {
    const raw = scripted("openai", [
      () => Promise.reject(Object.assign(new Error("429 Rate limit reached"), { status: 429 })),
    ]);
    const next = scripted("offline", ["ok"]);
    const { chain } = chainOf([raw.provider, next.provider]);
    const out = await chain.draft(request, { signal: signal() });
    expect(out.attempts[0]).toMatchObject({ provider: "openai", status: "rate_limited" });
  });

  it("throws unavailable naming each provider and why, with the attempts attached", async () => {
    const a = scripted("anthropic", ["timeout"]);
    const b = scripted("openai", ["rate_limited"]);
    const { chain, records } = chainOf([a.provider, b.provider]);
    const error = await failure(chain.draft(request, { signal: signal() }));
    expect(error.kind).toBe("unavailable");
    expect(error.message).toContain("anthropic: timeout; openai: rate_limited");
    expect(error.attempts.map((x) => x.status)).toEqual(["timeout", "rate_limited"]);
    expect(records).toHaveLength(2);
  });

  it("aborts a hanging provider at the deadline and tries no fallback when no time is left", async () => {
    const slow = scripted("anthropic", ["hang"]);
    const never = scripted("openai", ["ok"]);
    const { chain, advance } = chainOf([slow.provider, never.provider], { deadlineMs: 1_000 });
    const pending = failure(chain.draft(request, { signal: signal() }));
    await settle();
    expect(slow.calls).toHaveLength(1);
    advance(999);
    await settle();
    expect(slow.calls[0]?.aborted).toBe(false);
    advance(1);
    const error = await pending;
    expect(slow.calls[0]?.aborted).toBe(true);
    expect(error.kind).toBe("unavailable");
    expect(error.message).toContain("anthropic: timeout");
    expect(error.message).toContain("openai: no time left");
    expect(error.attempts).toEqual([
      expect.objectContaining({ provider: "anthropic", status: "timeout", latencyMs: 1_000 }),
    ]);
    expect(never.calls).toHaveLength(0);
  });

  it("gives a fallback only what remains of the one deadline", async () => {
    // the first provider spends 600 ms of the 1 000 ms, then fails
    const first = scripted("anthropic", [
      async () => {
        advance(600);
        throw new LlmError("anthropic", "server", "overloaded");
      },
    ]);
    const second = scripted("openai", ["hang"]);
    const { chain, advance } = chainOf([first.provider, second.provider], { deadlineMs: 1_000 });
    const pending = failure(chain.draft(request, { signal: signal() }));
    await settle();
    expect(second.calls).toHaveLength(1);
    advance(399);
    await settle();
    expect(second.calls[0]?.aborted).toBe(false);
    advance(1);
    const error = await pending;
    expect(second.calls[0]?.aborted).toBe(true);
    expect(error.attempts.map((a) => [a.provider, a.status, a.latencyMs])).toEqual([
      ["anthropic", "server", 600],
      ["openai", "timeout", 400],
    ]);
  });

  it("does not wait for a provider that ignores its signal", async () => {
    const deaf = scripted("compatible", [() => new Promise<DraftResult>(() => {})]);
    const { chain, advance } = chainOf([deaf.provider], { deadlineMs: 500 });
    const pending = failure(chain.draft(request, { signal: signal() }));
    await settle();
    advance(500);
    expect((await pending).message).toContain("compatible: timeout");
  });

  it("opens the breaker after N consecutive failures, skips the provider, half-opens later and closes on success", async () => {
    const flaky = scripted("openai", ["server", "timeout", "ok"]);
    const backup = scripted("offline");
    const { chain, records, advance } = chainOf([flaky.provider, backup.provider], {
      breaker: { failures: 2, halfOpenAfterMs: 30_000 },
    });
    await chain.draft(request, { signal: signal() });
    expect(chain.breakerStates()).toEqual({ openai: "closed", offline: "closed" });
    await chain.draft(request, { signal: signal() });
    expect(chain.breakerStates()).toEqual({ openai: "open", offline: "closed" });

    const skipped = await chain.draft(request, { signal: signal() });
    expect(skipped.provider).toBe("offline");
    expect(skipped.attempts.map((a) => `${a.provider}:${a.status}`)).toEqual([
      "openai:breaker_open",
      "offline:ok",
    ]);
    expect(records.filter((r) => r.status === "breaker_open")).toHaveLength(1);
    expect(flaky.calls).toHaveLength(2);

    advance(29_999);
    expect(chain.breakerStates().openai).toBe("open");
    advance(1);
    expect(chain.breakerStates().openai).toBe("half_open");
    const trial = await chain.draft(request, { signal: signal() });
    expect(trial.provider).toBe("openai");
    expect(chain.breakerStates().openai).toBe("closed");
  });

  it("a failed half-open trial re-opens the breaker for another full period", async () => {
    const flaky = scripted("openai", ["server", "server"]);
    const backup = scripted("offline");
    const { chain, advance } = chainOf([flaky.provider, backup.provider], {
      breaker: { failures: 1, halfOpenAfterMs: 10_000 },
    });
    await chain.draft(request, { signal: signal() });
    expect(chain.breakerStates().openai).toBe("open");
    advance(10_000);
    const trial = await chain.draft(request, { signal: signal() });
    expect(trial.attempts.map((a) => a.status)).toEqual(["server", "ok"]);
    expect(chain.breakerStates().openai).toBe("open");
    advance(9_999);
    expect(chain.breakerStates().openai).toBe("open");
    advance(1);
    expect(chain.breakerStates().openai).toBe("half_open");
  });

  it("lets only one trial call through while half-open", async () => {
    const flaky = scripted("openai", ["server", "hang"]);
    const backup = scripted("offline");
    const { chain, advance } = chainOf([flaky.provider, backup.provider], {
      breaker: { failures: 1, halfOpenAfterMs: 10_000 },
      deadlineMs: 60_000,
    });
    await chain.draft(request, { signal: signal() });
    advance(10_000);
    const first = failure(chain.draft(request, { signal: signal() }));
    await settle();
    const second = await chain.draft(request, { signal: signal() });
    expect(second.attempts.map((a) => `${a.provider}:${a.status}`)).toEqual([
      "openai:breaker_open",
      "offline:ok",
    ]);
    // the trial hangs until its deadline: that counts as a failed trial
    advance(60_000);
    expect((await first).message).toContain("openai: timeout");
    expect(chain.breakerStates().openai).toBe("open");
  });

  it("stops at once when the caller aborts, without blaming the provider", async () => {
    const slow = scripted("anthropic", ["hang"]);
    const next = scripted("offline", ["ok"]);
    const { chain, records } = chainOf([slow.provider, next.provider], { breaker: { failures: 1 } });
    const controller = new AbortController();
    const pending = failure(chain.draft(request, { signal: controller.signal }));
    await settle();
    controller.abort(new Error("shutting down"));
    const error = await pending;
    expect(error.kind).toBe("aborted");
    expect(error.message).toContain("shutting down");
    expect(error.attempts).toEqual([expect.objectContaining({ provider: "anthropic", status: "aborted" })]);
    expect(records).toHaveLength(1);
    expect(next.calls).toHaveLength(0);
    expect(chain.breakerStates().anthropic).toBe("closed");
  });

  it("an aborted error that is not the caller's falls through", async () => {
    const odd = scripted("openai", ["aborted"]);
    const next = scripted("offline", ["ok"]);
    const { chain } = chainOf([odd.provider, next.provider]);
    const out = await chain.draft(request, { signal: signal() });
    expect(out.attempts.map((a) => a.status)).toEqual(["aborted", "ok"]);
  });

  it("refuses to start when the caller's signal is already aborted", async () => {
    const a = scripted("anthropic", ["ok"]);
    const { chain } = chainOf([a.provider]);
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    expect((await failure(chain.draft(request, { signal: controller.signal }))).kind).toBe("aborted");
    expect(a.calls).toHaveLength(0);
  });
});
