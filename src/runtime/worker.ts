import { drizzle } from "drizzle-orm/d1";
import { type Clock, systemClock } from "../clock.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { pruneOldData } from "../privacy.ts";
import { buildServices, type Services } from "../services.ts";
import { schema } from "../store/schema.ts";
import type { Database, Job } from "../store/store.ts";
import { kbFiles, promptFiles } from "./worker-assets.ts";

/**
 * The Cloudflare Workers entry: `fetch` (web hooks, dashboard, health, metrics),
 * `scheduled` (the poll cycle, plus a sweep for jobs whose queue message was lost) and
 * `queue` (draft jobs, retried by the queue; dead-lettered messages of jobs with attempts
 * left are sent again). Same services and app
 * as the Node runtime; D1 instead of SQLite, a Queue instead of the in-process runner.
 */

/** The parts of the Workers runtime types quill uses (no global type package needed). */
export interface JobMessage {
  jobId: string;
}
interface QueueProducer {
  send(body: JobMessage, options?: { delaySeconds?: number }): Promise<void>;
  /** Up to 100 messages in one call. */
  sendBatch(messages: Iterable<{ body: JobMessage; delaySeconds?: number }>): Promise<void>;
}
interface QueueMessage {
  readonly id: string;
  readonly body: unknown;
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}
interface MessageBatch {
  readonly queue: string;
  readonly messages: readonly QueueMessage[];
}
export interface WorkerEnv {
  DB: unknown;
  JOBS: QueueProducer;
  [name: string]: unknown;
}

/** wrangler.toml's dead_letter_queue, consumed by this Worker too. */
const DEAD_LETTER_QUEUE = "quill-jobs-dead";
/** A job that ran out of time, or whose message failed, is offered again after this (the pipeline's first backoff). */
const TIMEOUT_RETRY_MS = 2_000;
/** Queues accept delays up to 12 hours. */
const MAX_DELAY_SECONDS = 43_200;

/** JSON lines on the console: what Workers Logs and `wrangler tail` collect. */
export function consoleLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  const order = ["debug", "info", "warn", "error"];
  const min = Math.max(0, order.indexOf(level));
  const emit = (lvl: string) => (obj: object, msg?: string) => {
    if (order.indexOf(lvl) < min) return;
    const line = JSON.stringify({ level: lvl, time: Date.now(), ...bindings, ...obj, msg }, (_k, v) =>
      v instanceof Error ? { name: v.name, message: v.message } : v,
    );
    (lvl === "error" ? console.error : lvl === "warn" ? console.warn : console.log)(line);
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (more) => consoleLogger(level, { ...bindings, ...more }),
  };
}

const delaySeconds = (runAfter: number, now: number) =>
  Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((runAfter - now) / 1000)));

interface Built {
  services: Services;
  config: Config;
  log: Logger;
}

/** Services are built once per isolate and reused across requests. */
let cached: { env: WorkerEnv; services: Promise<Built> } | undefined;

export function servicesFor(env: WorkerEnv, clock: Clock = systemClock): Promise<Built> {
  if (cached?.env === env) return cached.services;
  const vars = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
  const services = (async () => {
    const config = loadConfig(vars);
    if (config.demo) {
      throw new ConfigError([
        "CRISP_IDENTIFIER, CRISP_KEY, CRISP_WEBSITE_ID: the Worker serves a real Crisp website; set them (wrangler secret put)",
      ]);
    }
    const log = consoleLogger(config.logLevel);
    const db = drizzle(env.DB as never, { schema }) as unknown as Database;
    const services = await buildServices({
      config,
      db,
      clock,
      log,
      kbFiles,
      promptFiles,
      // Workers have no files to read: the rules come inline, in the RULES variable.
      rules: config.drafting.rulesInline ? { source: "RULES", text: config.drafting.rulesInline } : undefined,
      // Set by Cloudflare's edge, so a client cannot choose the address its failures count under.
      clientAddress: (c) => c.req.header("cf-connecting-ip"),
      onEnqueued: async (job) => {
        await env.JOBS.send({ jobId: job.id }, { delaySeconds: delaySeconds(job.runAfter, clock.now()) });
      },
      // A job typing brought forward needs a message that arrives sooner; one it deferred
      // keeps its message, which finds the job not yet due and waits again (consume).
      onRescheduled: async (job, earlier) => {
        if (earlier)
          await env.JOBS.send({ jobId: job.id }, { delaySeconds: delaySeconds(job.runAfter, clock.now()) });
      },
    });
    return { services, config, log };
  })();
  cached = { env, services };
  services.catch(() => {
    if (cached?.services === services) cached = undefined;
  });
  return services;
}

function configErrorResponse(error: unknown): Response {
  if (error instanceof ConfigError) {
    return new Response(JSON.stringify({ error: true, reason: error.message }), {
      status: 500,
      headers: { "content-type": "application/json" },
    });
  }
  throw error;
}

