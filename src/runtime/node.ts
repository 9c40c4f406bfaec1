import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import { timeoutSignal } from "../abort.ts";
import { type Clock, systemClock } from "../clock.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { useNativeCrypto } from "../crypto.ts";
import { compilePromisePatterns } from "../drafting/claims.ts";
import { createJobRunner } from "../jobs/runner.ts";
import type { DraftEngine } from "../llm/types.ts";
import type { Logger } from "../log.ts";
import { pruneOldData } from "../privacy.ts";
import { createSandbox, DEMO_CREDENTIALS, type Sandbox } from "../sandbox/app.ts";
import { buildServices, type Services } from "../services.ts";
import { configuredFiles } from "./files.ts";
import { createHttpFetch } from "./http-fetch.ts";
import { createLogger } from "./logger.ts";
import { nodeCrypto } from "./node-crypto.ts";
import { createOutboundFetch, resolveHost } from "./outbound-node.ts";
import { openSqlite } from "./sqlite.ts";

/**
 * The Node entry: one process serving web hooks, the poller, the job runner and (in demo
 * mode) the Crisp sandbox at /sandbox, on @hono/node-server with better-sqlite3.
 */

export interface QuillHandle {
  url: string;
  port: number;
  services: Services;
  sandbox: Sandbox | undefined;
  config: Config;
  /** Graceful stop: no new work, running drafts get `graceMs` to finish, leases handed back. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  port?: number;
  host?: string;
  clock?: Clock;
  log?: Logger;
  /** Scripted LLM for tests and benchmarks. */
  llm?: DraftEngine;
  canaries?: string[];
  /** Extra sandbox options in demo mode (fault knobs, page size). */
  sandbox?: Parameters<typeof createSandbox>[0];
  /** Run the poller loop (default: when POLL_INTERVAL_SECONDS > 0). */
  poll?: boolean;
  /** Run the RETENTION_DAYS prune at start and hourly (default true). */
  retention?: boolean;
  /** Run the job runner (default true); benchmarks of intake alone turn it off. */
  runJobs?: boolean;
}

/**
 * Wakes the job runner when a job falls due. One timer per 20 ms slot however many jobs fall
 * due in it: at thousands of web hooks a second, a timer per job was a measurable part of intake.
 */
function createWakeTimers(clock: Clock) {
  const timers = new Map<number, NodeJS.Timeout>();
  const wake = {
    /** The runner's wake, once it runs (with runJobs off, nothing). */
    runner: () => {},
    at(runAfter: number) {
      const now = clock.now();
      if (runAfter <= now) return wake.runner();
      const slot = Math.ceil((runAfter + 5) / 20) * 20;
      if (timers.has(slot)) return;
      const timer = setTimeout(() => {
        timers.delete(slot);
        wake.runner();
      }, slot - now);
      timers.set(slot, timer);
    },
    clear() {
      for (const timer of timers.values()) clearTimeout(timer);
    },
  };
  return wake;
}

