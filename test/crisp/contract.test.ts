import { Crisp } from "crisp-api";
import { afterEach, describe, expect, it } from "vitest";
import { createCrispClient } from "../../src/crisp/client.ts";

/**
 * The official `crisp-api` package is the reference for what goes on the wire. For every
 * endpoint quill's client exposes, both clients make the same call against a recording
 * fetch, and quill must send the same method, path, query and body.
 */

interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

const HOST = "http://crisp.contract.test";
const W = "website-1";
const S = "session_abc";
const P = "people-1";

function recorder() {
  const calls: Recorded[] = [];
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    calls.push({
      method: (init?.method ?? "GET").toUpperCase(),
      path: url.pathname,
      query: Object.fromEntries([...url.searchParams.entries()].sort()),
      body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
    });
    const data = url.pathname.endsWith("/messages") ? [] : { fingerprint: 1, session_id: S, people_id: P };
    return new Response(JSON.stringify({ error: false, reason: "resolved", data }), {
      headers: { "content-type": "application/json" },
    });
  };
  return { calls, fetchImpl };
}

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

type Quill = ReturnType<typeof createCrispClient>;
// biome-ignore lint/suspicious/noExplicitAny: crisp-api's service map is untyped at runtime
type Official = any;

const message = {
  type: "note" as const,
  from: "operator" as const,
  origin: "chat",
  content: "Draft reply",
  user: { nickname: "quill" },
  automated: true,
  mentions: ["op-1"],
};

const userText = {
  type: "text" as const,
  from: "user" as const,
  origin: "urn:quill:import",
  content: "Where is my order?",
  user: { nickname: "Ada Lovelace", avatar: "https://avatars.example.com/ada.png" },
  fingerprint: 1_764_000_000_123,
};

