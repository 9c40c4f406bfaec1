import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAnthropicProvider } from "../../src/llm/anthropic.ts";
import { LlmError } from "../../src/llm/errors.ts";
import type { DraftRequest } from "../../src/llm/types.ts";

const API = "https://api.anthropic.test";
const PATH = "/v1/messages";

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

/** A message object as the API returns it. */
const message = (content: unknown[], stop_reason: string | null = "tool_use") => ({
  id: "msg_01Aq9w938a90dw8q",
  type: "message",
  role: "assistant",
  model: "claude-haiku-4-5-20251001",
  content,
  stop_reason,
  stop_sequence: null,
  usage: {
    input_tokens: 120,
    output_tokens: 60,
    cache_creation_input_tokens: 30,
    cache_read_input_tokens: 700,
    service_tier: "standard",
  },
});
const toolUse = (input: unknown) => ({
  type: "tool_use",
  id: "toolu_01A09q90qw90lq917835lq9",
  name: "submit_draft",
  input,
});
const ok = () => message([toolUse(answer)]);
const apiError = (type: string, text: string) => ({ type: "error", error: { type, message: text } });

const provider = (overrides: { timeoutMs?: number; retries?: number } = {}) =>
  createAnthropicProvider({
    apiKey: "sk-ant-test",
    baseUrl: API,
    model: "claude-haiku-4-5",
    timeoutMs: overrides.timeoutMs ?? 2_000,
    retries: overrides.retries ?? 1,
  });
const signal = () => new AbortController().signal;
const api = () => nock(API);

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

describe("anthropic provider", () => {
  it("forces the submit_draft tool, caches the system prompt, and counts cached tokens", async () => {
    let body: Record<string, unknown> = {};
    let headers: Record<string, unknown> = {};
    api()
      .post(PATH, (b) => {
        body = b;
        return true;
      })
      .reply(function () {
        headers = this.req.headers;
        return [200, ok()];
      });
    const result = await provider().draft(request, { signal: signal() });

    // SDK 1.x sends the key as a bearer token; older versions used x-api-key.
    expect(headers.authorization ?? headers["x-api-key"]).toMatch(/^(Bearer )?sk-ant-test$/);
    expect(headers["anthropic-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(body).toMatchObject({
      model: "claude-haiku-4-5",
      max_tokens: 400,
      system: [{ type: "text", text: request.system, cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: request.conversation }],
      tool_choice: { type: "tool", name: "submit_draft" },
    });
    const tools = body.tools as Array<{ name: string; input_schema: Record<string, unknown> }>;
    expect(tools).toHaveLength(1);
    const [tool] = tools;
    expect(tool?.name).toBe("submit_draft");
    expect(tool?.input_schema).toMatchObject({ type: "object", additionalProperties: false });
    expect([...((tool?.input_schema.required ?? []) as string[])].sort()).toEqual(Object.keys(answer).sort());
    expect(body).not.toHaveProperty("temperature");

    expect(result).toEqual({
      text: "Yes! Returns are free within 30 days.",
      confidence: 0.92,
      intent: "returns",
      needsHuman: false,
      language: "en",
      citations: ["returns"],
      provider: "anthropic",
      model: "claude-haiku-4-5-20251001",
      // input + cache creation + cache read; the cache read part is also reported on its own
      usage: { inputTokens: 850, outputTokens: 60, cachedInputTokens: 700 },
    });
  });

  it("reads the tool_use block even after a text block", async () => {
    api()
      .post(PATH)
      .reply(200, message([{ type: "text", text: "Here is the draft." }, toolUse(answer)]));
    expect((await provider().draft(request, { signal: signal() })).intent).toBe("returns");
  });

  it("retries a 429 (retry-after: 0) and succeeds", async () => {
    api()
      .post(PATH)
      .reply(
        429,
        apiError("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
        { "retry-after": "0" },
      )
      .post(PATH)
      .reply(200, ok());
    expect((await provider({ retries: 1 }).draft(request, { signal: signal() })).intent).toBe("returns");
  });

  it("reports a 500 that persists after the retry as a server error", async () => {
    api()
      .post(PATH)
      .times(2)
      .reply(500, apiError("api_error", "Internal server error"), { "retry-after": "0" });
    expect(await failure(provider({ retries: 1 }).draft(request, { signal: signal() }))).toMatchObject({
      kind: "server",
      status: 500,
      retryable: true,
    });
  });

  it("reports 529 overloaded as a server error", async () => {
    api().post(PATH).times(2).reply(529, apiError("overloaded_error", "Overloaded"), { "retry-after": "0" });
    expect((await failure(provider({ retries: 1 }).draft(request, { signal: signal() }))).kind).toBe(
      "server",
    );
  });

  it("times out when the API is slower than timeoutMs", async () => {
    api().post(PATH).delay(1_000).reply(200, ok());
    const error = await failure(
      provider({ timeoutMs: 100, retries: 0 }).draft(request, { signal: signal() }),
    );
    expect(error.kind).toBe("timeout");
  });

  it("maps 401 to auth and 400 to bad_request", async () => {
    api().post(PATH).reply(401, apiError("authentication_error", "invalid x-api-key"));
    expect((await failure(provider().draft(request, { signal: signal() }))).kind).toBe("auth");
    api().post(PATH).reply(400, apiError("invalid_request_error", "max_tokens: Field required"));
    expect((await failure(provider().draft(request, { signal: signal() }))).kind).toBe("bad_request");
  });

  it("reports the caller's abort as aborted", async () => {
    api().post(PATH).delay(1_000).reply(200, ok());
    const controller = new AbortController();
    const pending = provider().draft(request, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("shutting down")), 20);
    expect((await failure(pending)).kind).toBe("aborted");
  });

  it.each([
    ["a refusal", message([], "refusal"), "refusal"],
    ["a truncated answer (max_tokens)", message([toolUse({ reply: "Yes" })], "max_tokens"), "malformed"],
    ["schema-invalid input (confidence 7)", message([toolUse({ ...answer, confidence: 7 })]), "malformed"],
    ["a wrongly typed field", message([toolUse({ ...answer, needs_human: "maybe" })]), "malformed"],
    ["an empty reply", message([toolUse({ ...answer, reply: "" })]), "malformed"],
    [
      "text instead of the tool",
      message([{ type: "text", text: "Sure, returns are free." }], "end_turn"),
      "malformed",
    ],
    ["empty content", message([], "end_turn"), "empty"],
  ])("never returns partial text: %s is an error", async (_name, body, kind) => {
    api().post(PATH).reply(200, body);
    const error = await failure(provider().draft(request, { signal: signal() }));
    expect(error.kind).toBe(kind);
    expect(error.provider).toBe("anthropic");
  });
});
