import type { SandboxConversation, SandboxMessage, SandboxState, SandboxWebsite } from "./state.ts";
import type { WebhookEmitter } from "./webhooks.ts";

/** `excerpt` as an optional field: present only when there is one. */
export const withExcerpt = (excerpt: string | undefined) => (excerpt !== undefined ? { excerpt } : {});

type Deps = { state: SandboxState; hooks: WebhookEmitter; website: SandboxWebsite };

function messageHookData({ state }: Deps, message: SandboxMessage) {
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
  d: Deps,
  conversation: SandboxConversation,
  input: Parameters<SandboxState["addMessage"]>[1],
  dedupeFingerprint = false,
): { message: SandboxMessage; duplicate: boolean } {
  const { state, hooks } = d;
  const before = conversation.state;
  const result = state.addMessage(conversation, input, dedupeFingerprint);
  if (result.duplicate) return result;
  const { message } = result;
  // Crisp names hooks from the operators' side: visitor messages are "sent", operators' "received".
  hooks.emit(message.from === "user" ? "message:send" : "message:received", messageHookData(d, message));
  if (conversation.state !== before) {
    hooks.emit("session:set_state", { session_id: conversation.session_id, state: conversation.state });
  }
  return result;
}

function setState(
  { state, hooks }: Deps,
  conversation: SandboxConversation,
  next: SandboxConversation["state"],
) {
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
function visitorComposes(
  { state, hooks }: Deps,
  conversation: SandboxConversation,
  type: "start" | "stop",
  excerpt?: string,
) {
  const at = state.stamp();
  state.composeEvents.push({
    sessionId: conversation.session_id,
    type,
    from: "user",
    at,
    ...withExcerpt(excerpt),
  });
  conversation.compose.visitor = { type, timestamp: at, ...withExcerpt(excerpt) };
  hooks.emit("message:compose:send", {
    session_id: conversation.session_id,
    inbox_id: conversation.inbox_id,
    type,
    ...withExcerpt(excerpt),
    timestamp: at,
  });
}

function visitorSays(
  d: Deps,
  input: {
    sessionId?: string | undefined;
    text: string;
    nickname?: string | undefined;
    email?: string | undefined;
    websiteId?: string | undefined;
  },
) {
  const { state, website } = d;
  const existing = input.sessionId ? state.conversations.get(input.sessionId) : undefined;
  const conversation =
    existing ??
    state.createConversation(input.websiteId ?? website.website_id, {
      sessionId: input.sessionId,
      nickname: input.nickname,
      email: input.email,
    });
  const { message } = postMessage(d, conversation, {
    type: "text",
    from: "user",
    origin: "chat",
    content: input.text,
    user: { user_id: conversation.session_id, nickname: conversation.meta.nickname },
  });
  // Sending empties the chatbox: a visitor who was typing stops, as Crisp's widget reports.
  if (conversation.compose.visitor?.type === "start") visitorComposes(d, conversation, "stop");
  return { sessionId: conversation.session_id, fingerprint: message.fingerprint, message };
}

function operatorSays(
  d: Deps,
  input: {
    sessionId: string;
    text: string;
    type?: "text" | "note";
    nickname?: string;
  },
) {
  const conversation = d.state.conversations.get(input.sessionId);
  if (!conversation) throw new Error(`no conversation ${input.sessionId}`);
  const operator = d.state.websites.get(conversation.website_id)?.operators[0]?.details;
  const { message } = postMessage(d, conversation, {
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

/** A few example conversations for the demo. */
function seed(d: Deps) {
  const first = visitorSays(d, {
    text: "Hi! I ordered a jacket last week and it still hasn't arrived. Can you check?",
    nickname: "Ada Lovelace",
    email: "ada@example.com",
  });
  operatorSays(d, {
    sessionId: first.sessionId,
    text: "Hello Ada, sorry about that. Could you share your order number?",
  });
  visitorSays(d, {
    sessionId: first.sessionId,
    text: "Sure, it's 4417-2290. How long does shipping usually take?",
  });
  visitorSays(d, {
    text: "How do I return a pair of shoes that don't fit?",
    nickname: "Alan Turing",
    email: "alan@example.com",
  });
}

/**
 * What happens in a conversation, with the web hooks Crisp sends for it: shared by the REST
 * routes, the control endpoints and the seed, so each event is emitted in one place.
 */
export function createActions(state: SandboxState, hooks: WebhookEmitter, website: SandboxWebsite) {
  const d: Deps = { state, hooks, website };
  return {
    postMessage: (...args: Tail<Parameters<typeof postMessage>>) => postMessage(d, ...args),
    setState: (...args: Tail<Parameters<typeof setState>>) => setState(d, ...args),
    visitorComposes: (...args: Tail<Parameters<typeof visitorComposes>>) => visitorComposes(d, ...args),
    visitorSays: (...args: Tail<Parameters<typeof visitorSays>>) => visitorSays(d, ...args),
    operatorSays: (...args: Tail<Parameters<typeof operatorSays>>) => operatorSays(d, ...args),
    seed: () => seed(d),
  };
}

type Tail<T extends unknown[]> = T extends [unknown, ...infer Rest] ? Rest : never;

export type SandboxActions = ReturnType<typeof createActions>;
