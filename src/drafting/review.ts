import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import type { DraftResult, KnowledgeSnippet, LlmAttempt } from "../llm/types.ts";
import type { ConversationState } from "../store/store.ts";
import { factsOf } from "../triage/triage.ts";
import { RESUMED_KEY } from "./commands.ts";
import type { DraftRun, PipelineDeps } from "./deps.ts";
import { formatDraftNote, sentByQuill } from "./note.ts";
import { decide, type PolicyConfig, type PolicyDecision, protectedTextsFrom } from "./policy.ts";
import type { Prepared } from "./prepare.ts";
import { translateForOperator } from "./translate.ts";

/**
 * After the model answers: the triage rules that read the draft, the auto-send caps, the
 * policy decision, and the text that will be posted (a reply or a draft note).
 */

/** Replies quill (or an agent through it) sent since the last one a human operator wrote. */
export function automatedInARow(messages: CrispMessage[]): number {
  let inARow = 0;
  for (const m of [...messages].reverse()) {
    if (m.from !== "operator" || m.type === "note") continue;
    if (!sentByQuill(m)) break;
    inARow++;
  }
  return inARow;
}

/** Operators' own note lines: private, so a reply must never repeat one. */
export const operatorNoteLines = (messages: CrispMessage[]) =>
  messages
    .filter((m) => m.type === "note" && typeof m.content === "string")
    .filter((m) => !sentByQuill(m))
    .flatMap((m) => (m.content as string).split(/\n+/))
    .filter((line) => line.trim().length >= 20);

/** What the customer has already read from operators and quill here, without the auto-send disclosure. */
const sentReplies = (messages: CrispMessage[], disclosure: string) =>
  messages
    .filter((m) => m.from === "operator" && m.type === "text" && typeof m.content === "string")
    .map((m) => {
      const text = (m.content as string).trimEnd();
      return disclosure && text.endsWith(disclosure) ? text.slice(0, -disclosure.length) : text;
    });

/** Texts no reply may repeat: the instructions, canaries and operators' notes. */
const protectedTexts = (deps: PipelineDeps, rules: string, messages: CrispMessage[]) => [
  ...protectedTextsFrom(rules, deps.canaries ?? []),
  ...operatorNoteLines(messages),
];

/**
 * What a reply is checked against besides its articles, the same for a job's draft, a
 * preview and an agent's reply: the instructions, protected texts, replies already sent and
 * the customer's latest turn.
 */
export const checkedAgainst = (
  deps: PipelineDeps,
  rules: string,
  messages: CrispMessage[],
  customerText: string,
) => ({
  protectedTexts: protectedTexts(deps, rules, messages),
  instructions: rules,
  sentReplies: sentReplies(messages, deps.autoSend?.disclosure?.trim() ?? ""),
  customerText,
});

type Fired = Array<{
  rule: string;
  actions: { forceNote?: boolean | undefined; assign?: string | undefined };
}>;

/** The reason a triage rule keeps the draft a note, if one does. */
const forcedBy = (fired: Fired) => {
  const rule = fired.find((f) => f.actions.forceNote)?.rule;
  return rule ? `triage rule "${rule}" keeps drafts private` : undefined;
};

/**
 * quill never talks over a person: once an operator has written to the customer here
 * (since the last /quill on or the conversation was last resolved), drafts stay notes.
 */
function humanAnswered(
  conversation: CrispConversation,
  messages: CrispMessage[],
  state: ConversationState | undefined,
): string | undefined {
  const since = Math.max(
    Number(conversation.meta?.data?.[RESUMED_KEY] ?? 0) || 0,
    state?.resumedAt ?? 0,
    state?.resolvedAt ?? 0,
  );
  const human = messages.some(
    (m) => m.from === "operator" && m.type === "text" && !sentByQuill(m) && m.timestamp > since,
  );
  return human
    ? "an operator has answered in this conversation (/quill on lets auto-send answer again)"
    : undefined;
}

