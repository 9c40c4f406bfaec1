import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Clock, systemClock } from "../clock.ts";
import { safeEqual } from "../crypto.ts";
import { pageHeaders, scriptHash } from "../http/headers.ts";
import { type Logger, silentLogger } from "../log.ts";
import { REFRESH, renderInbox } from "./page.tsx";
import { createSandboxState, type SandboxConversation, type SandboxMessage } from "./state.ts";
import { createWebhookEmitter, type WebhookFaults } from "./webhooks.ts";

/**
 * A local stand-in for Crisp REST v1: same paths, Basic auth + X-Crisp-Tier, the
 * `{error, reason, data}` envelope, 206 paging of messages, signed web hooks, fault
 * knobs, and an inbox page. Faithful enough that the official `crisp-api` client works
 * against it unchanged (see test/sandbox).
 */

export const DEMO_CREDENTIALS = {
  identifier: "7a3f1c2e-quill-demo-identifier",
  key: "quill-demo-key-0123456789abcdef0123456789abcdef",
  websiteId: "42b1a8c6-5d3e-4f7a-9b2c-1e0d9f8a7b6c",
  webhookSecret: "quill-demo-webhook-secret",
  pluginId: "c7d1e2f3-quill-demo-plugin",
} as const;

export type SandboxFault = "429" | "500" | "lost";

export interface SandboxFaults extends WebhookFaults {
  /** Added before every REST answer. */
  latencyMs: number;
  /** Probability of a 429 (with Retry-After) / a 500 instead of handling the request. */
  rate429: number;
  rate500: number;
  /** Probability that a write is applied but its response never arrives. */
  lostResponseRate: number;
  retryAfterSeconds: number;
  /** How long a "lost" response is held before the connection gives up (504). */
  lostResponseHoldMs: number;
  /** Deterministic faults, consumed first match first: e.g. the next POST message answers 500. */
  script: Array<{ method?: string; path?: string; fault: SandboxFault; times?: number }>;
  /**
   * Store a message once per client fingerprint. Off by default: Crisp is not known to dedupe,
   * and a sandbox that did would hide double posts from every exactly-once test.
   */
  dedupeFingerprints: boolean;
}

export interface SandboxOptions {
  identifier?: string;
  key?: string;
  /** The website served from the start (more can be created through the API). */
  websiteId?: string;
  /** Accepted X-Crisp-Tier (a missing header means "user", as in Crisp). */
  tier?: "plugin" | "website" | "user";
  webhookSecret?: string;
  webhookUrls?: string[];
  /** Where the sandbox is mounted (e.g. "/sandbox"), for links on the inbox page. */
  basePath?: string;
  /** Messages per page of the messages list (Crisp's is about 20, unconfirmed). */
  messagesPageSize?: number;
  clock?: Clock;
  log?: Logger;
  random?: () => number;
  /** Used to deliver web hooks (defaults to global fetch). */
  fetch?: typeof fetch;
  webhookAttempts?: number;
  webhookRetryBaseMs?: number;
  /** Adds a few example conversations. */
  seed?: boolean;
}

const TEXT_TYPES = new Set(["text", "note"]);
const MESSAGE_TYPES = new Set([
  "text",
  "note",
  "file",
  "animation",
  "audio",
  "picker",
  "field",
  "carousel",
  "event",
]);

type Json = Record<string, unknown>;

function ok(c: Context, data: unknown, reason = "resolved", status: ContentfulStatusCode = 200) {
  return c.json({ error: false, reason, data }, status);
}

function fail(c: Context, status: ContentfulStatusCode, reason: string) {
  return c.json({ error: true, reason, data: {} }, status);
}