// [name, quill call, crisp-api call]. Responses are not validated here (shapes are covered elsewhere).
const table: Array<[string, (q: Quill) => Promise<unknown>, (c: Official) => Promise<unknown>]> = [
  [
    "website create",
    (q) => q.websites.create({ name: "Acme", domain: "acme.test" }),
    (c) => c.website.createWebsite({ name: "Acme", domain: "acme.test" }),
  ],
  ["website get", (q) => q.websites.get(W), (c) => c.website.getWebsite(W)],
  [
    "website delete",
    (q) => q.websites.delete(W, { method: "password", secret: "pw" }),
    (c) => c.website.deleteWebsite(W, { method: "password", secret: "pw" }),
  ],
  ["settings get", (q) => q.websites.getSettings(W), (c) => c.website.getWebsiteSettings(W)],
  [
    "settings update",
    (q) => q.websites.updateSettings(W, { name: "Acme 2" }),
    (c) => c.website.updateWebsiteSettings(W, { name: "Acme 2" }),
  ],
  ["operators list", (q) => q.websites.listOperators(W), (c) => c.website.listWebsiteOperators(W)],
  [
    "conversations list with filters",
    (q) =>
      q.conversations.list(W, 2, {
        filter_not_resolved: true,
        filter_unread: true,
        order_date_updated: true,
        per_page: 50,
        search_query: "refund",
        search_type: "text",
      }),
    (c) =>
      c.website.listConversations(W, 2, {
        filter_not_resolved: 1,
        filter_unread: 1,
        order_date_updated: 1,
        per_page: 50,
        search_query: "refund",
        search_type: "text",
      }),
  ],
  ["conversation create", (q) => q.conversations.create(W), (c) => c.website.createNewConversation(W)],
  ["conversation get", (q) => q.conversations.get(W, S), (c) => c.website.getConversation(W, S)],
  ["conversation delete", (q) => q.conversations.delete(W, S), (c) => c.website.removeConversation(W, S)],
  ["state get", (q) => q.conversations.getState(W, S), (c) => c.website.getConversationState(W, S)],
  [
    "state change",
    (q) => q.conversations.setState(W, S, "resolved"),
    (c) => c.website.changeConversationState(W, S, "resolved"),
  ],
  [
    "routing get",
    (q) => q.conversations.getRouting(W, S),
    (c) => c.website.getConversationRoutingAssign(W, S),
  ],
  [
    "routing assign",
    (q) => q.conversations.assign(W, S, "op-1"),
    (c) => c.website.assignConversationRouting(W, S, { assigned: { user_id: "op-1" } }),
  ],
  [
    "routing assign silent",
    (q) => q.conversations.assign(W, S, "op-1", { silent: true }),
    (c) => c.website.assignConversationRouting(W, S, { assigned: { user_id: "op-1" }, silent: true }),
  ],
  ["meta get", (q) => q.conversations.getMeta(W, S), (c) => c.website.getConversationMetas(W, S)],
  [
    "meta update",
    (q) => q.conversations.updateMeta(W, S, { segments: ["vip"], data: { plan: "pro" } }),
    (c) => c.website.updateConversationMetas(W, S, { segments: ["vip"], data: { plan: "pro" } }),
  ],
  [
    "mark read",
    (q) => q.conversations.markRead(W, S, { from: "operator", origin: "urn:quill", fingerprints: [1, 2] }),
    (c) =>
      c.website.markMessagesReadInConversation(W, S, {
        from: "operator",
        origin: "urn:quill",
        fingerprints: [1, 2],
      }),
  ],
  ["messages latest", (q) => q.messages.list(W, S), (c) => c.website.getMessagesInConversation(W, S)],
  [
    "messages before",
    (q) => q.messages.list(W, S, { timestampBefore: 1_764_000_000_000 }),
    (c) => c.website.getMessagesInConversation(W, S, 1_764_000_000_000),
  ],
  [
    "message send note",
    (q) => q.messages.send(W, S, message),
    (c) => c.website.sendMessageInConversation(W, S, message),
  ],
  [
    "message send text from a user with nickname and avatar",
    (q) => q.messages.send(W, S, userText),
    (c) => c.website.sendMessageInConversation(W, S, userText),
  ],
  [
    "message send file",
    (q) =>
      q.messages.send(W, S, {
        type: "file",
        from: "operator",
        origin: "chat",
        content: { name: "a.pdf", url: "https://x.test/a.pdf", type: "application/pdf" },
      }),
    (c) =>
      c.website.sendMessageInConversation(W, S, {
        type: "file",
        from: "operator",
        origin: "chat",
        content: { name: "a.pdf", url: "https://x.test/a.pdf", type: "application/pdf" },
      }),
  ],
  ["message get", (q) => q.messages.get(W, S, 42), (c) => c.website.getMessageInConversation(W, S, 42)],
  [
    "message update",
    (q) => q.messages.update(W, S, 42, "edited"),
    (c) => c.website.updateMessageInConversation(W, S, 42, "edited"),
  ],
  [
    "compose start",
    (q) => q.compose.start(W, S, { excerpt: "typing" }),
    (c) =>
      c.website.composeMessageInConversation(W, S, {
        type: "start",
        from: "operator",
        excerpt: "typing",
        automated: true,
      }),
  ],
  [
    "compose stop",
    (q) => q.compose.stop(W, S),
    (c) => c.website.composeMessageInConversation(W, S, { type: "stop", from: "operator", automated: true }),
  ],
  [
    "people list",
    (q) =>
      q.people.listProfiles(W, 3, { sort_field: "nickname", sort_order: "ascending", search_text: "ada" }),
    (c) => c.website.listPeopleProfiles(W, 3, "nickname", "ascending", undefined, undefined, "ada"),
  ],
  ["people get", (q) => q.people.getProfile(W, P), (c) => c.website.getPeopleProfile(W, P)],
  [
    "people create",
    (q) => q.people.createProfile(W, { email: "ada@example.com", person: { nickname: "Ada" } }),
    (c) => c.website.addNewPeopleProfile(W, { email: "ada@example.com", person: { nickname: "Ada" } }),
  ],
  [
    "people update",
    (q) => q.people.updateProfile(W, P, { segments: ["vip"] }),
    (c) => c.website.updatePeopleProfile(W, P, { segments: ["vip"] }),
  ],
  [
    "people event add",
    (q) => q.people.addEvent(W, P, { text: "quill:draft_posted", data: { intent: "refund" }, color: "blue" }),
    (c) =>
      c.website.addPeopleEvent(W, P, {
        text: "quill:draft_posted",
        data: { intent: "refund" },
        color: "blue",
      }),
  ],
  ["people events list", (q) => q.people.listEvents(W, P, 2), (c) => c.website.listPeopleEvents(W, P, 2)],
  ["people data get", (q) => q.people.getData(W, P), (c) => c.website.getPeopleData(W, P)],
  [
    "people data merge",
    (q) => q.people.updateData(W, P, { last_intent: "refund" }),
    (c) => c.website.updatePeopleData(W, P, { data: { last_intent: "refund" } }),
  ],
  [
    "people data replace",
    (q) => q.people.updateData(W, P, { last_intent: "refund" }, { replace: true }),
    (c) => c.website.savePeopleData(W, P, { data: { last_intent: "refund" } }),
  ],
  ["plugin account", (q) => q.plugin.account(), (c) => c.plugin.getConnectAccount()],
  [
    "plugin subscription settings",
    (q) => q.plugin.subscriptionSettings(W, "plugin-1"),
    (c) => c.plugin.getSubscriptionSettings(W, "plugin-1"),
  ],
  [
    "bucket url",
    (q) => q.bucket.generateUrl({ namespace: "upload", file: { name: "a.png", type: "image/png" } }),
    (c) => c.bucket.generateBucketURL({ namespace: "upload", file: { name: "a.png", type: "image/png" } }),
  ],
];

