import type { Clock } from "../clock.ts";
import type { CrispClient } from "../crisp/client.ts";
import { CrispError, OUTCOME_UNKNOWN } from "../crisp/errors.ts";
import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import { lexicalRetriever, type Retriever } from "../knowledge/hybrid.ts";
import { hitOf, type KnowledgeBase, NO_MATCH, snippetOf } from "../knowledge/kb.ts";
import { scrubSecrets } from "../llm/scrub.ts";
import type { DraftEngine, DraftRequest, DraftResult, KnowledgeSnippet, LlmAttempt } from "../llm/types.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { OutboundRefused } from "../outbound.ts";
import { visitorEmailHash } from "../privacy.ts";
import type { ConversationState, Job, Store } from "../store/store.ts";
import type { OutcomeSync } from "../sync/outcomes.ts";
import { factsOf, type Triage } from "../triage/triage.ts";
import {
  type CommandJobPayload,
  commandProblem,
  HELP_NOTE,
  PAUSED_KEY,
  RESUMED_KEY,
  similarity,
} from "./commands.ts";
import { buildContext } from "./context.ts";
import { checkEligibility, type EligibilityMessage, type RoutingSkip } from "./eligibility.ts";
import { languageLabel, parseLanguage } from "./language.ts";
import { formatDraftNote, formatFailureNote, NOTE_NICKNAME, sentByQuill } from "./note.ts";
import { checkDraft, decide, type PolicyConfig, protectedTextsFrom } from "./policy.ts";
import { type PromptTemplate, renderPrompt } from "./prompt.ts";
import { offlineCannot, translateProblem } from "./rewrite.ts";
import { translateForOperator } from "./translate.ts";

/**
 * One draft job, start to finish: context → eligibility → typing → knowledge → LLM →
 * policy → eligibility again → outbox check → post → stop typing → record.
 *
 * Exactly once: every job posts with a fingerprint derived from its id (the marker), so
 * after a crash or a lost response the next attempt looks the marker up before posting.
 */

export interface PipelineDeps {
  store: Store;
  crisp: CrispClient;
  llm: DraftEngine;
  kb: KnowledgeBase;
  /** Lexical by default; hybrid (lexical + embeddings) when EMBEDDINGS is configured. */
  retriever?: Retriever | undefined;
  /** The prompt for a conversation, and its A/B variant name when a test runs. */
  prompt: (
    websiteId: string,
    sessionId: string,
  ) => Promise<{ template: PromptTemplate; variant?: string | undefined }>;
  policy: PolicyConfig;
  skipSegments: string[];
  /** SKIP_ASSIGNED / SKIP_OPERATORS / SKIP_INBOXES. */
  skipRouting?: RoutingSkip | undefined;
  /** When a draft needs a human: tag the conversation with this segment and/or assign this operator. */
  needsHuman?: { segment?: string | undefined; assignTo?: string | undefined };
  redactPii: boolean;
  /**
   * The compose indicator: "auto" shows operators-only activity (stealth) while drafting and
   * visible typing only right before an auto-sent reply, so a visitor never sees typing that
   * ends in nothing (a note); "stealth", "visible" or "off" always.
   */
  typing?: "auto" | "stealth" | "visible" | "off" | undefined;
  /** A disclosure line for auto-sent replies ("" for none) and the caps on them (0 per hour: no cap). */
  autoSend?: { disclosure: string; maxInARow: number; maxPerHour: number } | undefined;
  /** Triage rules (routing, segments, data, state, skip, force note); absent when none are configured. */
  triage?: Triage | undefined;
  /** Plugin mode: a website's own policy, knowledge base, provider chain and name. */
  site?: ((websiteId: string) => Promise<SiteOverrides>) | undefined;
  /** Echoes draft outcomes to Crisp profiles and the CRM (as sync jobs). */
  outcomes?: OutcomeSync | undefined;
  prices: Record<string, { input: number; output: number }>;
  /** Strings that must never reach a customer (tests plant canaries here). */
  canaries?: string[];
  websiteName?: string;
  /** Messages of context (Crisp's last page). */
  contextMessages?: number;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** Makes sure a customer message found while checking eligibility has a draft job (the intake's enqueue). */
  requeue?: (message: {
    websiteId: string;
    sessionId: string;
    fingerprint: number;
    messageAt: number;
  }) => Promise<unknown>;
  /** OPERATOR_LANGUAGE (ISO 639-1): notes of drafts in another language show a translation into it. */
  operatorLanguage?: string | undefined;
  /** Delay before retrying a job that failed on a transient error. */
  retryDelayMs?: (attempt: number) => number;
}

/** A job's compose indicator, as the posting step sees it. */
interface Typing {
  /** Settles once the indicator is on (or failed). */
  ready: Promise<unknown>;
  /** Shows visible typing right before an auto-sent reply (TYPING=auto). */
  beforeReply(): Promise<void>;
}

export type JobOutcome =
  | { status: "done"; outcome: string }
  | { status: "skipped" | "superseded"; outcome: string }
  | { status: "retry"; error: string }
  | { status: "failed"; error: string; outcome?: string };

/** The reason a triage rule keeps the draft a note, if one does. */
const forcedBy = (fired: Array<{ rule: string; actions: { forceNote?: boolean | undefined } }>) => {
  const rule = fired.find((f) => f.actions.forceNote)?.rule;
  return rule ? `triage rule "${rule}" keeps drafts private` : undefined;
};

export interface SiteOverrides {
  policy?: PolicyConfig | undefined;
  kb?: KnowledgeBase | undefined;
  llm?: DraftEngine | undefined;
  name?: string | undefined;
}

/**
 * A runtime may swap in a synchronous SHA-256 (Node's node:crypto): Web Crypto hands every
 * digest to the thread pool and back, ~3% of quill's main-thread CPU per draft. Workers keep it.
 */
let nativeSha256: ((text: string) => Uint8Array) | undefined;
export function useNativeSha256(impl: ((text: string) => Uint8Array) | undefined): void {
  nativeSha256 = impl;
}

/** A stable positive integer from the job id: the fingerprint quill posts the job's message with. */
export async function markerFingerprint(jobId: string): Promise<number> {
  const input = `quill:${jobId}`;
  const digest = nativeSha256
    ? nativeSha256(input)
    : new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input)));
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + (digest[i] ?? 0);
  return n + 1; // 1 .. 2^48
}

