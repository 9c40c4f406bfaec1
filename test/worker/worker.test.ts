import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
} from "cloudflare:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { drizzle } from "drizzle-orm/d1";
import { afterEach, describe, expect, it, vi } from "vitest";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { serverSecret } from "../../src/http/admin/session.ts";
import { createMcpTokens } from "../../src/mcp/tokens.ts";
import worker, { type JobMessage, scheduled, type WorkerEnv } from "../../src/runtime/worker.ts";
import { createSandbox, type Sandbox } from "../../src/sandbox/app.ts";
import { schema } from "../../src/store/schema.ts";
import { createStore, type Database } from "../../src/store/store.ts";

/**
 * quill inside workerd: D1 with the real migrations, web hooks into the Worker's fetch, the
 * cron and the queue through its default export. Crisp is the sandbox and the LLM a scripted
 * answer, both reached through the global fetch the Worker calls (same isolate).
 */

const realFetch = globalThis.fetch;
const realEnv = env as unknown as WorkerEnv;
const store = createStore(drizzle(env.DB, { schema }) as unknown as Database);
let sandbox: Sandbox;
/** Answers the Worker's LLM requests (host llm.test); unset: the request fails. */
let llm: ((request: Request) => Promise<Response>) | undefined;
/** Crisp requests held until the caller aborts them (a hung Crisp). */
let hang: ((request: Request) => boolean) | undefined;

globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const request = new Request(input, init);
  const host = new URL(request.url).host;
  if (host === "llm.test") return llm ? llm(request) : new Response("no LLM", { status: 503 });
  if (host !== "crisp.sandbox.test") return realFetch(input, init);
  if (hang?.(request)) {
    return new Promise<Response>((_, reject) => {
      const signal = init?.signal ?? request.signal;
      signal.addEventListener("abort", () => reject(signal.reason));
    });
  }
  return sandbox.app.request(request);
}) as typeof fetch;

afterEach(() => {
  llm = undefined;
  hang = undefined;
});

/** The sandbox delivers its web hooks to the Worker's fetch, with `hookEnv` as the Worker's env. */
function setup(webhooks: boolean, hookEnv: WorkerEnv = realEnv) {
  sandbox = createSandbox({
    webhookUrls: webhooks ? ["https://quill.worker.test/webhooks/crisp"] : [],
    webhookRetryBaseMs: 1,
    fetch: (input, init) => worker.fetch(new Request(String(input), init), hookEnv),
  });
}

const notes = (sessionId: string) => sandbox.messagesOf(sessionId).filter((m) => m.type === "note");
const jobsOf = (sessionId: string) => store.listJobs({ sessionId });
const waitForNote = (sessionId: string, timeout = 10_000) =>
  vi.waitUntil(() => notes(sessionId).length > 0, { timeout, interval: 50 });
const cron = () => worker.scheduled(createScheduledController(), realEnv);

/** A producer whose messages are kept for the test to deliver by hand (or to lose). */
function captured(vars: Record<string, string> = {}) {
  const sent: Array<{ body: JobMessage; delaySeconds?: number | undefined }> = [];
  const testEnv: WorkerEnv = {
    ...realEnv,
    ...vars,
    JOBS: {
      async send(body, options) {
        sent.push({ body, delaySeconds: options?.delaySeconds });
      },
      async sendBatch(messages) {
        for (const m of messages) sent.push(m);
      },
    },
  };
  let n = 0;
  /** Delivers `bodies` (default: everything sent so far) to the Worker's queue handler. */
  async function deliver(bodies?: JobMessage[], queue = "quill-jobs") {
    const messages = (bodies ?? sent.splice(0).map((m) => m.body)).map((body) => ({
      id: `msg-${n++}`,
      timestamp: new Date(),
      attempts: 1,
      body,
    }));
    const batch = createMessageBatch<JobMessage>(queue, messages);
    // The test batch records that a message was retried, not the delay it asked for.
    const delays: Record<string, number | undefined> = {};
    for (const message of batch.messages) {
      const retry = message.retry.bind(message);
      message.retry = (options) => {
        delays[message.id] = options?.delaySeconds;
        retry(options);
      };
    }
    const ctx = createExecutionContext();
    await worker.queue(batch as never, testEnv);
    const result = await getQueueResult(batch, ctx);
    return {
      ...result,
      retries: result.retryMessages.map((m) => ({ id: m.msgId, delaySeconds: delays[m.msgId] })),
    };
  }
  return { sent, env: testEnv, deliver };
}

