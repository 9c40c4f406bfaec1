import { z } from "zod";
import { type JobHandler, type JobOutcome, jobHandler } from "../jobs/dispatch.ts";
import { jsonPayload } from "../jobs/payload.ts";
import type { Draft, Job } from "../store/store.ts";
import {
  type CommandJobPayload,
  type CommandName,
  commandProblem,
  HELP_NOTE,
  PAUSED_KEY,
  RESUMED_KEY,
  similarity,
} from "./commands.ts";
import { type PipelineDeps, startTiming } from "./deps.ts";
import { draftAndPost } from "./draft-job.ts";
import { markerFingerprint } from "./marker.ts";
import { alreadyPosted, post } from "./posting.ts";
import { loadConversation } from "./prepare.ts";
import { offlineCannot, translateProblem } from "./rewrite.ts";
import { withTyping } from "./typing.ts";

/**
 * An operator's note command. The acknowledgement note is posted last with its own
 * marker, and a send uses the job's marker, so a retried command never acts twice.
 */

/** Every command a job may carry; a name missing here fails to compile, not at run time. */
const COMMAND_NAMES = {
  approve: true,
  send: true,
  redraft: true,
  reject: true,
  help: true,
  pause: true,
  resume: true,
  translate: true,
} satisfies Record<CommandName, true>;

export const commandPayload = jsonPayload(
  z.object({
    name: z.enum(Object.keys(COMMAND_NAMES) as [CommandName, ...CommandName[]]),
    arg: z.string(),
    operatorId: z.string().optional(),
    operatorName: z.string().optional(),
    // /translate, /shorter, /friendlier, /formal (rewrite.ts): a redraft that knows what it is.
    rewrite: z
      .object({
        kind: z.enum(["translate", "shorter", "friendlier", "formal"]),
        language: z.string().optional(),
      })
      .optional(),
  }),
) satisfies z.ZodType<CommandJobPayload>;

interface CommandRun {
  deps: PipelineDeps;
  job: Job;
  payload: CommandJobPayload;
  signal: AbortSignal;
  /** The marker of what the command sends (a reply, a redraft's note); the job's own. */
  sendMarker: number;
  retried: boolean;
  acknowledge(content: string, outcome: string): Promise<JobOutcome>;
}

export function commandJob(deps: PipelineDeps): JobHandler<CommandJobPayload> {
  return jobHandler({
    payload: commandPayload,
    async run(job, payload, signal) {
      const sendMarker = await markerFingerprint(job.id);
      const ackMarker = await markerFingerprint(`${job.id}:ack`);
      const retried = job.attempts > 1;
      if (retried && (await alreadyPosted(deps, job, ackMarker, signal)))
        return { status: "done", outcome: `command:${payload.name}` };
      const acknowledge = async (content: string, outcome: string): Promise<JobOutcome> =>
        (await post(deps, job, ackMarker, { type: "note", content }, signal)) === "posted"
          ? { status: "done", outcome }
          : { status: "retry", error: "acknowledgement outcome unknown" };
      const run: CommandRun = { deps, job, payload, signal, sendMarker, retried, acknowledge };
      if (payload.name === "help") return acknowledge(HELP_NOTE, "command:help");
      if (payload.name === "pause" || payload.name === "resume") return pauseOrResume(run);
      return onDraft(run);
    },
  });
}

/** /quill off and on, kept in the store (the dashboard lists paused conversations) and in Crisp's meta data. */
async function pauseOrResume({ deps, job, payload, signal, acknowledge }: CommandRun): Promise<JobOutcome> {
  const pause = payload.name === "pause";
  const at = deps.clock.now();
  await deps.store.setConversationPaused(
    job.websiteId,
    job.sessionId,
    pause,
    payload.operatorName ?? payload.operatorId ?? null,
    at,
  );
  // The next job on any runtime reads the meta data with the conversation.
  const meta = await deps.crisp.conversations.getMeta(job.websiteId, job.sessionId, { signal });
  const data: Record<string, unknown> = { ...(meta.data ?? {}) };
  // Emptied rather than deleted: whether Crisp merges or replaces `data`, it ends unpaused.
  if (pause) data[PAUSED_KEY] = "off";
  else {
    data[PAUSED_KEY] = "";
    data[RESUMED_KEY] = at;
  }
  await deps.crisp.conversations.updateMeta(job.websiteId, job.sessionId, { data }, { signal });
  deps.metrics.inc("quill_commands_total", { command: payload.name });
  return acknowledge(
    pause
      ? "⏸️ quill: off in this conversation; no drafts until an operator writes /quill on."
      : "▶️ quill: on again in this conversation; drafts resume, and auto-send may answer again.",
    `command:${payload.name}`,
  );
}

