import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import { type JobHandler, jobHandler } from "../jobs/dispatch.ts";
import { textPayload } from "../jobs/payload.ts";
import type { Job } from "../store/store.ts";
import { commandJob } from "./command-job.ts";
import type { PipelineDeps } from "./deps.ts";
import { executeDraft } from "./draft-job.ts";
import { checkReply, previewDraft } from "./preview.ts";

/**
 * The drafting pipeline's entry points: the handlers of the job kinds it owns (draft,
 * redraft, command), a preview that posts nothing, and the checks of an agent's reply.
 */
export function createDraftPipeline(deps: PipelineDeps) {
  const draft: JobHandler<string | null> = jobHandler({
    payload: textPayload,
    run: (job, _instructions, signal) => executeDraft(deps, job, signal),
  });
  return {
    handlers: { draft, redraft: draft, command: commandJob(deps) },
    /** Runs a draft job without recording its end (tests drive the steps). */
    execute: (job: Job, signal: AbortSignal) => executeDraft(deps, job, signal),
    preview: (
      websiteId: string,
      sessionId: string,
      conversation: CrispConversation,
      messages: CrispMessage[],
      signal: AbortSignal,
    ) => previewDraft(deps, { websiteId, sessionId, conversation, messages }, signal),
    checkReply: (
      websiteId: string,
      sessionId: string,
      conversation: CrispConversation,
      messages: CrispMessage[],
      reply: { text: string; citations: string[] },
    ) => checkReply(deps, { websiteId, sessionId, conversation, messages }, reply),
  };
}

export type DraftPipeline = ReturnType<typeof createDraftPipeline>;