/** An OpenAI chat completion whose content is quill's draft JSON. */
const completion = (reply: string, language = "en") =>
  Response.json({
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1,
    model: "test-model",
    choices: [
      {
        index: 0,
        finish_reason: "stop",
        message: {
          role: "assistant",
          content: JSON.stringify({
            reply,
            confidence: 0.9,
            intent: "password_reset",
            needs_human: false,
            needs_human_reason: null,
            language,
            citations: [],
          }),
        },
      },
    ],
    usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 },
  });

describe("quill on Workers, through the real queue", () => {
  it("a signed web hook leads, through the queue, to one draft note with typing around it", async () => {
    setup(true);
    const { sessionId } = sandbox.visitorSays({
      text: "Hi! I need to return an item, I got the wrong size.",
    });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries.map((d) => d.status)).toEqual([200]);
    await waitForNote(sessionId);
    expect(notes(sessionId)).toHaveLength(1);
    expect(String(notes(sessionId)[0]?.content)).toContain("Return Due to Size");
    await vi.waitUntil(() =>
      sandbox.composeEvents.some((e) => e.sessionId === sessionId && e.type === "stop"),
    );
    expect(sandbox.composeEvents.filter((e) => e.sessionId === sessionId).map((e) => e.type)).toEqual([
      "start",
      "stop",
    ]);
    expect((await jobsOf(sessionId)).map((j) => [j.status, j.attempts])).toEqual([["done", 1]]);
    const health = await worker.fetch(new Request("https://quill.worker.test/healthz"), realEnv);
    expect(health.status).toBe(200);
  });

  it("duplicate web hook deliveries and a redelivered queue message yield one note", async () => {
    setup(true);
    sandbox.faults.duplicateRate = 1;
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries).toHaveLength(2);
    await waitForNote(sessionId);
    const [job] = await jobsOf(sessionId);
    expect(job?.status).toBe("done");
    const again = await captured().deliver([{ jobId: String(job?.id) }]);
    expect(again.explicitAcks).toEqual(["msg-0"]);
    expect(notes(sessionId)).toHaveLength(1);
  });

  it("a Crisp 500 on the note is retried by the queue and the next attempt posts it once", async () => {
    setup(true);
    sandbox.faults.script.push({ method: "POST", path: "/message", fault: "500", times: 1 });
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    const failed = await vi.waitUntil(async () => (await jobsOf(sessionId))[0]?.lastError, {
      timeout: 5_000,
    });
    expect(failed).toMatch(/outcome unknown/);
    expect(notes(sessionId)).toEqual([]);
    await waitForNote(sessionId, 15_000);
    await vi.waitUntil(async () => (await jobsOf(sessionId))[0]?.status === "done");
    const [job] = await jobsOf(sessionId);
    expect(job?.attempts).toBe(2);
    expect(notes(sessionId)).toHaveLength(1);
  });

  it("the cron, through the default export, picks up a waiting conversation no web hook announced", async () => {
    setup(false);
    const { sessionId } = sandbox.visitorSays({ text: "My promo code is not working" });
    await cron();
    await waitForNote(sessionId);
    await cron();
    expect(await jobsOf(sessionId)).toHaveLength(1);
    expect(notes(sessionId)).toHaveLength(1);
  });

  it("the cron prunes what is older than RETENTION_DAYS (90 by default) and keeps newer rows", async () => {
    setup(true);
    const { sessionId } = sandbox.visitorSays({ text: "Where is my parcel 4242 4242 4242 4242?" });
    await sandbox.flushWebhooks();
    await waitForNote(sessionId);
    await vi.waitUntil(async () => (await jobsOf(sessionId))[0]?.status === "done");
    const fresh = sandbox.visitorSays({ text: "And a newer question" });
    await sandbox.flushWebhooks();
    await waitForNote(fresh.sessionId);
    const count = async (sql: string, session: string) =>
      (await env.DB.prepare(sql).bind(session).first<{ n: number }>())?.n;
    const old = Date.now() - 91 * 86_400_000;
    await env.DB.batch([
      env.DB.prepare("update inbox_events set received_at = ? where session_id = ?").bind(old, sessionId),
      env.DB.prepare("update drafts set created_at = ? where session_id = ?").bind(old, sessionId),
      env.DB.prepare(
        "update llm_calls set created_at = ? where job_id in (select id from jobs where session_id = ?)",
      ).bind(old, sessionId),
    ]);
    const { pruned } = await scheduled(realEnv);
    expect(pruned).toBeGreaterThanOrEqual(3);
    expect(await count("select count(*) as n from inbox_events where session_id = ?", sessionId)).toBe(0);
    const [draft] = await store.listDrafts({ sessionId });
    expect(draft).toMatchObject({ text: "", transcript: null, context: null, status: "posted" });
    expect(await count("select count(*) as n from drafts where session_id = ?", sessionId)).toBe(1);
    // The newer conversation is untouched.
    expect(
      await count("select count(*) as n from inbox_events where session_id = ?", fresh.sessionId),
    ).toBeGreaterThan(0);
    expect((await store.listDrafts({ sessionId: fresh.sessionId }))[0]?.transcript).toContain(
      "newer question",
    );
  });

  it("the cron re-sends a due job whose queue message was lost", async () => {
    const lost = captured();
    setup(true, lost.env);
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    lost.sent.splice(0); // the message never reaches the queue
    const [job] = await jobsOf(sessionId);
    // Two minutes later: well past due, so no message of its own can still be on its way.
    await env.DB.prepare("update jobs set run_after = ? where id = ?")
      .bind(Date.now() - 120_000, String(job?.id))
      .run();
    await cron();
    await waitForNote(sessionId);
    expect((await jobsOf(sessionId)).map((j) => [j.status, j.attempts])).toEqual([["done", 1]]);
  });

  it("the cron recovers a job left leased by a consumer that never finished it", async () => {
    const lost = captured();
    setup(true, lost.env);
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    const [job] = await jobsOf(sessionId);
    expect(await store.leaseJob(String(job?.id), "worker-gone", 1)).toBeDefined();
    await new Promise((done) => setTimeout(done, 10)); // its lease has expired
    await cron();
    await waitForNote(sessionId);
    await vi.waitUntil(async () => (await jobsOf(sessionId))[0]?.status === "done");
    expect((await jobsOf(sessionId))[0]?.attempts).toBe(2);
    expect(notes(sessionId)).toHaveLength(1);
  });

  it("rejects a forged web hook with 401 and stores nothing", async () => {
    const response = await worker.fetch(
      new Request("https://quill.worker.test/webhooks/crisp", {
        method: "POST",
        headers: { "x-crisp-signature": "forged", "x-crisp-request-timestamp": String(Date.now()) },
        body: JSON.stringify({ website_id: "w", event: "message:send", data: {}, timestamp: Date.now() }),
      }),
      realEnv,
    );
    expect(response.status).toBe(401);
  });
});

