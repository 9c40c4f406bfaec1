import { z } from "zod";
import type { Clock } from "../clock.ts";
import type { CrispClient } from "../crisp/client.ts";
import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import { PAUSED_KEY } from "../drafting/commands.ts";
import type { SiteOverrides } from "../drafting/deps.ts";
import { isVisibleToCustomer } from "../drafting/eligibility.ts";
import { NOTE_NICKNAME, sentByQuill } from "../drafting/note.ts";
import type { DraftPipeline } from "../drafting/pipeline.ts";
import { createRedactor } from "../drafting/redact.ts";
import { automatedInARow } from "../drafting/review.ts";
import type { Retriever } from "../knowledge/hybrid.ts";
import { createKnowledgeBase, type KnowledgeBase } from "../knowledge/kb.ts";
import type { Store } from "../store/store.ts";
import type { OperatorDirectory } from "../triage/operators.ts";
import type { McpPrincipal, McpScope } from "./tokens.ts";

/**
 * The tools an AI agent gets. Each is bound to its token's website (the model names only a
 * conversation), needs one scope, and answers with structured content. Nothing here can
 * return the Crisp key: tools see quill's services, never its configuration.
 */

export interface ToolDeps {
  crisp: CrispClient;
  store: Store;
  kb: KnowledgeBase;
  retriever: Retriever;
  site: (websiteId: string) => Promise<SiteOverrides>;
  pipeline: Pick<DraftPipeline, "preview" | "checkReply">;
  operators: OperatorDirectory;
  /** Queues quill's own draft job for a customer message (exactly once per message). */
  enqueueDraft: (input: {
    websiteId: string;
    sessionId: string;
    fingerprint: number;
    messageAt: number;
  }) => Promise<{
    jobId: string;
  }>;
  autoSend?: { disclosure: string; maxInARow: number; maxPerHour: number } | undefined;
  clock: Clock;
  /** How long draft_reply waits for the queued job before answering "queued". */
  draftWaitMs?: number;
}

export class ToolRefusal extends Error {}

export interface ToolSpec<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  scope: McpScope;
  /** Ways an agent might ask for it, for find_operations. */
  intents: string[];
  input: I;
  output: O;
  /** Changes something in Crisp (for the client's confirmation prompts). */
  writes: boolean;
  run(args: z.infer<I>, who: McpPrincipal, deps: ToolDeps): Promise<z.infer<O>>;
}

export const sessionId = z
  .string()
  .regex(/^session_[0-9a-f-]{36}$/, "a Crisp session id: session_ followed by a UUID")
  .describe("The conversation's Crisp session id (session_…)");

const message = z.object({
  from: z.enum(["user", "operator"]).describe("user: the customer; operator: your team or quill"),
  type: z.string(),
  text: z.string(),
  timestamp: z.number().describe("Milliseconds since the epoch"),
  byQuill: z.boolean().describe("Posted by quill (a draft note or an automated reply)"),
});

const textOf = (m: CrispMessage) => (typeof m.content === "string" ? m.content : `[${m.type}]`);

/** PII is redacted unless the token has `pii`: agents rarely need an email to answer. */
const redactorFor = (who: McpPrincipal) => {
  if (who.scopes.has("pii")) return (text: string) => text;
  const redactor = createRedactor();
  return (text: string) => redactor.redact(text);
};

async function load(deps: ToolDeps, websiteId: string, session: string) {
  const [conversation, { messages }] = await Promise.all([
    deps.crisp.conversations.get(websiteId, session),
    deps.crisp.messages.listLast(websiteId, session, 20),
  ]);
  return { conversation, messages };
}

const paused = async (deps: ToolDeps, websiteId: string, session: string, c: CrispConversation) =>
  c.meta?.data?.[PAUSED_KEY] === "off" ||
  (await deps.store.conversationState(websiteId, session))?.paused === true;

