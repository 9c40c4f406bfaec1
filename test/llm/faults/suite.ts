import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../../src/clock.ts";
import { loadConfig } from "../../../src/config.ts";
import { createKnowledgeBase } from "../../../src/knowledge/kb.ts";
import { createProviderChain } from "../../../src/llm/chain.ts";
import { LlmError } from "../../../src/llm/errors.ts";
import { buildProviders } from "../../../src/llm/providers.ts";
import type { DraftRequest } from "../../../src/llm/types.ts";
import { silentLogger } from "../../../src/log.ts";

/**
 * Every provider, every way an LLM API fails, through the chain exactly as config builds
 * it: each ends within the deadline, as the offline fallback's draft or a clear
 * "unavailable" error naming the provider and the fault, and the breaker opens and
 * closes as configured.
 */

const DEADLINE_MS = 2_500;
const TIMEOUT_MS = 300;

const kb = createKnowledgeBase([
  {
    name: "returns.md",
    content:
      "---\ntitle: Returns\nkeywords: return, refund\n---\nReturns are free within 30 days of delivery.",
  },
]);
const request: DraftRequest = {
  system: "You draft support replies.",
  conversation: "Customer: can I return my shoes?",
  query: "can I return my shoes?",
  knowledge: kb.search("can I return my shoes?", 3),
  temperature: 0.3,
  maxTokens: 400,
};
const answer = JSON.stringify({
  reply: "Yes, returns are free within 30 days.",
  confidence: 0.9,
  intent: "returns",
  needs_human: false,
  needs_human_reason: null,
  language: "en",
  citations: [],
});

export type ProviderName = "openai" | "anthropic" | "compatible";
const hosts: Record<ProviderName, { origin: string; path: string }> = {
  openai: { origin: "https://api.openai.com", path: "/v1/chat/completions" },
  compatible: { origin: "http://llm.local:11434", path: "/v1/chat/completions" },
  anthropic: { origin: "https://api.anthropic.com", path: "/v1/messages" },
};

const openAiBody = (content: string | null, finish = "stop", refusal: string | null = null) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "m",
  choices: [{ index: 0, message: { role: "assistant", content, refusal }, finish_reason: finish }],
  usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
});
const anthropicBody = (content: unknown[], stop = "tool_use") => ({
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: "claude",
  content,
  stop_reason: stop,
  stop_sequence: null,
  usage: { input_tokens: 10, output_tokens: 5 },
});
const bodies = {
  ok: (p: ProviderName) =>
    p === "anthropic"
      ? anthropicBody([{ type: "tool_use", id: "t", name: "submit_draft", input: JSON.parse(answer) }])
      : openAiBody(answer),
  refusal: (p: ProviderName) =>
    p === "anthropic"
      ? anthropicBody([{ type: "text", text: "I can't help with that." }], "refusal")
      : openAiBody(null, "stop", "I can't help with that."),
  empty: (p: ProviderName) => (p === "anthropic" ? anthropicBody([], "end_turn") : openAiBody("")),
  truncated: (p: ProviderName) =>
    p === "anthropic"
      ? anthropicBody(
          [{ type: "tool_use", id: "t", name: "submit_draft", input: { reply: "Yes, ret" } }],
          "max_tokens",
        )
      : openAiBody(answer.slice(0, 30), "length"),
};

function chainFor(provider: ProviderName, env: Record<string, string> = {}) {
  const config = loadConfig({
    LLM_PROVIDER: provider,
    LLM_FALLBACK: "offline",
    OPENAI_API_KEY: "sk-test",
    ANTHROPIC_API_KEY: "sk-ant-test",
    ...(provider === "compatible" ? { LLM_BASE_URL: `${hosts.compatible.origin}/v1` } : {}),
    LLM_TIMEOUT_MS: String(TIMEOUT_MS),
    LLM_RETRIES: "1",
    DRAFT_DEADLINE_MS: String(DEADLINE_MS),
    ...env,
  });
  return createProviderChain({
    providers: buildProviders(config, kb),
    deadlineMs: config.llm.deadlineMs,
    breaker: config.llm.breaker,
    clock: systemClock,
    log: silentLogger,
  });
}

