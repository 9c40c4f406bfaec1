import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAnthropicProvider } from "../../src/llm/anthropic.ts";
import { LlmError } from "../../src/llm/errors.ts";
import { createOpenAiProvider } from "../../src/llm/openai.ts";
import type { DraftRequest } from "../../src/llm/types.ts";

const OPENAI = "https://api.openai.test";
const ANTHROPIC = "https://api.anthropic.test";

const request: DraftRequest = {
  system:
    "You draft support replies.\n\nKnowledge articles:\n[returns] Returns\nReturns are free within 30 days.",
  conversation: "Customer: can I return my shoes?",
  query: "can I return my shoes?",
  knowledge: [{ id: "returns", title: "Returns", text: "Returns are free within 30 days.", score: 1 }],
  temperature: 0.3,
  maxTokens: 400,
};
const answer = {
  reply: "Yes! Returns are free within 30 days.",
  confidence: 0.92,
  intent: "returns",
  needs_human: false,
  needs_human_reason: null,
  language: "en",
  citations: ["returns", "made-up-id"],
};

const completion = (content: string | null, extra: Record<string, unknown> = {}) => ({
  id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  object: "chat.completion",
  created: 1741569952,
  model: "gpt-4o-mini-2024-07-18",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop",
      ...extra,
    },
  ],
  usage: {
    prompt_tokens: 812,
    completion_tokens: 41,
    total_tokens: 853,
    prompt_tokens_details: { cached_tokens: 768, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  },
  service_tier: "default",
  system_fingerprint: "fp_06737a9306",
});

const message = (input: unknown, stop_reason = "tool_use") => ({
  id: "msg_01Aq9w938a90dw8q",
  type: "message",
  role: "assistant",
  model: "claude-haiku-4-5-20251001",
  content: [{ type: "tool_use", id: "toolu_01A09q90qw90lq917835lq9", name: "submit_draft", input }],
  stop_reason,
  stop_sequence: null,
  usage: {
    input_tokens: 120,
    output_tokens: 60,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 700,
  },
});

const signal = () => new AbortController().signal;
const openai = (timeoutMs = 2_000, name: "openai" | "compatible" = "openai") =>
  createOpenAiProvider({
    name,
    apiKey: "sk-test",
    baseUrl: `${OPENAI}/v1`,
    model: "gpt-4o-mini",
    timeoutMs,
    retries: 1,
  });
const anthropic = (timeoutMs = 2_000) =>
  createAnthropicProvider({
    apiKey: "sk-ant-test",
    baseUrl: ANTHROPIC,
    model: "claude-haiku-4-5",
    timeoutMs,
    retries: 1,
  });

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LlmError);
    return error as LlmError;
  }
  throw new Error("expected a failure");
}

describe("openai provider", () => {
  it("asks for strict structured output with the system prompt first and returns a validated draft", async () => {
    let body: Record<string, unknown> = {};
    nock(OPENAI)
      .post("/v1/chat/completions", (b) => {
        body = b;
        return true;
      })
      .reply(200, completion(JSON.stringify(answer)));
    const result = await openai().draft(request, { signal: signal() });
    expect(body).toMatchObject({
      model: "gpt-4o-mini",
      max_completion_tokens: 400,
      temperature: 0.3,
      messages: [
        { role: "system", content: request.system },
        { role: "user", content: request.conversation },
      ],
      response_format: { type: "json_schema", json_schema: { name: "draft", strict: true } },
    });
    expect(result).toMatchObject({
      text: "Yes! Returns are free within 30 days.",
      confidence: 0.92,
      intent: "returns",
      needsHuman: false,
      citations: ["returns"],
      model: "gpt-4o-mini-2024-07-18",
      provider: "openai",
      usage: { inputTokens: 812, outputTokens: 41, cachedInputTokens: 768 },
    });
  });

  it("the compatible flavour uses JSON mode and describes the shape in the system prompt", async () => {
    let body: { response_format?: unknown; max_tokens?: number; messages?: Array<{ content: string }> } = {};
    nock(OPENAI)
      .post("/v1/chat/completions", (b) => {
        body = b;
        return true;
      })
      .reply(200, completion(`\`\`\`json\n${JSON.stringify(answer)}\n\`\`\``));
    const result = await openai(2_000, "compatible").draft(request, { signal: signal() });
    expect(body.response_format).toEqual({ type: "json_object" });
    expect(body.max_tokens).toBe(400);
    expect(body.messages?.[0]?.content).toContain('{"reply": string');
    expect(result.provider).toBe("compatible");
  });

  it("retries a 429 and succeeds", async () => {
    nock(OPENAI)
      .post("/v1/chat/completions")
      .reply(
        429,
        { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } },
        {
          "retry-after-ms": "10",
        },
      )
      .post("/v1/chat/completions")
      .reply(200, completion(JSON.stringify(answer)));
    expect((await openai().draft(request, { signal: signal() })).text).toContain("Returns are free");
  });

  it("reports a 500 that persists after the retry as a server error", async () => {
    nock(OPENAI)
      .post("/v1/chat/completions")
      .times(2)
      .reply(
        500,
        { error: { message: "The server had an error", type: "server_error" } },
        { "retry-after-ms": "10" },
      );
    expect((await failure(openai().draft(request, { signal: signal() }))).kind).toBe("server");
  });

  it("times out", async () => {
    nock(OPENAI)
      .post("/v1/chat/completions")
      .times(2)
      .delay(500)
      .reply(200, completion(JSON.stringify(answer)));
    expect((await failure(openai(100).draft(request, { signal: signal() }))).kind).toBe("timeout");
  });

  it.each([
    ["malformed JSON", completion('{"reply": "Yes! Returns are'), "malformed"],
    ["a schema violation", completion(JSON.stringify({ ...answer, confidence: 7 })), "malformed"],
    ["an empty answer", completion(""), "empty"],
    ["a truncated answer", completion('{"reply":"Yes', { finish_reason: "length" }), "malformed"],
    [
      "a refusal",
      {
        ...completion(null),
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: null, refusal: "I can't help with that." },
            finish_reason: "stop",
          },
        ],
      },
      "refusal",
    ],
  ])("never returns partial text: %s is an error", async (_name, body, kind) => {
    nock(OPENAI).post("/v1/chat/completions").reply(200, body);
    expect((await failure(openai().draft(request, { signal: signal() }))).kind).toBe(kind);
  });
});

