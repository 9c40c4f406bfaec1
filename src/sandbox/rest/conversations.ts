import type { Context } from "hono";
import { composeBody, metaBody, readBody, routingBody, stateSchema } from "../../crisp/schemas.ts";
import { withExcerpt } from "../actions.ts";
import type { SandboxContext } from "../context.ts";
import type { SandboxConversation } from "../state.ts";
import { conversationOf, fail, flag, InvalidData, ok, parseBody, type RestRoutes } from "./shared.ts";

/** The conversations list with Crisp's filters, search and orders, one page of it. */
function listConversations({ state }: SandboxContext, c: Context, page: number) {
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
  return list.slice((page - 1) * perPage, page * perPage);
}

/** Conversations: the list, create, read, delete, and their state and routing. */
export const conversationRoutes: RestRoutes = (api, ctx) => {
  const { state, hooks, actions } = ctx;
  // Routes under /conversation/:session run after the guard that 404s an unknown session.
  const current = (c: Context) => conversationOf(ctx, c) as SandboxConversation;

  api.get("/website/:website/conversations/:page", (c) => {
    const page = Number(c.req.param("page"));
    if (!Number.isInteger(page) || page < 1)
      throw new InvalidData("page: must be an integer from 1", ["page"]);
    return ok(c, listConversations(ctx, c, page));
  });

  api.post("/website/:website/conversation", (c) => {
    const conversation = state.createConversation(c.req.param("website"));
    return ok(c, { session_id: conversation.session_id }, "added", 201);
  });

  api.get("/website/:website/conversation/:session", (c) => ok(c, conversationOf(ctx, c)));
  api.delete("/website/:website/conversation/:session", (c) => {
    const sessionId = c.req.param("session");
    state.conversations.delete(sessionId);
    state.messages.delete(sessionId);
    state.touch();
    hooks.emit("session:removed", { session_id: sessionId });
    return ok(c, {}, "deleted");
  });

  api.get("/website/:website/conversation/:session/state", (c) =>
    ok(c, { state: conversationOf(ctx, c)?.state }),
  );
  api.patch("/website/:website/conversation/:session/state", async (c) => {
    const body = await parseBody(c, stateSchema);
    actions.setState(current(c), body.state);
    return ok(c, {}, "updated");
  });

  api.get("/website/:website/conversation/:session/routing", (c) =>
    ok(c, { assigned: conversationOf(ctx, c)?.assigned ?? null }),
  );
  api.patch("/website/:website/conversation/:session/routing", async (c) => {
    const body = await parseBody(c, routingBody);
    const { assigned } = body;
    const conversation = current(c);
    const operators = state.websites.get(conversation.website_id)?.operators ?? [];
    if (assigned && !operators.some((o) => o.details.user_id === assigned.user_id)) {
      return fail(c, 404, "operator_not_found");
    }
    if (assigned) conversation.assigned = { user_id: assigned.user_id };
    else delete conversation.assigned;
    conversation.updated_at = state.stamp();
    hooks.emit("session:set_routing", {
      session_id: conversation.session_id,
      assigned: conversation.assigned ?? null,
    });
    return ok(c, {}, "updated");
  });
};

/** What Crisp keeps beside the messages: meta, read marks and the compose indicator. */
export const conversationDetailRoutes: RestRoutes = (api, ctx) => {
  const { state, actions } = ctx;
  const current = (c: Context) => conversationOf(ctx, c) as SandboxConversation;

  api.get("/website/:website/conversation/:session/meta", (c) => ok(c, conversationOf(ctx, c)?.meta));
  api.patch("/website/:website/conversation/:session/meta", async (c) => {
    const body = await parseBody(c, metaBody);
    const conversation = current(c);
    const { data, ...rest } = body;
    Object.assign(conversation.meta, rest);
    if (data) conversation.meta.data = { ...conversation.meta.data, ...data };
    conversation.updated_at = state.stamp();
    return ok(c, {}, "updated");
  });

  api.patch("/website/:website/conversation/:session/read", async (c) => {
    const body = await parseBody(c, readBody);
    const conversation = current(c);
    const fingerprints = body.fingerprints ? new Set(body.fingerprints) : undefined;
    // Reading as the operator marks the visitor's messages read, and vice versa.
    const readSide = body.from === "operator" ? "user" : "operator";
    for (const message of state.messagesOf(conversation.session_id)) {
      if (message.from === readSide && (!fingerprints || fingerprints.has(message.fingerprint))) {
        message.read = body.origin;
      }
    }
    if (body.from === "operator") conversation.unread.operator = 0;
    else conversation.unread.visitor = 0;
    state.touch();
    return ok(c, {}, "updated");
  });

  api.patch("/website/:website/conversation/:session/compose", async (c) => {
    const body = await parseBody(c, composeBody);
    const { type, from, excerpt } = body;
    const conversation = current(c);
    if (from === "user") {
      actions.visitorComposes(conversation, type, excerpt);
      return ok(c, {}, "updated");
    }
    const at = ctx.clock.now();
    const stealth = body.stealth === true ? { stealth: true } : {};
    state.composeEvents.push({
      sessionId: conversation.session_id,
      type,
      from,
      at,
      ...withExcerpt(excerpt),
      ...(body.automated !== undefined ? { automated: body.automated } : {}),
      ...stealth,
    });
    conversation.compose.operator = { type, timestamp: at, ...withExcerpt(excerpt), ...stealth };
    state.touch();
    return ok(c, {}, "updated");
  });
};
