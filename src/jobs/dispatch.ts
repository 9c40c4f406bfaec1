import type { z } from "zod";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Job, Store } from "../store/store.ts";
import { describeError, isRetryable } from "./errors.ts";
import { describePayloadError } from "./payload.ts";

/**
 * Runs one leased job: its payload is parsed once here against its kind's schema, the
 * kind's handler runs, and the end is recorded in the store.
 */

export type JobOutcome =
  | { status: "done"; outcome: string }
  | { status: "skipped" | "superseded"; outcome: string }
  | { status: "retry"; error: string }
  | { status: "failed"; error: string; outcome?: string };

export type JobKind = Job["kind"];

/** One job kind: the schema of its payload column and what runs it. */
export interface JobHandler<P> {
  payload: z.ZodType<P>;
  run(job: Job, payload: P, signal: AbortSignal): Promise<JobOutcome>;
}

/** Ties a handler's payload type to its schema. */
export const jobHandler = <P>(handler: JobHandler<P>): JobHandler<P> => handler;

export interface DispatchDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  // biome-ignore lint/suspicious/noExplicitAny: each kind has its own payload type
  handlers: Record<JobKind, JobHandler<any>>;
  /** Delay before retrying a job that failed on a transient error. */
  retryDelayMs?: ((attempt: number) => number) | undefined;
}

const defaultRetryDelay = (attempt: number) => Math.min(60_000, 2_000 * 2 ** (attempt - 1));

export function createDispatcher(deps: DispatchDeps) {
  const { store, clock, log, metrics } = deps;
  const retryDelay = deps.retryDelayMs ?? defaultRetryDelay;

  /** Runs a leased job and records its end in the store; never throws for expected failures. */
  async function run(job: Job, owner: string, signal: AbortSignal): Promise<JobOutcome> {
    const handler = deps.handlers[job.kind];
    const parsed = handler.payload.safeParse(job.instructions);
    if (!parsed.success) return deadLetter(job, owner, describePayloadError(parsed.error));
    let outcome: JobOutcome;
    try {
      outcome = await handler.run(job, parsed.data, signal);
    } catch (error) {
      // Shutting down: the lease is handed back by the runtime.
      if (signal.aborted) return { status: "retry", error: "aborted" };
      const reason = describeError(error);
      outcome = isRetryable(error) ? { status: "retry", error: reason } : { status: "failed", error: reason };
      log.warn({ jobId: job.id, sessionId: job.sessionId, err: reason }, "draft job failed");
    }
    await record(job, owner, outcome);
    return outcome;
  }

  /** A payload no attempt can read: dead now, with its reason, never retried. */
  async function deadLetter(job: Job, owner: string, problem: string): Promise<JobOutcome> {
    const error = `invalid ${job.kind} payload: ${problem}`;
    await store.finishJob(job.id, owner, "dead", { outcome: "invalid_payload", error });
    metrics.inc("quill_jobs_dead_total", {});
    log.error({ jobId: job.id, sessionId: job.sessionId, err: error }, "job payload invalid; dead letter");
    return { status: "failed", error, outcome: "invalid_payload" };
  }

  async function record(job: Job, owner: string, outcome: JobOutcome): Promise<void> {
    switch (outcome.status) {
      case "done":
        await store.finishJob(job.id, owner, "done", { outcome: outcome.outcome });
        return;
      case "skipped":
      case "superseded":
        await store.finishJob(job.id, owner, outcome.status, { outcome: outcome.outcome });
        metrics.inc("quill_jobs_skipped_total", { reason: outcome.status });
        return;
      case "failed":
        await store.finishJob(job.id, owner, "failed", { outcome: outcome.outcome, error: outcome.error });
        metrics.inc("quill_jobs_failed_total", {});
        return;
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
        return;
      }
    }
  }

  return { run };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