describe("wire contract with the official crisp-api client", () => {
  it.each(table)("%s", async (_name, quillCall, officialCall) => {
    const ours = recorder();
    const quill = createCrispClient({
      apiUrl: `${HOST}/v1`,
      identifier: "id",
      key: "key",
      tier: "plugin",
      fetch: ours.fetchImpl as typeof fetch,
      maxRetries: 0,
    });
    await quillCall(quill).catch(() => undefined);

    const theirs = recorder();
    globalThis.fetch = theirs.fetchImpl as typeof fetch;
    const official = new Crisp();
    official.setRestHost(HOST);
    official.authenticateTier("plugin", "id", "key");
    await officialCall(official).catch(() => undefined);

    expect(ours.calls).toHaveLength(1);
    expect(theirs.calls).toHaveLength(1);
    expect(ours.calls[0]).toEqual(theirs.calls[0]);
  });

  it("covers every endpoint quill's client exposes", async () => {
    const quill = createCrispClient({
      apiUrl: HOST,
      identifier: "i",
      key: "k",
      tier: "plugin",
      fetch: recorder().fetchImpl as typeof fetch,
    });
    const exposed = Object.entries(quill).flatMap(([ns, methods]) =>
      Object.keys(methods).map((m) => `${ns}.${m}`),
    );
    // Record which client methods the table's quill calls reach.
    const used = new Set<string>();
    const spy = new Proxy(quill, {
      get: (target, ns: string) =>
        new Proxy(target[ns as keyof Quill], {
          get: (methods, name: string) => {
            used.add(`${ns}.${name}`);
            return (methods as Record<string, unknown>)[name];
          },
        }),
    });
    for (const [, quillCall] of table) await quillCall(spy).catch(() => undefined);
    // listLast is quill's own paging helper over messages.list, tested in client.test.ts.
    expect(exposed.filter((m) => !used.has(m))).toEqual(["messages.listLast"]);
  });
});
