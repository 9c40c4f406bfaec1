import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/crisp/webhook.ts";
import type { DraftEngine } from "../../src/llm/types.ts";
import { silentLogger } from "../../src/log.ts";
import { startQuill } from "../../src/runtime/node.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";

/**
 * Graceful shutdown (SIGTERM runs the same stop()): a draft still waiting on its model when
 * the grace period ends is aborted, posts nothing, and its lease is released with the
 * attempt given back, so the next start drafts it at once and the customer gets one answer.
 */

const sandbox = createSandbox({ webhookUrls: [], seed: false });
let sandboxServer: ReturnType<typeof serve>;
const dir = mkdtempSync(join(tmpdir(), "quill-shutdown-"));
const databasePath = join(dir, "quill.db");
let env: Record<string, string>;

beforeAll(async () => {
  sandboxServer = serve({ fetch: sandbox.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => sandboxServer.once("listening", resolve));
  env = {
    CRISP_API_URL: `http://127.0.0.1:${(sandboxServer.address() as AddressInfo).port}/v1`,
    CRISP_IDENTIFIER: DEMO_CREDENTIALS.identifier,
    CRISP_KEY: DEMO_CREDENTIALS.key,
    CRISP_WEBSITE_ID: sandbox.website.website_id,
    CRISP_WEBHOOK_SECRET: DEMO_CREDENTIALS.webhookSecret,
    DATABASE_PATH: databasePath,
    QUIET_PERIOD_MS: "0",
    POLL_INTERVAL_SECONDS: "0",
    PEOPLE_SYNC: "off",
  };
});

afterAll(async () => {
  await new Promise((resolve) => sandboxServer.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const answer = {
  text: "Your parcel left our warehouse yesterday.",
  confidence: 0.9,
  intent: "shipping",
  needsHuman: false,
  citations: [],
  usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 },
  model: "scripted",
  provider: "openai" as const,
};

async function deliver(url: string, event: unknown) {
  const body = JSON.stringify(event);
  const timestamp = String(Date.now());
  const response = await fetch(`${url}/webhooks/crisp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-crisp-request-timestamp": timestamp,
      "x-crisp-signature": await signWebhook(DEMO_CREDENTIALS.webhookSecret, timestamp, body),
    },
    body,
  });
  expect(response.status).toBe(200);
}

describe("graceful shutdown", () => {
  it("aborts a draft in flight, releases its lease, and the next start answers it once", async () => {
    let modelCalled: () => void = () => {};
    const called = new Promise<void>((resolve) => (modelCalled = resolve));
    let aborted = false;
    // A model that answers only when it is cancelled: the draft is still in flight at stop().
    const hanging: DraftEngine = {
      draft: (_request, { signal }) =>
        new Promise((_resolve, reject) => {
          modelCalled();
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(signal.reason);
          });
        }),
    };
    const first = await startQuill({ env, port: 0, host: "127.0.0.1", log: silentLogger, llm: hanging });
    const said = sandbox.visitorSays({ text: "Where is my parcel?" });
    await deliver(first.url, {
      website_id: said.message.website_id,
      event: "message:send",
      data: { ...said.message, website_id: said.message.website_id },
      timestamp: Date.now(),
    });
    await called;
    await first.stop(100);
    expect(aborted).toBe(true);
    expect(sandbox.messagesOf(said.sessionId).filter((m) => m.type === "note")).toEqual([]);

    const db = new Database(databasePath, { readonly: true });
    const jobs = db.prepare("select status, lease_owner, attempts from jobs where kind = 'draft'").all();
    db.close();
    expect(jobs).toEqual([{ status: "queued", lease_owner: null, attempts: 0 }]);

    const ready: DraftEngine = {
      draft: async () => ({ ...answer, attempts: [] }),
    };
    const second = await startQuill({ env, port: 0, host: "127.0.0.1", log: silentLogger, llm: ready });
    try {
      const deadline = Date.now() + 10_000;
      while (!sandbox.messagesOf(said.sessionId).some((m) => m.type === "note")) {
        if (Date.now() > deadline) throw new Error("the next start did not draft the released job");
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, 200));
      const notes = sandbox.messagesOf(said.sessionId).filter((m) => m.type === "note");
      expect(notes).toHaveLength(1);
      expect(notes[0]?.content).toContain(answer.text);
    } finally {
      await second.stop(1_000);
    }
  });
});