export async function startQuill(options: StartOptions = {}): Promise<QuillHandle> {
  useNativeCrypto(nodeCrypto);
  const config = loadConfig(options.env ?? process.env);
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger(config.logLevel);
  let database: ReturnType<typeof openSqlite>;
  try {
    database = openSqlite(config.databasePath, { groupCommit: true, backgroundCheckpoint: true });
    database.migrate();
  } catch (error) {
    throw new ConfigError([
      `DATABASE_PATH: cannot open ${config.databasePath} (${(error as Error).message})`,
    ]);
  }

  const wake = createWakeTimers(clock);

  // The port must be known before the sandbox can point its web hooks at us.
  // `env` carries node-server's socket (getConnInfo: the client address login throttling counts).
  let handle: (req: Request, env: unknown) => Response | Promise<Response> = () =>
    new Response(JSON.stringify({ error: true, reason: "starting" }), { status: 503 });
  const server = serve({
    fetch: (req, env) => handle(req, env),
    port: options.port ?? config.port,
    hostname: options.host ?? config.host,
    // A client trickling headers or a body is cut off after the request timeout, checked every
    // second (Node's default check runs every 30 s), so slow senders cannot hold sockets for minutes.
    serverOptions: {
      headersTimeout: config.http.requestTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, config.http.requestTimeoutMs),
    },
  });
  // Beyond this many open sockets new connections are refused, not queued behind slow ones.
  (server as HttpServer).maxConnections = config.http.maxConnections;
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once("listening", () => resolveListen());
      server.once("error", reject);
    });
  } catch (error) {
    database.close();
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${options.host ?? config.host}:${options.port ?? config.port}`;
    throw new ConfigError([
      code === "EADDRINUSE"
        ? `PORT: ${where} is already in use (another quill?); set PORT or --port`
        : `PORT: cannot listen on ${where} (${(error as Error).message})`,
    ]);
  }
  // Whatever fails from here on must not leave a server answering "starting" forever.
  try {
    return await afterListen({
      config,
      options,
      clock,
      log,
      database,
      server: server as HttpServer,
      wake,
      serve: (fetch) => {
        handle = fetch;
      },
    });
  } catch (error) {
    await new Promise<void>((done) => server.close(() => done()));
    database.close();
    throw error;
  }
}

/** What afterListen starts from: the parsed config, the open database, the listening server. */
interface ListeningContext {
  config: Config;
  options: StartOptions;
  clock: Clock;
  log: Logger;
  database: ReturnType<typeof openSqlite>;
  server: HttpServer;
  wake: ReturnType<typeof createWakeTimers>;
  /** Replaces the server's "starting" answer with the app. */
  serve: (fetch: (req: Request, env: unknown) => Response | Promise<Response>) => void;
}

/** Demo mode: the local Crisp sandbox quill talks to, with its seeded hooks held until quill is ready. */
function demoSandbox(ctx: ListeningContext, localUrl: string) {
  const { config, options, clock, log } = ctx;
  if (!config.demo) return { sandbox: undefined, crispOverride: undefined };
  const sandbox: Sandbox = createSandbox({
    basePath: "/sandbox",
    webhookUrls: [`${localUrl}/webhooks/crisp`],
    seed: true,
    log,
    clock,
    tier: config.crisp.tier,
    ...options.sandbox,
  });
  // Its seeded hooks wait until quill is ready (and never go out if the start fails).
  sandbox.pauseWebhooks();
  const crispOverride: Parameters<typeof buildServices>[0]["crisp"] = {
    apiUrl: `${localUrl}/sandbox/v1`,
    identifier: DEMO_CREDENTIALS.identifier,
    key: DEMO_CREDENTIALS.key,
    websiteId: sandbox.website.website_id,
    webhookSecret: options.sandbox?.webhookSecret ?? DEMO_CREDENTIALS.webhookSecret,
  };
  return { sandbox, crispOverride };
}

/** POLL_INTERVAL_SECONDS: a poll cycle, then a sleep, until `signal` aborts; undefined when off. */
function startPollLoop(ctx: ListeningContext, services: Services, signal: AbortSignal) {
  const { config, options, clock, log } = ctx;
  const pollEvery = config.drafting.pollIntervalSeconds * 1000;
  if (!((options.poll ?? pollEvery > 0) && pollEvery > 0)) return undefined;
  return (async () => {
    while (!signal.aborted) {
      try {
        const result = await services.poll(signal);
        if (result.enqueued > 0) log.info(result, "poll cycle enqueued drafts");
        // Each failed website was logged with its error and backoff by services.poll.
      } catch (error) {
        if (!signal.aborted) log.warn({ err: String(error) }, "poll cycle failed");
      }
      await clock.sleep(pollEvery, signal).catch(() => undefined);
    }
  })();
}

/** RETENTION_DAYS: at start, then hourly; a run that hit its batch cap goes on a minute later. */
function startRetentionLoop(ctx: ListeningContext, services: Services, signal: AbortSignal) {
  const { config, options, clock, log } = ctx;
  const retentionDays = config.retentionDays;
  if (!((options.retention ?? true) && retentionDays !== undefined)) return undefined;
  return (async () => {
    while (!signal.aborted) {
      let done = true;
      try {
        ({ done } = await pruneOldData(services.store, { days: retentionDays, now: clock.now(), log }));
      } catch (error) {
        if (!signal.aborted) log.warn({ err: String(error) }, "retention run failed");
      }
      await clock.sleep(done ? 3_600_000 : 60_000, signal).catch(() => undefined);
    }
  })();
}

/** Services, runner and loops, once the port is known (the sandbox's hooks point at it). */
async function afterListen(ctx: ListeningContext): Promise<QuillHandle> {
  const { config, options, wake } = ctx;
  const owner = `node-${randomUUID().slice(0, 8)}`;
  const port = (ctx.server.address() as AddressInfo).port;
  const localUrl = `http://127.0.0.1:${port}`;
  const publicUrl = config.publicUrl ?? localUrl;

  const { sandbox, crispOverride } = demoSandbox(ctx, localUrl);
  const services = await nodeServices(ctx, sandbox, crispOverride);
  ctx.serve((req, env) => services.app.fetch(req, env));
  sandbox?.resumeWebhooks();

  const runner = createNodeRunner(ctx, services, owner);
  if (options.runJobs ?? true) {
    wake.runner = () => runner.wake();
    compilePromisePatterns();
    runner.start();
  }

  const pollController = new AbortController();
  const loops = [
    startPollLoop(ctx, services, pollController.signal),
    startRetentionLoop(ctx, services, pollController.signal),
  ];
  let stopping: Promise<void> | undefined;
  return {
    url: localUrl,
    port,
    services,
    sandbox,
    config: { ...config, publicUrl: publicUrl },
    stop(graceMs = 10_000) {
      stopping ??= stopNode(ctx, { services, sandbox, runner, owner, pollController, loops }, graceMs);
      return stopping;
    },
  };
}

