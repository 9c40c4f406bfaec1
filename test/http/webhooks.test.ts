import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { buildServices } from "../../src/services.ts";

const SECRET = "test_hook_secret";
const body = readFileSync(new URL("../fixtures/crisp/webhook.message_send.json", import.meta.url), "utf8");
const defaultPrompt = readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8");
const WEBSITE = (JSON.parse(body) as { website_id: string }).website_id;
const NOW = 1_764_000_000_100;
const clock: Clock = { now: () => NOW, sleep: async () => {} };

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const database of open.splice(0)) database.close();
});

/** The app buildServices wires: real intake, inbox and jobs in an in-memory SQLite database. */
function servicesOn(database: ReturnType<typeof openSqlite>, env: Record<string, string> = {}) {
  return buildServices({
    config: loadConfig({
      ...env,
      DATABASE_PATH: ":memory:",
      CRISP_IDENTIFIER: "id",
      CRISP_KEY: "key",
      CRISP_WEBSITE_ID: WEBSITE,
      CRISP_WEBHOOK_SECRET: SECRET,
      CRISP_API_URL: "http://crisp.invalid/v1",
      PEOPLE_SYNC: "off",
      ...env,
    }),
    db: database.db,
    clock,
    log: silentLogger,
    kbFiles: [],
    promptFiles: [{ name: "default.md", content: defaultPrompt }],
    fetch: async () => {
      throw new Error("the web hook intake must not call out");
    },
  });
}

