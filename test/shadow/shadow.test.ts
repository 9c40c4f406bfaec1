import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { LlmError } from "../../src/llm/errors.ts";
import type { DraftEngine, DraftRequest } from "../../src/llm/types.ts";
import { compareShadows } from "../../src/shadow/compare.ts";
import { inShadowShare } from "../../src/shadow/shadow.ts";
import type { ShadowPair } from "../../src/store/store.ts";
import { answer, setup } from "../drafting/harness.ts";

/** Shadow mode through the sandbox: the candidate drafts from the recorded context, posts nothing. */

function candidate(text = "Returns start on the orders page.") {
  const seen: DraftRequest[] = [];
  const engine: DraftEngine = {
    async draft(req) {
      seen.push(req);
      const result = answer({
        text,
        confidence: 0.7,
        provider: "anthropic",
        model: "claude-haiku-4-5",
        usage: { inputTokens: 2_000, outputTokens: 200, cachedInputTokens: 0 },
      });
      return {
        ...result,
        attempts: [
          {
            provider: "anthropic",
            model: "claude-haiku-4-5",
            status: "ok",
            latencyMs: 7,
            usage: result.usage,
          },
        ],
      };
    },
  };
  return { engine, seen };
}

const failing: DraftEngine = {
  async draft() {
    throw Object.assign(new LlmError("anthropic", "timeout", "timed out after 15000 ms"), {
      attempts: [{ provider: "anthropic", model: "claude-haiku-4-5", status: "timeout", latencyMs: 15_000 }],
    });
  },
};

async function draftOnce(h: Awaited<ReturnType<typeof setup>>, sessionId?: string) {
  const said = h.sandbox.visitorSays({ text: "Can I return my shoes?", ...(sessionId ? { sessionId } : {}) });
  await h.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
  const live = await h.runNext();
  return { said, live };
}

describe("shadow mode", () => {
  it("drafts the posted conversation again from its recorded context, without any Crisp call", async () => {
    const shadow = candidate();
    const h = await setup({ SHADOW_PROMPT: "concise" }, undefined, { shadowLlm: shadow.engine });
    const { said, live } = await draftOnce(h);
    expect(live.outcome).toEqual({ status: "done", outcome: "note" });
    const before = h.sandbox.requests.length;
    const { job, outcome } = await h.runNext();
    expect(job.kind).toBe("shadow");
    expect(outcome).toEqual({ status: "done", outcome: "shadow: recorded" });
    // nothing read from or posted to Crisp by the shadow job
    expect(h.sandbox.requests.length).toBe(before);
    expect(h.sandbox.messagesOf(said.sessionId).filter((m) => m.type === "note")).toHaveLength(1);
    expect(h.sandbox.requests.filter((r) => r.method === "POST" && r.path.includes("/message"))).toHaveLength(
      1,
    );
    const [draft] = await h.services.store.listDrafts({});
    const row = await h.services.store.shadowForDraft(draft?.id ?? "");
    const concise = h.services.templates.get("concise");
    expect(row).toMatchObject({
      websiteId: draft?.websiteId,
      sessionId: said.sessionId,
      promptName: "concise",
      promptVersion: concise?.version,
      provider: "anthropic",
      model: "claude-haiku-4-5",
      text: "Returns start on the orders page.",
      confidence: 0.7,
      tokensIn: 2_000,
      tokensOut: 200,
      error: null,
    });
    expect(row?.costUsd).toBeCloseTo((2_000 * 1 + 200 * 5) / 1e6, 10);
    // the candidate saw the live draft's transcript, with the candidate prompt
    expect(shadow.seen[0]?.conversation).toContain("Customer: Can I return my shoes?");
    expect(shadow.seen[0]?.system).not.toBe(h.requests[0]?.system);
    expect(draft?.status).toBe("posted");
  });

  it("records a candidate failure on its row and leaves the live draft as it was", async () => {
    const h = await setup({ SHADOW_PROMPT: "concise" }, undefined, { shadowLlm: failing });
    const { said } = await draftOnce(h);
    const { outcome } = await h.runNext();
    expect(outcome).toEqual({ status: "done", outcome: "shadow: candidate failed" });
    const [draft] = await h.services.store.listDrafts({});
    expect(draft?.status).toBe("posted");
    const row = await h.services.store.shadowForDraft(draft?.id ?? "");
    expect(row?.error).toContain("timed out");
    expect(row?.text).toBe("");
    expect(h.sandbox.messagesOf(said.sessionId).filter((m) => m.type === "note")).toHaveLength(1);
    await expect(h.runNext()).rejects.toThrow("nothing to run");
  });

  it("a live draft whose candidate job is left over is never drafted twice", async () => {
    const shadow = candidate();
    const h = await setup({ SHADOW_PROMPT: "concise" }, undefined, { shadowLlm: shadow.engine });
    await draftOnce(h);
    const [job] = await h.services.store.leaseJobs({ owner: "a", leaseMs: 60_000, limit: 1 });
    if (!job) throw new Error("no shadow job");
    await h.services.pipeline.run(job, "a", new AbortController().signal);
    await h.services.pipeline.run({ ...job }, "a", new AbortController().signal);
    expect(shadow.seen).toHaveLength(1);
  });

  it("SHADOW_SHARE=0 enqueues no shadow job", async () => {
    const h = await setup({ SHADOW_PROMPT: "concise", SHADOW_SHARE: "0" }, undefined, {
      shadowLlm: candidate().engine,
    });
    await draftOnce(h);
    await expect(h.runNext()).rejects.toThrow("nothing to run");
  });

  it("is off without SHADOW_* or website settings", async () => {
    const h = await setup({});
    await draftOnce(h);
    await expect(h.runNext()).rejects.toThrow("nothing to run");
  });

  it("SHADOW_PROVIDER=offline drafts with the built-in drafter, beside a scripted live provider", async () => {
    const h = await setup({ SHADOW_PROVIDER: "offline" });
    await draftOnce(h);
    const { outcome } = await h.runNext();
    expect(outcome.status).toBe("done");
    const [draft] = await h.services.store.listDrafts({});
    const row = await h.services.store.shadowForDraft(draft?.id ?? "");
    expect(row).toMatchObject({ provider: "offline", promptName: "default" });
    expect(h.requests).toHaveLength(1);
  });

  it("a website's shadowPrompt turns shadow mode on for that website only", async () => {
    const shadow = candidate();
    const h = await setup({}, undefined, { shadowLlm: shadow.engine });
    const websiteId = h.sandbox.website.website_id;
    await expect(h.services.websites.set(websiteId, { shadowPrompt: "nope" })).rejects.toThrow(
      "shadowPrompt: no prompt file nope.md",
    );
    await h.services.websites.set(websiteId, { shadowPrompt: "concise" });
    await draftOnce(h);
    expect((await h.runNext()).job.kind).toBe("shadow");
    expect(shadow.seen).toHaveLength(1);
  });

  it("leases a due live draft before a due shadow job", async () => {
    const h = await setup({ SHADOW_PROMPT: "concise" }, undefined, { shadowLlm: candidate().engine });
    await draftOnce(h);
    const other = h.sandbox.visitorSays({ text: "Where is my order?" });
    await h.enqueue(other.sessionId, other.fingerprint, other.message.timestamp);
    const first = await h.runNext();
    expect(first.job.kind).toBe("draft");
    expect((await h.runNext()).job.kind).toBe("shadow");
  });

  it("SHADOW_SHARE is stable per conversation and near its share", () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => `session_${i}`);
    const picked = ids.filter((id) => inShadowShare(id, 0.3));
    expect(picked.length / ids.length).toBeGreaterThan(0.25);
    expect(picked.length / ids.length).toBeLessThan(0.35);
    expect(ids.filter((id) => inShadowShare(id, 0.3))).toEqual(picked);
  });
});