const api = (p: ProviderName) => nock(hosts[p].origin).post(hosts[p].path);

/** Each fault: how the API is scripted, and the kind the chain must record for the provider. */
const faults: Array<{ name: string; kind: string; script: (p: ProviderName) => void }> = [
  {
    name: "429 with Retry-After, twice",
    kind: "rate_limited",
    script: (p) => {
      api(p)
        .times(2)
        .reply(429, { error: { type: "rate_limit_error", message: "slow down" } }, { "retry-after": "1" });
    },
  },
  {
    name: "500, twice",
    kind: "server",
    script: (p) => {
      api(p)
        .times(2)
        .reply(500, { error: { type: "api_error", message: "boom" } });
    },
  },
  {
    name: "timeout while connecting",
    kind: "timeout",
    script: (p) => {
      api(p).times(2).delayConnection(5_000).reply(200, bodies.ok(p));
    },
  },
  {
    name: "timeout mid-answer (headers sent, body stalls)",
    kind: "timeout",
    script: (p) => {
      api(p).times(2).delayBody(5_000).reply(200, bodies.ok(p));
    },
  },
  {
    name: "truncated JSON body",
    kind: "malformed",
    script: (p) => {
      api(p)
        .times(2)
        .reply(200, JSON.stringify(bodies.ok(p)).slice(0, 60), { "content-type": "application/json" });
    },
  },
  {
    name: "answer cut at max tokens",
    kind: "malformed",
    script: (p) => {
      api(p).reply(200, bodies.truncated(p));
    },
  },
  {
    name: "refusal",
    kind: "refusal",
    script: (p) => {
      api(p).reply(200, bodies.refusal(p));
    },
  },
  {
    name: "empty answer",
    kind: "empty",
    script: (p) => {
      api(p).reply(200, bodies.empty(p));
    },
  },
];

/**
 * One provider's cases; each provider has a test file of its own, so the three run side by
 * side (the cases mostly wait out timeouts and Retry-After).
 */
