import { CrispError, OUTCOME_UNKNOWN } from "../crisp/errors.ts";
import type { JobOutcome } from "../jobs/dispatch.ts";
import type { Job } from "../store/store.ts";
import type { DraftRun, PipelineDeps } from "./deps.ts";
import { checkEligibility, type Eligibility } from "./eligibility.ts";
import { NOTE_NICKNAME } from "./note.ts";
import { draftNewest } from "./prepare.ts";

/**
 * The last steps before a message lands: re-check that it is still wanted, look for the
 * marker of an earlier attempt, post, and hand a stale draft's turn to the newest message.
 */

export type Message = { type: "note" | "text"; content: string };
export type Unwanted = Exclude<Eligibility, { eligible: true }>;
/** A redraft only asks that the conversation is not resolved. */
type Wanted = { eligible: true } | Unwanted;
export type PostResult = { posted: "posted" | "unknown" } | { unwanted: Unwanted };

/** Did an earlier attempt already post this job's message (crash, lost response)? */
export async function alreadyPosted(
  deps: PipelineDeps,
  job: Job,
  marker: number,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await deps.crisp.messages.get(job.websiteId, job.sessionId, marker, { signal });
    return true;
  } catch (error) {
    if (error instanceof CrispError && error.status === 404) return false;
    throw error;
  }
}

/** Posts with the marker; "unknown" when the send may or may not have landed and the marker is not found. */
export async function post(
  deps: PipelineDeps,
  job: Job,
  marker: number,
  message: Message,
  signal: AbortSignal,
  beforeRetry?: () => Promise<boolean>,
): Promise<"posted" | "unknown"> {
  const send = {
    type: message.type,
    from: "operator" as const,
    origin: "chat",
    content: message.content,
    fingerprint: marker,
    user: { nickname: NOTE_NICKNAME },
    automated: true,
  };
  try {
    await deps.crisp.messages.send(job.websiteId, job.sessionId, send, { signal, beforeRetry });
    return "posted";
  } catch (error) {
    if (error instanceof CrispError && error.reason === OUTCOME_UNKNOWN) {
      // It may have landed: look before anyone posts again.
      return (await alreadyPosted(deps, job, marker, signal).catch(() => false)) ? "posted" : "unknown";
    }
    throw error;
  }
}

/**
 * The customer or an operator may have written while the model was thinking. (A redraft
 * was asked for by an operator: it only stops if the conversation was resolved.)
 */
async function stillWanted(run: DraftRun, assignedByTriage: boolean, type: Message["type"]): Promise<Wanted> {
  const { deps, job } = run;
  const conversation = await deps.crisp.conversations.get(job.websiteId, job.sessionId, {
    signal: run.signal,
  });
  if (job.kind === "redraft")
    return conversation.state === "resolved"
      ? { eligible: false, reason: "resolved", detail: "conversation is resolved" }
      : { eligible: true };
  // The conversation's preview names its latest message: when that is still the job's, nothing
  // was written since and the messages need no second read. A reply to the customer always
  // reads them, so a preview Crisp updates late can at worst post a note for a stale message.
  const preview = conversation.preview_message;
  const latest =
    type === "note" && preview?.type && preview.from === "user" && preview.fingerprint === job.fingerprint
      ? { type: preview.type, from: "user" as const, fingerprint: job.fingerprint, timestamp: 0 }
      : undefined;
  const messages = latest
    ? [latest]
    : (
        await deps.crisp.messages.listLast(job.websiteId, job.sessionId, deps.contextMessages ?? 20, {
          signal: run.signal,
        })
      ).messages;
  return checkEligibility({
    conversation,
    messages,
    fingerprint: job.fingerprint,
    skipSegments: deps.skipSegments,
    routing:
      assignedByTriage && deps.skipRouting
        ? { ...deps.skipRouting, assigned: false, operators: [] }
        : deps.skipRouting,
  });
}

/**
 * Posts once typing shows and a re-check right before it still wants the message; a send
 * Crisp rate-limits is repeated after its backoff only if a fresh re-check still does.
 */
export async function postIfWanted(
  run: DraftRun,
  message: Message,
  assignedByTriage: boolean,
): Promise<PostResult> {
  await run.typing.ready;
  let still: Wanted = await stillWanted(run, assignedByTriage, message.type);
  run.timing.lap("recheck");
  if (!still.eligible) return { unwanted: still };
  if (message.type === "text") await run.typing.beforeReply();
  // Before Crisp repeats a rate-limited send: `false` stops it, and the error below says why.
  const recheckBeforeRetry = async () => {
    still = await stillWanted(run, assignedByTriage, message.type);
    return still.eligible;
  };
  try {
    return { posted: await post(run.deps, run.job, run.marker, message, run.signal, recheckBeforeRetry) };
  } catch (error) {
    if (!still.eligible) return { unwanted: still };
    throw error;
  }
}

/** The job's end when the conversation moved on while drafting. */
export async function giveUp(run: DraftRun, unwanted: Unwanted): Promise<JobOutcome> {
  if (unwanted.reason === "superseded") await draftNewest(run.deps, run.job, unwanted.newestCustomerMessage);
  return {
    status: unwanted.reason === "superseded" ? "superseded" : "skipped",
    outcome: `${unwanted.detail} while drafting`,
  };
}