describe("quill on Workers, message by message", () => {
  it("the visitor's typing moves the draft: a start defers it on its own message, a stop sends one due at once", async () => {
    const queue = captured({ QUIET_PERIOD_MS: "3000" });
    setup(true, queue.env);
    const typing = (sessionId: string, type: "start" | "stop") =>
      sandbox.app.request("/_sandbox/visitor/compose", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ session_id: sessionId, type }),
      });
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    // No typing seen in this conversation yet: the quiet period, as before.
    expect(queue.sent.map((m) => m.delaySeconds)).toEqual([3]);
    const [first] = await jobsOf(sessionId);

    // Typing after the message: the job now waits, and its own message finds it not yet due.
    await typing(sessionId, "start");
    await sandbox.flushWebhooks();
    expect(queue.sent).toHaveLength(1);
    const early = await queue.deliver();
    expect(early.retries).toHaveLength(1);
    expect(early.retries[0]?.delaySeconds).toBeGreaterThanOrEqual(2);
    expect(notes(sessionId)).toHaveLength(0);

    // The visitor stops: a message due now, and the draft is posted from it.
    await typing(sessionId, "stop");
    await sandbox.flushWebhooks();
    expect(queue.sent).toEqual([{ body: { jobId: first?.id }, delaySeconds: 0 }]);
    const due = await queue.deliver();
    expect(due.explicitAcks).toHaveLength(1);
    expect(notes(sessionId)).toHaveLength(1);

    // Typing is known here now: a typed message waits only the grace (a Queue delay rounds it
    // up to 1 s), and the stop its send brings is a message due at once.
    await typing(sessionId, "start");
    const typed = sandbox.visitorSays({ sessionId, text: "And my 2FA code?" });
    await sandbox.flushWebhooks();
    const job = (await jobsOf(sessionId)).find((j) => j.fingerprint === typed.fingerprint);
    expect(queue.sent).toEqual([
      { body: { jobId: job?.id }, delaySeconds: 1 },
      { body: { jobId: job?.id }, delaySeconds: 0 },
    ]);
    const [graceMessage, stopMessage] = queue.sent.splice(0).map((m) => m.body);
    expect((await queue.deliver([stopMessage as JobMessage])).explicitAcks).toHaveLength(1);
    expect(notes(sessionId)).toHaveLength(2);
    // The grace's own message comes later and finds the job done.
    expect((await queue.deliver([graceMessage as JobMessage])).explicitAcks).toHaveLength(1);
    expect(notes(sessionId)).toHaveLength(2);
    expect((await jobsOf(sessionId)).map((j) => j.status)).toEqual(["done", "done"]);
  });

  it("a job that runs out of time is queued again, retried with a delay, and posted on the next attempt", async () => {
    // A 6 s lease: the job is stopped after 4 s.
    const queue = captured({ JOB_LEASE_SECONDS: "6", DRAFT_DEADLINE_MS: "1000" });
    setup(true, queue.env);
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    hang = (request) => request.method === "GET" && new URL(request.url).pathname.endsWith(sessionId);
    const first = await queue.deliver();
    expect(first.explicitAcks).toEqual([]);
    expect(first.retries).toEqual([{ id: "msg-0", delaySeconds: 2 }]);
    const [job] = await jobsOf(sessionId);
    expect(job).toMatchObject({ status: "queued", attempts: 1, leaseOwner: null, lastError: "aborted" });

    hang = undefined;
    const early = await queue.deliver([{ jobId: String(job?.id) }]);
    expect(early.retries).toEqual([{ id: "msg-1", delaySeconds: 2 }]);
    expect((await jobsOf(sessionId))[0]?.attempts).toBe(1); // not due yet: not run

    await vi.waitUntil(() => Date.now() > Number(job?.runAfter), { timeout: 5_000 });
    const due = await queue.deliver([{ jobId: String(job?.id) }]);
    expect(due.explicitAcks).toEqual(["msg-2"]);
    expect(notes(sessionId)).toHaveLength(1);
    expect((await jobsOf(sessionId))[0]).toMatchObject({ status: "done", attempts: 2 });
  });

  it("a dead-lettered message sends its job back while it has attempts left", async () => {
    const queue = captured();
    setup(true, queue.env);
    const open = sandbox.visitorSays({ text: "How do I reset my password?" });
    const finished = sandbox.visitorSays({ text: "My promo code is not working" });
    await sandbox.flushWebhooks();
    const [openJob] = await jobsOf(open.sessionId);
    const [finishedJob] = await jobsOf(finished.sessionId);
    await queue.deliver([{ jobId: String(finishedJob?.id) }]);
    expect(notes(finished.sessionId)).toHaveLength(1);
    queue.sent.splice(0);

    const dead = await queue.deliver(
      [{ jobId: String(openJob?.id) }, { jobId: String(finishedJob?.id) }],
      "quill-jobs-dead",
    );
    expect(dead.explicitAcks.sort()).toEqual(["msg-1", "msg-2"]);
    expect(queue.sent.map((m) => m.body.jobId)).toEqual([openJob?.id]);
    await queue.deliver();
    expect(notes(open.sessionId)).toHaveLength(1);
    expect(notes(finished.sessionId)).toHaveLength(1);
  });

  it("an OpenAI-compatible model (LLM_BASE_URL) writes the draft", async () => {
    const queue = captured({
      LLM_PROVIDER: "compatible",
      LLM_BASE_URL: "http://llm.test/v1",
      LLM_MODEL: "test-model",
    });
    const bodies: Array<{ model: string; messages: Array<{ content: string }> }> = [];
    llm = async (request) => {
      expect(new URL(request.url).pathname).toBe("/v1/chat/completions");
      bodies.push(await request.json());
      return completion("You can reset it from Settings → Security → Reset password.");
    };
    setup(true, queue.env);
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    await queue.deliver();
    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.model).toBe("test-model");
    expect(bodies[0]?.messages.map((m) => m.content).join("\n")).toContain("How do I reset my password?");
    expect(String(notes(sessionId)[0]?.content)).toContain("Settings → Security → Reset password");
    const [draft] = await store.listDrafts({ sessionId });
    expect(draft).toMatchObject({ provider: "compatible", model: "test-model", status: "posted" });
  });

  it("a French customer gets a French draft and the operator an English translation (tinyld in workerd)", async () => {
    const queue = captured({
      LLM_PROVIDER: "compatible",
      LLM_BASE_URL: "http://llm.test/v1",
      LLM_MODEL: "test-model",
      OPERATOR_LANGUAGE: "en",
    });
    const systems: string[] = [];
    llm = async (request) => {
      const body = (await request.json()) as { messages: Array<{ content: string }> };
      const system = body.messages[0]?.content ?? "";
      systems.push(system);
      return completion(
        system.startsWith("You translate")
          ? "You can reset it in Settings."
          : "Vous pouvez le réinitialiser dans les paramètres.",
        system.startsWith("You translate") ? "en" : "fr",
      );
    };
    setup(true, queue.env);
    const { sessionId } = sandbox.visitorSays({
      text: "Bonjour, comment je peux changer mon mot de passe ?",
    });
    await sandbox.flushWebhooks();
    await queue.deliver();
    expect(systems).toHaveLength(2);
    expect(systems[0]).toContain("Reply in French (fr)");
    expect(systems[1]).toContain("from French (fr) into English (en)");
    const note = String(notes(sessionId)[0]?.content);
    expect(note).toContain("Vous pouvez le réinitialiser dans les paramètres.");
    expect(note).toContain("🌐 English translation, for you, not sent");
    expect(note).toContain("You can reset it in Settings.");
    const [draft] = await store.listDrafts({ sessionId });
    expect(draft).toMatchObject({
      language: "fr",
      text: "Vous pouvez le réinitialiser dans les paramètres.",
    });
    expect(await store.llmCallsForJob(draft?.jobId ?? "")).toHaveLength(2);
  });

  it("a model that never answers falls back to the offline draft within the deadline", async () => {
    const queue = captured({
      LLM_PROVIDER: "compatible",
      LLM_BASE_URL: "http://llm.test/v1",
      LLM_FALLBACK: "offline",
      LLM_TIMEOUT_MS: "1000",
      LLM_RETRIES: "0",
      DRAFT_DEADLINE_MS: "4000",
    });
    let calls = 0;
    llm = (request) => {
      calls++;
      return new Promise((_, reject) =>
        request.signal.addEventListener("abort", () => reject(request.signal.reason)),
      );
    };
    setup(true, queue.env);
    const { sessionId } = sandbox.visitorSays({
      text: "Hi! I need to return an item, I got the wrong size.",
    });
    await sandbox.flushWebhooks();
    const started = Date.now();
    await queue.deliver();
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(calls).toBe(1);
    expect(String(notes(sessionId)[0]?.content)).toContain("Return Due to Size");
    const [draft] = await store.listDrafts({ sessionId });
    expect(draft).toMatchObject({ provider: "offline", status: "posted" });
  });
});