function costOf(prices: PipelineDeps["prices"], model: string, usage: DraftResult["usage"]) {
  const price = prices[model];
  if (!price) return 0;
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
}

/** What a job's error, log line and dashboard say of a failure; scrubbed, as it may be a provider's text. */
function describeError(error: unknown): string {
  if (error instanceof CrispError)
    return `crisp ${error.status} ${error.reason} (${error.method} ${error.path})`;
  return scrubSecrets(error instanceof Error ? error.message : String(error));
}

/** Thrown by a send's retry check when the customer or an operator wrote meanwhile. */
const NO_LONGER_WANTED = new Error("the draft is no longer wanted");

const retryable = (error: unknown) => error instanceof CrispError && error.retryable;

/** Operators' own note lines: private, so a reply must never repeat one. */
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

export const operatorNoteLines = (messages: CrispMessage[]) =>
  messages
    .filter((m) => m.type === "note" && typeof m.content === "string")
    .filter((m) => !sentByQuill(m))
    .flatMap((m) => (m.content as string).split(/\n+/))
    .filter((line) => line.trim().length >= 20);

export function createDraftPipeline(deps: PipelineDeps) {
  const { store, crisp, clock, log, metrics } = deps;
  const contextMessages = deps.contextMessages ?? 20;
  const retryDelay = deps.retryDelayMs ?? ((attempt) => Math.min(60_000, 2_000 * 2 ** (attempt - 1)));

  async function loadConversation(job: Job, signal: AbortSignal) {
    const [conversation, page] = await Promise.all([
      crisp.conversations.get(job.websiteId, job.sessionId, { signal }),
      crisp.messages.listLast(job.websiteId, job.sessionId, contextMessages, { signal }),
    ]);
    return { conversation, messages: page.messages };
  }

  /** Did an earlier attempt already post this job's message (crash, lost response)? */
  async function alreadyPosted(job: Job, marker: number, signal: AbortSignal): Promise<boolean> {
    try {
      await crisp.messages.get(job.websiteId, job.sessionId, marker, { signal });
      return true;
    } catch (error) {
      if (error instanceof CrispError && error.status === 404) return false;
      throw error;
    }
  }

  async function post(
    job: Job,
    marker: number,
    message: { type: "note" | "text"; content: string },
    signal: AbortSignal,
    beforeRetry?: () => Promise<void>,
  ): Promise<"posted" | "unknown"> {
    try {
      await crisp.messages.send(
        job.websiteId,
        job.sessionId,
        {
          type: message.type,
          from: "operator",
          origin: "chat",
          content: message.content,
          fingerprint: marker,
          user: { nickname: NOTE_NICKNAME },
          automated: true,
        },
        { signal, beforeRetry },
      );
      return "posted";
    } catch (error) {
      if (error instanceof CrispError && error.reason === OUTCOME_UNKNOWN) {
        // It may have landed: look before anyone posts again.
        return (await alreadyPosted(job, marker, signal).catch(() => false)) ? "posted" : "unknown";
      }
      throw error;
    }
  }

  async function recordCalls(job: Job, draftId: string | null, attempts: LlmAttempt[]) {
    for (const a of attempts) {
      const cost = a.usage && a.model ? costOf(deps.prices, a.model, a.usage) : 0;
      if (cost > 0) metrics.inc("quill_llm_cost_usd_total", { provider: a.provider }, cost);
    }
    await store.insertLlmCalls(
      attempts.map((a) => ({
        draftId,
        jobId: job.id,
        websiteId: job.websiteId,
        provider: a.provider,
        model: a.model ?? null,
        status: a.status,
        latencyMs: Math.round(a.latencyMs),
        tokensIn: a.usage?.inputTokens ?? 0,
        tokensOut: a.usage?.outputTokens ?? 0,
        tokensCached: a.usage?.cachedInputTokens ?? 0,
        costUsd: a.usage && a.model ? costOf(deps.prices, a.model, a.usage) : 0,
        error: a.error === undefined ? null : scrubSecrets(a.error),
      })),
    );
  }

  async function execute(job: Job, signal: AbortSignal): Promise<JobOutcome> {
    const started = clock.now();
    const latency: Record<string, number> = {};
    const lap = (stage: string, since: number) => {
      latency[stage] = clock.now() - since;
      return clock.now();
    };
    const marker = await markerFingerprint(job.id);

    // An earlier attempt of this job may have posted before crashing.
    const previous = await store.draftForJob(job.id);
    if (previous && (previous.status === "posted" || previous.status === "sent")) {
      return { status: "done", outcome: "already_posted" };
    }
    if (job.attempts > 1 && (await alreadyPosted(job, marker, signal))) {
      // The marker is the failure note: the job stays failed, with its error.
      if (previous?.status === "failed")
        return { status: "failed", error: previous.error ?? "draft unavailable", outcome: "failure_note" };
      if (previous) {
        await store.updateDraft(previous.id, {
          status: previous.mode === "reply" ? "sent" : "posted",
          postedFingerprint: marker,
          postedAt: clock.now(),
        });
      }
      return { status: "done", outcome: "already_posted" };
    }

    // "Typing" starts together with the context read, a round trip earlier than after it; a
    // conversation that turns out not to need a draft sees it stop at once.
    return withTyping(job, signal, async (typing) => {
      let t = clock.now();
      const { conversation, messages } = await loadConversation(job, signal);
      // Who the visitor is, so a privacy export or erase finds this conversation later.
      await store.linkVisitor(job.websiteId, job.sessionId, {
        peopleId: conversation.people_id,
        emailHash: conversation.meta?.email ? await visitorEmailHash(conversation.meta.email) : null,
      });
      t = lap("context", t);
      const eligibility = checkEligibility({
        conversation,
        messages,
        fingerprint: job.fingerprint,
        skipSegments: deps.skipSegments,
        routing: deps.skipRouting,
      });
      // Paused in Crisp's meta data or in the store: either one is an operator's /quill off.
      if (
        eligibility.eligible &&
        (conversation.meta?.data?.[PAUSED_KEY] === "off" ||
          (await store.conversationState(job.websiteId, job.sessionId))?.paused)
      )
        return { status: "skipped", outcome: "quill is off in this conversation (/quill off)" };
      if (!eligibility.eligible) {
        if (eligibility.reason === "superseded") await draftNewest(job, eligibility.newestCustomerMessage);
        return {
          status: eligibility.reason === "superseded" ? "superseded" : "skipped",
          outcome: eligibility.detail,
        };
      }
      t = lap("eligibility", t);
      // Rules that need no draft are decided now; their Crisp actions run beside the draft.
      const before =
        deps.triage && job.kind === "draft"
          ? await deps.triage.evaluate({
              job,
              phase: "before",
              conversation,
              facts: factsOf(conversation, messages, clock.now()),
            })
          : undefined;
      const acting = before?.commit(undefined, signal);
      try {
        if (before?.actions.skipDraft) {
          return { status: "skipped", outcome: `triage: ${before.fired.map((f) => f.rule).join(", ")}` };
        }
        return await draftAndPost(
          job,
          conversation,
          messages,
          marker,
          signal,
          { started, latency, lap, t },
          typing,
          before,
        );
      } finally {
        await acting;
        // The run recorded before drafting points at the draft that followed, if any.
        if (before?.fired.length) {
          const draft = await store.draftForJob(job.id);
          if (draft) await store.attachTriageDraft(job.id, draft.id);
        }
      }
    });
  }

  /** A stale draft is dropped; the customer's newest message gets its own job now, whatever its trigger does. */
  async function draftNewest(job: Job, newest: EligibilityMessage | undefined) {
    if (!newest || !deps.requeue) return;
    await deps.requeue({
      websiteId: job.websiteId,
      sessionId: job.sessionId,
      fingerprint: newest.fingerprint,
      messageAt: newest.timestamp,
    });
  }

  /**
   * Shows "typing" while `work` runs. The start request runs beside the work (retrieval
   * and the LLM) instead of before it, so it costs the customer no time; the stop waits
   * for it. The indicator is cosmetic: its failures are only logged.
   */
  async function withTyping<T>(
    job: Job,
    signal: AbortSignal,
    work: (typing: Typing) => Promise<T>,
  ): Promise<T> {
    const mode = deps.typing ?? "auto";
    const start = (stealth: boolean) =>
      crisp.compose.start(job.websiteId, job.sessionId, { stealth }, { signal }).then(
        () => true,
        (error) => {
          log.warn({ jobId: job.id, err: describeError(error) }, "could not start the typing indicator");
          return false;
        },
      );
    let visible = mode === "visible";
    const started = mode === "off" ? Promise.resolve(false) : start(!visible);
    const typing: Typing = {
      ready: started,
      async beforeReply() {
        // The visitor sees typing only when an answer follows it.
        if (mode !== "auto" || visible) return;
        visible = true;
        await start(false);
      },
    };
    try {
      return await work(typing);
    } finally {
      if (await started) {
        await crisp.compose
          .stop(job.websiteId, job.sessionId, { stealth: !visible }, { signal: AbortSignal.timeout(5_000) })
          .catch((error) => log.warn({ jobId: job.id, err: describeError(error) }, "could not stop typing"));
      }
    }
  }

  /** The conversation's prompt, redacted context, knowledge and the request to its model. */
  async function prepare(
    websiteId: string,
    sessionId: string,
    conversation: CrispConversation,
    messages: CrispMessage[],
    instructions?: string,
  ) {
    const [{ template, variant }, site] = await Promise.all([
      deps.prompt(websiteId, sessionId),
      deps.site ? deps.site(websiteId) : ({} as SiteOverrides),
    ]);
    const context = buildContext(conversation, messages, { redactPii: deps.redactPii, instructions });
    const hits = await (deps.retriever ?? lexicalRetriever).retrieve(site.kb ?? deps.kb, context.query, 3);
    const knowledge: KnowledgeSnippet[] = hits.map(snippetOf);
    const rendered = renderPrompt(template, {
      websiteName: site.name ?? deps.websiteName ?? "our company",
      // "French (fr)": a name the model cannot misread, and the code it returns in `language`.
      language: languageLabel(context.language),
      knowledge,
      transcript: context.transcript,
      visitor: context.visitor,
      instructions: context.instructions,
    });
    const request: DraftRequest = {
      system: rendered.system,
      conversation: rendered.conversation,
      query: context.query,
      knowledge,
      hits,
      temperature: template.temperature,
      maxTokens: template.maxTokens,
      language: context.language,
      ...(context.instructions ? { instructions: context.instructions } : {}),
    };
    return { template, variant, site, context, knowledge, rendered, request };
  }

  /**
   * Drafts exactly as a job would (prompt variant, website overrides, redaction) and posts
   * nothing: `quill draft` without --post. The text has the real values restored.
   */
  async function preview(
    websiteId: string,
    sessionId: string,
    conversation: CrispConversation,
    messages: CrispMessage[],
    signal: AbortSignal,
  ) {
    const { site, context, request, knowledge, rendered } = await prepare(
      websiteId,
      sessionId,
      conversation,
      messages,
    );
    const result = await (site.llm ?? deps.llm).draft(request, { signal });
    // What policy would say of it, checked (as a job does) on the redacted text.
    const decision = decide(
      {
        draft: result,
        knowledge,
        protectedTexts: [
          ...protectedTextsFrom(rendered.rules, deps.canaries ?? []),
          ...operatorNoteLines(messages),
        ],
        instructions: rendered.rules,
      },
      site.policy ?? deps.policy,
    );
    return { ...result, text: context.restore(result.text), knowledge, decision };
  }

  async function draftAndPost(
    job: Job,
    conversation: CrispConversation,
    messages: CrispMessage[],
    marker: number,
    signal: AbortSignal,
    timing: {
      started: number;
      latency: Record<string, number>;
      lap: (stage: string, since: number) => number;
      t: number;
    },
    /** The compose indicator of this job: settled before posting, made visible before a reply. */
    typing: Typing,
    triaged?: {
      fired: Array<{
        rule: string;
        actions: { forceNote?: boolean | undefined; assign?: string | undefined };
      }>;
      next: number | undefined;
    },
  ): Promise<JobOutcome> {
    const { latency, lap } = timing;
    let t = timing.t;
    const { template, variant, site, context, knowledge, rendered, request } = await prepare(
      job.websiteId,
      job.sessionId,
      conversation,
      messages,
      job.instructions ?? undefined,
    );
    t = lap("retrieval", t);
    const contextRecord = {
      transcript: context.transcript,
      query: context.query,
      language: context.language,
      visitor: context.visitor,
    };

    // The customer or an operator may have written while the model was thinking. (A
    // redraft was asked for by an operator: it only stops if the conversation was resolved.)
    const stillWanted = async (assignedByTriage: boolean) => {
      const fresh = await loadConversation(job, signal);
      if (job.kind === "redraft")
        return fresh.conversation.state === "resolved"
          ? ({ eligible: false, reason: "resolved", detail: "conversation is resolved" } as const)
          : ({ eligible: true } as const);
      return checkEligibility({
        conversation: fresh.conversation,
        messages: fresh.messages,
        fingerprint: job.fingerprint,
        skipSegments: deps.skipSegments,
        routing:
          assignedByTriage && deps.skipRouting
            ? { ...deps.skipRouting, assigned: false, operators: [] }
            : deps.skipRouting,
      });
    };
    type Unwanted = Exclude<Awaited<ReturnType<typeof stillWanted>>, { eligible: true }>;
    /**
     * Posts once typing shows and a re-check right before it still wants the message; a send
     * Crisp rate-limits is repeated after its backoff only if a fresh re-check still does.
     */
    const postIfWanted = async (
      message: { type: "note" | "text"; content: string },
      assignedByTriage: boolean,
    ): Promise<{ posted: "posted" | "unknown"; unwanted?: undefined } | { unwanted: Unwanted }> => {
      await typing.ready;
      let still = await stillWanted(assignedByTriage);
      t = lap("recheck", t);
      if (!still.eligible) return { unwanted: still };
      if (message.type === "text") await typing.beforeReply();
      const recheckBeforeRetry = async () => {
        still = await stillWanted(assignedByTriage);
        if (!still.eligible) throw NO_LONGER_WANTED;
      };
      try {
        return { posted: await post(job, marker, message, signal, recheckBeforeRetry) };
      } catch (error) {
        if (error === NO_LONGER_WANTED && !still.eligible) return { unwanted: still };
        throw error;
      }
    };
    const giveUp = async (unwanted: Unwanted): Promise<JobOutcome> => {
      if (unwanted.reason === "superseded") await draftNewest(job, unwanted.newestCustomerMessage);
      return {
        status: unwanted.reason === "superseded" ? "superseded" : "skipped",
        outcome: `${unwanted.detail} while drafting`,
      };
    };

    let result: Awaited<ReturnType<DraftEngine["draft"]>>;
    try {
      result = await (site.llm ?? deps.llm).draft(request, { signal });
    } catch (error) {
      if (signal.aborted) throw error;
      const attempts = ((error as { attempts?: LlmAttempt[] }).attempts ?? []) as LlmAttempt[];
      const reason = describeError(error);
      lap("llm", t);
      // Never a half answer: a short private note says the draft is unavailable.
      const draft = await store.insertDraft({
        jobId: job.id,
        websiteId: job.websiteId,
        sessionId: job.sessionId,
        customerFingerprint: job.fingerprint,
        text: "",
        mode: "note",
        status: "failed",
        error: reason,
        promptName: template.name,
        promptVersion: template.version,
        variant: variant ?? null,
        transcript: rendered.conversation,
        context: contextRecord,
        markerFingerprint: marker,
        latency,
      });
      await recordCalls(job, draft.id, attempts);
      const sent = await postIfWanted({ type: "note", content: formatFailureNote(reason) }, false);
      // The customer wrote again meanwhile: the newer message's job answers (the draft stays failed).
      if (sent.unwanted) return giveUp(sent.unwanted);
      const posted = sent.posted;
      if (posted === "unknown") return { status: "retry", error: `failure note outcome unknown: ${reason}` };
      metrics.inc("quill_drafts_total", { result: "unavailable" });
      await deps.outcomes?.emit("draft_unavailable", draft, { peopleId: conversation.people_id ?? null });
      // The conversation is answered (by the note), but the job failed: it shows on the health page.
      return { status: "failed", error: reason, outcome: "failure_note" };
    }
    t = lap("llm", t);
    // The model saw placeholders; the operator (and the customer, whose data it is) sees real values.
    const modelText = result.text;
    result = { ...result, text: context.restore(result.text) };

    // Operators' private notes are protected; quill's own notes hold drafts meant for the customer.
    const notes = operatorNoteLines(messages);
    // Rules that look at the draft's intent or language.
    const after =
      deps.triage && triaged?.next !== undefined
        ? await deps.triage.evaluate({
            job,
            phase: "after",
            from: triaged.next,
            conversation,
            facts: factsOf(conversation, messages, clock.now(), {
              intent: result.intent,
              language: result.language ?? context.language,
            }),
          })
        : undefined;
    const policy = site.policy ?? deps.policy;
    const capped =
      policy.replyMode === "auto"
        ? (humanAnswered(
            conversation,
            messages,
            await store.conversationState(job.websiteId, job.sessionId),
          ) ?? (await autoSendCap(job, messages)))
        : undefined;
    const decision = decide(
      {
        draft: result,
        knowledge,
        protectedTexts: [...protectedTextsFrom(rendered.rules, deps.canaries ?? []), ...notes],
        instructions: rendered.rules,
        forceNote:
          job.kind === "redraft"
            ? "an operator asked for a draft"
            : (forcedBy([...(triaged?.fired ?? []), ...(after?.fired ?? [])]) ?? capped),
      },
      policy,
    );
    const citations = result.citations
      .map((id) => knowledge.find((k) => k.id === id))
      .filter((k): k is KnowledgeSnippet => k !== undefined);
    const disclosure = deps.autoSend?.disclosure ?? "";
    // The model says what it wrote ("fr", "fr-FR", "French"); unreadable, the requested one stands.
    const language = parseLanguage(result.language) ?? context.language;
    // OPERATOR_LANGUAGE: a note also shows the draft in the operators' language (translate.ts).
    const translated =
      decision.mode === "note"
        ? await translateForOperator({
            engine: site.llm ?? deps.llm,
            operatorLanguage: deps.operatorLanguage,
            draftLanguage: language,
            provider: result.provider,
            text: modelText,
            restore: context.restore,
            signal,
          })
        : { attempts: [] };
    if (translated.attempts.length > 0) t = lap("translate", t);
    const attempts = [...result.attempts, ...translated.attempts];
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
              citations: citations.map((c) => ({
                id: c.id,
                title: c.title,
                url: c.url,
                guidance: c.guidance,
              })),
            },
            decision,
          );
    await store.upsertPromptVersion({ hash: template.version, name: template.name, body: template.source });
    const draft = await store.insertDraft({
      jobId: job.id,
      websiteId: job.websiteId,
      sessionId: job.sessionId,
      customerFingerprint: job.fingerprint,
      text: result.text,
      mode: decision.mode,
      status: "ready",
      confidence: result.confidence,
      intent: result.intent,
      language,
      needsHuman: result.needsHuman,
      needsHumanReason: result.needsHumanReason ?? null,
      citations: citations.map((c) => ({ id: c.id, title: c.title })),
      flags: decision.flags,
      policyReasons: decision.reasons,
      provider: result.provider,
      model: result.model,
      promptName: template.name,
      promptVersion: template.version,
      variant: variant ?? null,
      tokensIn: result.usage.inputTokens,
      tokensOut: result.usage.outputTokens,
      tokensCached: result.usage.cachedInputTokens,
      costUsd: attempts.reduce(
        (sum, a) => sum + (a.usage && a.model ? costOf(deps.prices, a.model, a.usage) : 0),
        0,
      ),
      transcript: rendered.conversation,
      context: contextRecord,
      markerFingerprint: marker,
      latency,
    });
    await recordCalls(job, draft.id, attempts);
    await after?.commit(draft.id, signal);
    if (after?.actions.skipDraft) {
      const rules = after.fired.map((f) => f.rule).join(", ");
      await store.updateDraft(draft.id, { status: "discarded", error: `triage: ${rules}` });
      return { status: "skipped", outcome: `triage: ${rules}` };
    }
    t = lap("policy", t);

    // An assignment made by quill's own triage during this job is no operator taking over.
    const triageAssigned = [...(triaged?.fired ?? []), ...(after?.fired ?? [])].some((f) => f.actions.assign);
    const sent = await postIfWanted(
      { type: decision.mode === "reply" ? "text" : "note", content },
      triageAssigned,
    );
    if (sent.unwanted) {
      await store.updateDraft(draft.id, { status: "superseded", error: sent.unwanted.detail });
      return giveUp(sent.unwanted);
    }
    const posted = sent.posted;
    if (posted === "unknown")
      return { status: "retry", error: "post outcome unknown; the marker was not found" };
    lap("post", t);
    latency.total = clock.now() - timing.started;
    await store.updateDraft(draft.id, {
      status: decision.mode === "reply" ? "sent" : "posted",
      postedFingerprint: marker,
      postedAt: clock.now(),
      latency,
    });
    metrics.inc("quill_drafts_total", { result: decision.mode });
    await deps.outcomes?.emit(
      decision.mode === "reply" ? "draft_sent" : "draft_posted",
      { ...draft, status: decision.mode === "reply" ? "sent" : "posted" },
      { peopleId: conversation.people_id ?? null },
    );
    for (const [stage, ms] of Object.entries(latency)) metrics.observe("quill_stage_ms", ms, { stage });
    metrics.inc("quill_llm_tokens_total", { direction: "in" }, result.usage.inputTokens);
    metrics.inc("quill_llm_tokens_total", { direction: "out" }, result.usage.outputTokens);
    if (result.needsHuman) await escalate(job, signal);
    return { status: "done", outcome: decision.mode };
  }

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
  async function autoSendCap(job: Job, messages: CrispMessage[]): Promise<string | undefined> {
    const caps = deps.autoSend;
    if (!caps) return undefined;
    const inARow = automatedInARow(messages);
    if (inARow >= caps.maxInARow)
      return `${inARow} automated replies in a row without an operator (AUTO_SEND_MAX_IN_A_ROW)`;
    if (caps.maxPerHour > 0) {
      const lastHour = await store.countAutoReplies(job.websiteId, clock.now() - 3_600_000);
      if (lastHour >= caps.maxPerHour)
        return `${lastHour} automated replies in the last hour (AUTO_SEND_MAX_PER_HOUR)`;
    }
    return undefined;
  }

  /** Tags and/or routes a conversation the model handed over; failures never undo the draft. */
  async function escalate(job: Job, signal: AbortSignal) {
    const { segment, assignTo } = deps.needsHuman ?? {};
    try {
      if (segment) {
        const meta = await crisp.conversations.getMeta(job.websiteId, job.sessionId, { signal });
        const segments = meta.segments ?? [];
        if (!segments.includes(segment)) {
          await crisp.conversations.updateMeta(
            job.websiteId,
            job.sessionId,
            { segments: [...segments, segment] },
            { signal },
          );
        }
      }
      if (assignTo) await crisp.conversations.assign(job.websiteId, job.sessionId, assignTo, {}, { signal });
    } catch (error) {
      log.warn(
        { jobId: job.id, err: describeError(error) },
        "could not route a conversation that needs a human",
      );
    }
  }

  /**
   * An operator's note command. The acknowledgement note is posted last with its own
   * marker, and a send uses the job's marker, so a retried command never acts twice.
   */
  async function runCommand(job: Job, signal: AbortSignal): Promise<JobOutcome> {
    const payload = JSON.parse(job.instructions ?? "{}") as CommandJobPayload;
    const sendMarker = await markerFingerprint(job.id);
    const ackMarker = await markerFingerprint(`${job.id}:ack`);
    const retried = job.attempts > 1;
    if (retried && (await alreadyPosted(job, ackMarker, signal)))
      return { status: "done", outcome: `command:${payload.name}` };
    const acknowledge = async (content: string, outcome: string): Promise<JobOutcome> =>
      (await post(job, ackMarker, { type: "note", content }, signal)) === "posted"
        ? { status: "done", outcome }
        : { status: "retry", error: "acknowledgement outcome unknown" };

    if (payload.name === "help") return acknowledge(HELP_NOTE, "command:help");
    if (payload.name === "pause" || payload.name === "resume") {
      // Kept in the store (the dashboard lists paused conversations) and in the conversation's
      // meta data, which the next job on any runtime reads with the conversation.
      const at = clock.now();
      await store.setConversationPaused(
        job.websiteId,
        job.sessionId,
        payload.name === "pause",
        payload.operatorName ?? payload.operatorId ?? null,
        at,
      );
      const meta = await crisp.conversations.getMeta(job.websiteId, job.sessionId, { signal });
      const data: Record<string, unknown> = { ...(meta.data ?? {}) };
      // Emptied rather than deleted: whether Crisp merges or replaces `data`, it ends unpaused.
      if (payload.name === "pause") data[PAUSED_KEY] = "off";
      else {
        data[PAUSED_KEY] = "";
        data[RESUMED_KEY] = at;
      }
      await crisp.conversations.updateMeta(job.websiteId, job.sessionId, { data }, { signal });
      metrics.inc("quill_commands_total", { command: payload.name });
      return acknowledge(
        payload.name === "pause"
          ? "⏸️ quill: off in this conversation; no drafts until an operator writes /quill on."
          : "▶️ quill: on again in this conversation; drafts resume, and auto-send may answer again.",
        `command:${payload.name}`,
      );
    }
    const [conversation, draft] = await Promise.all([
      crisp.conversations.get(job.websiteId, job.sessionId, { signal }),
      store.latestDraftForSession(job.websiteId, job.sessionId),
    ]);
    const resuming = retried && draft?.status === "approved";
    const problem = resuming ? undefined : commandProblem(payload, draft, conversation.state);
    if (problem || !draft)
      return acknowledge(`⚠️ quill: ${problem ?? "there is no draft"}.`, "command:refused");
    const operator = { operatorId: payload.operatorId ?? null, operatorName: payload.operatorName ?? null };
    const sinceDraft = draft.postedAt ? clock.now() - draft.postedAt : null;

    switch (payload.name) {
      case "approve":
      case "send": {
        const text = payload.name === "approve" ? draft.text : payload.arg;
        const claimed = await store.transitionDraft(
          draft.id,
          resuming ? ["approved"] : ["posted", "superseded"],
          {
            status: "approved",
          },
        );
        if (!claimed) return acknowledge("⚠️ quill: the latest draft was already sent.", "command:refused");
        const sent = await post(job, sendMarker, { type: "text", content: text }, signal);
        if (sent === "unknown") return { status: "retry", error: "send outcome unknown" };
        await store.updateDraft(draft.id, { status: "sent" });
        const score = similarity(draft.text, text);
        await store.insertFeedback({
          draftId: draft.id,
          websiteId: job.websiteId,
          sessionId: job.sessionId,
          kind: payload.name === "approve" ? "approved" : "sent_edited",
          ...operator,
          finalText: text,
          similarity: score,
          sourceKey: `msg:${job.websiteId}:${sendMarker}`,
          delayMs: sinceDraft,
        });
        metrics.inc("quill_commands_total", { command: payload.name });
        return acknowledge(
          payload.name === "approve"
            ? "✅ quill: the draft was sent to the customer."
            : `✅ quill: your text was sent to the customer (similarity to the draft ${score.toFixed(2)}).`,
          `command:${payload.name}`,
        );
      }
      case "reject": {
        if (!(await store.transitionDraft(draft.id, ["posted", "superseded"], { status: "rejected" }))) {
          return acknowledge("⚠️ quill: the latest draft was already handled.", "command:refused");
        }
        await store.insertFeedback({
          draftId: draft.id,
          websiteId: job.websiteId,
          sessionId: job.sessionId,
          kind: "rejected",
          ...operator,
          reason: payload.arg,
          sourceKey: `cmd:${job.id}`,
          delayMs: sinceDraft,
        });
        metrics.inc("quill_commands_total", { command: "reject" });
        return acknowledge(`👎 quill: draft rejected (${payload.arg}).`, "command:reject");
      }
      case "translate":
        return acknowledge(`⚠️ quill: ${translateProblem(payload.arg)}.`, "command:refused");
      case "redraft": {
        // /translate, /friendlier, /formal with only the offline drafter: a plain note, no draft.
        const cannot = offlineCannot(
          payload.rewrite,
          (deps.site && (await deps.site(job.websiteId)).llm) || deps.llm,
        );
        if (cannot) return acknowledge(cannot, "command:refused");
        await store.insertFeedback({
          draftId: draft.id,
          websiteId: job.websiteId,
          sessionId: job.sessionId,
          kind: "redraft",
          ...operator,
          reason: payload.arg,
          sourceKey: `cmd:${job.id}`,
          delayMs: sinceDraft,
        });
        const redraftJob: Job = {
          ...job,
          kind: "redraft",
          fingerprint: draft.customerFingerprint,
          instructions: payload.arg,
        };
        const started = clock.now();
        const latency: Record<string, number> = {};
        const lap = (stage: string, since: number) => {
          latency[stage] = clock.now() - since;
          return clock.now();
        };
        const { messages } = await loadConversation(job, signal);
        const outcome = await withTyping(job, signal, (typing) =>
          draftAndPost(
            redraftJob,
            conversation,
            messages,
            sendMarker,
            signal,
            { started, latency, lap, t: started },
            typing,
          ),
        );
        if (outcome.status === "done") await store.updateDraft(draft.id, { status: "discarded" });
        metrics.inc("quill_commands_total", { command: "redraft" });
        return outcome.status === "done" ? { status: "done", outcome: "command:redraft" } : outcome;
      }
    }
  }

  async function runSync(job: Job, signal: AbortSignal): Promise<JobOutcome> {
    if (!deps.outcomes) return { status: "skipped", outcome: "outcome sync is not configured" };
    try {
      return { status: "done", outcome: await deps.outcomes.run(job, signal) };
    } catch (error) {
      // A refused address stays refused: failed now, not retried eight times.
      if (error instanceof OutboundRefused) return { status: "failed", error: `crm: ${error.message}` };
      throw error;
    }
  }

  /** Runs a leased job and records its end in the store; never throws for expected failures. */
  async function run(job: Job, owner: string, signal: AbortSignal): Promise<JobOutcome> {
    let outcome: JobOutcome;
    try {
      outcome =
        job.kind === "command"
          ? await runCommand(job, signal)
          : job.kind === "sync"
            ? await runSync(job, signal)
            : await execute(job, signal);
    } catch (error) {
      if (signal.aborted) {
        // Shutting down: the lease is handed back by the runtime.
        return { status: "retry", error: "aborted" };
      }
      const reason = describeError(error);
      outcome =
        retryable(error) || !(error instanceof CrispError)
          ? { status: "retry", error: reason }
          : { status: "failed", error: reason };
      log.warn({ jobId: job.id, sessionId: job.sessionId, err: reason }, "draft job failed");
    }
    switch (outcome.status) {
      case "done":
        await store.finishJob(job.id, owner, "done", { outcome: outcome.outcome });
        break;
      case "skipped":
      case "superseded":
        await store.finishJob(job.id, owner, outcome.status, { outcome: outcome.outcome });
        metrics.inc("quill_jobs_skipped_total", { reason: outcome.status });
        break;
      case "failed":
        await store.finishJob(job.id, owner, "failed", { outcome: outcome.outcome, error: outcome.error });
        metrics.inc("quill_jobs_failed_total", {});
        break;
      case "retry": {
        const next = await store.retryJob(
          job.id,
          owner,
          outcome.error,
          clock.now() + retryDelay(job.attempts),
        );
        if (next === "dead") {
          metrics.inc("quill_jobs_dead_total", {});
          log.error({ jobId: job.id, sessionId: job.sessionId, err: outcome.error }, "draft job gave up");
        }
        break;
      }
    }
    return outcome;
  }

  /**
   * The output checks a reply written elsewhere (an AI agent's, through MCP) must pass before
   * it reaches the customer: the same as an auto-sent draft's, against the articles retrieved
   * for the conversation and those the reply cites.
   */
  async function checkReply(
    websiteId: string,
    sessionId: string,
    conversation: CrispConversation,
    messages: CrispMessage[],
    reply: { text: string; citations: string[] },
  ): Promise<string[]> {
    const { site, knowledge, rendered } = await prepare(websiteId, sessionId, conversation, messages);
    const kb = site.kb ?? deps.kb;
    const cited = reply.citations
      .filter((id) => !knowledge.some((k) => k.id === id))
      .flatMap((id) => {
        const article = kb.get(id);
        return article ? [snippetOf(hitOf(article, NO_MATCH))] : [];
      });
    return checkDraft(
      {
        draft: {
          text: reply.text,
          confidence: 1,
          intent: "general",
          needsHuman: false,
          citations: reply.citations,
        },
        knowledge: [...knowledge, ...cited],
        protectedTexts: [
          ...protectedTextsFrom(rendered.rules, deps.canaries ?? []),
          ...operatorNoteLines(messages),
        ],
        instructions: rendered.rules,
      },
      (site.policy ?? deps.policy).linkAllowlist,
    );
  }

  return { run, execute, preview, checkReply };
}

export type DraftPipeline = ReturnType<typeof createDraftPipeline>;
