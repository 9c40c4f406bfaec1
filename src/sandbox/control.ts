import { type Context, Hono } from "hono";
import type { SandboxContext } from "./context.ts";
import { faultError } from "./faults.ts";
import { type Json, readJson } from "./rest/shared.ts";

/** A posted form (the inbox page) or a JSON body (tests), as one object of fields. */
async function formOrJson(c: Context): Promise<Json> {
  const type = c.req.header("content-type") ?? "";
  if (type.includes("application/json")) return (await readJson(c)) ?? {};
  return Object.fromEntries(Object.entries(await c.req.parseBody()).map(([k, v]) => [k, String(v)]));
}

const isState = (value: unknown) => value === "pending" || value === "unresolved" || value === "resolved";

/** Writes that play the visitor, an operator or Crisp itself: from tests and from the inbox page. */
function actingRoutes(control: Hono, ctx: SandboxContext) {
  const { state, actions, website, basePath } = ctx;
  // The inbox page's forms get a redirect back to the page; scripts get JSON.
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
    const result = actions.visitorSays({
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
    actions.visitorComposes(conversation, body.type, excerpt);
    return c.json({ session_id: conversation.session_id });
  });
  control.post("/operator", async (c) => {
    const body = await formOrJson(c);
    const text = String(body.text ?? "").trim();
    const sessionId = String(body.session_id ?? "");
    if (!text) return c.json({ error: "text is required" }, 400);
    if (!state.conversations.has(sessionId)) return c.json({ error: "unknown session_id" }, 404);
    const type = body.type === "note" ? "note" : "text";
    const result = actions.operatorSays({ sessionId, text, type });
    return back(c, sessionId) ?? c.json({ session_id: sessionId, fingerprint: result.fingerprint });
  });
  control.post("/state", async (c) => {
    const body = await formOrJson(c);
    const conversation = state.conversations.get(String(body.session_id ?? ""));
    if (!conversation) return c.json({ error: "unknown session_id" }, 404);
    if (!isState(body.state)) {
      return c.json({ error: "state must be pending, unresolved or resolved" }, 400);
    }
    actions.setState(conversation, body.state as typeof conversation.state);
    return back(c, conversation.session_id) ?? c.json({ ok: true });
  });
}

/** Reads of what happened (messages, compose events, deliveries, REST calls) and the fault knobs. */
function inspectingRoutes(control: Hono, { state, faults, hooks, requests }: SandboxContext) {
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
      const error = faultError(faults, name, value);
      if (error) return c.json({ error }, 400);
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
}

/** The control endpoints under /_sandbox: not part of Crisp, no auth (the sandbox is local). */
export function createControl(ctx: SandboxContext) {
  const control = new Hono();
  actingRoutes(control, ctx);
  inspectingRoutes(control, ctx);
  return control;
}
