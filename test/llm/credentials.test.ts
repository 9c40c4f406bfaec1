import nock from "nock";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { createKnowledgeBase } from "../../src/knowledge/kb.ts";
import { createProviderChain } from "../../src/llm/chain.ts";
import { buildProviders, buildRetriever } from "../../src/llm/providers.ts";
import type { DraftRequest } from "../../src/llm/types.ts";
import { silentLogger } from "../../src/log.ts";

/**
 * Credentials per provider: the OpenAI-compatible server (chat and embeddings) gets
 * COMPATIBLE_API_KEY (or its alias LLM_API_KEY) or no Authorization header at all, and
 * never the OpenAI key, even when OPENAI_API_KEY is set for an openai fallback.
 */

const OPENAI_KEY = "sk-openai-key-for-the-fallback-only-9f8e7d";
const LOCAL = "http://llm.local:11434";
const kb = createKnowledgeBase([
  { name: "returns.md", content: "---\ntitle: Returns\n---\nReturns are free within 30 days." },
]);
const request: DraftRequest = {
  system: "You draft support replies.",
  conversation: "Customer: can I return my shoes?",
  query: "can I return my shoes?",
  knowledge: [],
  temperature: 0.3,
  maxTokens: 400,
};
const completion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "llama3.1",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content: JSON.stringify({
          reply: "Yes, returns are free within 30 days.",
          confidence: 0.9,
          intent: "returns",
          needs_human: false,
          needs_human_reason: null,
          language: "en",
          citations: [],
        }),
        refusal: null,
      },
      finish_reason: "stop",
    },
  ],
  usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
};

/** Every header of every request to `origin`, as the server saw them. */
function record(origin: string, path: string, status = 200, body: object = completion) {
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  nock(origin)
    .post(path)
    .reply(function () {
      seen.push({ ...this.req.headers });
      return [status, body];
    });
  return seen;
}

function chainFor(env: Record<string, string>) {
  const config = loadConfig({
    LLM_PROVIDER: "compatible",
    LLM_BASE_URL: `${LOCAL}/v1`,
    LLM_FALLBACK: "openai",
    OPENAI_API_KEY: OPENAI_KEY,
    LLM_RETRIES: "0",
    ...env,
  });
  return createProviderChain({
    providers: buildProviders(config, kb),
    deadlineMs: config.llm.deadlineMs,
    clock: systemClock,
    log: silentLogger,
  });
}
const draft = (env: Record<string, string> = {}) =>
  chainFor(env).draft(request, { signal: new AbortController().signal });

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  vi.unstubAllEnvs();
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe("compatible provider credentials", () => {
  it("sends no Authorization header and nothing of OpenAI's with no compatible key, OPENAI_API_KEY set", async () => {
    // The SDK would read these from the environment when given none.
    vi.stubEnv("OPENAI_API_KEY", OPENAI_KEY);
    vi.stubEnv("OPENAI_ORG_ID", "org-openai-only");
    vi.stubEnv("OPENAI_PROJECT_ID", "proj-openai-only");
    const seen = record(LOCAL, "/v1/chat/completions");
    const result = await draft();
    expect(result.provider).toBe("compatible");
    expect(seen).toHaveLength(1);
    const headers = seen[0] ?? {};
    expect(headers.authorization).toBeUndefined();
    expect(headers["openai-organization"]).toBeUndefined();
    expect(headers["openai-project"]).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain(OPENAI_KEY);
  });

  it("sends COMPATIBLE_API_KEY, or LLM_API_KEY as its alias, to the compatible server", async () => {
    const own = record(LOCAL, "/v1/chat/completions");
    await draft({ COMPATIBLE_API_KEY: "local-server-key-1" });
    expect(own[0]?.authorization).toBe("Bearer local-server-key-1");
    const alias = record(LOCAL, "/v1/chat/completions");
    await draft({ LLM_API_KEY: "local-server-key-2" });
    expect(alias[0]?.authorization).toBe("Bearer local-server-key-2");
  });

  it("the openai fallback still gets the OpenAI key, the failed compatible call none", async () => {
    const local = record(LOCAL, "/v1/chat/completions", 500, { error: { message: "down" } });
    const openai = record("https://api.openai.com", "/v1/chat/completions");
    const result = await draft();
    expect(result.provider).toBe("openai");
    expect(local[0]?.authorization).toBeUndefined();
    expect(openai[0]?.authorization).toBe(`Bearer ${OPENAI_KEY}`);
  });

  it("compatible embeddings get the compatible key or none, never the OpenAI key", async () => {
    const embeddings = { object: "list", data: [{ object: "embedding", index: 0, embedding: [1, 0] }] };
    for (const [extra, expected] of [
      [{}, undefined],
      [{ COMPATIBLE_API_KEY: "local-embed-key" }, "Bearer local-embed-key"],
    ] as const) {
      vi.stubEnv("OPENAI_API_KEY", OPENAI_KEY);
      const seen = record("http://embed.local", "/v1/embeddings", 200, embeddings);
      const config = loadConfig({
        OPENAI_API_KEY: OPENAI_KEY,
        EMBEDDINGS: "compatible",
        EMBEDDING_BASE_URL: "http://embed.local/v1",
        EMBEDDING_MODEL: "nomic-embed-text",
        ...extra,
      });
      const cache = { embeddings: async () => [], saveEmbeddings: async () => {} };
      // Warming embeds the knowledge base: one request to the compatible server.
      expect(await buildRetriever(config, cache, silentLogger).warm(kb)).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.authorization).toBe(expected);
      expect(JSON.stringify(seen[0])).not.toContain(OPENAI_KEY);
    }
  });

  it("refuses COMPATIBLE_API_KEY and LLM_API_KEY with different values, naming the alias", () => {
    expect(() => loadConfig({ COMPATIBLE_API_KEY: "one-key-value", LLM_API_KEY: "another-value" })).toThrow(
      ConfigError,
    );
    try {
      loadConfig({ COMPATIBLE_API_KEY: "one-key-value", LLM_API_KEY: "another-value" });
    } catch (error) {
      expect((error as ConfigError).problems.join("\n")).toMatch(/^LLM_API_KEY: .*COMPATIBLE_API_KEY/m);
    }
    expect(
      loadConfig({ COMPATIBLE_API_KEY: "same-value", LLM_API_KEY: "same-value" }).llm.compatibleApiKey,
    ).toBe("same-value");
  });
});
