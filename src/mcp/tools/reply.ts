import { z } from "zod";
import { isVisibleToCustomer } from "../../drafting/eligibility.ts";
import { NOTE_NICKNAME } from "../../drafting/note.ts";
import { automatedInARow } from "../../drafting/review.ts";
import { load, paused, sessionId, ToolRefusal, type ToolSpec } from "./spec.ts";

/** Reply tools: a draft from quill, an internal note, a reply sent to the customer. */

export const draftReply: ToolSpec = {
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

export const postNote: ToolSpec = {
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

export const sendReply: ToolSpec = {
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