/** The services of this process: SQLite, node:http for Crisp, the outbound guard, the sandbox mounted in demo mode. */
function nodeServices(
  ctx: ListeningContext,
  sandbox: Sandbox | undefined,
  crispOverride: Parameters<typeof buildServices>[0]["crisp"] | undefined,
): Promise<Services> {
  const { config, options, clock, log, database, wake } = ctx;
  return buildServices({
    config,
    db: database.db,
    durable: database.durable,
    clock,
    log,
    ...configuredFiles(config),
    clientAddress: socketAddress,
    ...(crispOverride ? { crisp: crispOverride } : {}),
    ...(options.llm ? { llm: options.llm } : {}),
    crispFetch: createHttpFetch(),
    outboundFetch: createOutboundFetch(config.outbound.allowPrivate),
    resolveHost,
    ...(options.canaries ? { canaries: options.canaries } : {}),
    ...(sandbox ? { mounts: [{ path: "/sandbox", app: sandbox.app }] } : {}),
    onEnqueued: (job) => wake.at(job.runAfter),
    // Typing moved a job either way: the runner looks at its new time, not a second later.
    onRescheduled: (job) => wake.at(job.runAfter),
  });
}

/** The in-process job runner: leases under this process's owner, each job bounded by its lease. */
function createNodeRunner(ctx: ListeningContext, services: Services, owner: string) {
  const { config, clock, log } = ctx;
  return createJobRunner({
    lease: (limit) => services.store.leaseJobs({ owner, leaseMs: config.drafting.jobLeaseMs, limit }),
    run: async (job, signal) => {
      // Each running job listens to the runner's one stop signal: JOB_CONCURRENCY listeners, not a leak.
      setMaxListeners(config.drafting.jobConcurrency + 1, signal);
      const bound = timeoutSignal(leaseBudgetMs(config), signal);
      try {
        await services.pipeline.run(job, owner, bound.signal);
      } finally {
        bound.done();
      }
    },
    concurrency: config.drafting.jobConcurrency,
    idleMs: 1_000,
    clock,
    log,
  });
}

/** What a graceful stop winds down, started by afterListen. */
interface Running {
  services: Services;
  sandbox: Sandbox | undefined;
  runner: ReturnType<typeof createNodeRunner>;
  owner: string;
  pollController: AbortController;
  loops: (Promise<void> | undefined)[];
}

/** Graceful stop: loops and timers first, then the jobs, then the server, leases handed back last. */
async function stopNode(ctx: ListeningContext, running: Running, graceMs: number): Promise<void> {
  const { services, sandbox, runner, owner, pollController, loops } = running;
  pollController.abort();
  ctx.wake.clear();
  // Jobs drain first while the server still listens: web hooks that arrive meanwhile
  // are stored for the next start, and in demo mode the jobs' Crisp is this server.
  await runner.stop(graceMs);
  for (const loop of loops) await loop;
  await sandbox?.flushWebhooks().catch(() => undefined);
  await new Promise<void>((done) => ctx.server.close(() => done()));
  await services.store.releaseJobs(owner);
  ctx.database.close();
}

/**
 * The TCP peer: what login throttling counts under. Headers such as X-Forwarded-For are not
 * read, since any client can write them; behind a proxy every client shares its address.
 */
function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined; // app.request() in tests: no socket
  }
}

/** How long a job may run: it stops before its lease expires, so no other worker takes it over while it runs. */
const leaseBudgetMs = (config: Config) => config.drafting.jobLeaseMs - 2_000;

/** A job stops before its lease expires, so no other worker can take it over while it still runs. */
export function withinLease(signal: AbortSignal, config: Config): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(leaseBudgetMs(config))]);
}
