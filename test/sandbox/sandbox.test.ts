import { describe, expect, it } from "vitest";
import { createCrispClient } from "../../src/crisp/client.ts";
import { CrispError } from "../../src/crisp/errors.ts";
import { parseWebhookEvent, verifyWebhook } from "../../src/crisp/webhook.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { inProcessFetch } from "../helpers.ts";

const BASE = "http://sandbox.test";

function setup(options: Parameters<typeof createSandbox>[0] = {}) {
  const received: Array<{ headers: Headers; body: string }> = [];
  const sandbox = createSandbox({
    webhookUrls: ["http://quill.test/webhooks/crisp"],
    webhookRetryBaseMs: 1,
    fetch: async (_url, init) => {
      received.push({ headers: new Headers(init?.headers), body: String(init?.body) });
      return new Response("{}", { status: 200 });
    },
    ...options,
  });
  const fetchImpl = inProcessFetch(sandbox.app);
  const crisp = createCrispClient({
    apiUrl: `${BASE}/v1`,
    identifier: DEMO_CREDENTIALS.identifier,
    key: DEMO_CREDENTIALS.key,
    tier: "plugin",
    fetch: fetchImpl,
    clock: { now: () => Date.now(), sleep: async () => {} },
    timeoutMs: 300,
  });
  return { sandbox, crisp, received, websiteId: sandbox.website.website_id, fetchImpl };
}

