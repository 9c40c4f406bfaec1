import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { LlmError } from "../../src/llm/errors.ts";
import { createOpenAiProvider } from "../../src/llm/openai.ts";
import type { DraftRequest } from "../../src/llm/types.ts";

const API = "https://api.openai.test";
const PATH = "/v1/chat/completions";

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

/** A chat.completion object as the API returns it. */
const completion = (
  message: { content: string | null; refusal?: string | null },
  finish_reason = "stop",
) => ({
  id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  object: "chat.completion",
  created: 1741569952,
  model: "gpt-4o-mini-2024-07-18",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content: message.content,
        refusal: message.refusal ?? null,
        annotations: [],
      },
      logprobs: null,
      finish_reason,
    },
  ],
  usage: {
    prompt_tokens: 812,
    completion_tokens: 41,
    total_tokens: 853,
    prompt_tokens_details: { cached_tokens: 768, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0 },
  },
  service_tier: "default",
  system_fingerprint: "fp_06737a9306",
});
const ok = () => completion({ content: JSON.stringify(answer) });
const apiError = (message: string, type: string, code: string | null = null) => ({
  error: { message, type, param: null, code },
});

const provider = (overrides: { timeoutMs?: number; retries?: number; name?: "openai" | "compatible" } = {}) =>
  createOpenAiProvider({
    name: overrides.name ?? "openai",
    apiKey: "sk-test",
    baseUrl: `${API}/v1`,
    model: "gpt-4o-mini",
    timeoutMs: overrides.timeoutMs ?? 2_000,
    retries: overrides.retries ?? 1,
  });
const signal = () => new AbortController().signal;
const api = () => nock(API).matchHeader("authorization", "Bearer sk-test");

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

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