async function makeApp(env: Record<string, string> = {}) {
  const database = openSqlite(":memory:");
  database.migrate();
  open.push(database);
  const services = await servicesOn(database, env);
  const inboxRows = () =>
    database.sqlite.prepare("select event, session_id as sessionId from inbox_events").all() as Array<{
      event: string;
      sessionId: string | null;
    }>;
  const jobs = () => services.store.listJobs({ limit: 100 });
  return { app: services.app, database, inboxRows, jobs };
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
  it("accepts a signed delivery, records it in the inbox and enqueues one draft job", async () => {
    const { app, inboxRows, jobs } = await makeApp();
    const res = await app.request("/webhooks/crisp", await signed(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ error: false, reason: "accepted" });
    expect(inboxRows()).toEqual([
      { event: "message:send", sessionId: "session_700c65e1-85e2-465a-b9ac-ecb5ec2c9881" },
    ]);
    expect(await jobs()).toMatchObject([{ kind: "draft", fingerprint: 176400000123, status: "queued" }]);
  });

  it("does not record a note it ignores (the echo of its own draft note), and records a command note once", async () => {
    const { app, inboxRows, jobs } = await makeApp();
    const note = (content: string, fingerprint: number) => {
      const hook = JSON.parse(body) as { event: string; data: Record<string, unknown> };
      hook.event = "message:received";
      Object.assign(hook.data, {
        type: "note",
        from: "operator",
        content,
        fingerprint,
        user: { nickname: "quill" },
      });
      return JSON.stringify(hook);
    };
    const echo = note("quill draft (confidence 0.8)\n\nYour parcel left our warehouse today.", 176400000200);
    for (const ts of [NOW, NOW + 1_000]) {
      const res = await app.request("/webhooks/crisp", await signed(echo, String(ts)));
      expect(await res.json()).toMatchObject({ reason: "accepted", data: { action: "ignored" } });
    }
    expect(inboxRows()).toEqual([]);

    const command = note("/approve", 176400000201);
    const first = await app.request("/webhooks/crisp", await signed(command));
    expect(await first.json()).toMatchObject({ data: { action: "command:approve" } });
    const replay = await app.request("/webhooks/crisp", await signed(command, String(NOW + 1_000)));
    expect(await replay.json()).toMatchObject({ reason: "duplicate" });
    expect(inboxRows()).toHaveLength(1);
    expect((await jobs()).map((j) => j.kind)).toEqual(["command"]);
  });

  it("answers a replayed delivery 200 but the inbox table keeps it once, even on another instance", async () => {
    const { app, database, inboxRows, jobs } = await makeApp();
    // A second process on the same database has no memory of the first delivery: only the store does.
    const other = await servicesOn(database);
    const first = await app.request("/webhooks/crisp", await signed(body));
    const replay = await other.app.request("/webhooks/crisp", await signed(body, String(NOW + 1_000)));
    expect(first.status).toBe(200);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ reason: "duplicate" });
    expect(inboxRows()).toHaveLength(1);
    expect(await jobs()).toHaveLength(1);

    // Another message of the same conversation is a new delivery, not a duplicate.
    const next = body.replace("176400000123", "176400000124");
    expect(await (await app.request("/webhooks/crisp", await signed(next))).json()).toMatchObject({
      reason: "accepted",
    });
    expect(inboxRows()).toHaveLength(2);
  });

  it("rejects a tampered body with 401 and a reason, storing nothing", async () => {
    const { app, inboxRows, jobs } = await makeApp();
    const request = await signed(body);
    const res = await app.request("/webhooks/crisp", { ...request, body: body.replace("reset", "delete") });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: true, reason: "invalid signature" });
    expect(inboxRows()).toEqual([]);
    expect(await jobs()).toEqual([]);
  });

  it("rejects a stale delivery with 401", async () => {
    const { app } = await makeApp();
    const res = await app.request("/webhooks/crisp", await signed(body, String(NOW - 600_000)));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/stale/);
  });

  it("rejects malformed JSON with 400 and a reason", async () => {
    const { app } = await makeApp();
    const res = await app.request("/webhooks/crisp", await signed("{not json"));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/not valid JSON/);
  });

  it("answers signed deliveries of the wrong shape with 400 naming the field, storing and enqueuing nothing", async () => {
    const { app, inboxRows, jobs } = await makeApp();
    const hook = JSON.parse(body) as { website_id: string; event: string; data: Record<string, unknown> };
    const variants: Array<[string, unknown, RegExp]> = [
      ["no website", { ...hook, website_id: undefined }, /website_id/],
      ["the event as a number", { ...hook, event: 7 }, /event/],
      ["no session", { ...hook, data: { ...hook.data, session_id: undefined } }, /session_id/],
      ["a fingerprint as text", { ...hook, data: { ...hook.data, fingerprint: "12" } }, /fingerprint/],
      ["data for another website", { ...hook, data: { ...hook.data, website_id: "another" } }, /website_id/],
      ["an array body", [hook], /body/],
    ];
    for (const [what, variant, field] of variants) {
      const res = await app.request("/webhooks/crisp", await signed(JSON.stringify(variant)));
      expect(res.status, what).toBe(400);
      const answer = (await res.json()) as { error: boolean; reason: string };
      expect(answer.error, what).toBe(true);
      expect(answer.reason, what).toMatch(field);
    }
    expect(inboxRows()).toEqual([]);
    expect(await jobs()).toEqual([]);
  });

  it("refuses bodies over 1 MB with 413", async () => {
    const { app } = await makeApp();
    const big = JSON.stringify({
      website_id: "w",
      event: "x",
      data: "y".repeat(1024 * 1024),
      timestamp: NOW,
    });
    const res = await app.request("/webhooks/crisp", await signed(big));
    expect(res.status).toBe(413);
  });

  it("takes a declared Content-Length as the body size: over 1 MB is 413 unread, under is accepted", async () => {
    const { app, inboxRows } = await makeApp();
    const request = await signed(body);
    const declared = (length: number) => ({
      ...request,
      headers: { ...request.headers, "content-length": String(length) },
    });
    const refused = await app.request("/webhooks/crisp", declared(1024 * 1024 + 1));
    expect(refused.status).toBe(413);
    expect(inboxRows()).toHaveLength(0);
    const accepted = await app.request("/webhooks/crisp", declared(Buffer.byteLength(body)));
    expect(accepted.status).toBe(200);
    expect(inboxRows()).toHaveLength(1);
  });

  it("accepts website hooks with the secret in the URL and rejects a wrong key", async () => {
    const { app, inboxRows } = await makeApp({ CRISP_TIER: "website" });
    const ok = await app.request(`/webhooks/crisp?key=${SECRET}`, { method: "POST", body });
    const bad = await app.request("/webhooks/crisp?key=nope", { method: "POST", body });
    expect(ok.status).toBe(200);
    expect(bad.status).toBe(401);
    expect(inboxRows()).toHaveLength(1);
  });

  it("refuses ?key= on the plugin tier (plugin hooks are signed), with a reason", async () => {
    const { app, inboxRows } = await makeApp({ CRISP_TIER: "plugin" });
    const refused = await app.request(`/webhooks/crisp?key=${SECRET}`, { method: "POST", body });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { reason: string }).reason).toMatch(/website hooks only/);
    expect(inboxRows()).toHaveLength(0);
    expect((await app.request("/webhooks/crisp", await signed(body))).status).toBe(200);
  });

  it("answers a signed body nested 50,000 deep with 400 and a reason, storing nothing", async () => {
    const { app, inboxRows } = await makeApp();
    const deep = (n: number) =>
      `{"website_id":"${WEBSITE}","event":"x","timestamp":1,"data":${"[".repeat(n)}${"]".repeat(n)}}`;
    for (const n of [50_000, 64]) {
      const res = await app.request("/webhooks/crisp", await signed(deep(n)));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { reason: string }).reason).toMatch(/nests deeper than 64/);
    }
    // A wrong signature on a deep body is still a 401 (the re-serialised form is not tried).
    const forged = await signed(deep(50_000));
    const res = await app.request("/webhooks/crisp", {
      ...forged,
      headers: { ...forged.headers, "x-crisp-signature": "0".repeat(64) },
    });
    expect(res.status).toBe(401);
    expect(inboxRows()).toHaveLength(0);
    // 63 arrays inside the envelope object: 64 levels, accepted (an unknown event).
    expect((await app.request("/webhooks/crisp", await signed(deep(63)))).status).toBe(200);
  });

  it("counts depth outside strings only: brackets inside strings and escapes do not nest", async () => {
    const { jsonDeeperThan } = await import("../../src/crisp/webhook.ts");
    expect(jsonDeeperThan(`{"a":"${"[".repeat(100)}"}`, 2)).toBe(false);
    // An escaped backslash ends before the quote; an escaped quote does not end the string.
    expect(jsonDeeperThan(String.raw`{"a":"\\","b":"[[["}`, 1)).toBe(false);
    expect(jsonDeeperThan(String.raw`{"a":"\"[[["}`, 1)).toBe(false);
    expect(jsonDeeperThan(String.raw`{"a":"\\"}[[`, 1)).toBe(true);
    expect(jsonDeeperThan("[[[]]]", 2)).toBe(true);
    expect(jsonDeeperThan("[[]][[]]", 2)).toBe(false);
  });

  it("counts deliveries by result in /metrics", async () => {
    const { app } = await makeApp();
    await app.request("/webhooks/crisp", await signed(body));
    await app.request("/webhooks/crisp", { method: "POST", body });
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain('quill_webhooks_total{event="message:send",result="accepted"} 1');
    expect(text).toContain('quill_webhooks_total{result="rejected"} 1');
  });
});