/** Runs the jobs named by a batch of queue messages; each message is acked or retried. */
export async function consume(
  batch: MessageBatch,
  env: WorkerEnv,
  clock: Clock = systemClock,
): Promise<void> {
  const { services, config, log } = await servicesFor(env, clock);
  const leaseMs = config.drafting.jobLeaseMs;
  const owner = `worker-${crypto.randomUUID().slice(0, 8)}`;
  const { store } = services;

  async function handle(message: QueueMessage, jobId: string): Promise<void> {
    const job = await store.getJob(jobId);
    if (!job || !["queued", "leased"].includes(job.status)) {
      message.ack(); // already done, skipped or dead: duplicate delivery
      return;
    }
    if (batch.queue === DEAD_LETTER_QUEUE) {
      // The queue gave up on the message, not the job: its own attempts decide (the
      // cron's sweep marks a crash-looping job dead).
      if (job.attempts < job.maxAttempts) {
        await env.JOBS.send({ jobId }, { delaySeconds: delaySeconds(nextChance(job, clock), clock.now()) });
      }
      message.ack();
      return;
    }
    if (job.status === "queued" && job.runAfter > clock.now() + 1_000) {
      message.retry({ delaySeconds: delaySeconds(job.runAfter, clock.now()) });
      return;
    }
    const leased = await store.leaseJob(job.id, owner, leaseMs);
    if (!leased) {
      // Another consumer holds a live lease; look again when it would have expired.
      const current = await store.getJob(job.id);
      if (current?.status === "leased")
        message.retry({ delaySeconds: delaySeconds(nextChance(current, clock), clock.now()) });
      else message.ack();
      return;
    }
    // Stops before the lease ends, so no other consumer takes the job over while it runs.
    const outcome = await services.pipeline.run(leased, owner, AbortSignal.timeout(leaseMs - 2_000));
    if (outcome.status !== "retry") {
      message.ack();
      return;
    }
    let after = await store.getJob(job.id);
    if (after?.status === "leased" && after.leaseOwner === owner) {
      // Out of time: the pipeline leaves the row to the runtime. The attempt counts (a job
      // that always times out ends dead) and the job is queued again.
      await store.retryJob(job.id, owner, outcome.error, clock.now() + TIMEOUT_RETRY_MS);
      after = await store.getJob(job.id);
    }
    if (after?.status === "queued")
      message.retry({ delaySeconds: delaySeconds(after.runAfter, clock.now()) });
    else message.ack();
  }

  await Promise.all(
    batch.messages.map(async (message) => {
      const body = message.body as Partial<JobMessage> | null;
      if (!body || typeof body.jobId !== "string") {
        message.ack(); // not ours: nothing to retry
        return;
      }
      try {
        await handle(message, body.jobId);
      } catch (error) {
        // D1 or the pipeline's bookkeeping failed: this message only, the others still settle.
        log.error({ jobId: body.jobId, err: error }, "queue message failed");
        message.retry({ delaySeconds: TIMEOUT_RETRY_MS / 1000 });
      }
    }),
  );
}

/** When a queued or leased job can next run: its run-after, or the end of its lease. */
const nextChance = (job: Job, clock: Clock) =>
  job.status === "leased" ? (job.leaseExpiresAt ?? clock.now()) : job.runAfter;

/**
 * The cron: one poll cycle, then re-send overdue jobs whose queue message went missing, then
 * a RETENTION_DAYS prune (bounded per run; what is left goes with the next cron).
 */
export async function scheduled(
  env: WorkerEnv,
  clock: Clock = systemClock,
): Promise<{ polled: number; resent: number; pruned: number }> {
  const { services, config, log } = await servicesFor(env, clock);
  const result = await services.poll();
  // Queued jobs only when well past due: fresh ones still have their own message in flight.
  const overdue = await services.store.overdueJobs({ queuedBefore: clock.now() - 60_000, limit: 100 });
  if (overdue.length > 0) await env.JOBS.sendBatch(overdue.map((job) => ({ body: { jobId: job.id } })));
  let pruned = 0;
  if (config.retentionDays !== undefined) {
    const counts = await pruneOldData(services.store, { days: config.retentionDays, now: clock.now(), log });
    pruned = counts.inboxEvents + counts.llmCalls + counts.drafts + counts.feedback + counts.jobs;
  }
  return { polled: result.enqueued, resent: overdue.length, pruned };
}

export default {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    try {
      const { services } = await servicesFor(env);
      return await services.app.fetch(request);
    } catch (error) {
      return configErrorResponse(error);
    }
  },
  async scheduled(_controller: unknown, env: WorkerEnv): Promise<void> {
    // Awaited, not waitUntil: a failing cycle shows as a failed cron run.
    const result = await scheduled(env);
    if (result.polled > 0 || result.resent > 0 || result.pruned > 0)
      (await servicesFor(env)).log.info(result, "cron cycle");
  },
  async queue(batch: MessageBatch, env: WorkerEnv): Promise<void> {
    await consume(batch, env);
  },
};
