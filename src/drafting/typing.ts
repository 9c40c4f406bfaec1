import { timeoutSignal } from "../abort.ts";
import { describeError } from "../jobs/errors.ts";
import type { Job } from "../store/store.ts";
import type { PipelineDeps, Typing } from "./deps.ts";

/**
 * Shows "typing" while `work` runs. The start request runs beside the work (retrieval
 * and the LLM) instead of before it, so it costs the customer no time; the stop waits
 * for it. The indicator is cosmetic: its failures are only logged.
 */
export async function withTyping<T>(
  deps: PipelineDeps,
  job: Job,
  signal: AbortSignal,
  work: (typing: Typing) => Promise<T>,
): Promise<T> {
  const { crisp, log } = deps;
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
      const stopping = timeoutSignal(5_000);
      await crisp.compose
        .stop(job.websiteId, job.sessionId, { stealth: !visible }, { signal: stopping.signal })
        .catch((error) => log.warn({ jobId: job.id, err: describeError(error) }, "could not stop typing"))
        .finally(stopping.done);
    }
  }
}
