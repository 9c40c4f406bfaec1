import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import worker, { type JobMessage, type WorkerEnv } from "../../src/runtime/worker.ts";
import { createSandbox, type Sandbox } from "../../src/sandbox/app.ts";
import { schema } from "../../src/store/schema.ts";
import { createStore, type Database } from "../../src/store/store.ts";

/** Shadow mode on Workers: the shadow job is a Queue message like any job, and calls no Crisp API. */

const realFetch = globalThis.fetch;
const store = createStore(drizzle(env.DB, { schema }) as unknown as Database);
let sandbox: Sandbox;
const llmBodies: Array<{ messages: Array<{ content: string }> }> = [];

globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const request = new Request(input, init);
  const host = new URL(request.url).host;
  if (host === "llm.test") {
    llmBodies.push(await request.json());
    return Response.json({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1,
      model: "candidate-model",
      choices: [
        {
          index: 0,
          finish_reason: "stop",
          message: {
            role: "assistant",
            content: JSON.stringify({
              reply: "Reset it under Settings, then Security.",
              confidence: 0.8,
              intent: "password_reset",
              needs_human: false,
              citations: [],
            }),
          },
        },
      ],
      usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
    });
  }
  if (host !== "crisp.sandbox.test") return realFetch(input, init);
  return sandbox.app.request(request);
}) as typeof fetch;

describe("shadow mode on Workers", () => {
  it("a posted draft's shadow runs from its own queue message and posts nothing", async () => {
    const sent: JobMessage[] = [];
    const testEnv: WorkerEnv = {
      ...(env as unknown as WorkerEnv),
      // live: the offline drafter (no key); candidate: a compatible model
      SHADOW_PROVIDER: "compatible",
      LLM_BASE_URL: "http://llm.test/v1",
      SHADOW_MODEL: "candidate-model",
      JOBS: {
        async send(body) {
          sent.push(body);
        },
        async sendBatch(messages) {
          for (const m of messages) sent.push(m.body);
        },
      },
    };
    sandbox = createSandbox({
      webhookUrls: ["https://quill.worker.test/webhooks/crisp"],
      webhookRetryBaseMs: 1,
      fetch: (input, init) => worker.fetch(new Request(String(input), init), testEnv),
    });
    let n = 0;
    const deliver = async () => {
      const messages = sent
        .splice(0)
        .map((body) => ({ id: `m${n++}`, timestamp: new Date(), attempts: 1, body }));
      const batch = createMessageBatch<JobMessage>("quill-jobs", messages);
      await worker.queue(batch as never, testEnv);
      return getQueueResult(batch, createExecutionContext());
    };
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    await deliver();
    const notes = () => sandbox.messagesOf(sessionId).filter((m) => m.type === "note");
    expect(notes()).toHaveLength(1);
    expect(llmBodies).toHaveLength(0);
    expect(sent).toHaveLength(1);

    const crispCalls = sandbox.requests.length;
    const result = await deliver();
    expect(result.explicitAcks).toHaveLength(1);
    expect(sandbox.requests.length).toBe(crispCalls);
    expect(notes()).toHaveLength(1);
    expect(llmBodies).toHaveLength(1);
    expect(llmBodies[0]?.messages.map((m) => m.content).join("\n")).toContain("How do I reset my password?");
    const [draft] = await store.listDrafts({ sessionId });
    expect(draft).toMatchObject({ provider: "offline", status: "posted" });
    expect(await store.shadowForDraft(draft?.id ?? "")).toMatchObject({
      provider: "compatible",
      model: "candidate-model",
      text: "Reset it under Settings, then Security.",
      error: null,
    });
    const jobs = await store.listJobs({ sessionId });
    expect(jobs.map((j) => [j.kind, j.status]).sort()).toEqual([
      ["draft", "done"],
      ["shadow", "done"],
    ]);
  });
});