/**
 * Why an auto-send would exceed its caps: replies in a row with no human operator between
 * them (read from the conversation), or replies this hour for the website (the store).
 */
async function autoSendCap(run: DraftRun): Promise<string | undefined> {
  const { deps, job } = run;
  const caps = deps.autoSend;
  if (!caps) return undefined;
  const inARow = automatedInARow(run.messages);
  if (inARow >= caps.maxInARow)
    return `${inARow} automated replies in a row without an operator (AUTO_SEND_MAX_IN_A_ROW)`;
  if (caps.maxPerHour > 0) {
    const lastHour = await deps.store.countAutoReplies(job.websiteId, deps.clock.now() - 3_600_000);
    if (lastHour >= caps.maxPerHour)
      return `${lastHour} automated replies in the last hour (AUTO_SEND_MAX_PER_HOUR)`;
  }
  return undefined;
}

/** The rules that look at the draft's intent or language, from where the first walk paused. */
export async function triageAfter(run: DraftRun, result: DraftResult, language: string) {
  const { deps, triaged, job, conversation, messages } = run;
  if (!deps.triage || triaged?.next === undefined) return undefined;
  return deps.triage.evaluate({
    job,
    phase: "after",
    from: triaged.next,
    conversation,
    facts: factsOf(conversation, messages, deps.clock.now(), {
      intent: result.intent,
      language: result.language ?? language,
    }),
  });
}

export interface Review {
  decision: PolicyDecision;
  citations: KnowledgeSnippet[];
  /** What is posted: the reply (with the disclosure line) or the draft note. */
  content: string;
  /** The LLM calls of the note's translation (OPERATOR_LANGUAGE), recorded with the draft's. */
  translationAttempts: LlmAttempt[];
}

/** Decides note or reply for a restored draft, and writes what will be posted. */
export async function review(
  run: DraftRun,
  prepared: Prepared,
  result: DraftResult,
  afterFired: Fired,
  /** The draft as the model wrote it (redacted): what the operator's translation is made from. */
  modelText: string = result.text,
): Promise<Review> {
  const { deps, job, conversation, messages } = run;
  const { knowledge, rendered } = prepared;
  const policy: PolicyConfig = prepared.site.policy ?? deps.policy;
  const capped =
    policy.replyMode === "auto"
      ? (humanAnswered(
          conversation,
          messages,
          await deps.store.conversationState(job.websiteId, job.sessionId),
        ) ?? (await autoSendCap(run)))
      : undefined;
  const decision = decide(
    {
      draft: result,
      knowledge,
      ...checkedAgainst(deps, rendered.rules, messages, prepared.context.query),
      forceNote:
        job.kind === "redraft"
          ? "an operator asked for a draft"
          : (forcedBy([...(run.triaged?.fired ?? []), ...afterFired]) ?? capped),
    },
    policy,
  );
  const citations = result.citations
    .map((id) => knowledge.find((k) => k.id === id))
    .filter((k): k is KnowledgeSnippet => k !== undefined);
  const disclosure = deps.autoSend?.disclosure ?? "";
  const language = result.language ?? prepared.context.language;
  // OPERATOR_LANGUAGE: a note also shows the draft in the operators' language (translate.ts).
  const translated =
    decision.mode === "note"
      ? await translateForOperator({
          engine: prepared.site.llm ?? deps.llm,
          operatorLanguage: deps.operatorLanguage,
          draftLanguage: language,
          provider: result.provider,
          text: modelText,
          restore: prepared.context.restore,
          signal: run.signal,
        })
      : { attempts: [] };
  if (translated.attempts.length > 0) run.timing.lap("translate");
  const content =
    decision.mode === "reply"
      ? disclosure
        ? `${result.text}\n\n${disclosure}`
        : result.text
      : formatDraftNote(
          {
            ...result,
            translation: translated.translation,
            language,
            citations: citations.map((c) => ({ id: c.id, title: c.title, url: c.url, guidance: c.guidance })),
          },
          decision,
        );
  return { decision, citations, content, translationAttempts: translated.attempts };
}
