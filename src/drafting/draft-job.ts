import type { JobOutcome } from "../jobs/dispatch.ts";
import { describeError } from "../jobs/errors.ts";
import { parseLanguage } from "../language/names.ts";
import type { DraftResult, LlmAttempt } from "../llm/types.ts";
import type { Job } from "../store/store.ts";
import { factsOf } from "../triage/triage.ts";
import { type DraftRun, type PipelineDeps, startTiming } from "./deps.ts";
import { markerFingerprint } from "./marker.ts";
import { formatFailureNote } from "./note.ts";
import { alreadyPosted, giveUp, postIfWanted } from "./posting.ts";
import { ineligible, type Prepared, prepareDraft, readConversation } from "./prepare.ts";
import { recordDraft } from "./record.ts";
import { review, triageAfter } from "./review.ts";
import { withTyping } from "./typing.ts";

/**
 * One draft job: earlier attempt → typing + context → eligibility → triage → prepare →
 * LLM → policy → re-check → marker check → post → stop typing → record.
 */

/** An earlier attempt of this job may have posted before crashing: its end, if so. */
async function earlierAttempt(deps: PipelineDeps, job: Job, marker: number, signal: AbortSignal) {
  const previous = await deps.store.draftForJob(job.id);
  if (previous && (previous.status === "posted" || previous.status === "sent"))
    return { status: "done", outcome: "already_posted" } as const;
  if (job.attempts <= 1 || !(await alreadyPosted(deps, job, marker, signal))) return undefined;
  // The marker is the failure note: the job stays failed, with its error.
  if (previous?.status === "failed")
    return {
      status: "failed",
      error: previous.error ?? "draft unavailable",
      outcome: "failure_note",
    } as const;
  if (previous) {
    await deps.store.updateDraft(previous.id, {
      status: previous.mode === "reply" ? "sent" : "posted",
      postedFingerprint: marker,
      postedAt: deps.clock.now(),
    });
  }
  return { status: "done", outcome: "already_posted" } as const;
}

