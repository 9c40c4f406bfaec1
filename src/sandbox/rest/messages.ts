import type { Context } from "hono";
import { editMessageBody, sendMessageBody } from "../../crisp/schemas.ts";
import type { SandboxConversation, SandboxMessage } from "../state.ts";
import { conversationOf, fail, ok, parseBody, type RestRoutes } from "./shared.ts";

/** A conversation's messages: paged list (206 while there are more), send, read one, edit. */
export const messageRoutes: RestRoutes = (api, ctx) => {
  const { state, hooks, actions, faults, pageSize } = ctx;
  const messageOf = (c: Context) =>
    state
      .messagesOf(c.req.param("session") ?? "")
      .find((m) => m.fingerprint === Number(c.req.param("fingerprint")));

  api.get("/website/:website/conversation/:session/messages", (c) => {
    const all = state.messagesOf(c.req.param("session"));
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
    const body = await parseBody(c, sendMessageBody);
    const { type, from, origin, content } = body;
    const conversation = conversationOf(ctx, c) as SandboxConversation;
    const user = (body.user ?? {}) as SandboxMessage["user"];
    const { message } = actions.postMessage(
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
        mentions: body.mentions,
        fingerprint: body.fingerprint,
        ...(body.automated !== undefined ? { automated: body.automated } : {}),
      },
      faults.dedupeFingerprints,
    );
    return ok(c, { fingerprint: message.fingerprint }, "dispatched", 202);
  });

  api.get("/website/:website/conversation/:session/message/:fingerprint", (c) => {
    const message = messageOf(c);
    return message ? ok(c, message) : fail(c, 404, "not_found");
  });
  api.patch("/website/:website/conversation/:session/message/:fingerprint", async (c) => {
    const body = await parseBody(c, editMessageBody);
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
};