describe("sandbox REST", () => {
  it("validates message bodies with 400 invalid_data", async () => {
    const { crisp, websiteId } = setup();
    const { session_id } = await crisp.conversations.create(websiteId);
    const bad = crisp.messages.send(websiteId, session_id, {
      type: "text",
      from: "operator",
      origin: "chat",
      content: "",
    });
    await expect(bad).rejects.toBeInstanceOf(CrispError);
    await expect(bad).rejects.toMatchObject({ status: 400, reason: "invalid_data" });
  });

  it("stores a repeated client fingerprint twice, as Crisp may, unless told to dedupe", async () => {
    const { sandbox, crisp, websiteId } = setup();
    const { sessionId } = sandbox.visitorSays({ text: "hello" });
    const note = {
      type: "note",
      from: "operator",
      origin: "chat",
      content: "draft",
      fingerprint: 778,
    } as const;
    await crisp.messages.send(websiteId, sessionId, note);
    await crisp.messages.send(websiteId, sessionId, note);
    const notes = () => sandbox.messagesOf(sessionId).filter((m) => m.fingerprint === 778);
    expect(notes()).toHaveLength(2);

    const res = await sandbox.app.request("/_sandbox/faults", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dedupeFingerprints: true }),
    });
    expect(res.status).toBe(200);
    await crisp.messages.send(websiteId, sessionId, note);
    expect(notes()).toHaveLength(2);
  });

  it("shows a message sent as the user under the nickname and avatar it was sent with", async () => {
    const { crisp, websiteId } = setup();
    const { session_id } = await crisp.conversations.create(websiteId);
    const avatar = "https://avatars.example.com/ada.png";
    const { fingerprint } = await crisp.messages.send(websiteId, session_id, {
      type: "text",
      from: "user",
      origin: "urn:quill:import",
      content: "Where is my order?",
      user: { nickname: "Ada Lovelace", avatar },
    });
    expect((await crisp.messages.get(websiteId, session_id, fingerprint)).user).toMatchObject({
      user_id: session_id,
      nickname: "Ada Lovelace",
      avatar,
    });
  });

  it("moves the state with messages like Crisp and records compose events in order", async () => {
    const { sandbox, crisp, websiteId } = setup();
    const { sessionId } = sandbox.visitorSays({ text: "Where is my order?", email: "ada@example.com" });
    expect(await crisp.conversations.get(websiteId, sessionId)).toMatchObject({
      state: "pending",
      unread: { operator: 1 },
      preview_message: { from: "user", excerpt: "Where is my order?" },
    });
    await crisp.compose.start(websiteId, sessionId);
    await crisp.messages.send(websiteId, sessionId, {
      type: "text",
      from: "operator",
      origin: "chat",
      content: "On it!",
    });
    await crisp.compose.stop(websiteId, sessionId);
    expect(sandbox.composeEvents.map((e) => e.type)).toEqual(["start", "stop"]);
    expect(await crisp.conversations.getState(websiteId, sessionId)).toBe("unresolved");
    await expect(crisp.conversations.assign(websiteId, sessionId, "nobody")).rejects.toMatchObject({
      status: 404,
    });
    await crisp.conversations.setState(websiteId, sessionId, "resolved");
    sandbox.visitorSays({ sessionId, text: "One more thing" });
    expect(await crisp.conversations.getState(websiteId, sessionId)).toBe("pending");
  });

  it("sends the visitor's typing as message:compose:send hooks, from REST and the control API, and stops it on send", async () => {
    const { sandbox, crisp, websiteId, received } = setup();
    const { sessionId } = sandbox.visitorSays({ text: "Where is my order?" });
    const page = async () => (await sandbox.app.request(`/?session=${sessionId}`)).text();
    await crisp.compose.start(websiteId, sessionId, { from: "user", excerpt: "also my 2F" });
    expect(await page()).toContain("The visitor is typing…");
    const control = await sandbox.app.request("/_sandbox/visitor/compose", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session_id: sessionId, type: "start", excerpt: "also my 2FA" }),
    });
    expect(await control.json()).toEqual({ session_id: sessionId });
    const sent = sandbox.visitorSays({ sessionId, text: "also my 2FA code never arrives" });
    await sandbox.flushWebhooks();
    const hooks = received
      .map((r) => parseWebhookEvent(r.body))
      .flatMap((p) => (p.ok ? [p.event] : []))
      .filter((e) => (e.data as { session_id?: string }).session_id === sessionId);
    expect(hooks.map((e) => [e.event, (e.data as { type?: string }).type])).toEqual([
      ["message:send", "text"],
      ["message:compose:send", "start"],
      ["message:compose:send", "start"],
      ["message:send", "text"],
      ["message:compose:send", "stop"],
    ]);
    const [, start, , message, stop] = hooks.map((e) => e.data as { timestamp: number; excerpt?: string });
    expect(start?.excerpt).toBe("also my 2F");
    // Crisp's times order typing and messages: the stop is stamped after the message it ended.
    expect(message?.timestamp).toBe(sent.message.timestamp);
    expect(stop?.timestamp).toBeGreaterThan(sent.message.timestamp);
    expect(await page()).not.toContain("The visitor is typing…");
    expect(sandbox.composeEvents.map((e) => [e.from, e.type])).toEqual([
      ["user", "start"],
      ["user", "start"],
      ["user", "stop"],
    ]);
  });

  it("refuses a visitor compose with a bad type or an unknown conversation", async () => {
    const { sandbox } = setup();
    const { sessionId } = sandbox.visitorSays({ text: "hi" });
    const post = (body: unknown) =>
      sandbox.app.request("/_sandbox/visitor/compose", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const bad = await post({ session_id: sessionId, type: "typing" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "type must be start or stop" });
    expect((await post({ session_id: "session_nope", type: "start" })).status).toBe(404);
    expect((await post({ type: "stop" })).status).toBe(404);
    expect(sandbox.composeEvents).toHaveLength(0);
    // A start with no session opens a conversation, as a visitor typing a first message.
    const opened = (await (await post({ type: "start" })).json()) as { session_id: string };
    expect(sandbox.state.conversations.get(opened.session_id)?.compose.visitor?.type).toBe("start");
  });

  it("records stealth typing and shows it on the inbox page apart from typing the visitor sees", async () => {
    const { sandbox, crisp, websiteId } = setup();
    const { sessionId } = sandbox.visitorSays({ text: "Where is my order?" });
    const page = async () => (await sandbox.app.request(`/?session=${sessionId}`)).text();
    await crisp.compose.start(websiteId, sessionId, { stealth: true });
    expect(sandbox.composeEvents.at(-1)).toMatchObject({ type: "start", stealth: true });
    expect(await page()).toContain("quill is drafting (operators only; the visitor sees nothing)");
    await crisp.compose.start(websiteId, sessionId);
    expect(sandbox.composeEvents.at(-1)?.stealth).toBeUndefined();
    const visible = await page();
    expect(visible).toContain("An operator is typing… (the visitor sees this)");
    expect(visible).not.toContain("operators only");
  });

  it("orders by last update and hides empty conversations unless asked", async () => {
    const { sandbox, crisp, websiteId } = setup();
    const a = sandbox.visitorSays({ text: "first" });
    const b = sandbox.visitorSays({ text: "second" });
    await crisp.conversations.create(websiteId);
    sandbox.visitorSays({ sessionId: a.sessionId, text: "bump" });
    const list = await crisp.conversations.list(websiteId, 1, { order_date_updated: true });
    expect(list.map((c) => c.session_id)).toEqual([a.sessionId, b.sessionId]);
    expect((await crisp.conversations.list(websiteId, 1, { include_empty: true })).length).toBe(3);
  });

  it("refuses a second profile with the same email and keeps profiles per website", async () => {
    const { crisp, websiteId } = setup();
    const profile = { email: "ada@example.com", person: { nickname: "Ada" } };
    const { people_id } = await crisp.people.createProfile(websiteId, profile);
    await expect(crisp.people.createProfile(websiteId, profile)).rejects.toMatchObject({
      status: 409,
      reason: "people_exists",
    });
    const other = await crisp.websites.create({ name: "Other", domain: "other.test" });
    await expect(crisp.people.getProfile(other.website_id, people_id)).rejects.toMatchObject({ status: 404 });
  });
});