async function readJson(c: Context): Promise<Json | undefined> {
  const text = await c.req.text();
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const flag = (value: string | undefined) => value === "1" || value === "true";

export function createSandbox(options: SandboxOptions = {}) {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const random = options.random ?? Math.random;
  const identifier = options.identifier ?? DEMO_CREDENTIALS.identifier;
  const key = options.key ?? DEMO_CREDENTIALS.key;
  const tier = options.tier ?? "plugin";
  const pageSize = options.messagesPageSize ?? 20;
  const basePath = (options.basePath ?? "").replace(/\/+$/, "");
  const state = createSandboxState(clock);
  const website = state.addWebsite({
    websiteId: options.websiteId ?? DEMO_CREDENTIALS.websiteId,
    name: "Quill Demo Store",
    domain: "demo.quill.test",
  });
  const hooks = createWebhookEmitter({
    websiteId: website.website_id,
    secret: options.webhookSecret ?? DEMO_CREDENTIALS.webhookSecret,
    urls: options.webhookUrls ?? [],
    clock,
    log,
    random,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.webhookAttempts !== undefined ? { attempts: options.webhookAttempts } : {}),
    ...(options.webhookRetryBaseMs !== undefined ? { retryBaseMs: options.webhookRetryBaseMs } : {}),
  });
  const faults: SandboxFaults = Object.assign(hooks.faults, {
    latencyMs: 0,
    rate429: 0,
    rate500: 0,
    lostResponseRate: 0,
    retryAfterSeconds: 1,
    lostResponseHoldMs: 15_000,
    script: [] as SandboxFaults["script"],
    dedupeFingerprints: false,
  });
  /** Every REST request seen, for tests that count Crisp calls (e.g. the poll cost bench). */
  const requests: Array<{ method: string; path: string; status: number; at: number; ms: number }> = [];

  // ---- domain operations shared by REST, the control API and the page ----

  function messageHookData(message: SandboxMessage) {
    const conversation = state.conversations.get(message.session_id);
    return {
      session_id: message.session_id,
      inbox_id: conversation?.inbox_id ?? null,
      type: message.type,
      from: message.from,
      origin: message.origin,
      content: message.content,
      fingerprint: message.fingerprint,
      timestamp: message.timestamp,
      user: message.user,
      stamped: message.stamped,
      mentions: message.mentions,
      ...(message.automated !== undefined ? { automated: message.automated } : {}),
    };
  }

  function postMessage(
    conversation: SandboxConversation,
    input: Parameters<typeof state.addMessage>[1],
    dedupeFingerprint = false,
  ): { message: SandboxMessage; duplicate: boolean } {
    const before = conversation.state;
    const result = state.addMessage(conversation, input, dedupeFingerprint);
    if (result.duplicate) return result;
    const { message } = result;
    // Crisp names hooks from the operators' side: visitor messages are "sent", operators' "received".
    hooks.emit(message.from === "user" ? "message:send" : "message:received", messageHookData(message));
    if (conversation.state !== before) {
      hooks.emit("session:set_state", { session_id: conversation.session_id, state: conversation.state });
    }
    return result;
  }

  function setState(conversation: SandboxConversation, next: SandboxConversation["state"]) {
    if (conversation.state === next) return;
    conversation.state = next;
    conversation.updated_at = state.stamp();
    if (next === "resolved") conversation.waiting_since = 0;
    hooks.emit("session:set_state", { session_id: conversation.session_id, state: next });
  }

  /**
   * The visitor types or stops: recorded like any compose and sent as Crisp's
   * `message:compose:send` hook (operators' compose sends none here: quill's own would only echo back).
   */
  function visitorComposes(conversation: SandboxConversation, type: "start" | "stop", excerpt?: string) {
    const at = state.stamp();
    state.composeEvents.push({
      sessionId: conversation.session_id,
      type,
      from: "user",
      at,
      ...(excerpt !== undefined ? { excerpt } : {}),
    });
    conversation.compose.visitor = { type, timestamp: at, ...(excerpt !== undefined ? { excerpt } : {}) };
    hooks.emit("message:compose:send", {
      session_id: conversation.session_id,
      inbox_id: conversation.inbox_id,
      type,
      ...(excerpt !== undefined ? { excerpt } : {}),
      timestamp: at,
    });
  }

  function visitorSays(input: {
    sessionId?: string | undefined;
    text: string;
    nickname?: string | undefined;
    email?: string | undefined;
    websiteId?: string | undefined;
  }) {
    const existing = input.sessionId ? state.conversations.get(input.sessionId) : undefined;
    const conversation =
      existing ??
      state.createConversation(input.websiteId ?? website.website_id, {
        sessionId: input.sessionId,
        nickname: input.nickname,
        email: input.email,
      });
    const { message } = postMessage(conversation, {
      type: "text",
      from: "user",
      origin: "chat",
      content: input.text,
      user: { user_id: conversation.session_id, nickname: conversation.meta.nickname },
    });
    // Sending empties the chatbox: a visitor who was typing stops, as Crisp's widget reports.
    if (conversation.compose.visitor?.type === "start") visitorComposes(conversation, "stop");
    return { sessionId: conversation.session_id, fingerprint: message.fingerprint, message };
  }

  function operatorSays(input: {
    sessionId: string;
    text: string;
    type?: "text" | "note";
    nickname?: string;
  }) {
    const conversation = state.conversations.get(input.sessionId);
    if (!conversation) throw new Error(`no conversation ${input.sessionId}`);
    const operator = state.websites.get(conversation.website_id)?.operators[0]?.details;
    const { message } = postMessage(conversation, {
      type: input.type ?? "text",
      from: "operator",
      origin: "chat",
      content: input.text,
      user: {
        type: "website",
        user_id: operator?.user_id ?? "operator",
        nickname: input.nickname ?? `${operator?.first_name ?? "Operator"}`,
      },
    });
    return { sessionId: conversation.session_id, fingerprint: message.fingerprint, message };
  }

  function pickFault(method: string, path: string): SandboxFault | undefined {
    const index = faults.script.findIndex(
      (f) => (!f.method || f.method.toUpperCase() === method) && (!f.path || path.includes(f.path)),
    );
    if (index >= 0) {
      const entry = faults.script[index] as SandboxFaults["script"][number];
      const times = (entry.times ?? 1) - 1;
      if (times <= 0) faults.script.splice(index, 1);
      else entry.times = times;
      return entry.fault;
    }
    if (faults.rate429 > 0 && random() < faults.rate429) return "429";
    if (faults.rate500 > 0 && random() < faults.rate500) return "500";
    if (method !== "GET" && faults.lostResponseRate > 0 && random() < faults.lostResponseRate) return "lost";
    return undefined;
  }

  // ---- REST v1 ----

  const api = new Hono();

  api.use("*", async (c, next) => {
    const started = clock.now();
    await next();
    requests.push({
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      at: started,
      ms: clock.now() - started,
    });
  });

  api.use("*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Basic\s+(.+)$/i.exec(header);
    let decoded = "";
    try {
      decoded = match?.[1] ? atob(match[1]) : "";
    } catch {
      decoded = "";
    }
    const requestTier = c.req.header("x-crisp-tier") ?? "user";
    if (!safeEqual(decoded, `${identifier}:${key}`) || requestTier !== tier) {
      return fail(c, 401, "invalid_session");
    }
    if (faults.latencyMs > 0) await clock.sleep(faults.latencyMs);
    const fault = pickFault(c.req.method, c.req.path);
    if (fault === "429") {
      c.header("Retry-After", String(faults.retryAfterSeconds));
      return fail(c, 429, "quota_limit_exceeded");
    }
    if (fault === "500") return fail(c, 500, "internal_error");
    await next();
    if (fault === "lost") {
      // The write is applied; the answer never reaches the caller.
      const signal = c.req.raw.signal;
      await clock.sleep(faults.lostResponseHoldMs, signal).catch(() => undefined);
      c.res = undefined;
      c.res = c.json({ error: true, reason: "gateway_timeout", data: {} }, 504);
    }
    return undefined;
  });

  const websiteOf = (c: Context) => state.websites.get(c.req.param("website") ?? "");
  const conversationOf = (c: Context) => {
    const conversation = state.conversations.get(c.req.param("session") ?? "");
    return conversation && conversation.website_id === c.req.param("website") ? conversation : undefined;
  };

  // Every website-scoped route: the website must exist and belong to these credentials.
  api.use("/website/:website/*", async (c, next) => {
    if (!websiteOf(c)) return fail(c, 404, "website_not_found");
    return next();
  });
  api.use("/website/:website/conversation/:session/*", async (c, next) => {
    if (!conversationOf(c)) return fail(c, 404, "session_not_found");
    return next();
  });

  api.post("/website", async (c) => {
    const body = await readJson(c);
    if (!body || typeof body.name !== "string" || typeof body.domain !== "string") {
      return fail(c, 400, "invalid_data");
    }
    const created = state.addWebsite({ name: body.name, domain: body.domain });
    return ok(c, websitePublic(created.website_id));
  });

  const websitePublic = (id: string) => {
    const w = state.websites.get(id);
    return w ? { website_id: w.website_id, name: w.name, domain: w.domain, logo: w.logo } : undefined;
  };

  api.get("/website/:website", (c) => ok(c, websitePublic(c.req.param("website"))));

  // The plugin's own routes: every sandbox website has the demo plugin installed.
  api.get("/plugin/connect/account", (c) => ok(c, { plugin_id: DEMO_CREDENTIALS.pluginId }));
  api.get("/plugins/subscription/:website/:plugin/settings", (c) => {
    const site = state.websites.get(c.req.param("website"));
    if (!site || c.req.param("plugin") !== DEMO_CREDENTIALS.pluginId)
      return fail(c, 404, "subscription_not_found");
    return ok(c, {
      plugin_id: DEMO_CREDENTIALS.pluginId,
      website_id: site.website_id,
      token: site.plugin_token,
      schema: {},
      settings: {},
    });
  });
  api.delete("/website/:website", async (c) => {
    const body = await readJson(c);
    const verify = body?.verify as Json | undefined;
    if (!verify || typeof verify.method !== "string" || typeof verify.secret !== "string") {
      return fail(c, 400, "invalid_data");
    }
    const id = c.req.param("website");
    state.websites.delete(id);
    for (const [sessionId, conversation] of state.conversations) {
      if (conversation.website_id === id) state.conversations.delete(sessionId);
    }
    return ok(c, {}, "deleted");
  });
  api.get("/website/:website/settings", (c) => ok(c, websiteOf(c)?.settings ?? {}));
  api.patch("/website/:website/settings", async (c) => {
    const body = await readJson(c);
    if (!body) return fail(c, 400, "invalid_data");
    const site = websiteOf(c);
    if (site) {
      for (const [k, v] of Object.entries(body)) {
        const current = site.settings[k];
        site.settings[k] =
          current && typeof current === "object" && v && typeof v === "object"
            ? { ...(current as Json), ...(v as Json) }
            : v;
      }
      state.touch();
    }
    return ok(c, {}, "updated");
  });
  api.get("/website/:website/operators/list", (c) => ok(c, websiteOf(c)?.operators ?? []));

  api.get("/website/:website/conversations/:page", (c) => {
    const page = Number(c.req.param("page"));
    if (!Number.isInteger(page) || page < 1) return fail(c, 400, "invalid_data");
    const q = (name: string) => c.req.query(name);
    const perPage = Math.min(50, Math.max(20, Number(q("per_page") ?? 20) || 20));
    const search = (q("search_query") ?? "").toLowerCase();
    const websiteId = c.req.param("website");
    let list = [...state.conversations.values()].filter((conv) => conv.website_id === websiteId);
    if (!flag(q("include_empty"))) list = list.filter((conv) => state.messagesOf(conv.session_id).length > 0);
    if (flag(q("filter_unread"))) list = list.filter((conv) => conv.unread.operator > 0);
    if (flag(q("filter_resolved"))) list = list.filter((conv) => conv.state === "resolved");
    if (flag(q("filter_not_resolved"))) list = list.filter((conv) => conv.state !== "resolved");
    if (flag(q("filter_unassigned"))) list = list.filter((conv) => !conv.assigned);
    const assignedTo = q("filter_assigned");
    if (assignedTo) list = list.filter((conv) => conv.assigned?.user_id === assignedTo);
    const inbox = q("filter_inbox_id");
    if (inbox) list = list.filter((conv) => conv.inbox_id === inbox);
    if (search) {
      list = list.filter(
        (conv) =>
          conv.meta.nickname.toLowerCase().includes(search) ||
          conv.meta.email.toLowerCase().includes(search) ||
          conv.meta.segments.some((s) => s.toLowerCase() === search) ||
          state
            .messagesOf(conv.session_id)
            .some((m) => typeof m.content === "string" && m.content.toLowerCase().includes(search)),
      );
    }
    const orderKey: (conv: SandboxConversation) => number = flag(q("order_date_created"))
      ? (conv) => conv.created_at
      : flag(q("order_date_waiting"))
        ? (conv) => conv.waiting_since
        : (conv) => conv.updated_at;
    list.sort((a, b) => orderKey(b) - orderKey(a));
    return ok(c, list.slice((page - 1) * perPage, page * perPage));
  });

  api.post("/website/:website/conversation", (c) => {
    const conversation = state.createConversation(c.req.param("website"));
    return ok(c, { session_id: conversation.session_id }, "added", 201);
  });

  api.get("/website/:website/conversation/:session", (c) => ok(c, conversationOf(c)));
  api.delete("/website/:website/conversation/:session", (c) => {
    const sessionId = c.req.param("session");
    state.conversations.delete(sessionId);
    state.messages.delete(sessionId);
    state.touch();
    hooks.emit("session:removed", { session_id: sessionId });
    return ok(c, {}, "deleted");
  });

  api.get("/website/:website/conversation/:session/state", (c) => ok(c, { state: conversationOf(c)?.state }));
  api.patch("/website/:website/conversation/:session/state", async (c) => {
    const body = await readJson(c);
    const next = body?.state;
    if (next !== "pending" && next !== "unresolved" && next !== "resolved")
      return fail(c, 400, "invalid_data");
    const conversation = conversationOf(c) as SandboxConversation;
    setState(conversation, next);
    return ok(c, {}, "updated");
  });

  api.get("/website/:website/conversation/:session/routing", (c) =>
    ok(c, { assigned: conversationOf(c)?.assigned ?? null }),
  );
  api.patch("/website/:website/conversation/:session/routing", async (c) => {
    const body = await readJson(c);
    const assigned = body?.assigned as { user_id?: unknown } | null | undefined;
    if (!body || assigned === undefined || (assigned !== null && typeof assigned.user_id !== "string")) {
      return fail(c, 400, "invalid_data");
    }
    const conversation = conversationOf(c) as SandboxConversation;
    const operators = state.websites.get(conversation.website_id)?.operators ?? [];
    if (assigned && !operators.some((o) => o.details.user_id === assigned.user_id)) {
      return fail(c, 404, "operator_not_found");
    }
    if (assigned) conversation.assigned = { user_id: assigned.user_id as string };
    else delete conversation.assigned;
    conversation.updated_at = state.stamp();
    hooks.emit("session:set_routing", {
      session_id: conversation.session_id,
      assigned: conversation.assigned ?? null,
    });
    return ok(c, {}, "updated");
  });

  api.get("/website/:website/conversation/:session/meta", (c) => ok(c, conversationOf(c)?.meta));
  api.patch("/website/:website/conversation/:session/meta", async (c) => {
    const body = await readJson(c);
    if (!body) return fail(c, 400, "invalid_data");
    if (
      body.segments !== undefined &&
      !(Array.isArray(body.segments) && body.segments.every((s) => typeof s === "string"))
    ) {
      return fail(c, 400, "invalid_data");
    }
    if (
      body.data !== undefined &&
      (typeof body.data !== "object" || body.data === null || Array.isArray(body.data))
    ) {
      return fail(c, 400, "invalid_data");
    }
    const conversation = conversationOf(c) as SandboxConversation;
    const { data, ...rest } = body;
    Object.assign(conversation.meta, rest);
    if (data) conversation.meta.data = { ...conversation.meta.data, ...(data as Json) };
    conversation.updated_at = state.stamp();
    return ok(c, {}, "updated");
  });

  api.patch("/website/:website/conversation/:session/read", async (c) => {
    const body = await readJson(c);
    if (!body || (body.from !== "operator" && body.from !== "user") || typeof body.origin !== "string") {
      return fail(c, 400, "invalid_data");
    }
    const conversation = conversationOf(c) as SandboxConversation;
    const fingerprints = Array.isArray(body.fingerprints)
      ? new Set(body.fingerprints as number[])
      : undefined;
    // Reading as the operator marks the visitor's messages read, and vice versa.
    const readSide = body.from === "operator" ? "user" : "operator";
    for (const message of state.messagesOf(conversation.session_id)) {
      if (message.from === readSide && (!fingerprints || fingerprints.has(message.fingerprint))) {
        message.read = body.origin as string;
      }
    }
    if (body.from === "operator") conversation.unread.operator = 0;
    else conversation.unread.visitor = 0;
    state.touch();
    return ok(c, {}, "updated");
  });

  api.get("/website/:website/conversation/:session/messages", (c) => {
    const sessionId = c.req.param("session");
    const all = state.messagesOf(sessionId);
    const before = Number(c.req.query("timestamp_before") ?? Number.NaN);
    const after = Number(c.req.query("timestamp_after") ?? Number.NaN);
    if (Number.isFinite(after)) {
      const newer = all.filter((m) => m.timestamp > after);
      return ok(c, newer.slice(0, pageSize), "resolved", newer.length > pageSize ? 206 : 200);
    }
    const candidates = Number.isFinite(before) ? all.filter((m) => m.timestamp < before) : all;
    const batch = candidates.slice(-pageSize);
    return ok(c, batch, "resolved", candidates.length > batch.length ? 206 : 200);
  });

  api.post("/website/:website/conversation/:session/message", async (c) => {
    const body = await readJson(c);
    if (!body) return fail(c, 400, "invalid_data");
    const { type, from, origin, content } = body;
    if (typeof type !== "string" || !MESSAGE_TYPES.has(type)) return fail(c, 400, "invalid_data");
    if (from !== "operator" && from !== "user") return fail(c, 400, "invalid_data");
    if (typeof origin !== "string" || origin.length === 0) return fail(c, 400, "invalid_data");
    if (TEXT_TYPES.has(type) ? typeof content !== "string" || content.length === 0 : content == null) {
      return fail(c, 400, "invalid_data");
    }
    if (body.fingerprint !== undefined && !Number.isSafeInteger(body.fingerprint)) {
      return fail(c, 400, "invalid_data");
    }
    const conversation = conversationOf(c) as SandboxConversation;
    const user = (body.user ?? {}) as SandboxMessage["user"];
    const { message } = postMessage(
      conversation,
      {
        type,
        from,
        origin,
        content,
        user:
          from === "user"
            ? {
                user_id: conversation.session_id,
                nickname: user.nickname ?? conversation.meta.nickname,
                ...(typeof user.avatar === "string" ? { avatar: user.avatar } : {}),
              }
            : { type: user.type ?? "website", user_id: "sandbox-api", nickname: user.nickname ?? "API" },
        mentions: Array.isArray(body.mentions) ? (body.mentions as string[]) : undefined,
        fingerprint: body.fingerprint as number | undefined,
        ...(typeof body.automated === "boolean" ? { automated: body.automated } : {}),
      },
      faults.dedupeFingerprints,
    );
    return ok(c, { fingerprint: message.fingerprint }, "dispatched", 202);
  });

  const messageOf = (c: Context) =>
    state
      .messagesOf(c.req.param("session") ?? "")
      .find((m) => m.fingerprint === Number(c.req.param("fingerprint")));

  api.get("/website/:website/conversation/:session/message/:fingerprint", (c) => {
    const message = messageOf(c);
    return message ? ok(c, message) : fail(c, 404, "not_found");
  });
  api.patch("/website/:website/conversation/:session/message/:fingerprint", async (c) => {
    const body = await readJson(c);
    if (!body || body.content === undefined) return fail(c, 400, "invalid_data");
    const message = messageOf(c);
    if (!message) return fail(c, 404, "not_found");
    message.content = body.content;
    message.edited = true;
    state.touch();
    hooks.emit("message:updated", {
      session_id: message.session_id,
      fingerprint: message.fingerprint,
      content: message.content,
    });
    return ok(c, {}, "updated");
  });

  api.patch("/website/:website/conversation/:session/compose", async (c) => {
    const body = await readJson(c);
    const type = body?.type;
    const from = body?.from;
    if ((type !== "start" && type !== "stop") || (from !== "operator" && from !== "user")) {
      return fail(c, 400, "invalid_data");
    }
    const conversation = conversationOf(c) as SandboxConversation;
    const excerpt = typeof body?.excerpt === "string" ? body.excerpt : undefined;
    if (from === "user") {
      visitorComposes(conversation, type, excerpt);
      return ok(c, {}, "updated");
    }
    const at = clock.now();
    state.composeEvents.push({
      sessionId: conversation.session_id,
      type,
      from,
      at,
      ...(excerpt !== undefined ? { excerpt } : {}),
      ...(typeof body?.automated === "boolean" ? { automated: body.automated } : {}),
      ...(body?.stealth === true ? { stealth: true } : {}),
    });
    conversation.compose.operator = {
      type,
      timestamp: at,
      ...(excerpt !== undefined ? { excerpt } : {}),
      ...(body?.stealth === true ? { stealth: true } : {}),
    };
    state.touch();
    return ok(c, {}, "updated");
  });

  // people
  const profileOf = (c: Context) => {
    const profile = state.people.get(c.req.param("people") ?? "");
    return profile && profile.website_id === c.req.param("website") ? profile : undefined;
  };
  api.use("/website/:website/people/:kind/:people/*", async (c, next) => {
    if (c.req.param("kind") !== "profiles" && !profileOf(c)) return fail(c, 404, "people_not_found");
    return next();
  });
  api.use("/website/:website/people/:kind/:people", async (c, next) => {
    if (c.req.param("kind") !== "profiles" && !profileOf(c)) return fail(c, 404, "people_not_found");
    return next();
  });

  api.get("/website/:website/people/profiles/:page", (c) => {
    const page = Number(c.req.param("page"));
    if (!Number.isInteger(page) || page < 1) return fail(c, 400, "invalid_data");
    const text = (c.req.query("search_text") ?? "").toLowerCase();
    const list = [...state.people.values()]
      .filter((p) => p.website_id === c.req.param("website"))
      .filter(
        (p) =>
          !text ||
          p.email.toLowerCase().includes(text) ||
          String(p.person.nickname ?? "")
            .toLowerCase()
            .includes(text),
      )
      .sort((a, b) => b.updated_at - a.updated_at);
    return ok(c, list.slice((page - 1) * 20, page * 20));
  });
  api.post("/website/:website/people/profile", async (c) => {
    const body = await readJson(c);
    const person = body?.person as Json | undefined;
    if (!body || typeof body.email !== "string" || !body.email.includes("@") || !person) {
      return fail(c, 400, "invalid_data");
    }
    const websiteId = c.req.param("website");
    if ([...state.people.values()].some((p) => p.website_id === websiteId && p.email === body.email)) {
      return fail(c, 409, "people_exists");
    }
    const now = state.stamp();
    const peopleId = crypto.randomUUID();
    state.people.set(peopleId, {
      ...body,
      people_id: peopleId,
      website_id: websiteId,
      email: body.email,
      person,
      segments: Array.isArray(body.segments) ? (body.segments as string[]) : [],
      active: { now: false, last: now },
      created_at: now,
      updated_at: now,
    });
    return ok(c, { people_id: peopleId }, "added", 201);
  });
  api.get("/website/:website/people/profile/:people", (c) => ok(c, profileOf(c)));
  api.patch("/website/:website/people/profile/:people", async (c) => {
    const body = await readJson(c);
    if (!body) return fail(c, 400, "invalid_data");
    const profile = profileOf(c);
    if (profile) {
      const { person, ...rest } = body;
      Object.assign(profile, rest);
      if (person && typeof person === "object") profile.person = { ...profile.person, ...(person as Json) };
      profile.updated_at = state.stamp();
    }
    return ok(c, {}, "updated");
  });
  api.post("/website/:website/people/events/:people", async (c) => {
    const body = await readJson(c);
    if (!body || typeof body.text !== "string" || body.text.length === 0) return fail(c, 400, "invalid_data");
    const peopleId = c.req.param("people");
    const events = state.peopleEvents.get(peopleId) ?? [];
    events.unshift({
      text: body.text,
      ...(body.data && typeof body.data === "object" ? { data: body.data } : {}),
      ...(typeof body.color === "string" ? { color: body.color } : {}),
      timestamp: state.stamp(),
    });
    state.peopleEvents.set(peopleId, events);
    return ok(c, {}, "added");
  });
  api.get("/website/:website/people/events/:people/list/:page", (c) => {
    const page = Math.max(1, Number(c.req.param("page")) || 1);
    const events = state.peopleEvents.get(c.req.param("people")) ?? [];
    return ok(c, events.slice((page - 1) * 20, page * 20));
  });
  api.get("/website/:website/people/data/:people", (c) =>
    ok(c, { data: state.peopleData.get(c.req.param("people")) ?? {} }),
  );
  const writeData = (replace: boolean) => async (c: Context) => {
    const body = await readJson(c);
    const data = body?.data;
    if (!data || typeof data !== "object" || Array.isArray(data)) return fail(c, 400, "invalid_data");
    const peopleId = c.req.param("people") ?? "";
    state.peopleData.set(
      peopleId,
      replace ? { ...(data as Json) } : { ...state.peopleData.get(peopleId), ...(data as Json) },
    );
    state.touch();
    return ok(c, {}, "updated");
  };
  api.patch("/website/:website/people/data/:people", writeData(false));
  api.put("/website/:website/people/data/:people", writeData(true));

  api.post("/bucket/url/generate", async (c) => {
    const body = await readJson(c);
    const file = body?.file as Json | undefined;
    if (!body || typeof body.namespace !== "string" || !file || typeof file.name !== "string") {
      return fail(c, 400, "invalid_data");
    }
    const id = typeof body.id === "string" ? body.id : crypto.randomUUID();
    const name = encodeURIComponent(file.name);
    hooks.emit("bucket:url:upload:generated", {
      from: "plugin",
      identifier: identifier,
      id,
      policy: { size_limit: 10_000_000 },
      type: body.namespace,
      url: {
        resource: `https://storage.sandbox.quill.test/${id}/${name}`,
        signed: `https://storage.sandbox.quill.test/${id}/${name}?signature=${crypto.randomUUID()}`,
      },
    });
    return ok(c, {}, "requested", 202);
  });

  api.notFound((c) => fail(c, 404, "not_found"));
  api.onError((error, c) => {
    log.error({ err: error }, "sandbox error");
    return fail(c, 500, "internal_error");
  });

  // ---- control API (tests, the page) and the inbox page ----

  const app = new Hono();
  app.route("/v1", api);
  let refreshHash: Promise<string> | undefined;
  app.use("*", pageHeaders({ script: () => (refreshHash ??= scriptHash(REFRESH)) }));

  const control = new Hono();
  const formOrJson = async (c: Context): Promise<Json> => {
    const type = c.req.header("content-type") ?? "";
    if (type.includes("application/json")) return (await readJson(c)) ?? {};
    return Object.fromEntries(Object.entries(await c.req.parseBody()).map(([k, v]) => [k, String(v)]));
  };
  const back = (c: Context, sessionId?: string) =>
    c.req.header("accept")?.includes("text/html")
      ? c.redirect(`${basePath}/${sessionId ? `?session=${encodeURIComponent(sessionId)}` : ""}`, 303)
      : undefined;

  control.post("/visitor", async (c) => {
    const body = await formOrJson(c);
    const text = String(body.text ?? "").trim();
    if (!text) return c.json({ error: "text is required" }, 400);
    const sessionId = body.session_id ? String(body.session_id) : undefined;
    if (sessionId && !state.conversations.has(sessionId) && !sessionId.startsWith("session_")) {
      return c.json({ error: "session_id must start with session_" }, 400);
    }
    const result = visitorSays({
      sessionId,
      text,
      nickname: body.nickname ? String(body.nickname) : undefined,
      email: body.email ? String(body.email) : undefined,
    });
    return (
      back(c, result.sessionId) ?? c.json({ session_id: result.sessionId, fingerprint: result.fingerprint })
    );
  });
  /**
   * The visitor types (`start`, with an optional excerpt) or stops, as the chatbox reports it.
   * Without a session_id a start opens a new conversation, as a visitor typing a first message does.
   */
  control.post("/visitor/compose", async (c) => {
    const body = await formOrJson(c);
    if (body.type !== "start" && body.type !== "stop")
      return c.json({ error: "type must be start or stop" }, 400);
    const conversation =
      body.session_id === undefined && body.type === "start"
        ? state.createConversation(website.website_id)
        : state.conversations.get(String(body.session_id ?? ""));
    if (!conversation) return c.json({ error: "unknown session_id" }, 404);
    const excerpt =
      body.type === "start" && body.excerpt !== undefined ? String(body.excerpt).slice(0, 200) : undefined;
    visitorComposes(conversation, body.type, excerpt);
    return c.json({ session_id: conversation.session_id });
  });
  control.post("/operator", async (c) => {
    const body = await formOrJson(c);
    const text = String(body.text ?? "").trim();
    const sessionId = String(body.session_id ?? "");
    if (!text) return c.json({ error: "text is required" }, 400);
    if (!state.conversations.has(sessionId)) return c.json({ error: "unknown session_id" }, 404);
    const type = body.type === "note" ? "note" : "text";
    const result = operatorSays({ sessionId, text, type });
    return back(c, sessionId) ?? c.json({ session_id: sessionId, fingerprint: result.fingerprint });
  });
  control.post("/state", async (c) => {
    const body = await formOrJson(c);
    const conversation = state.conversations.get(String(body.session_id ?? ""));
    if (!conversation) return c.json({ error: "unknown session_id" }, 404);
    if (body.state !== "pending" && body.state !== "unresolved" && body.state !== "resolved") {
      return c.json({ error: "state must be pending, unresolved or resolved" }, 400);
    }
    setState(conversation, body.state);
    return back(c, conversation.session_id) ?? c.json({ ok: true });
  });
  control.get("/conversations/:session", (c) => {
    const conversation = state.conversations.get(c.req.param("session"));
    if (!conversation) return c.json({ error: "unknown session_id" }, 404);
    return c.json({
      conversation,
      messages: state.messagesOf(conversation.session_id),
      compose: state.composeEvents.filter((e) => e.sessionId === conversation.session_id),
    });
  });
  control.get("/faults", (c) => c.json(faults));
  control.post("/faults", async (c) => {
    const body = await readJson(c);
    if (!body) return c.json({ error: "expected a JSON object" }, 400);
    for (const [name, value] of Object.entries(body)) {
      if (!(name in faults)) return c.json({ error: `unknown fault ${name}` }, 400);
      const expected =
        name === "script" ? "an array" : name === "dedupeFingerprints" ? "a boolean" : "a number >= 0";
      const valid =
        name === "script"
          ? Array.isArray(value)
          : name === "dedupeFingerprints"
            ? typeof value === "boolean"
            : typeof value === "number" && value >= 0;
      if (!valid) return c.json({ error: `${name} must be ${expected}` }, 400);
    }
    Object.assign(faults, body);
    return c.json(faults);
  });
  control.get("/compose", (c) => c.json(state.composeEvents));
  /** Every REST call with its start time and duration, for benchmarks counting Crisp calls. */
  control.get("/requests", (c) => c.json(requests));
  /** Visible and private messages of every conversation, e.g. to wait for drafts from outside. */
  control.get("/messages", (c) => {
    const type = c.req.query("type");
    const all = [...state.messages.values()].flat();
    const selected = type ? all.filter((m) => m.type === type) : all;
    return c.req.query("count") ? c.json({ count: selected.length }) : c.json(selected);
  });
  control.get("/deliveries", (c) => c.json(hooks.deliveries));
  control.get("/version", (c) => c.json({ version: state.version }));

  app.route("/_sandbox", control);
  app.get("/", (c) =>
    c.html(
      renderInbox({
        state,
        basePath,
        websiteId: website.website_id,
        selected: c.req.query("session"),
      }),
    ),
  );

  if (options.seed) seedConversations();

  function seedConversations() {
    const first = visitorSays({
      text: "Hi! I ordered a jacket last week and it still hasn't arrived. Can you check?",
      nickname: "Ada Lovelace",
      email: "ada@example.com",
    });
    operatorSays({
      sessionId: first.sessionId,
      text: "Hello Ada, sorry about that. Could you share your order number?",
    });
    visitorSays({
      sessionId: first.sessionId,
      text: "Sure, it's 4417-2290. How long does shipping usually take?",
    });
    visitorSays({
      text: "How do I return a pair of shoes that don't fit?",
      nickname: "Alan Turing",
      email: "alan@example.com",
    });
  }

  return {
    app,
    state,
    website,
    faults,
    requests,
    deliveries: hooks.deliveries,
    composeEvents: state.composeEvents,
    credentials: { identifier, key, websiteId: website.website_id, tier },
    visitorSays,
    operatorSays,
    setState(sessionId: string, next: SandboxConversation["state"]) {
      const conversation = state.conversations.get(sessionId);
      if (!conversation) throw new Error(`no conversation ${sessionId}`);
      setState(conversation, next);
    },
    messagesOf: state.messagesOf,
    addWebhookUrl: hooks.addUrl,
    pauseWebhooks: hooks.pause,
    resumeWebhooks: hooks.resume,
    flushWebhooks: hooks.flush,
  };
}

export type Sandbox = ReturnType<typeof createSandbox>;
