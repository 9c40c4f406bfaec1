import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";

const crisp = {
  CRISP_IDENTIFIER: "id",
  CRISP_KEY: "key",
  CRISP_WEBSITE_ID: "site",
  CRISP_WEBHOOK_SECRET: "hook-secret-of-the-tests",
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("runs in demo mode with the offline drafter when nothing is set", () => {
    const config = loadConfig({});
    expect(config.demo).toBe(true);
    expect(config.llm.provider).toBe("offline");
    expect(config.port).toBe(3000);
    expect(config.databasePath).toBe("./data/quill.db");
    expect(config.crisp.apiUrl).toBe("https://api.crisp.chat/v1");
    expect(config.crisp.tier).toBe("plugin");
    expect(config.drafting.replyMode).toBe("note");
  });

  it("uses real Crisp when all credentials are set", () => {
    const config = loadConfig({ ...crisp, CRISP_API_URL: "https://api.crisp.chat/v1/" });
    expect(config.demo).toBe(false);
    expect(config.crisp.apiUrl).toBe("https://api.crisp.chat/v1");
  });

  it("names every missing Crisp credential when only some are set", () => {
    expect(problems({ CRISP_IDENTIFIER: "id", CRISP_WEBHOOK_SECRET: crisp.CRISP_WEBHOOK_SECRET })).toEqual([
      expect.stringMatching(/^CRISP_KEY: required/),
      expect.stringMatching(/^CRISP_WEBSITE_ID: required/),
    ]);
  });

  it("requires a web hook secret outside demo mode whatever the tier", () => {
    const { CRISP_WEBHOOK_SECRET: _, ...rest } = crisp;
    for (const tier of ["plugin", "website", "user"]) {
      expect(problems({ ...rest, CRISP_TIER: tier })).toEqual([
        expect.stringMatching(/^CRISP_WEBHOOK_SECRET: required outside demo mode/),
      ]);
    }
  });

  it("names the variable and the expectation for bad values, all at once", () => {
    const found = problems({
      PORT: "abc",
      LLM_PROVIDER: "gpt",
      CRISP_API_URL: "ftp://x",
      PII_REDACTION: "maybe",
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT: expected an integer from 0 to 65535, got "abc"/),
        expect.stringMatching(
          /^LLM_PROVIDER: expected one of openai, anthropic, compatible, offline, got "gpt"/,
        ),
        expect.stringMatching(/^CRISP_API_URL: expected an http\(s\) URL/),
        expect.stringMatching(/^PII_REDACTION:/),
      ]),
    );
    expect(found).toHaveLength(4);
  });

  it("keeps conversation data 90 days unless RETENTION_DAYS says otherwise; 0 or off keeps it forever", () => {
    expect(loadConfig({}).retentionDays).toBe(90);
    expect(loadConfig({ RETENTION_DAYS: "30" }).retentionDays).toBe(30);
    expect(loadConfig({ RETENTION_DAYS: "off" }).retentionDays).toBeUndefined();
    expect(loadConfig({ RETENTION_DAYS: "0" }).retentionDays).toBeUndefined();
    for (const bad of ["-1", "1.5", "ninety", "40000"]) {
      expect(problems({ RETENTION_DAYS: bad })).toEqual([
        `RETENTION_DAYS: expected a whole number of days from 1 to 36500, or "off" (keep forever), got "${bad}"`,
      ]);
    }
  });

  it("picks the provider that has a key and checks keys for the whole fallback chain", () => {
    expect(loadConfig({ ANTHROPIC_API_KEY: "k" }).llm.provider).toBe("anthropic");
    expect(loadConfig({ OPENAI_API_KEY: "k" }).llm.provider).toBe("openai");
    expect(problems({ ANTHROPIC_API_KEY: "k", LLM_FALLBACK: "openai,offline" })).toEqual([
      expect.stringMatching(/^OPENAI_API_KEY: required/),
    ]);
    expect(problems({ LLM_PROVIDER: "compatible" })).toEqual([
      expect.stringMatching(/^LLM_BASE_URL: required/),
    ]);
    expect(problems({ LLM_FALLBACK: "gemini" })).toEqual([
      expect.stringMatching(/^LLM_FALLBACK: unknown provider/),
    ]);
  });

  it("checks Hugo's MCP secret and scopes", () => {
    expect(problems({ HUGO_MCP_SECRET: "short" })).toEqual([expect.stringMatching(/^HUGO_MCP_SECRET: /)]);
    expect(problems({ HUGO_MCP_SCOPES: "read,admin" })).toEqual([
      expect.stringMatching(/^HUGO_MCP_SCOPES: unknown scope admin/),
    ]);
    const config = loadConfig({ HUGO_MCP_SECRET: "mcp_sec_0123456789abcdef" });
    expect(config.mcp.hugo).toEqual({ secret: "mcp_sec_0123456789abcdef", scopes: ["read", "note"] });
    expect(loadConfig({}).mcp.hugo.secret).toBeUndefined();
  });

  it("checks what hybrid retrieval needs, and never points the compatible server at the OpenAI key", () => {
    expect(loadConfig({}).drafting.embeddings).toBeUndefined();
    expect(problems({ EMBEDDINGS: "openai" })).toEqual([
      expect.stringMatching(/^OPENAI_API_KEY: required for EMBEDDINGS/),
    ]);
    expect(problems({ EMBEDDINGS: "compatible" })).toEqual([
      expect.stringMatching(/^EMBEDDING_BASE_URL: required/),
      expect.stringMatching(/^EMBEDDING_MODEL: required/),
    ]);
    expect(problems({ EMBEDDINGS: "vectors" })).toEqual([expect.stringMatching(/^EMBEDDINGS: /)]);
    expect(problems({ EMBEDDINGS: "openai", OPENAI_API_KEY: "k", EMBEDDING_WEIGHT: "2" })).toEqual([
      expect.stringMatching(/^EMBEDDING_WEIGHT: /),
    ]);
    expect(loadConfig({ EMBEDDINGS: "openai", OPENAI_API_KEY: "k" }).drafting.embeddings).toEqual({
      provider: "openai",
      model: "text-embedding-3-small",
      baseUrl: undefined,
      weight: 0.4,
    });
    expect(
      loadConfig({
        EMBEDDINGS: "compatible",
        LLM_BASE_URL: "http://127.0.0.1:11434/v1",
        EMBEDDING_MODEL: "nomic-embed-text",
      }).drafting.embeddings,
    ).toMatchObject({
      provider: "compatible",
      baseUrl: "http://127.0.0.1:11434/v1",
      model: "nomic-embed-text",
    });
  });

  it("parses lists, numbers and price overrides", () => {
    const config = loadConfig({
      AUTO_SEND_INTENTS: "shipping, order_status,",
      AUTO_SEND_MIN_CONFIDENCE: "0.9",
      LLM_PRICES: '{"my-model":{"input":1,"output":2}}',
    });
    expect(config.drafting.autoSendIntents).toEqual(["shipping", "order_status"]);
    expect(config.drafting.autoSendMinConfidence).toBe(0.9);
    expect(config.llm.prices["my-model"]).toEqual({ input: 1, output: 2 });
    expect(config.llm.prices["gpt-4o-mini"]).toBeDefined();
    expect(problems({ LLM_PRICES: "{nope" })).toEqual([expect.stringMatching(/^LLM_PRICES: expected JSON/)]);
  });

  it("keeps a job's lease longer than its draft deadline, and reads the breaker settings", () => {
    expect(problems({ JOB_LEASE_SECONDS: "10" })).toEqual([
      "JOB_LEASE_SECONDS: must be at least DRAFT_DEADLINE_MS + 5 s (30), got 10",
    ]);
    const config = loadConfig({
      JOB_LEASE_SECONDS: "10",
      DRAFT_DEADLINE_MS: "4000",
      LLM_BREAKER_FAILURES: "2",
      LLM_BREAKER_COOLDOWN_SECONDS: "7",
    });
    expect(config.drafting.jobLeaseMs).toBe(10_000);
    expect(config.llm.breaker).toEqual({ failures: 2, halfOpenAfterMs: 7_000 });
  });
});
