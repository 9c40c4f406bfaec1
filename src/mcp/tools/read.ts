import { z } from "zod";
import { sentByQuill } from "../../drafting/note.ts";
import { load, message, paused, redactorFor, sessionId, type ToolSpec, textOf } from "./spec.ts";

/** Read tools: the inbox, one conversation, the knowledge base. */

export const listConversations: ToolSpec = {
  name: "list_conversations",
  title: "List conversations",
  description:
    "Open conversations of the website, those waiting for an answer first, with the last message's excerpt.",
  scope: "read",
  intents: ["list conversations", "show the inbox", "which customers are waiting", "open chats"],
  input: z.object({
    page: z.number().int().min(1).max(50).default(1).describe("Page of 20, newest activity first"),
  }),
  output: z.object({
    conversations: z.array(
      z.object({
        sessionId: z.string(),
        state: z.string(),
        waiting: z.boolean().describe("The customer wrote last and waits for an answer"),
        nickname: z.string(),
        excerpt: z.string(),
        updatedAt: z.number(),
      }),
    ),
  }),
  writes: false,
  async run({ page }, who, deps) {
    const redact = redactorFor(who);
    const list = await deps.crisp.conversations.list(who.websiteId, page as number, {
      filter_not_resolved: true,
      order_date_updated: true,
      per_page: 20,
    });
    const rows = list.map((c) => ({
      sessionId: c.session_id,
      state: c.state ?? "unresolved",
      waiting: (c.waiting_since ?? 0) > 0 || c.preview_message?.from === "user",
      nickname: redact(c.meta?.nickname ?? ""),
      excerpt: redact(c.preview_message?.excerpt ?? c.last_message ?? ""),
      updatedAt: c.updated_at ?? 0,
    }));
    rows.sort((a, b) => Number(b.waiting) - Number(a.waiting) || b.updatedAt - a.updatedAt);
    return { conversations: rows };
  },
};

export const getConversation: ToolSpec = {
  name: "get_conversation",
  title: "Read a conversation",
  description:
    "The last 20 messages of a conversation (oldest first) and what Crisp knows of the visitor; emails, phones and card numbers are redacted unless the token has the pii scope.",
  scope: "read",
  intents: ["read a conversation", "show the messages", "what did the customer say", "open a chat"],
  input: z.object({ session_id: sessionId }),
  output: z.object({
    sessionId: z.string(),
    state: z.string(),
    quillOff: z.boolean().describe("An operator turned quill off here (/quill off): no drafts, no sends"),
    visitor: z.object({
      nickname: z.string(),
      email: z.string(),
      segments: z.array(z.string()),
      data: z
        .record(z.string(), z.string())
        .describe("The conversation's custom data (quill's own keys left out)"),
    }),
    messages: z.array(message),
  }),
  writes: false,
  async run({ session_id }, who, deps) {
    const session = session_id as string;
    const redact = redactorFor(who);
    const { conversation, messages } = await load(deps, who.websiteId, session);
    return {
      sessionId: session,
      state: conversation.state ?? "unresolved",
      quillOff: await paused(deps, who.websiteId, session, conversation),
      visitor: {
        nickname: redact(conversation.meta?.nickname ?? ""),
        email: redact(conversation.meta?.email ?? ""),
        segments: conversation.meta?.segments ?? [],
        data: Object.fromEntries(
          Object.entries(conversation.meta?.data ?? {})
            .filter(([key]) => !key.startsWith("quill_"))
            .slice(0, 50)
            .map(([key, value]) => [key, redact(typeof value === "string" ? value : JSON.stringify(value))]),
        ),
      },
      messages: messages.map((m) => ({
        from: m.from,
        type: m.type,
        text: redact(textOf(m)),
        timestamp: m.timestamp,
        byQuill: sentByQuill(m),
      })),
    };
  },
};

export const searchKnowledge: ToolSpec = {
  name: "search_knowledge",
  title: "Search the knowledge base",
  description:
    "The knowledge articles closest to a question, best first: the customer-facing answer and the internal guidance apart (guidance is for reasoning, never to quote to a customer).",
  scope: "read",
  intents: ["search the knowledge base", "find an article", "look up the policy", "help center answer"],
  input: z.object({
    query: z.string().min(2).max(2000).describe("A question, in the customer's words or yours"),
    limit: z.number().int().min(1).max(10).default(3),
  }),
  output: z.object({
    articles: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        answer: z.string(),
        guidance: z.string(),
        url: z.string().optional(),
        score: z.number(),
      }),
    ),
  }),
  writes: false,
  async run({ query, limit }, who, deps) {
    const kb = (await deps.site(who.websiteId)).kb ?? deps.kb;
    const hits = await deps.retriever.retrieve(kb, query as string, limit as number);
    return {
      articles: hits.map((h) => ({
        id: h.id,
        title: h.title,
        answer: h.text,
        guidance: h.guidance ?? "",
        ...(h.url ? { url: h.url } : {}),
        score: Math.round(h.score * 1000) / 1000,
      })),
    };
  },
};
