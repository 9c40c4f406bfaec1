import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { signWebhook, type WebhookEvent } from "../../src/crisp/webhook.ts";
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { createMetrics } from "../../src/metrics.ts";

const SECRET = "test_hook_secret";
const body = readFileSync(new URL("../fixtures/crisp/webhook.message_send.json", import.meta.url), "utf8");
const NOW = 1_764_000_000_100;
const clock: Clock = { now: () => NOW, sleep: async () => {} };

function makeApp() {
  const seen = new Set<string>();
  const events: WebhookEvent[] = [];
  const metrics = createMetrics();
  const app = createApp({
    webhook: { secret: SECRET, toleranceSeconds: 300 },
    clock,
    log: silentLogger,
    metrics,
    ready: async () => {},
    intake: async (event, key) => {
      const duplicate = seen.has(key);
      seen.add(key);
      if (!duplicate) events.push(event);
      return { duplicate, action: duplicate ? "none" : "enqueued" };
    },
  });
  return { app, events, metrics };
}

async function signed(raw: string, ts = String(NOW)) {
  return {
    method: "POST",
    body: raw,
    headers: {
      "content-type": "application/json",
      "x-crisp-request-timestamp": ts,
      "x-crisp-signature": await signWebhook(SECRET, ts, raw),
    },
  };
}

describe("POST /webhooks/crisp", () => {
  it("accepts a signed delivery and hands the typed event to intake", async () => {
    const { app, events } = makeApp();
    const res = await app.request("/webhooks/crisp", await signed(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ error: false, reason: "accepted" });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: "message:send", known: true });
  });

  it("answers a replayed delivery 200 but does not act on it twice", async () => {
    const { app, events } = makeApp();
    const first = await app.request("/webhooks/crisp", await signed(body));
    const replay = await app.request("/webhooks/crisp", await signed(body));
    expect(first.status).toBe(200);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ reason: "duplicate" });
    expect(events).toHaveLength(1);
  });

  it("rejects a tampered body with 401 and a reason, without calling intake", async () => {
    const { app, events } = makeApp();
    const request = await signed(body);
    const res = await app.request("/webhooks/crisp", { ...request, body: body.replace("reset", "delete") });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: true, reason: "invalid signature" });
    expect(events).toHaveLength(0);
  });

  it("rejects a stale delivery with 401", async () => {
    const { app } = makeApp();
    const res = await app.request("/webhooks/crisp", await signed(body, String(NOW - 600_000)));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/stale/);
  });

  it("rejects malformed JSON with 400 and a reason", async () => {
    const { app } = makeApp();
    const res = await app.request("/webhooks/crisp", await signed("{not json"));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/not valid JSON/);
  });

  it("refuses bodies over 1 MB with 413", async () => {
    const { app } = makeApp();
    const big = JSON.stringify({
      website_id: "w",
      event: "x",
      data: "y".repeat(1024 * 1024),
      timestamp: NOW,
    });
    const res = await app.request("/webhooks/crisp", await signed(big));
    expect(res.status).toBe(413);
  });

  it("accepts website hooks with the secret in the URL and rejects a wrong key", async () => {
    const { app, events } = makeApp();
    const ok = await app.request(`/webhooks/crisp?key=${SECRET}`, { method: "POST", body });
    const bad = await app.request("/webhooks/crisp?key=nope", { method: "POST", body });
    expect(ok.status).toBe(200);
    expect(bad.status).toBe(401);
    expect(events).toHaveLength(1);
  });

  it("counts deliveries by result in /metrics", async () => {
    const { app } = makeApp();
    await app.request("/webhooks/crisp", await signed(body));
    await app.request("/webhooks/crisp", { method: "POST", body });
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain('quill_webhooks_total{event="message:send",result="accepted"} 1');
    expect(text).toContain('quill_webhooks_total{result="rejected"} 1');
  });
});
