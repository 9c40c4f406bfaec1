import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import worker, { type JobMessage, scheduled, type WorkerEnv } from "../../src/runtime/worker.ts";
import { createSandbox, type Sandbox } from "../../src/sandbox/app.ts";

/**
 * quill inside workerd: D1 with the real migrations, web hooks into the Worker's fetch,
 * draft jobs through its queue handler, the cron's poll cycle. Crisp is the sandbox,
 * running in the same isolate behind the API host the Worker is configured with.
 */

const realFetch = globalThis.fetch;
let sandbox: Sandbox;
let sent: JobMessage[];
let testEnv: WorkerEnv;

function setup(webhooks: boolean) {
  sent = [];
  testEnv = {
    ...(env as unknown as WorkerEnv),
    JOBS: {
      async send(body: JobMessage) {
        sent.push(body);
      },
    },
  };
  sandbox = createSandbox({
    webhookUrls: webhooks ? ["https://quill.worker.test/webhooks/crisp"] : [],
    webhookRetryBaseMs: 1,
    fetch: (input, init) => worker.fetch(new Request(String(input), init), testEnv),
  });
}

beforeEach(() => {
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.host === "crisp.sandbox.test")
      return sandbox.app.request(input instanceof Request ? input : url.href, init);
    return realFetch(input, init);
  }) as typeof fetch;
});
afterEach(() => {
  globalThis.fetch = realFetch;
});

async function deliverQueue() {
  const messages = sent
    .splice(0)
    .map((body, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts: 1, body }));
  const batch = createMessageBatch<JobMessage>("quill-jobs", messages);
  const ctx = createExecutionContext();
  await worker.queue(batch as never, testEnv);
  return getQueueResult(batch, ctx);
}

const notes = (sessionId: string) => sandbox.messagesOf(sessionId).filter((m) => m.type === "note");

describe("quill on Workers", () => {
  it("a signed web hook leads, through the queue, to one draft note with typing around it", async () => {
    setup(true);
    const { sessionId } = sandbox.visitorSays({
      text: "Hi! I need to return an item, I got the wrong size.",
    });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries.map((d) => d.status)).toEqual([200]);
    expect(sent).toHaveLength(1);
    const result = await deliverQueue();
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(notes(sessionId)).toHaveLength(1);
    expect(String(notes(sessionId)[0]?.content)).toContain("Return Due to Size");
    expect(sandbox.composeEvents.filter((e) => e.sessionId === sessionId).map((e) => e.type)).toEqual([
      "start",
      "stop",
    ]);
    const health = await worker.fetch(new Request("https://quill.worker.test/healthz"), testEnv);
    expect(health.status).toBe(200);
  });

  it("duplicate web hook deliveries and a redelivered queue message yield one note", async () => {
    setup(true);
    sandbox.faults.duplicateRate = 1;
    const { sessionId } = sandbox.visitorSays({ text: "How do I reset my password?" });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries).toHaveLength(2);
    expect(sent).toHaveLength(1);
    const again = [...sent];
    await deliverQueue();
    sent.push(...again);
    const second = await deliverQueue();
    expect(second.explicitAcks).toEqual(["msg-0"]);
    expect(notes(sessionId)).toHaveLength(1);
  });

  it("the cron's poll cycle picks up a waiting conversation no web hook announced", async () => {
    setup(false);
    const { sessionId } = sandbox.visitorSays({ text: "My promo code is not working" });
    const cycle = await scheduled(testEnv);
    expect(cycle.polled).toBe(1);
    await deliverQueue();
    expect(notes(sessionId)).toHaveLength(1);
    expect((await scheduled(testEnv)).polled).toBe(0);
  });

  it("rejects a forged web hook with 401 and stores nothing", async () => {
    setup(true);
    const response = await worker.fetch(
      new Request("https://quill.worker.test/webhooks/crisp", {
        method: "POST",
        headers: { "x-crisp-signature": "forged", "x-crisp-request-timestamp": String(Date.now()) },
        body: JSON.stringify({ website_id: "w", event: "message:send", data: {}, timestamp: Date.now() }),
      }),
      testEnv,
    );
    expect(response.status).toBe(401);
    expect(sent).toEqual([]);
  });
});