export function faultSuite(provider: ProviderName) {
  // Hooks here, not at the top: test files share this module once per worker.
  beforeAll(() => nock.disableNetConnect());

  /** Every timed fault case, per provider, for the summary line. */
  const timed: Array<{ provider: string; fault: string; elapsedMs: number }> = [];
  afterAll(() => {
    const faultCount = new Set(timed.map((t) => t.fault)).size;
    const providerCount = new Set(timed.map((t) => t.provider)).size;
    const late = timed.filter((t) => t.elapsedMs >= DEADLINE_MS).length;
    const max = Math.max(...timed.map((t) => t.elapsedMs));
    console.log(
      `llm faults: ${faultCount} fault cases × ${providerCount} providers (${timed.length} runs), ` +
        `${late === 0 ? "all" : `${timed.length - late} of ${timed.length}`} within the ${DEADLINE_MS / 1000} s deadline, max ${(max / 1000).toFixed(2)} s`,
    );
  });
  afterEach(() => {
    nock.abortPendingRequests();
    nock.cleanAll();
  });
  describe(provider, () => {
    it.each(faults)(
      "$name → the offline fallback's draft within the deadline",
      async ({ name, kind, script }) => {
        script(provider);
        const started = Date.now();
        const result = await chainFor(provider).draft(request, { signal: new AbortController().signal });
        const elapsed = Date.now() - started;
        expect(result.provider).toBe("offline");
        expect(result.text).toMatch(/30 days/);
        expect(result.attempts.map((a) => [a.provider, a.status])).toEqual([
          [provider, kind],
          ["offline", "ok"],
        ]);
        timed.push({ provider, fault: name, elapsedMs: elapsed });
        expect(elapsed).toBeLessThan(DEADLINE_MS);
      },
    );

    it("honours Retry-After: the retry after a 429 waits the second it asks for", async () => {
      const sentAt: number[] = [];
      api(provider).reply(() => {
        sentAt.push(Date.now());
        return [429, { error: { type: "rate_limit_error", message: "slow down" } }, { "retry-after": "1" }];
      });
      api(provider).reply(() => {
        sentAt.push(Date.now());
        return [200, bodies.ok(provider)];
      });
      const result = await chainFor(provider).draft(request, { signal: new AbortController().signal });
      expect(result.provider).toBe(provider);
      const [first = 0, second = 0] = sentAt;
      expect(sentAt).toHaveLength(2);
      expect(second - first).toBeGreaterThanOrEqual(950);
    });

    it("a Retry-After longer than the time left is not waited out: the fallback drafts at once", async () => {
      const scope = api(provider)
        .times(2)
        .reply(429, { error: { type: "rate_limit_error", message: "slow down" } }, { "retry-after": "30" });
      const started = Date.now();
      const result = await chainFor(provider).draft(request, { signal: new AbortController().signal });
      const elapsed = Date.now() - started;
      expect(result.provider).toBe("offline");
      expect(result.attempts.map((a) => [a.provider, a.status])).toEqual([
        [provider, "rate_limited"],
        ["offline", "ok"],
      ]);
      // One request: the retry it asked to wait 30 s for was never made.
      expect(scope.pendingMocks()).toHaveLength(1);
      expect(elapsed).toBeLessThan(DEADLINE_MS / 2);
      timed.push({ provider, fault: "Retry-After beyond the deadline", elapsedMs: elapsed });
    });

    it("a Retry-After longer than the time left, without a fallback, is a prompt 'unavailable' error", async () => {
      api(provider)
        .times(2)
        .reply(429, { error: { type: "rate_limit_error", message: "slow down" } }, { "retry-after": "30" });
      const started = Date.now();
      const error = await chainFor(provider, { LLM_FALLBACK: "" })
        .draft(request, { signal: new AbortController().signal })
        .catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(LlmError);
      expect((error as LlmError).kind).toBe("unavailable");
      expect((error as LlmError).message).toContain(`${provider}: rate_limited`);
      expect(elapsed).toBeLessThan(DEADLINE_MS / 2);
      timed.push({ provider, fault: "Retry-After beyond the deadline, no fallback", elapsedMs: elapsed });
    });

    it("without a fallback, a fault is a clear 'unavailable' error naming the provider and the fault", async () => {
      api(provider)
        .times(2)
        .reply(500, { error: { type: "api_error", message: "boom" } });
      const chain = chainFor(provider, { LLM_FALLBACK: "" });
      const error = await chain
        .draft(request, { signal: new AbortController().signal })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LlmError);
      expect((error as LlmError).kind).toBe("unavailable");
      expect((error as LlmError).message).toContain(`${provider}: `);
      expect((error as LlmError).message).toMatch(/server|500/);
    });

    it("opens the breaker after LLM_BREAKER_FAILURES failures, skips the provider, and closes after the cool-down", async () => {
      const chain = chainFor(provider, {
        LLM_BREAKER_FAILURES: "2",
        LLM_BREAKER_COOLDOWN_SECONDS: "1",
        LLM_RETRIES: "0",
      });
      const draft = () => chain.draft(request, { signal: new AbortController().signal });
      const scope = api(provider)
        .times(2)
        .reply(500, { error: { type: "api_error", message: "boom" } });
      await draft();
      expect(chain.breakerStates()[provider]).toBe("closed");
      await draft();
      expect(scope.isDone()).toBe(true);
      expect(chain.breakerStates()[provider]).toBe("open");

      // Open: the provider is not even called.
      const skipped = await draft();
      expect(skipped.attempts.map((a) => a.status)).toEqual(["breaker_open", "ok"]);

      await new Promise((r) => setTimeout(r, 1_050));
      expect(chain.breakerStates()[provider]).toBe("half_open");
      api(provider).reply(200, bodies.ok(provider));
      const recovered = await draft();
      expect(recovered.provider).toBe(provider);
      expect(chain.breakerStates()[provider]).toBe("closed");
    });
  });
}