describe("GET /metrics", () => {
  const TOKEN = "metrics-token-9f3c2a71";
  const scrape = (app: Awaited<ReturnType<typeof makeApp>>["app"], authorization?: string) =>
    app.request("/metrics", authorization === undefined ? {} : { headers: { authorization } });

  it("is open without METRICS_TOKEN (keep it off the public network then)", async () => {
    const { app } = await makeApp();
    const res = await scrape(app);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^# HELP quill_breaker_open /m);
  });

  it("with METRICS_TOKEN answers only the bearer token; every other try gets the same 401", async () => {
    const { app } = await makeApp({ METRICS_TOKEN: TOKEN });
    expect((await scrape(app, `Bearer ${TOKEN}`)).status).toBe(200);
    expect((await scrape(app, `bearer ${TOKEN}`)).status).toBe(200); // the scheme is case-insensitive
    const tries = [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      `Bearer ${TOKEN.toUpperCase()}`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN} ${TOKEN}`,
      `Basic ${btoa(`metrics:${TOKEN}`)}`,
      TOKEN,
      `Token ${TOKEN}`,
    ];
    for (const authorization of tries) {
      const res = await scrape(app, authorization);
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
      const text = await res.text();
      expect(text).toBe('{"error":true,"reason":"unauthorized"}');
    }
    // Not in the query string either, where proxies log it.
    expect((await app.request(`/metrics?token=${TOKEN}`)).status).toBe(401);
  });

  it("refuses a weak METRICS_TOKEN at start, naming it", async () => {
    const database = openSqlite(":memory:");
    open.push(database);
    await expect((async () => servicesOn(database, { METRICS_TOKEN: "short" }))()).rejects.toThrow(
      /METRICS_TOKEN: at least 16 characters/,
    );
  });
});