/** The commands that act on the latest draft: approve, send, reject, redraft. */
async function onDraft(run: CommandRun): Promise<JobOutcome> {
  const { deps, job, payload, signal } = run;
  const [conversation, draft] = await Promise.all([
    deps.crisp.conversations.get(job.websiteId, job.sessionId, { signal }),
    deps.store.latestDraftForSession(job.websiteId, job.sessionId),
  ]);
  const resuming = run.retried && draft?.status === "approved";
  const problem = resuming ? undefined : commandProblem(payload, draft, conversation.state);
  if (problem || !draft)
    return run.acknowledge(`⚠️ quill: ${problem ?? "there is no draft"}.`, "command:refused");
  switch (payload.name) {
    case "approve":
    case "send":
      return send(run, draft, resuming);
    case "reject":
      return reject(run, draft);
    case "redraft":
      return redraft(run, draft, conversation);
    case "translate":
      return run.acknowledge(`⚠️ quill: ${translateProblem(payload.arg)}.`, "command:refused");
    default:
      return run.acknowledge(`⚠️ quill: /${payload.name} does not act on a draft.`, "command:refused");
  }
}

const feedbackOf = (run: CommandRun, draft: Draft) => ({
  draftId: draft.id,
  websiteId: run.job.websiteId,
  sessionId: run.job.sessionId,
  operatorId: run.payload.operatorId ?? null,
  operatorName: run.payload.operatorName ?? null,
  delayMs: draft.postedAt ? run.deps.clock.now() - draft.postedAt : null,
});

async function send(run: CommandRun, draft: Draft, resuming: boolean): Promise<JobOutcome> {
  const { deps, job, payload, signal } = run;
  const approve = payload.name === "approve";
  const text = approve ? draft.text : payload.arg;
  const from = resuming ? (["approved"] as const) : (["posted", "superseded"] as const);
  const claimed = await deps.store.transitionDraft(draft.id, [...from], { status: "approved" });
  if (!claimed) return run.acknowledge("⚠️ quill: the latest draft was already sent.", "command:refused");
  const sent = await post(deps, job, run.sendMarker, { type: "text", content: text }, signal);
  if (sent === "unknown") return { status: "retry", error: "send outcome unknown" };
  await deps.store.updateDraft(draft.id, { status: "sent" });
  const score = similarity(draft.text, text);
  await deps.store.insertFeedback({
    ...feedbackOf(run, draft),
    kind: approve ? "approved" : "sent_edited",
    finalText: text,
    similarity: score,
    sourceKey: `msg:${job.websiteId}:${run.sendMarker}`,
  });
  deps.metrics.inc("quill_commands_total", { command: payload.name });
  return run.acknowledge(
    approve
      ? "✅ quill: the draft was sent to the customer."
      : `✅ quill: your text was sent to the customer (similarity to the draft ${score.toFixed(2)}).`,
    `command:${payload.name}`,
  );
}

async function reject(run: CommandRun, draft: Draft): Promise<JobOutcome> {
  const { deps, job, payload } = run;
  if (!(await deps.store.transitionDraft(draft.id, ["posted", "superseded"], { status: "rejected" })))
    return run.acknowledge("⚠️ quill: the latest draft was already handled.", "command:refused");
  await deps.store.insertFeedback({
    ...feedbackOf(run, draft),
    kind: "rejected",
    reason: payload.arg,
    sourceKey: `cmd:${job.id}`,
  });
  deps.metrics.inc("quill_commands_total", { command: "reject" });
  return run.acknowledge(`👎 quill: draft rejected (${payload.arg}).`, "command:reject");
}

/** Drafts again with the operator's instructions, posted with the command's own marker. */
async function redraft(
  run: CommandRun,
  draft: Draft,
  conversation: Awaited<ReturnType<PipelineDeps["crisp"]["conversations"]["get"]>>,
): Promise<JobOutcome> {
  const { deps, job, payload, signal } = run;
  // /translate, /friendlier, /formal with only the offline drafter: a plain note, no draft.
  const cannot = offlineCannot(
    payload.rewrite,
    (deps.site && (await deps.site(job.websiteId)).llm) || deps.llm,
  );
  if (cannot) return run.acknowledge(cannot, "command:refused");
  await deps.store.insertFeedback({
    ...feedbackOf(run, draft),
    kind: "redraft",
    reason: payload.arg,
    sourceKey: `cmd:${job.id}`,
  });
  const redraftJob: Job = {
    ...job,
    kind: "redraft",
    fingerprint: draft.customerFingerprint,
    instructions: payload.arg,
  };
  const timing = startTiming(deps.clock);
  const { messages } = await loadConversation(deps, job, signal);
  const outcome = await withTyping(deps, job, signal, (typing) =>
    draftAndPost({
      deps,
      job: redraftJob,
      marker: run.sendMarker,
      signal,
      conversation,
      messages,
      typing,
      timing,
    }),
  );
  if (outcome.status === "done") await deps.store.updateDraft(draft.id, { status: "discarded" });
  deps.metrics.inc("quill_commands_total", { command: "redraft" });
  return outcome.status === "done" ? { status: "done", outcome: "command:redraft" } : outcome;
}
