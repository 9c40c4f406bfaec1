import { drizzle } from "drizzle-orm/d1";
import { type Clock, systemClock } from "../clock.ts";
import { ConfigError, loadConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { buildServices, type Services } from "../services.ts";
import { schema } from "../store/schema.ts";
import type { Database } from "../store/store.ts";
import { kbFiles, promptFiles } from "./worker-assets.ts";

/**
 * The Cloudflare Workers entry: `fetch` (web hooks, dashboard, health, metrics),
 * `scheduled` (the poll cycle, plus a sweep for jobs whose queue message was lost) and
 * `queue` (draft jobs, retried by the queue, then dead-lettered). Same services and app
 * as the Node runtime; D1 instead of SQLite, a Queue instead of the in-process runner.
 */

/** The parts of the Workers runtime types quill uses (no global type package needed). */
export interface JobMessage {
  jobId: string;
}
interface QueueProducer {
  send(body: JobMessage, options?: { delaySeconds?: number }): Promise<void>;
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
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

export interface WorkerEnv {
  DB: unknown;
  JOBS: QueueProducer;
  [name: string]: unknown;
}

const LEASE_MS = 5 * 60_000;
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

/** Services are built once per isolate and reused across requests. */
let cached: { env: WorkerEnv; services: Promise<Services> } | undefined;

export function servicesFor(env: WorkerEnv, clock: Clock = systemClock): Promise<Services> {
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
    return buildServices({
      config,
      db,
      clock,
      log,
      kbFiles,
      promptFiles,
      // Workers have no files to read: the rules come inline, in the RULES variable.
      rules: config.drafting.rulesInline ? { source: "RULES", text: config.drafting.rulesInline } : undefined,
      onEnqueued: async (job) => {
        await env.JOBS.send({ jobId: job.id }, { delaySeconds: delaySeconds(job.runAfter, clock.now()) });
      },
    });
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
  const services = await servicesFor(env, clock);
  const owner = `worker-${crypto.randomUUID().slice(0, 8)}`;
  await Promise.all(
    batch.messages.map(async (message) => {
      const body = message.body as Partial<JobMessage> | null;
      if (!body || typeof body.jobId !== "string") {
        message.ack(); // not ours: nothing to retry
        return;
      }
      const job = await services.store.getJob(body.jobId);
      if (!job || !["queued", "leased"].includes(job.status)) {
        message.ack(); // already done, skipped or dead: duplicate delivery
        return;
      }
      if (job.status === "queued" && job.runAfter > clock.now() + 1_000) {
        message.retry({ delaySeconds: delaySeconds(job.runAfter, clock.now()) });
        return;
      }
      const leased = await services.store.leaseJob(job.id, owner, LEASE_MS);
      if (!leased) {
        // Another consumer holds a live lease; look again when it would have expired.
        message.retry({
          delaySeconds: delaySeconds(job.leaseExpiresAt ?? clock.now() + LEASE_MS, clock.now()),
        });
        return;
      }
      const outcome = await services.pipeline.run(leased, owner, AbortSignal.timeout(LEASE_MS - 10_000));
      if (outcome.status === "retry") {
        const after = await services.store.getJob(job.id);
        if (after?.status === "queued") {
          message.retry({ delaySeconds: delaySeconds(after.runAfter, clock.now()) });
          return;
        }
      }
      message.ack();
    }),
  );
}

/** The cron: one poll cycle, then re-send due jobs whose queue message went missing. */
export async function scheduled(
  env: WorkerEnv,
  clock: Clock = systemClock,
): Promise<{ polled: number; resent: number }> {
  const services = await servicesFor(env, clock);
  const result = await services.poll();
  const due = await services.store.listJobs({ status: "queued", limit: 100 });
  let resent = 0;
  for (const job of due) {
    // Only jobs well past due: fresh ones still have their own message in flight.
    if (job.runAfter < clock.now() - 60_000) {
      await env.JOBS.send({ jobId: job.id });
      resent++;
    }
  }
  return { polled: result.enqueued, resent };
}

export default {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    try {
      const services = await servicesFor(env);
      return await services.app.fetch(request);
    } catch (error) {
      return configErrorResponse(error);
    }
  },
  async scheduled(_controller: unknown, env: WorkerEnv, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(scheduled(env));
  },
  async queue(batch: MessageBatch, env: WorkerEnv): Promise<void> {
    await consume(batch, env);
  },
};