describe("dashboard auth on Workers (D1)", () => {
  const authEnv = { ...realEnv, ADMIN_TOKEN: "admin-token-of-the-worker-tests" } as WorkerEnv;
  const call = (path: string, init: RequestInit = {}) =>
    worker.fetch(new Request(`https://quill.worker.test${path}`, init), authEnv);
  const login = async (token: string, ip: string) => {
    const page = await call("/admin/login", { headers: { "cf-connecting-ip": ip } });
    const cookie = page.headers.get("set-cookie")?.split(";")[0] ?? "";
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
    return call("/admin/login", {
      method: "POST",
      headers: { cookie, "cf-connecting-ip": ip, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, _csrf: csrf }).toString(),
      redirect: "manual",
    });
  };

  it("throttles by CF-Connecting-IP, keeps sessions in D1 and revokes them on logout", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await login(`wrong-${i}`, "203.0.113.9")).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const ok = await login("admin-token-of-the-worker-tests", "203.0.113.10");
    expect(ok.status).toBe(303);
    const setCookie = ok.headers.get("set-cookie") ?? "";
    expect(setCookie).toContain("Secure");
    const session = setCookie.split(";")[0] ?? "";
    const drafts = await call("/admin/drafts", { headers: { cookie: session } });
    expect(drafts.status).toBe(200);
    expect(drafts.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(drafts.headers.get("x-content-type-options")).toBe("nosniff");
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await drafts.text())?.[1] ?? "";
    const out = await call("/admin/logout", {
      method: "POST",
      headers: { cookie: session, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
      redirect: "manual",
    });
    expect(out.status).toBe(303);
    const after = await call("/admin/drafts", { headers: { cookie: session }, redirect: "manual" });
    expect(after.status).toBe(302);
  });
});