describe("openai provider", () => {
  it("sends the system prompt first with strict structured output and returns a validated draft", async () => {
    let body: Record<string, unknown> = {};
    api()
      .post(PATH, (b) => {
        body = b;
        return true;
      })
      .reply(200, ok());
    const result = await provider().draft(request, { signal: signal() });

    expect(body).toMatchObject({
      model: "gpt-4o-mini",
      temperature: 0.3,
      max_completion_tokens: 400,
      messages: [
        { role: "system", content: request.system },
        { role: "user", content: request.conversation },
      ],
      response_format: { type: "json_schema", json_schema: { name: "draft", strict: true } },
    });
    expect(body).not.toHaveProperty("max_tokens");
    const schema = (body.response_format as { json_schema: { schema: Record<string, unknown> } }).json_schema
      .schema;
    expect(schema.additionalProperties).toBe(false);
    expect([...(schema.required as string[])].sort()).toEqual(Object.keys(answer).sort());
    expect(schema.properties).toMatchObject({ needs_human_reason: { type: ["string", "null"] } });

    expect(result).toEqual({
      text: "Yes! Returns are free within 30 days.",
      confidence: 0.92,
      intent: "returns",
      needsHuman: false,
      language: "en",
      citations: ["returns"],
      model: "gpt-4o-mini-2024-07-18",
      provider: "openai",
      usage: { inputTokens: 812, outputTokens: 41, cachedInputTokens: 768 },
    });
  });

  it("the compatible flavour uses JSON mode, max_tokens, and describes the shape at the end of the system prompt", async () => {
    let body: { response_format?: unknown; max_tokens?: number; messages?: Array<{ content: string }> } = {};
    api()
      .post(PATH, (b) => {
        body = b;
        return true;
      })
      .reply(200, {
        ...completion({ content: JSON.stringify(answer) }),
        model: "llama3.1:8b",
        usage: { prompt_tokens: 300, completion_tokens: 40, total_tokens: 340 },
      });
    const result = await provider({ name: "compatible" }).draft(request, { signal: signal() });
    expect(body.response_format).toEqual({ type: "json_object" });
    expect(body.max_tokens).toBe(400);
    expect(body).not.toHaveProperty("max_completion_tokens");
    const system = body.messages?.[0]?.content ?? "";
    expect(system.startsWith(request.system)).toBe(true);
    expect(system.slice(request.system.length)).toContain('{"reply": string');
    expect(result).toMatchObject({
      provider: "compatible",
      model: "llama3.1:8b",
      usage: { inputTokens: 300, outputTokens: 40, cachedInputTokens: 0 },
    });
  });

  it("retries a 429 (retry-after: 0) and succeeds", async () => {
    api()
      .post(PATH)
      .reply(429, apiError("Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded"), {
        "retry-after": "0",
      })
      .post(PATH)
      .reply(200, ok());
    const result = await provider({ retries: 1 }).draft(request, { signal: signal() });
    expect(result.text).toContain("Returns are free");
  });

  it("reports a 429 that persists as rate_limited", async () => {
    api()
      .post(PATH)
      .times(2)
      .reply(429, apiError("Rate limit reached", "requests", "rate_limit_exceeded"), { "retry-after": "0" });
    const error = await failure(provider({ retries: 1 }).draft(request, { signal: signal() }));
    expect(error).toMatchObject({ kind: "rate_limited", status: 429, retryable: true, provider: "openai" });
  });

  it("reports a 500 that persists after the retry as a server error", async () => {
    api()
      .post(PATH)
      .times(2)
      .reply(500, apiError("The server had an error while processing your request.", "server_error"), {
        "retry-after": "0",
      });
    const error = await failure(provider({ retries: 1 }).draft(request, { signal: signal() }));
    expect(error).toMatchObject({ kind: "server", status: 500, retryable: true });
  });

  it("times out when the API is slower than timeoutMs", async () => {
    api().post(PATH).delay(1_000).reply(200, ok());
    const error = await failure(
      provider({ timeoutMs: 100, retries: 0 }).draft(request, { signal: signal() }),
    );
    expect(error).toMatchObject({ kind: "timeout", retryable: true });
  });

  it("maps 401 to auth and 400 to bad_request, without retrying", async () => {
    api()
      .post(PATH)
      .reply(
        401,
        apiError("Incorrect API key provided: sk-test.", "invalid_request_error", "invalid_api_key"),
      );
    expect(await failure(provider().draft(request, { signal: signal() }))).toMatchObject({
      kind: "auth",
      status: 401,
      retryable: false,
    });
    api()
      .post(PATH)
      .reply(400, apiError("Invalid schema for response_format 'draft'", "invalid_request_error"));
    expect(await failure(provider().draft(request, { signal: signal() }))).toMatchObject({
      kind: "bad_request",
      status: 400,
    });
  });

  it("reports the caller's abort as aborted", async () => {
    api().post(PATH).delay(1_000).reply(200, ok());
    const controller = new AbortController();
    const pending = provider().draft(request, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("shutting down")), 20);
    expect((await failure(pending)).kind).toBe("aborted");
  });

  it.each([
    ["malformed JSON", completion({ content: '{"reply": "Yes! Returns are' }), "malformed"],
    [
      "schema-invalid JSON (confidence 7)",
      completion({ content: JSON.stringify({ ...answer, confidence: 7 }) }),
      "malformed",
    ],
    ["a missing field", completion({ content: JSON.stringify({ reply: "Yes" }) }), "malformed"],
    ["empty content", completion({ content: "" }), "empty"],
    ["null content", completion({ content: null }), "empty"],
    [
      "a refusal",
      completion({ content: null, refusal: "I'm sorry, I can't help with that request." }),
      "refusal",
    ],
    [
      "a truncated answer (finish_reason length)",
      completion({ content: '{"reply":"Yes' }, "length"),
      "malformed",
    ],
    [
      "a complete-looking answer cut by finish_reason length",
      completion({ content: JSON.stringify(answer) }, "length"),
      "malformed",
    ],
  ])("never returns partial text: %s is an error", async (_name, body, kind) => {
    api().post(PATH).reply(200, body);
    const error = await failure(provider().draft(request, { signal: signal() }));
    expect(error.kind).toBe(kind);
    expect(error.provider).toBe("openai");
  });
});