/** The draft job's handler (and a redraft's, without the eligibility and triage steps). */
export async function executeDraft(deps: PipelineDeps, job: Job, signal: AbortSignal): Promise<JobOutcome> {
  const { store, clock } = deps;
  const started = clock.now();
  const marker = await markerFingerprint(job.id);
  const earlier = await earlierAttempt(deps, job, marker, signal);
  if (earlier) return earlier;

  // "Typing" starts together with the context read, a round trip earlier than after it; a
  // conversation that turns out not to need a draft sees it stop at once.
  return withTyping(deps, job, signal, async (typing) => {
    const timing = startTiming(clock, started);
    const { conversation, messages } = await readConversation(deps, job, signal);
    timing.lap("context");
    const skip = await ineligible(deps, job, conversation, messages);
    if (skip) return skip;
    timing.lap("eligibility");
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
      if (before?.actions.skipDraft)
        return { status: "skipped", outcome: `triage: ${before.fired.map((f) => f.rule).join(", ")}` };
      return await draftAndPost({
        deps,
        job,
        marker,
        signal,
        conversation,
        messages,
        typing,
        timing,
        triaged: before,
      });
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

/** Prepare, ask the model, then post its draft, or a failure note when no provider answered. */
export async function draftAndPost(run: DraftRun): Promise<JobOutcome> {
  const { deps, job, signal } = run;
  const prepared = await prepareDraft(deps, {
    websiteId: job.websiteId,
    sessionId: job.sessionId,
    conversation: run.conversation,
    messages: run.messages,
    instructions: job.instructions ?? undefined,
  });
  run.timing.lap("retrieval");
  let result: DraftResult & { attempts: LlmAttempt[] };
  try {
    result = await (prepared.site.llm ?? deps.llm).draft(prepared.request, { signal });
  } catch (error) {
    if (signal.aborted) throw error;
    return postFailureNote(run, prepared, error);
  }
  run.timing.lap("llm");
  // The model saw placeholders; the operator (and the customer, whose data it is) sees real values.
  return postDraft(run, prepared, { ...result, text: prepared.context.restore(result.text) }, result.text);
}

/** Never a half answer: a short private note says the draft is unavailable. */
async function postFailureNote(run: DraftRun, prepared: Prepared, error: unknown): Promise<JobOutcome> {
  const { deps } = run;
  const attempts = (error as { attempts?: LlmAttempt[] }).attempts ?? [];
  const reason = describeError(error);
  run.timing.lap("llm");
  const fields = { text: "", mode: "note", status: "failed", error: reason } as const;
  const draft = await recordDraft(run, prepared, fields, attempts);
  const sent = await postIfWanted(run, { type: "note", content: formatFailureNote(reason) }, false);
  // The customer wrote again meanwhile: the newer message's job answers (the draft stays failed).
  if ("unwanted" in sent) return giveUp(run, sent.unwanted);
  if (sent.posted === "unknown") return { status: "retry", error: `failure note outcome unknown: ${reason}` };
  deps.metrics.inc("quill_drafts_total", { result: "unavailable" });
  await deps.outcomes?.emit("draft_unavailable", draft, { peopleId: run.conversation.people_id ?? null });
  // The conversation is answered (by the note), but the job failed: it shows on the health page.
  return { status: "failed", error: reason, outcome: "failure_note" };
}

/** The draft's row as review left it: what the model wrote, the policy's verdict, the cost. */
function draftRow(
  result: DraftResult,
  reviewed: Awaited<ReturnType<typeof review>>,
  language: string,
): Parameters<typeof recordDraft>[2] {
  const { decision, citations } = reviewed;
  return {
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
    tokensIn: result.usage.inputTokens,
    tokensOut: result.usage.outputTokens,
    tokensCached: result.usage.cachedInputTokens,
  };
}

/** Policy, the draft's record, then the post; the store learns how it ended. */
async function postDraft(
  run: DraftRun,
  prepared: Prepared,
  result: DraftResult & { attempts: LlmAttempt[] },
  /** The draft as the model wrote it (redacted), for the operator's translation. */
  modelText: string,
): Promise<JobOutcome> {
  const { deps, signal } = run;
  const { store, metrics } = deps;
  const { template, context } = prepared;
  const after = await triageAfter(run, result, context.language);
  // The model says what it wrote ("fr", "fr-FR", "French"); unreadable, the requested one stands.
  const language = parseLanguage(result.language) ?? context.language;
  const reviewed = await review(run, prepared, { ...result, language }, after?.fired ?? [], modelText);
  const { decision, content, translationAttempts } = reviewed;
  await store.upsertPromptVersion({ hash: template.version, name: template.name, body: template.source });
  const draft = await recordDraft(run, prepared, draftRow(result, reviewed, language), [
    ...result.attempts,
    ...translationAttempts,
  ]);
  await after?.commit(draft.id, signal);
  if (after?.actions.skipDraft) {
    const rules = after.fired.map((f) => f.rule).join(", ");
    await store.updateDraft(draft.id, { status: "discarded", error: `triage: ${rules}` });
    return { status: "skipped", outcome: `triage: ${rules}` };
  }
  run.timing.lap("policy");

  // An assignment made by quill's own triage during this job is no operator taking over.
  const triageAssigned = [...(run.triaged?.fired ?? []), ...(after?.fired ?? [])].some(
    (f) => f.actions.assign,
  );
  const reply = decision.mode === "reply";
  const sent = await postIfWanted(run, { type: reply ? "text" : "note", content }, triageAssigned);
  if ("unwanted" in sent) {
    await store.updateDraft(draft.id, { status: "superseded", error: sent.unwanted.detail });
    return giveUp(run, sent.unwanted);
  }
  if (sent.posted === "unknown")
    return { status: "retry", error: "post outcome unknown; the marker was not found" };
  run.timing.lap("post");
  run.timing.finish();
  const status = reply ? "sent" : "posted";
  const { latency } = run.timing;
  await store.updateDraft(draft.id, {
    status,
    postedFingerprint: run.marker,
    postedAt: deps.clock.now(),
    latency,
  });
  metrics.inc("quill_drafts_total", { result: decision.mode });
  await deps.outcomes?.emit(
    reply ? "draft_sent" : "draft_posted",
    { ...draft, status },
    {
      peopleId: run.conversation.people_id ?? null,
    },
  );
  await deps.shadow?.({ ...draft, status }, run.job);
  for (const [stage, ms] of Object.entries(latency)) metrics.observe("quill_stage_ms", ms, { stage });
  metrics.inc("quill_llm_tokens_total", { direction: "in" }, result.usage.inputTokens);
  metrics.inc("quill_llm_tokens_total", { direction: "out" }, result.usage.outputTokens);
  if (result.needsHuman) await escalate(run);
  return { status: "done", outcome: decision.mode };
}

/** Tags and/or routes a conversation the model handed over; failures never undo the draft. */
async function escalate(run: DraftRun) {
  const { deps, job, signal } = run;
  const { segment, assignTo } = deps.needsHuman ?? {};
  try {
    if (segment) {
      const meta = await deps.crisp.conversations.getMeta(job.websiteId, job.sessionId, { signal });
      const segments = meta.segments ?? [];
      if (!segments.includes(segment)) {
        await deps.crisp.conversations.updateMeta(
          job.websiteId,
          job.sessionId,
          { segments: [...segments, segment] },
          { signal },
        );
      }
    }
    if (assignTo)
      await deps.crisp.conversations.assign(job.websiteId, job.sessionId, assignTo, {}, { signal });
  } catch (error) {
    deps.log.warn(
      { jobId: job.id, err: describeError(error) },
      "could not route a conversation that needs a human",
    );
  }
}