describe("anthropic provider", () => {
  it("forces the submit_draft tool, caches the system prompt, and counts cached tokens", async () => {
    let body: Record<string, unknown> = {};
    nock(ANTHROPIC)
      .post("/v1/messages", (b) => {
        body = b;
        return true;
      })
      .reply(200, message(answer));
    const result = await anthropic().draft(request, { signal: signal() });
    expect(body).toMatchObject({
      model: "claude-haiku-4-5",
      max_tokens: 400,
      system: [{ type: "text", text: request.system, cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: request.conversation }],
      tools: [{ name: "submit_draft" }],
      tool_choice: { type: "tool", name: "submit_draft" },
    });
    expect(result).toMatchObject({
      text: "Yes! Returns are free within 30 days.",
      provider: "anthropic",
      model: "claude-haiku-4-5-20251001",
      citations: ["returns"],
      usage: { inputTokens: 820, outputTokens: 60, cachedInputTokens: 700 },
    });
  });

  it("retries a 429 and succeeds", async () => {
    nock(ANTHROPIC)
      .post("/v1/messages")
      .reply(
        429,
        {
          type: "error",
          error: {
            type: "rate_limit_error",
            message: "Number of request tokens has exceeded your per-minute rate limit",
          },
        },
        { "retry-after-ms": "10" },
      )
      .post("/v1/messages")
      .reply(200, message(answer));
    expect((await anthropic().draft(request, { signal: signal() })).intent).toBe("returns");
  });

  it("maps overload, timeout, refusal, truncation and a bad tool input to errors", async () => {
    nock(ANTHROPIC)
      .post("/v1/messages")
      .times(2)
      .reply(
        529,
        { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
        { "retry-after-ms": "10" },
      );
    expect((await failure(anthropic().draft(request, { signal: signal() }))).kind).toBe("server");

    nock(ANTHROPIC).post("/v1/messages").times(2).delay(500).reply(200, message(answer));
    expect((await failure(anthropic(100).draft(request, { signal: signal() }))).kind).toBe("timeout");

    nock(ANTHROPIC)
      .post("/v1/messages")
      .reply(200, { ...message(answer, "refusal"), content: [] });
    expect((await failure(anthropic().draft(request, { signal: signal() }))).kind).toBe("refusal");

    nock(ANTHROPIC)
      .post("/v1/messages")
      .reply(200, message({ reply: "Yes" }, "max_tokens"));
    expect((await failure(anthropic().draft(request, { signal: signal() }))).kind).toBe("malformed");

    nock(ANTHROPIC)
      .post("/v1/messages")
      .reply(200, message({ ...answer, needs_human: "maybe" }));
    expect((await failure(anthropic().draft(request, { signal: signal() }))).kind).toBe("malformed");

    nock(ANTHROPIC)
      .post("/v1/messages")
      .reply(401, { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } });
    expect((await failure(anthropic().draft(request, { signal: signal() }))).kind).toBe("auth");
  });
});
