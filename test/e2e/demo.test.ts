import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { LlmError } from "../../src/llm/errors.ts";
import type { DraftEngine } from "../../src/llm/types.ts";
import type { QuillHandle, StartOptions } from "../../src/runtime/node.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { startDemo, until } from "../helpers.ts";

/**
 * quill as `npm start` runs it in demo mode: a real HTTP server, the sandbox mounted at
 * /sandbox, signed web hooks over the network, SQLite on disk.
 */

const start = async (env: Record<string, string> = {}, options: Omit<StartOptions, "env"> = {}) =>
  (await startDemo(env, options)).quill;

const notesOf = (handle: QuillHandle, sessionId: string) =>
  handle.sandbox?.messagesOf(sessionId).filter((m) => m.type === "note") ?? [];

describe("demo mode end to end", () => {
  it("a visitor writes; typing starts, a cited knowledge-base draft note appears, typing stops; all recorded", async () => {
    const quill = await start();
    const sandbox = quill.sandbox;
    if (!sandbox) throw new Error("demo mode should mount the sandbox");
    const { sessionId, fingerprint } = sandbox.visitorSays({
      text: "Hi! I need to return an item, I got the wrong size.",
      nickname: "Ada",
    });
    const [note] = await until(() =>
      notesOf(quill, sessionId).length ? notesOf(quill, sessionId) : undefined,
    );
    expect(note?.content).toContain("from the knowledge base (no AI model)");
    expect(note?.content).toContain("Gold members get unlimited returns");
    expect(note?.content).toContain("Sources: Return Due to Size (Product Defect)");
    // quoting the knowledge base is the point, not a leak
    expect(note?.content).not.toContain("⚠️");

    await until(() => sandbox.composeEvents.some((e) => e.sessionId === sessionId && e.type === "stop"));
    const compose = sandbox.composeEvents.filter((e) => e.sessionId === sessionId);
    expect(compose.map((e) => e.type)).toEqual(["start", "stop"]);
    expect(compose[0]?.at).toBeLessThanOrEqual(note?.timestamp ?? 0);
    expect(compose[1]?.at).toBeGreaterThanOrEqual(note?.timestamp ?? Number.POSITIVE_INFINITY);

    const drafts = await quill.services.store.listDrafts({});
    expect(drafts).toHaveLength(1);
    expect(drafts[0]).toMatchObject({
      sessionId,
      customerFingerprint: fingerprint,
      status: "posted",
      mode: "note",
      provider: "offline",
      intent: "product_defect",
      promptName: "default",
      postedFingerprint: note?.fingerprint,
    });
    expect(drafts[0]?.flags).toEqual([]);
    // The version is the hash of the prompt file as shipped, and that body is stored with it.
    const promptFile = readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8");
    const version = createHash("sha256").update(promptFile).digest("hex").slice(0, 16);
    expect(drafts[0]?.promptVersion).toBe(version);
    const versions = await quill.services.store.listPromptVersions();
    expect(versions.find((v) => v.hash === version)).toMatchObject({ name: "default", body: promptFile });
    // The offline drafter is no model: it costs nothing, and its one call is recorded as such.
    expect(drafts[0]).toMatchObject({ model: "kb-search", tokensIn: 0, tokensOut: 0, costUsd: 0 });
    const calls = await quill.services.store.llmCallsForJob(drafts[0]?.jobId ?? "");
    expect(calls).toMatchObject([{ provider: "offline", model: "kb-search", status: "ok", tokensIn: 0 }]);
    const latency = drafts[0]?.latency ?? {};
    const stages = ["context", "eligibility", "retrieval", "llm", "policy", "recheck", "post"];
    expect(Object.keys(latency).sort()).toEqual([...stages, "total"].sort());
    for (const stage of stages) {
      expect(latency[stage]).toBeGreaterThanOrEqual(0);
      expect(latency[stage]).toBeLessThanOrEqual(latency.total ?? -1);
    }
    // the customer saw nothing
    expect(sandbox.messagesOf(sessionId).filter((m) => m.from === "operator" && m.type !== "note")).toEqual(
      [],
    );
  });

  it("records a model's usage, cost and prompt version on the draft row and its llm call", async () => {
    const usage = { inputTokens: 1200, outputTokens: 80, cachedInputTokens: 1000 };
    const model: DraftEngine = {
      async draft() {
        return {
          text: "You can reset your password from the sign-in page: choose Forgot password.",
          confidence: 0.8,
          intent: "account",
          needsHuman: false,
          citations: [],
          usage,
          model: "gpt-4o-mini",
          provider: "openai",
          attempts: [{ provider: "openai", model: "gpt-4o-mini", status: "ok", latencyMs: 42, usage }],
        };
      },
    };
    const quill = await start({}, { llm: model });
    const { sessionId } = quill.sandbox?.visitorSays({ text: "How do I reset my password?" }) ?? {
      sessionId: "",
    };
    const draft = await until(async () => {
      const [first] = await quill.services.store.listDrafts({});
      return first?.status === "posted" ? first : undefined;
    });
    // gpt-4o-mini in the built-in price table: USD 0.15 in / 0.60 out per million tokens.
    const cost = (1200 * 0.15 + 80 * 0.6) / 1_000_000;
    expect(draft).toMatchObject({ sessionId, provider: "openai", model: "gpt-4o-mini" });
    expect(draft).toMatchObject({ tokensIn: 1200, tokensOut: 80, tokensCached: 1000 });
    expect(draft.costUsd).toBeCloseTo(cost, 12);
    expect(draft.promptVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(draft.latency.llm).toBeGreaterThanOrEqual(0);
    const calls = await quill.services.store.llmCallsForJob(draft.jobId);
    expect(calls).toMatchObject([{ provider: "openai", status: "ok", latencyMs: 42, tokensIn: 1200 }]);
    expect(calls[0]?.costUsd).toBeCloseTo(cost, 12);
  });

  it("the same message delivered by web hook three times plus a poll cycle yields one note", async () => {
    // The quiet period holds the job long enough for a poll cycle to find the message waiting.
    const quill = await start({ POLL_INTERVAL_SECONDS: "1", QUIET_PERIOD_MS: "3000" });
    const sandbox = quill.sandbox;
    if (!sandbox) throw new Error("no sandbox");
    sandbox.faults.duplicateRate = 1;
    const { sessionId, message } = sandbox.visitorSays({ text: "How do I reset my password?" });
    // a third delivery of the same body, signed afresh as a Crisp retry would be
    const body = JSON.stringify({
      website_id: message.website_id,
      event: "message:send",
      data: { ...message, website_id: message.website_id },
      timestamp: Date.now(),
    });
    const timestamp = String(Date.now());
    const third = await fetch(`${quill.url}/webhooks/crisp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-crisp-request-timestamp": timestamp,
        "x-crisp-signature": await signWebhook(DEMO_CREDENTIALS.webhookSecret, timestamp, body),
      },
      body,
    });
    expect(third.status).toBe(200);
    // The poller has passed the message (its watermark) while the job still waits: they collided.
    await until(async () => {
      const poll = await quill.services.store.getPollState(message.website_id);
      return (poll?.watermark ?? 0) >= message.timestamp;
    });
    expect(notesOf(quill, sessionId)).toEqual([]);
    expect(await quill.services.store.listJobs({ kind: "draft" })).toMatchObject([{ status: "queued" }]);

    await until(() => notesOf(quill, sessionId).length === 1);
    await sandbox.flushWebhooks();
    await new Promise((r) => setTimeout(r, 1_300)); // one more poll cycle
    expect(notesOf(quill, sessionId)).toHaveLength(1);
    expect(sandbox.deliveries.filter((d) => d.event === "message:send").length).toBe(2);
    expect(await quill.services.store.listJobs({ kind: "draft" })).toMatchObject([{ status: "done" }]);
  });

  it("a job held by the quiet period starts as it falls due, not at the runner's next idle check", async () => {
    const quill = await start({ QUIET_PERIOD_MS: "300" });
    const sandbox = quill.sandbox;
    if (!sandbox) throw new Error("no sandbox");
    // Three conversations within one wake-up slot, then one later: each is drafted on time.
    const sessions = ["Where is my parcel?", "Can I return it?", "Do you ship abroad?"].map(
      (text) => sandbox.visitorSays({ text }).sessionId,
    );
    await new Promise((r) => setTimeout(r, 130));
    sessions.push(sandbox.visitorSays({ text: "Is there a discount?" }).sessionId);
    await until(() => sessions.every((id) => notesOf(quill, id).length > 0) || undefined);
    const jobs = await quill.services.store.listJobs({ kind: "draft" });
    for (const id of sessions) {
      const job = jobs.find((j) => j.sessionId === id);
      // A job's first act is the typing indicator: its time is when the job started, whatever
      // the draft's own work costs after it (a first draft compiles the policy's patterns).
      const typing = sandbox.composeEvents.find((e) => e.sessionId === id && e.from === "operator");
      // The runner's idle check is every second: a missed wake-up starts a job up to 1 s late
      // (dropped wake-ups measured 676 ms here). The bound leaves room for a loaded machine,
      // where another job's first draft can hold the event loop for a few hundred ms.
      expect((typing?.at ?? Number.POSITIVE_INFINITY) - (job?.runAfter ?? 0)).toBeLessThan(600);
    }
  });

  it("finds waiting conversations by polling when no web hook arrives", async () => {
    const quill = await start({ POLL_INTERVAL_SECONDS: "1" }, { sandbox: { webhookUrls: [] } });
    const { sessionId } = quill.sandbox?.visitorSays({ text: "My promo code is not working" }) ?? {
      sessionId: "",
    };
    await until(() => notesOf(quill, sessionId).length === 1);
    const job = await until(async () => {
      const [first] = await quill.services.store.listJobs({ kind: "draft" });
      return first?.status === "done" ? first : undefined;
    });
    expect(job).toMatchObject({ trigger: "poll", outcome: "note" });
  });

  it.each([
    ["never arrives (the client times out)", { CRISP_TIMEOUT_MS: "400" }, 2_000],
    ["comes back as a 504", { CRISP_TIMEOUT_MS: "3000" }, 50],
  ])("posts exactly one note when the response of a landed POST %s", async (_, env, holdMs) => {
    const quill = await start(env);
    const sandbox = quill.sandbox;
    if (!sandbox) throw new Error("no sandbox");
    sandbox.faults.lostResponseHoldMs = holdMs;
    sandbox.faults.script.push({ method: "POST", path: "/message", fault: "lost" });
    const { sessionId } = sandbox.visitorSays({ text: "The website is really slow today" });
    await until(async () => (await quill.services.store.listDrafts({}))[0]?.status === "posted");
    const posts = sandbox.requests.filter(
      (r) => r.method === "POST" && r.path.endsWith(`/conversation/${sessionId}/message`),
    );
    expect(posts.map((r) => r.status)).toEqual([504]);
    expect(notesOf(quill, sessionId)).toHaveLength(1);
  });

  it("skips when an operator answers first, and posts a short failure note when every provider fails", async () => {
    const failing: DraftEngine = {
      async draft() {
        const error = new LlmError(
          "chain",
          "unavailable",
          "draft unavailable (anthropic: timeout; openai: rate_limited)",
        );
        error.attempts = [
          { provider: "anthropic", status: "timeout", latencyMs: 15_000 },
          { provider: "openai", status: "rate_limited", latencyMs: 20 },
        ];
        throw error;
      },
    };
    const quill = await start({ QUIET_PERIOD_MS: "300" }, { llm: failing });
    const sandbox = quill.sandbox;
    if (!sandbox) throw new Error("no sandbox");

    const answered = sandbox.visitorSays({ text: "hello?" });
    sandbox.operatorSays({ sessionId: answered.sessionId, text: "Hi! How can I help?" });
    const failed = sandbox.visitorSays({ text: "Where is my parcel?" });
    const [note] = await until(() =>
      notesOf(quill, failed.sessionId).length ? notesOf(quill, failed.sessionId) : undefined,
    );
    expect(note?.content).toBe(
      "⚠️ quill: draft unavailable (chain: draft unavailable (anthropic: timeout; openai: rate_limited)). The conversation still needs an answer.",
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(notesOf(quill, answered.sessionId)).toEqual([]);
    const jobs = await quill.services.store.listJobs({ kind: "draft" });
    const answeredJob = jobs.find((j) => j.sessionId === answered.sessionId);
    expect(answeredJob?.status).toBe("skipped");
    const failedJob = jobs.find((j) => j.sessionId === failed.sessionId);
    expect(failedJob).toMatchObject({ status: "failed", outcome: "failure_note" });
    expect(failedJob?.lastError).toContain("anthropic: timeout; openai: rate_limited");
    const calls = await quill.services.store.llmCallsForJob(failedJob?.id ?? "");
    expect(calls.map((c) => c.status)).toEqual(["timeout", "rate_limited"]);
  });
});