describe("sandbox web hooks", () => {
  it("signs every delivery like a Crisp plugin hook, verifiable by quill", async () => {
    const { sandbox, received } = setup();
    const { sessionId, fingerprint } = sandbox.visitorSays({ text: "hi" });
    sandbox.operatorSays({ sessionId, text: "internal", type: "note" });
    sandbox.setState(sessionId, "resolved");
    await sandbox.flushWebhooks();
    expect(received).toHaveLength(3);
    const events = [];
    for (const delivery of received) {
      const verified = await verifyWebhook({
        rawBody: delivery.body,
        header: (name) => delivery.headers.get(name),
        urlKey: undefined,
        secret: DEMO_CREDENTIALS.webhookSecret,
        toleranceSeconds: 300,
        now: Date.now(),
      });
      expect(verified.ok).toBe(true);
      const parsed = parseWebhookEvent(delivery.body);
      if (!parsed.ok) throw new Error(parsed.reason);
      events.push(parsed.event);
    }
    expect(events.map((e) => e.event)).toEqual(["message:send", "message:received", "session:set_state"]);
    expect(events[0]).toMatchObject({
      data: { session_id: sessionId, fingerprint, from: "user", content: "hi" },
    });
  });

  it("retries a failed delivery and records each attempt", async () => {
    let calls = 0;
    const sandbox = createSandbox({
      webhookUrls: ["http://quill.test/hook"],
      webhookRetryBaseMs: 1,
      fetch: async () => new Response("", { status: ++calls < 3 ? 503 : 200 }),
    });
    sandbox.visitorSays({ text: "hi" });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries.map((d) => d.status)).toEqual([503, 503, 200]);
  });

  it("duplicates deliveries when the fault knob says so", async () => {
    const { sandbox, received } = setup();
    sandbox.faults.duplicateRate = 1;
    sandbox.visitorSays({ text: "hi" });
    await sandbox.flushWebhooks();
    expect(received).toHaveLength(2);
    expect(received[0]?.body).toBe(received[1]?.body);
  });
});

describe("sandbox faults", () => {
  it("answers 429 with Retry-After, which the client honours and retries", async () => {
    const { sandbox, crisp, websiteId } = setup();
    sandbox.faults.script.push({ method: "GET", path: "/conversations/", fault: "429", times: 2 });
    expect(await crisp.conversations.list(websiteId)).toEqual([]);
    expect(sandbox.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it("loses the response of a landed POST: the client reports outcome_unknown, sends once, and the message exists", async () => {
    const { sandbox, crisp, websiteId } = setup();
    const { sessionId } = sandbox.visitorSays({ text: "hello" });
    sandbox.faults.script.push({ method: "POST", path: "/message", fault: "lost" });
    const send = crisp.messages.send(websiteId, sessionId, {
      type: "note",
      from: "operator",
      origin: "chat",
      content: "draft",
      fingerprint: 777,
    });
    await expect(send).rejects.toMatchObject({ reason: "outcome_unknown" });
    expect((await crisp.messages.get(websiteId, sessionId, 777)).content).toBe("draft");
    expect(sandbox.requests.filter((r) => r.method === "POST")).toHaveLength(1);
  });

  it("rejects unknown fault names through the control API", async () => {
    const { sandbox } = setup();
    const res = await sandbox.app.request("/_sandbox/faults", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ rate_429: 0.5 }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "unknown fault rate_429" });
    const okRes = await sandbox.app.request("/_sandbox/faults", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ rate500: 0.25 }),
    });
    expect(((await okRes.json()) as { rate500: number }).rate500).toBe(0.25);
  });
});

describe("sandbox inbox page", () => {
  it("shows conversations, private notes apart and the typing state, and lets a visitor write", async () => {
    const { sandbox, crisp, websiteId } = setup({ basePath: "/sandbox" });
    const { sessionId } = sandbox.visitorSays({ text: "Where is <b>my</b> order?", nickname: "Ada" });
    sandbox.operatorSays({ sessionId, text: "Draft: it ships today", type: "note" });
    await crisp.compose.start(websiteId, sessionId);
    const html = await (await sandbox.app.request(`/?session=${sessionId}`)).text();
    expect(html).toContain("Where is &lt;b&gt;my&lt;/b&gt; order?");
    expect(html).toMatch(/class="msg note"[^>]*>.*Private note/s);
    expect(html).toContain("An operator is typing");
    expect(html).toContain('action="/sandbox/_sandbox/visitor"');

    const form = new URLSearchParams({ session_id: sessionId, text: "Any news?" });
    const posted = await sandbox.app.request("/_sandbox/visitor", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      body: form.toString(),
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get("location")).toBe(`/sandbox/?session=${sessionId}`);
    expect(sandbox.messagesOf(sessionId).at(-1)?.content).toBe("Any news?");
  });
});