describe("shadow configuration", () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.join("\n");
      throw error;
    }
    return "";
  };

  it("names the variable of a bad value", () => {
    expect(problems({ SHADOW_PROVIDER: "openai" })).toContain("SHADOW_PROVIDER: openai needs OPENAI_API_KEY");
    expect(problems({ SHADOW_PROVIDER: "anthropic" })).toContain(
      "SHADOW_PROVIDER: anthropic needs ANTHROPIC_API_KEY",
    );
    expect(problems({ SHADOW_PROVIDER: "gemini" })).toContain("SHADOW_PROVIDER: expected one of");
    expect(problems({ SHADOW_SHARE: "2" })).toContain("SHADOW_SHARE: expected a number from 0 to 1");
    expect(problems({ SHADOW_PROMPT: "../x" })).toContain("SHADOW_PROMPT:");
    expect(problems({ SHADOW_PROVIDER: "openai", OPENAI_API_KEY: "sk-test" })).toBe("");
    expect(loadConfig({ SHADOW_PROMPT: "concise" }).shadow).toMatchObject({ on: true, share: 1 });
    expect(loadConfig({}).shadow.on).toBe(false);
  });

  it("fails at start on a SHADOW_PROMPT with no prompt file", async () => {
    await expect(setup({ SHADOW_PROMPT: "missing" })).rejects.toThrow(
      "SHADOW_PROMPT: no prompt file missing.md in prompts",
    );
  });
});

describe("shadow comparison", () => {
  const pair = (live: string, candidate: string, sent: string): ShadowPair => ({
    shadow: {
      id: "x",
      draftId: "d",
      websiteId: "w1",
      sessionId: "s",
      promptName: "concise",
      promptVersion: null,
      provider: "offline",
      model: null,
      text: candidate,
      confidence: null,
      latencyMs: 10,
      tokensIn: 0,
      tokensOut: 0,
      costUsd: 0,
      error: null,
      createdAt: 0,
    },
    live: {
      text: live,
      status: "posted",
      provider: null,
      model: null,
      promptName: null,
      costUsd: 0,
      latency: {},
      query: null,
    },
    sent: { kind: "approved", finalText: sent },
  });

  it("compares the candidate's placeholders with the restored texts fairly", () => {
    const sent = "We will write to ada@example.com today.";
    const s = compareShadows([pair(sent, "We will write to [email 1] today.", sent)]);
    expect(s.recent[0]).toMatchObject({ live: 1, candidate: 1 });
    expect([s.closer, s.same, s.further]).toEqual([0, 1, 0]);
  });
});