describe("the MCP server on Workers (D1)", () => {
  it("an agent with a quill token works a conversation through the Worker's fetch; a revoked one gets 401", async () => {
    setup(false);
    const { sessionId } = sandbox.visitorSays({ text: "Where is my parcel?", email: "ada@example.com" });
    const tokens = createMcpTokens({ store, secret: serverSecret(store, undefined), now: Date.now });
    const { token, row } = await tokens.create({
      name: "worker agent",
      scopes: ["read", "note"],
      websiteId: null,
    });
    const agent = new Client({ name: "worker-test-agent", version: "1.0.0" });
    await agent.connect(
      new StreamableHTTPClientTransport(new URL("https://quill.worker.test/mcp"), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
        fetch: (input, init) => worker.fetch(new Request(String(input), init), realEnv),
      }),
    );
    expect((await agent.listTools()).tools.length).toBe(11);
    const read = await agent.callTool({ name: "get_conversation", arguments: { session_id: sessionId } });
    expect(read.isError).toBeFalsy();
    const text = JSON.stringify(read.structuredContent);
    expect(text).toContain("Where is my parcel?");
    expect(text).not.toContain("ada@example.com");
    expect(text).not.toContain(realEnv.CRISP_KEY);
    const note = await agent.callTool({
      name: "post_note",
      arguments: { session_id: sessionId, text: "Parcel checked." },
    });
    expect(note.isError).toBeFalsy();
    expect(notes(sessionId).map((n) => n.content)).toEqual(["🤖 worker agent: Parcel checked."]);
    const refused = await agent.callTool({
      name: "send_reply",
      arguments: { session_id: sessionId, text: "Hi" },
    });
    expect(refused.isError).toBe(true);
    expect((await store.listMcpCalls({ tokenId: row.id })).map((c) => [c.tool, c.ok])).toEqual([
      ["send_reply", false],
      ["post_note", true],
      ["get_conversation", true],
    ]);
    await agent.close();

    await store.revokeMcpToken(row.id);
    const after = await worker.fetch(
      new Request("https://quill.worker.test/mcp", {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
      }),
      realEnv,
    );
    expect(after.status).toBe(401);
  });

  it("the Crisp widget's signed Approve sends the draft; the settings page checks the subscription token", async () => {
    setup(true);
    const { sessionId } = sandbox.visitorSays({
      text: "Hi! I need to return an item, I got the wrong size.",
    });
    await sandbox.flushWebhooks();
    await waitForNote(sessionId);
    const draft = await store.latestDraftForSession(realEnv.CRISP_WEBSITE_ID ?? "", sessionId);
    const press = async (secret: string) => {
      const body = JSON.stringify({
        origin: { website_id: realEnv.CRISP_WEBSITE_ID, session_id: sessionId },
        action: { type: "button" },
        widget: { section_id: "quill", item_id: "approve" },
        payload: { data: { operator_id: "op-w", operator_name: "Wren" } },
      });
      const timestamp = String(Date.now());
      return worker.fetch(
        new Request("https://quill.worker.test/plugin/widget", {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-crisp-request-timestamp": timestamp,
            "x-crisp-signature": await signWebhook(secret, timestamp, body),
          },
          body,
        }),
        realEnv,
      );
    };
    expect((await press("not-the-plugin-secret")).status).toBe(401);
    expect((await press(realEnv.CRISP_WEBHOOK_SECRET ?? "")).status).toBe(202);
    await vi.waitUntil(
      () => sandbox.messagesOf(sessionId).some((m) => m.type === "text" && m.content === draft?.text),
      { timeout: 10_000, interval: 50 },
    );
    const [feedback] = await store.feedbackForDraft(draft?.id ?? "");
    expect(feedback).toMatchObject({ kind: "approved", operatorName: "Wren" });

    const token = sandbox.website.plugin_token;
    const page = (query: string) =>
      worker.fetch(new Request(`https://quill.worker.test/plugin/settings${query}`), realEnv);
    const ok = await page(`?website_id=${realEnv.CRISP_WEBSITE_ID}&token=${token}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('name="_csrf"');
    expect(ok.headers.get("x-frame-options")).toBe("DENY");
    const wrong = await page(`?website_id=${realEnv.CRISP_WEBSITE_ID}&token=wrong-${token}`);
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).not.toContain("<form");
  });
});