const listConversations: ToolSpec = {
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

const getConversation: ToolSpec = {
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

const searchKnowledge: ToolSpec = {
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

const draftReply: ToolSpec = {
  name: "draft_reply",
  title: "Ask quill for a draft",
  description:
    "Runs quill's drafting pipeline on the conversation's newest customer message: a draft with its citations, confidence and policy flags. With dry_run nothing is posted; otherwise quill posts it as it would on its own (a private note for operators, or, where the team allows auto-send, the reply).",
  scope: "draft",
  intents: [
    "draft a reply",
    "suggest an answer",
    "write a response for the customer",
    "what should I answer",
  ],
  input: z.object({
    session_id: sessionId,
    dry_run: z.boolean().default(true).describe("true: only return the draft; false: quill posts it"),
  }),
  output: z.object({
    status: z.enum(["drafted", "posted", "queued", "skipped"]),
    text: z.string(),
    intent: z.string(),
    confidence: z.number(),
    needsHuman: z.boolean(),
    citations: z.array(z.string()),
    flags: z.array(z.string()).describe("Policy checks the draft fails; a flagged draft is never sent"),
    detail: z.string(),
  }),
  writes: true,
  async run({ session_id, dry_run }, who, deps) {
    const session = session_id as string;
    const { conversation, messages } = await load(deps, who.websiteId, session);
    if (await paused(deps, who.websiteId, session, conversation))
      throw new ToolRefusal("quill is off in this conversation (an operator wrote /quill off)");
    const empty = { text: "", intent: "", confidence: 0, needsHuman: false, citations: [], flags: [] };
    if (dry_run) {
      const draft = await deps.pipeline.preview(
        who.websiteId,
        session,
        conversation,
        messages,
        AbortSignal.timeout(60_000),
      );
      return {
        status: "drafted" as const,
        text: draft.text,
        intent: draft.intent,
        confidence: draft.confidence,
        needsHuman: draft.needsHuman,
        citations: draft.citations,
        flags: draft.decision.flags,
        detail:
          draft.decision.mode === "reply" ? "would be sent (auto-send)" : draft.decision.reasons.join("; "),
      };
    }
    const last = [...messages].reverse().find((m) => m.from === "user" && isVisibleToCustomer(m));
    if (!last) return { ...empty, status: "skipped" as const, detail: "no customer message to answer" };
    const { jobId } = await deps.enqueueDraft({
      websiteId: who.websiteId,
      sessionId: session,
      fingerprint: last.fingerprint,
      messageAt: last.timestamp,
    });
    const deadline = deps.clock.now() + (deps.draftWaitMs ?? 30_000);
    for (;;) {
      const draft = await deps.store.draftForJob(jobId);
      if (draft && draft.status !== "ready") {
        return {
          status: "posted" as const,
          text: draft.text,
          intent: draft.intent ?? "",
          confidence: draft.confidence ?? 0,
          needsHuman: draft.needsHuman ?? false,
          citations: draft.citations ?? [],
          flags: draft.flags ?? [],
          detail: `posted as ${draft.mode === "reply" ? "a reply the customer sees" : "a private note"}`,
        };
      }
      const job = await deps.store.jobById(jobId);
      if (job && job.status !== "queued" && job.status !== "leased" && !draft)
        return { ...empty, status: "skipped" as const, detail: job.outcome ?? job.status };
      if (deps.clock.now() >= deadline)
        return { ...empty, status: "queued" as const, detail: `job ${jobId} is still running` };
      await deps.clock.sleep(250);
    }
  },
};

const postNote: ToolSpec = {
  name: "post_note",
  title: "Post a private note",
  description: "A private note in the conversation: operators see it, the customer never does.",
  scope: "note",
  intents: ["post a note", "leave a note for the team", "internal comment", "write a private message"],
  input: z.object({ session_id: sessionId, text: z.string().min(1).max(10_000) }),
  output: z.object({ fingerprint: z.number() }),
  writes: true,
  async run({ session_id, text }, who, deps) {
    const { fingerprint } = await deps.crisp.messages.send(who.websiteId, session_id as string, {
      type: "note",
      from: "operator",
      origin: "chat",
      content: `🤖 ${who.name}: ${text as string}`,
      user: { nickname: NOTE_NICKNAME },
      automated: true,
    });
    return { fingerprint };
  },
};

const sendReply: ToolSpec = {
  name: "send_reply",
  title: "Send a reply to the customer",
  description:
    "Sends a chat reply the customer sees, after the same checks as quill's auto-send (links, promises not backed by a cited article, requests for secrets, leaks). Refused with the reasons when a check fails, when quill is off in the conversation, or when the automated-reply caps are reached. Cite the knowledge articles (search_knowledge ids) the reply relies on.",
  scope: "reply",
  intents: ["send a chat reply", "answer the customer", "reply to the visitor", "send a message"],
  input: z.object({
    session_id: sessionId,
    text: z.string().min(1).max(4000),
    citations: z.array(z.string()).max(10).default([]).describe("Ids of the articles the reply relies on"),
  }),
  output: z.object({ fingerprint: z.number(), sent: z.string() }),
  writes: true,
  async run({ session_id, text, citations }, who, deps) {
    const session = session_id as string;
    const { conversation, messages } = await load(deps, who.websiteId, session);
    if (conversation.state === "resolved") throw new ToolRefusal("the conversation is resolved");
    if (await paused(deps, who.websiteId, session, conversation))
      throw new ToolRefusal("quill is off in this conversation (an operator wrote /quill off)");
    const flags = await deps.pipeline.checkReply(who.websiteId, session, conversation, messages, {
      text: text as string,
      citations: citations as string[],
    });
    if (flags.length) throw new ToolRefusal(`the reply fails quill's checks: ${flags.join("; ")}`);
    const caps = deps.autoSend;
    if (caps) {
      const inARow = automatedInARow(messages);
      if (inARow >= caps.maxInARow)
        throw new ToolRefusal(
          `${inARow} automated replies in a row without an operator (AUTO_SEND_MAX_IN_A_ROW)`,
        );
      if (caps.maxPerHour > 0) {
        const since = deps.clock.now() - 3_600_000;
        const lastHour =
          (await deps.store.countAutoReplies(who.websiteId, since)) +
          (await deps.store.countMcpCalls({ websiteId: who.websiteId, since, tool: "send_reply" }));
        if (lastHour >= caps.maxPerHour)
          throw new ToolRefusal(`${lastHour} automated replies in the last hour (AUTO_SEND_MAX_PER_HOUR)`);
      }
    }
    // An agent's reply is automated: it says so, as quill's own auto-sent replies do.
    const sent = caps?.disclosure ? `${text as string}\n\n${caps.disclosure}` : (text as string);
    const { fingerprint } = await deps.crisp.messages.send(who.websiteId, session, {
      type: "text",
      from: "operator",
      origin: "chat",
      content: sent,
      user: { nickname: NOTE_NICKNAME },
      automated: true,
    });
    return { fingerprint, sent };
  },
};

const assignConversation: ToolSpec = {
  name: "assign_conversation",
  title: "Assign a conversation",
  description: "Routes the conversation to an operator of the website, named by email or Crisp user id.",
  scope: "route",
  intents: ["assign to an operator", "route the conversation", "hand over to a colleague", "escalate"],
  input: z.object({
    session_id: sessionId,
    operator: z.string().min(1).max(200).describe("The operator's email or Crisp user id"),
  }),
  output: z.object({ assignedTo: z.string() }),
  writes: true,
  async run({ session_id, operator }, who, deps) {
    const userId = await deps.operators.resolve(who.websiteId, operator as string);
    if (!userId) throw new ToolRefusal(`no operator ${operator as string} on this website`);
    await deps.crisp.conversations.assign(who.websiteId, session_id as string, userId);
    return { assignedTo: userId };
  },
};

const setState: ToolSpec = {
  name: "set_conversation_state",
  title: "Set a conversation's state",
  description: "Marks the conversation pending, unresolved or resolved.",
  scope: "route",
  intents: ["resolve the conversation", "close the chat", "reopen a conversation", "mark as pending"],
  input: z.object({ session_id: sessionId, state: z.enum(["pending", "unresolved", "resolved"]) }),
  output: z.object({ state: z.string() }),
  writes: true,
  async run({ session_id, state }, who, deps) {
    await deps.crisp.conversations.setState(
      who.websiteId,
      session_id as string,
      state as "pending" | "unresolved" | "resolved",
    );
    return { state: state as string };
  },
};

/** The conversation's visitor profile: tools name a conversation, never a profile, so an agent reaches only visitors it talks to. */
async function profileOf(deps: ToolDeps, websiteId: string, session: string): Promise<string> {
  const conversation = await deps.crisp.conversations.get(websiteId, session);
  if (!conversation.people_id)
    throw new ToolRefusal("the visitor has no Crisp profile yet (Crisp makes one once they give an email)");
  return conversation.people_id;
}

const segment = z
  .string()
  .regex(/^[\p{L}\p{N}_ -]{1,64}$/u, "1 to 64 letters, digits, spaces, dashes or underscores");
const dataKey = z.string().regex(/^[a-z0-9_]{1,64}$/, "lowercase letters, digits and underscores");
const dataValue = z.union([z.string().max(500), z.number(), z.boolean()]);

const updateProfile: ToolSpec = {
  name: "update_profile",
  title: "Update the visitor's profile",
  description:
    "Adds or removes segments and sets data keys on the Crisp profile of the conversation's visitor (the CRM pattern). The visitor's identity (name, email, phone) cannot be changed, nor quill's own quill_* keys.",
  scope: "profile",
  intents: ["update the visitor profile", "tag the customer", "add a segment", "save customer data", "crm"],
  input: z.object({
    session_id: sessionId,
    add_segments: z.array(segment).max(20).default([]),
    remove_segments: z.array(segment).max(20).default([]),
    data: z
      .record(dataKey, dataValue)
      .default({})
      .refine((d) => Object.keys(d).length <= 20, "at most 20 keys")
      .refine((d) => !Object.keys(d).some((k) => k.startsWith("quill_")), "quill_* keys are quill's own")
      .describe("Keys merged into the profile's data"),
  }),
  output: z.object({ peopleId: z.string(), segments: z.array(z.string()), dataKeys: z.array(z.string()) }),
  writes: true,
  async run({ session_id, add_segments, remove_segments, data }, who, deps) {
    const add = add_segments as string[];
    const remove = new Set(remove_segments as string[]);
    const values = data as Record<string, string | number | boolean>;
    if (!add.length && !remove.size && !Object.keys(values).length)
      throw new ToolRefusal("nothing to update: give add_segments, remove_segments or data");
    const peopleId = await profileOf(deps, who.websiteId, session_id as string);
    let segments: string[] = [];
    if (add.length || remove.size) {
      const profile = await deps.crisp.people.getProfile(who.websiteId, peopleId);
      segments = [...new Set([...(profile.segments ?? []), ...add])].filter((s) => !remove.has(s));
      await deps.crisp.people.updateProfile(who.websiteId, peopleId, { segments });
    }
    if (Object.keys(values).length) await deps.crisp.people.updateData(who.websiteId, peopleId, values);
    return { peopleId, segments, dataKeys: Object.keys(values) };
  },
};

const addProfileEvent: ToolSpec = {
  name: "add_profile_event",
  title: "Add an event to the visitor's profile",
  description:
    'Records an event (e.g. "refund requested") on the Crisp profile of the conversation\'s visitor, with optional data; it is marked as written by this agent.',
  scope: "profile",
  intents: ["add a profile event", "log an event on the customer", "record what happened", "timeline"],
  input: z.object({
    session_id: sessionId,
    text: z.string().min(1).max(200),
    data: z.record(dataKey, dataValue).default({}),
    color: z
      .enum(["red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "grey", "black"])
      .optional(),
  }),
  output: z.object({ peopleId: z.string() }),
  writes: true,
  async run({ session_id, text, data, color }, who, deps) {
    const peopleId = await profileOf(deps, who.websiteId, session_id as string);
    await deps.crisp.people.addEvent(who.websiteId, peopleId, {
      text: text as string,
      // Who wrote it stays visible in Crisp, whatever the agent put in its data.
      data: { ...(data as Record<string, unknown>), source: "quill-mcp", agent: who.name },
      ...(color ? { color: color as string } : {}),
    });
    return { peopleId };
  },
};

export const TOOLS: ToolSpec[] = [
  listConversations,
  getConversation,
  searchKnowledge,
  draftReply,
  postNote,
  sendReply,
  assignConversation,
  setState,
  updateProfile,
  addProfileEvent,
];

/** The catalogue as a small knowledge base, so intent search uses quill's own retrieval. */
const catalogue = createKnowledgeBase(
  TOOLS.map((t) => ({
    name: `${t.name}.md`,
    content: `---\nid: ${t.name}\ntitle: ${t.title}\nquestions:\n${t.intents.map((q) => `  - ${q}`).join("\n")}\n---\n\n## Answer\n\n${t.description}\n`,
  })),
);

export const findOperations: ToolSpec = {
  name: "find_operations",
  title: "Find an operation by intent",
  description:
    'Which of quill\'s tools does what you mean (e.g. "send a chat reply"), with its input schema and the scope it needs; tools your token lacks the scope for are marked.',
  scope: "read",
  intents: ["find a tool", "what can you do"],
  input: z.object({ intent: z.string().min(2).max(500) }),
  output: z.object({
    operations: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        scope: z.string(),
        allowed: z.boolean(),
        inputSchema: z.record(z.string(), z.unknown()),
      }),
    ),
  }),
  writes: false,
  async run({ intent }, who) {
    const hits = catalogue.search(intent as string, 3);
    return {
      operations: hits.flatMap((h) => {
        const tool = TOOLS.find((t) => t.name === h.id);
        if (!tool) return [];
        return [
          {
            name: tool.name,
            description: tool.description,
            scope: tool.scope,
            allowed: who.scopes.has(tool.scope),
            inputSchema: z.toJSONSchema(tool.input) as Record<string, unknown>,
          },
        ];
      }),
    };
  },
};

export const ALL_TOOLS: ToolSpec[] = [findOperations, ...TOOLS];
