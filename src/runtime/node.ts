import { createHash, createHmac, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative, resolve } from "node:path";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import pino from "pino";
import { type Clock, systemClock } from "../clock.ts";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { useNativeHmac } from "../crisp/webhook.ts";
import { isVisibleToCustomer } from "../drafting/eligibility.ts";
import { useNativeSha256 } from "../drafting/pipeline.ts";
import { createJobRunner } from "../drafting/runner.ts";
import type { DraftEngine } from "../llm/types.ts";
import type { Logger } from "../log.ts";
import { pruneOldData } from "../privacy.ts";
import { createSandbox, DEMO_CREDENTIALS, type Sandbox } from "../sandbox/app.ts";
import { buildServices, type Services } from "../services.ts";
import { createHttpFetch } from "./http-fetch.ts";
import { createOutboundFetch, resolveHost } from "./outbound-node.ts";
import { openSqlite } from "./sqlite.ts";

/**
 * The Node entry: one process serving web hooks, the poller, the job runner and (in demo
 * mode) the Crisp sandbox at /sandbox, on @hono/node-server with better-sqlite3.
 */

/** JSON lines on stdout (or `destination`), with secret-looking fields censored. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    redact: {
      paths: ["*.key", "*.apiKey", "*.secret", "*.authorization", "headers.authorization"],
      censor: "[redacted]",
    },
  };
  return (destination ? pino(options, destination) : pino(options)) as unknown as Logger;
}

/** The markdown files of a folder (knowledge base, prompts). */
export function readMarkdown(dir: string) {
  const files = readdirSync(dir).filter((f) => f.endsWith(".md"));
  return files.map((name) => ({ name, content: readFileSync(join(dir, name), "utf8") }));
}

/** Changes when a markdown file of the folder is added, removed or edited: stats only, no reads. */
export function markdownStamp(dir: string) {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".md"))
    .map((name) => {
      const stat = statSync(join(dir, name));
      return `${name}:${stat.mtimeMs}:${stat.size}`;
    })
    .join("|");
}

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

useNativeHmac((secret, message) => createHmac("sha256", secret).update(message).digest("hex"));
useNativeSha256((text) => createHash("sha256").update(text).digest());

export async function startQuill(options: StartOptions = {}): Promise<QuillHandle> {
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

  const owner = `node-${randomUUID().slice(0, 8)}`;
  let runnerWake: () => void = () => {};
  // One timer per 20 ms slot however many jobs fall due in it: at thousands of web hooks
  // a second, a timer per job (each for the quiet period) was a measurable part of intake.
  const timers = new Map<number, NodeJS.Timeout>();
  const wakeAt = (runAfter: number) => {
    const now = clock.now();
    if (runAfter <= now) return runnerWake();
    const slot = Math.ceil((runAfter + 5) / 20) * 20;
    if (timers.has(slot)) return;
    const timer = setTimeout(() => {
      timers.delete(slot);
      runnerWake();
    }, slot - now);
    timers.set(slot, timer);
  };

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
    return await afterListen();
  } catch (error) {
    await new Promise<void>((done) => server.close(() => done()));
    database.close();
    throw error;
  }
  async function afterListen(): Promise<QuillHandle> {
    const port = (server.address() as AddressInfo).port;
    const localUrl = `http://127.0.0.1:${port}`;
    const publicUrl = config.publicUrl ?? localUrl;

    let sandbox: Sandbox | undefined;
    let crispOverride: Parameters<typeof buildServices>[0]["crisp"];
    if (config.demo) {
      sandbox = createSandbox({
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
      crispOverride = {
        apiUrl: `${localUrl}/sandbox/v1`,
        identifier: DEMO_CREDENTIALS.identifier,
        key: DEMO_CREDENTIALS.key,
        websiteId: sandbox.website.website_id,
        webhookSecret: options.sandbox?.webhookSecret ?? DEMO_CREDENTIALS.webhookSecret,
      };
    }

    const services = await buildServices({
      config,
      db: database.db,
      durable: database.durable,
      clock,
      log,
      kbFiles: readFolder("KB_DIR", config.drafting.kbDir),
      promptFiles: readFolder("PROMPTS_DIR", config.drafting.promptsDir),
      loadKb: (dir) => readMarkdown(resolve(dir)),
      kbStamp: (dir) => markdownStamp(resolve(dir)),
      rules: readRules(config),
      clientAddress: socketAddress,
      ...(crispOverride ? { crisp: crispOverride } : {}),
      ...(options.llm ? { llm: options.llm } : {}),
      crispFetch: createHttpFetch(),
      outboundFetch: createOutboundFetch(config.outbound.allowPrivate),
      resolveHost,
      ...(options.canaries ? { canaries: options.canaries } : {}),
      ...(sandbox ? { mounts: [{ path: "/sandbox", app: sandbox.app }] } : {}),
      onEnqueued: (job) => wakeAt(job.runAfter),
      // Typing moved a job either way: the runner looks at its new time, not a second later.
      onRescheduled: (job) => wakeAt(job.runAfter),
    });
    handle = (req, env) => services.app.fetch(req, env);
    sandbox?.resumeWebhooks();

    const runner = createJobRunner({
      lease: (limit) => services.store.leaseJobs({ owner, leaseMs: config.drafting.jobLeaseMs, limit }),
      run: async (job, signal) => {
        await services.pipeline.run(job, owner, withinLease(signal, config));
      },
      concurrency: config.drafting.jobConcurrency,
      idleMs: 1_000,
      clock,
      log,
    });
    if (options.runJobs ?? true) {
      runnerWake = () => runner.wake();
      runner.start();
    }

    const pollController = new AbortController();
    let pollLoop: Promise<void> | undefined;
    const pollEvery = config.drafting.pollIntervalSeconds * 1000;
    if ((options.poll ?? pollEvery > 0) && pollEvery > 0) {
      pollLoop = (async () => {
        while (!pollController.signal.aborted) {
          try {
            const result = await services.poll(pollController.signal);
            if (result.enqueued > 0) log.info(result, "poll cycle enqueued drafts");
            // Each failed website was logged with its error and backoff by services.poll.
          } catch (error) {
            if (!pollController.signal.aborted) log.warn({ err: String(error) }, "poll cycle failed");
          }
          await clock.sleep(pollEvery, pollController.signal).catch(() => undefined);
        }
      })();
    }

    // RETENTION_DAYS: at start, then hourly; a run that hit its batch cap goes on a minute later.
    let retentionLoop: Promise<void> | undefined;
    const retentionDays = config.retentionDays;
    if ((options.retention ?? true) && retentionDays !== undefined) {
      retentionLoop = (async () => {
        while (!pollController.signal.aborted) {
          let done = true;
          try {
            ({ done } = await pruneOldData(services.store, { days: retentionDays, now: clock.now(), log }));
          } catch (error) {
            if (!pollController.signal.aborted) log.warn({ err: String(error) }, "retention run failed");
          }
          await clock.sleep(done ? 3_600_000 : 60_000, pollController.signal).catch(() => undefined);
        }
      })();
    }

    let stopping: Promise<void> | undefined;
    return {
      url: localUrl,
      port,
      services,
      sandbox,
      config: { ...config, publicUrl: publicUrl },
      stop(graceMs = 10_000) {
        stopping ??= (async () => {
          pollController.abort();
          for (const timer of timers.values()) clearTimeout(timer);
          // Jobs drain first while the server still listens: web hooks that arrive meanwhile
          // are stored for the next start, and in demo mode the jobs' Crisp is this server.
          await runner.stop(graceMs);
          await pollLoop;
          await retentionLoop;
          await sandbox?.flushWebhooks().catch(() => undefined);
          await new Promise<void>((done) => server.close(() => done()));
          await services.store.releaseJobs(owner);
          database.close();
        })();
        return stopping;
      },
    };
  }
}

/** The triage rules: RULES_FILE read from disk, or RULES inline. */
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

/** A folder of markdown files the configuration names: a missing one is a config error, not a crash. */
function readFolder(variable: string, dir: string) {
  try {
    return readMarkdown(resolve(dir));
  } catch (error) {
    throw new ConfigError([
      `${variable}: cannot read the folder ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    ]);
  }
}

export function readRules(config: Config): { source: string; text: string } | undefined {
  const { rulesFile, rulesInline } = config.drafting;
  if (rulesInline) return { source: "RULES", text: rulesInline };
  if (!rulesFile) return undefined;
  try {
    return { source: rulesFile, text: readFileSync(resolve(rulesFile), "utf8") };
  } catch (error) {
    throw new ConfigError([`RULES_FILE: cannot read ${rulesFile} (${(error as Error).message})`]);
  }
}

/** A job stops before its lease expires, so no other worker can take it over while it still runs. */
function withinLease(signal: AbortSignal, config: Config): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(config.drafting.jobLeaseMs - 2_000)]);
}

function banner(handle: QuillHandle) {
  const lines = [
    `quill listening on ${handle.url}`,
    `  web hooks  POST ${handle.url}/webhooks/crisp`,
    `  health     ${handle.url}/healthz · metrics ${handle.url}/metrics`,
  ];
  if (handle.sandbox) {
    lines.push(
      "",
      "Demo mode (no Crisp credentials): a local Crisp sandbox runs inside this server.",
      `  inbox      ${handle.url}/sandbox/  ← write as a visitor, watch the draft note appear`,
      `  REST       ${handle.url}/sandbox/v1`,
      `  drafter    ${handle.config.llm.provider}${handle.config.llm.provider === "offline" ? " (knowledge base in kb/, no AI model)" : ""}`,
    );
  }
  return lines.join("\n");
}

function onSignals(stop: () => Promise<void>) {
  let count = 0;
  const handler = () => {
    count++;
    if (count > 1) process.exit(1);
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
}

function reportConfigError(error: unknown): number {
  if (error instanceof ConfigError) {
    console.error(error.message);
    return 78; // EX_CONFIG, as every command
  }
  throw error;
}

export async function startNode(opts: { port?: string | undefined }): Promise<number> {
  try {
    const port = opts.port === undefined ? undefined : Number(opts.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      console.error(`--port: expected an integer 0-65535, got "${opts.port}"`);
      return 2;
    }
    const handle = await startQuill(port === undefined ? {} : { port });
    console.log(banner(handle));
    onSignals(() => handle.stop());
    await new Promise(() => {});
    return 0;
  } catch (error) {
    return reportConfigError(error);
  }
}

export async function runSandboxCommand(opts: {
  port?: string | undefined;
  webhookUrls: string[];
}): Promise<number> {
  const env = process.env;
  const port = Number(opts.port ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port: expected an integer 0-65535, got "${opts.port}"`);
    return 2;
  }
  const useEnv = Boolean(env.CRISP_IDENTIFIER && env.CRISP_KEY);
  const sandbox = createSandbox({
    ...(useEnv ? { identifier: env.CRISP_IDENTIFIER as string, key: env.CRISP_KEY as string } : {}),
    ...(env.CRISP_WEBSITE_ID ? { websiteId: env.CRISP_WEBSITE_ID } : {}),
    ...(env.CRISP_WEBHOOK_SECRET ? { webhookSecret: env.CRISP_WEBHOOK_SECRET } : {}),
    tier: (env.CRISP_TIER as "plugin" | "website" | "user" | undefined) ?? "plugin",
    webhookUrls: opts.webhookUrls,
    seed: true,
    log: createLogger(env.LOG_LEVEL ?? "info"),
  });
  const server = serve({ fetch: sandbox.app.fetch, port, hostname: env.HOST ?? "127.0.0.1" });
  await new Promise<void>((done) => server.once("listening", () => done()));
  const actual = (server.address() as AddressInfo).port;
  const c = sandbox.credentials;
  console.log(
    [
      `Crisp sandbox on http://127.0.0.1:${actual}  (inbox page at /, REST at /v1)`,
      `  CRISP_API_URL=http://127.0.0.1:${actual}/v1`,
      `  CRISP_IDENTIFIER=${c.identifier}`,
      `  CRISP_KEY=${useEnv ? "(from your environment)" : c.key}`,
      `  CRISP_WEBSITE_ID=${c.websiteId}`,
      `  CRISP_TIER=${c.tier}`,
      `  CRISP_WEBHOOK_SECRET=${env.CRISP_WEBHOOK_SECRET ? "(from your environment)" : DEMO_CREDENTIALS.webhookSecret}`,
      opts.webhookUrls.length
        ? `  web hooks → ${opts.webhookUrls.join(", ")}`
        : "  web hooks: none (add --webhook-url)",
    ].join("\n"),
  );
  onSignals(async () => {
    await sandbox.flushWebhooks();
    await new Promise<void>((done) => server.close(() => done()));
  });
  await new Promise(() => {});
  return 0;
}

/** Builds services without a server, for one-shot commands. */
async function withServices<T>(fn: (services: Services, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  if (config.demo) {
    throw new ConfigError([
      "CRISP_IDENTIFIER, CRISP_KEY, CRISP_WEBSITE_ID: this command talks to a real Crisp website (or `quill sandbox`); set them first",
    ]);
  }
  const log = createLogger(config.logLevel);
  const database = openSqlite(config.databasePath);
  database.migrate();
  try {
    const services = await buildServices({
      config,
      db: database.db,
      clock: systemClock,
      log,
      kbFiles: readMarkdown(resolve(config.drafting.kbDir)),
      promptFiles: readMarkdown(resolve(config.drafting.promptsDir)),
      loadKb: (dir) => readMarkdown(resolve(dir)),
      kbStamp: (dir) => markdownStamp(resolve(dir)),
      rules: readRules(config),
      outboundFetch: createOutboundFetch(config.outbound.allowPrivate),
      resolveHost,
    });
    return await fn(services, config);
  } finally {
    database.close();
  }
}

export async function pollOnceCommand(): Promise<number> {
  try {
    return await withServices(async (services, config) => {
      const result = await services.poll();
      const owner = `cli-${randomUUID().slice(0, 8)}`;
      let drafted = 0;
      for (;;) {
        const leaseMs = config.drafting.jobLeaseMs;
        const jobs = await services.store.leaseJobs({ owner, leaseMs, limit: 4 });
        if (jobs.length === 0) break;
        const signal = withinLease(new AbortController().signal, config);
        await Promise.all(jobs.map((job) => services.pipeline.run(job, owner, signal)));
        drafted += jobs.length;
      }
      console.log(
        `poll: ${result.listCalls} list call(s), ${result.changed} changed conversation(s), ${result.enqueued} new job(s), ${drafted} job(s) run`,
      );
      // The other websites were polled; a failed one still makes the command fail, for scripts.
      if (result.failed.length > 0) {
        console.error(`poll failed for website(s) ${result.failed.join(", ")} (see the log)`);
        return 1;
      }
      return 0;
    });
  } catch (error) {
    return reportConfigError(error);
  }
}

export async function draftCommand(opts: {
  sessionId: string;
  post: boolean;
  websiteId?: string | undefined;
}): Promise<number> {
  try {
    return await withServices(async (services, config) => {
      const websiteId = opts.websiteId ?? services.websiteId;
      const { messages } = await services.crisp.messages.listLast(websiteId, opts.sessionId, 20);
      const last = messages.filter((m) => m.from === "user" && isVisibleToCustomer(m)).at(-1);
      if (!last) {
        console.error(`quill draft: no customer message in ${opts.sessionId}`);
        return 1;
      }
      // A dry run writes no job: a job left queued would be posted by a running `quill start`.
      if (!opts.post) {
        const conversation = await services.crisp.conversations.get(websiteId, opts.sessionId);
        const draft = await services.pipeline.preview(
          websiteId,
          opts.sessionId,
          conversation,
          messages,
          AbortSignal.timeout(config.llm.deadlineMs),
        );
        console.log(`${draft.text}\n\nnot posted (dry run; --post to post it) · ${summary(draft)}`);
        return 0;
      }
      const { job } = await services.intake.enqueueForMessage({
        websiteId,
        sessionId: opts.sessionId,
        fingerprint: last.fingerprint,
        messageAt: last.timestamp,
        trigger: "cli",
        delayMs: 0,
      });
      const owner = `cli-${randomUUID().slice(0, 8)}`;
      const leased = await services.store.leaseJob(job.id, owner, config.drafting.jobLeaseMs);
      if (!leased) {
        const existing = await services.store.draftForJob(job.id);
        console.log(
          existing ? `already drafted (${existing.status}):\n\n${existing.text}` : `job is ${job.status}`,
        );
        return 0;
      }
      const outcome = await services.pipeline.run(
        leased,
        owner,
        withinLease(new AbortController().signal, config),
      );
      const draft = await services.store.draftForJob(job.id);
      if (outcome.status === "done" && draft?.text) {
        const as = draft.mode === "reply" ? "reply to the customer" : "private note";
        console.log(`${draft.text}\n\nposted as a ${as} · ${summary(draft)}`);
        return 0;
      }
      const why = "error" in outcome ? outcome.error : outcome.outcome;
      console.log(`not posted as a draft (${outcome.status}): ${why}`);
      return outcome.status === "done" ? 0 : 1;
    });
  } catch (error) {
    return reportConfigError(error);
  }
}

const summary = (d: {
  intent: string | null;
  confidence: number | null;
  provider: string | null;
  model: string | null;
  needsHuman: boolean | null;
  needsHumanReason?: string | null | undefined;
}) =>
  `intent ${d.intent} · confidence ${d.confidence} · ${d.provider} ${d.model}${d.needsHuman ? ` · needs a human: ${d.needsHumanReason ?? ""}` : ""}`;

export async function migrateCommand(): Promise<number> {
  try {
    const config = loadConfig(process.env);
    const database = openSqlite(config.databasePath);
    database.migrate();
    database.close();
    console.log(`migrations applied to ${config.databasePath}`);
    return 0;
  } catch (error) {
    return reportConfigError(error);
  }
}

const positiveInt = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ConfigError([`${name}: expected a positive integer, got "${raw}"`]);
  return n;
};

export async function evalCommand(opts: {
  datasets: string[];
  baseline?: string | undefined;
  failUnder: string[];
  tolerance?: string | undefined;
  fromDb: boolean;
  limit?: string | undefined;
  prompts: string[];
  providers: string[];
  concurrency?: string | undefined;
  out?: string | undefined;
  judge?: string | undefined;
  timeoutMs?: string | undefined;
}): Promise<number> {
  const { DatasetError, casesFromDrafts, parseDataset } = await import("../eval/dataset.ts");
  const { formatTable, gate, parseThreshold, progressBar, resultKey, resumable, runEval, summarise, toCsv } =
    await import("../eval/run.ts");
  const { createJudge } = await import("../eval/judge.ts");
  const { parsePrompt } = await import("../drafting/prompt.ts");
  const { createKnowledgeBase } = await import("../knowledge/kb.ts");
  const { buildProviders, buildRetriever } = await import("../services.ts");
  const { llmProviders } = await import("../config.ts");
  const { appendFileSync, existsSync, mkdirSync, writeFileSync } = await import("node:fs");
  try {
    const config = loadConfig(process.env);
    if (opts.datasets.length > 0 === opts.fromDb) {
      console.error("quill eval: give exactly one of --dataset FILE or --from-db");
      return 2;
    }
    const concurrency = positiveInt("--concurrency", opts.concurrency, 4);
    const timeoutMs = positiveInt("--timeout-ms", opts.timeoutMs, config.llm.deadlineMs);
    const kb = createKnowledgeBase(readMarkdown(resolve(config.drafting.kbDir)));

    let thresholds: ReturnType<typeof parseThreshold>[];
    try {
      thresholds = opts.failUnder.map(parseThreshold);
    } catch (error) {
      console.error(`quill eval: ${(error as Error).message}`);
      return 2;
    }
    const tolerance = opts.tolerance === undefined ? 0.02 : Number(opts.tolerance);
    if (!(tolerance >= 0))
      throw new ConfigError([`--tolerance: expected a number >= 0, got "${opts.tolerance}"`]);
    let baseline: ReturnType<typeof summarise> | undefined;
    if (opts.baseline) {
      let parsed: { summary?: unknown } | undefined;
      try {
        parsed = JSON.parse(readFileSync(resolve(opts.baseline), "utf8"));
      } catch (error) {
        throw new ConfigError([`--baseline: cannot read ${opts.baseline} (${(error as Error).message})`]);
      }
      if (!Array.isArray(parsed?.summary))
        throw new ConfigError([
          `--baseline: ${opts.baseline} has no "summary" (use a summary.json of quill eval)`,
        ]);
      baseline = parsed.summary as ReturnType<typeof summarise>;
    }

    let cases: Awaited<ReturnType<typeof parseDataset>>;
    if (opts.datasets.length) {
      cases = opts.datasets.flatMap((file) => {
        if (!existsSync(resolve(file))) throw new DatasetError(`${file}: no such file`);
        return parseDataset(file, readFileSync(resolve(file), "utf8"));
      });
    } else {
      const database = openSqlite(config.databasePath);
      database.migrate();
      const { createStore } = await import("../store/store.ts");
      cases = casesFromDrafts(
        await createStore(database.db).evalCandidates(positiveInt("--limit", opts.limit, 200)),
      );
      database.close();
    }
    if (cases.length === 0) {
      console.error("quill eval: no cases (a case is a customer message followed by an agent answer)");
      return 1;
    }

    const promptNames = opts.prompts.length ? opts.prompts : ["default"];
    const providerNames = opts.providers.length ? opts.providers : [config.llm.provider];
    const targets = [];
    for (const providerName of providerNames) {
      if (!(llmProviders as readonly string[]).includes(providerName)) {
        throw new ConfigError([
          `--provider: unknown provider "${providerName}", expected one of ${llmProviders.join(", ")}`,
        ]);
      }
      const llm = { ...config.llm, provider: providerName as Config["llm"]["provider"], fallback: [] };
      const [provider] = buildProviders({ ...config, llm }, kb);
      if (!provider) continue;
      for (const promptName of promptNames) {
        const file = resolve(config.drafting.promptsDir, `${promptName}.md`);
        if (!existsSync(file))
          throw new ConfigError([`--prompt: no ${promptName}.md in ${config.drafting.promptsDir}`]);
        const prompt = await parsePrompt(`${promptName}.md`, readFileSync(file, "utf8"));
        targets.push({
          label: `${promptName}@${prompt.version.slice(0, 8)}/${providerName}`,
          prompt,
          provider,
        });
      }
    }
    const judge = opts.judge
      ? createJudge({
          model: opts.judge,
          openaiApiKey: config.llm.openaiApiKey,
          anthropicApiKey: config.llm.anthropicApiKey,
          baseUrl: config.llm.baseUrl,
          // LLM_BASE_URL is a compatible server with LLM_PROVIDER=compatible (else an OpenAI proxy).
          compatible:
            config.llm.provider === "compatible" ? { apiKey: config.llm.compatibleApiKey } : undefined,
          timeoutMs: config.llm.timeoutMs,
        })
      : undefined;

    const out = resolve(opts.out ?? `reports/eval-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    mkdirSync(out, { recursive: true });
    const resultsFile = join(out, "results.jsonl");
    const labels = targets.map((t) => t.label);
    const text = existsSync(resultsFile) ? readFileSync(resultsFile, "utf8") : "";
    // A run killed mid-write leaves a partial last line: end it so appends start afresh, and redo it.
    if (text && !text.endsWith("\n")) appendFileSync(resultsFile, "\n");
    const recorded = text.split("\n").flatMap((line) => {
      try {
        return line ? [JSON.parse(line) as Awaited<ReturnType<typeof runEval>>[number]] : [];
      } catch {
        return [];
      }
    });
    const previous = resumable(recorded, cases, labels);
    if (recorded.length)
      console.error(
        `resuming: ${previous.length} result(s) already in ${resultsFile}${recorded.length > previous.length ? `; ${recorded.length - previous.length} failed or no longer in the dataset, not kept` : ""}`,
      );
    // With EMBEDDINGS set the run measures hybrid retrieval; vectors are cached in the database.
    let retriever: Parameters<typeof runEval>[0]["retriever"];
    let vectorDb: ReturnType<typeof openSqlite> | undefined;
    if (config.drafting.embeddings) {
      vectorDb = openSqlite(config.databasePath);
      vectorDb.migrate();
      const { createStore } = await import("../store/store.ts");
      retriever = buildRetriever(config, createStore(vectorDb.db), createLogger("warn", pino.destination(2)));
      if (!(await retriever.warm(kb)))
        console.error("quill eval: embeddings unavailable, retrieval is lexical");
    }
    const tty = process.stderr.isTTY;
    let lastShown = -1;
    const fresh = await runEval({
      cases,
      targets,
      kb,
      retriever,
      linkAllowlist: config.drafting.linkAllowlist,
      concurrency,
      timeoutMs,
      judge,
      done: new Set(previous.map((r) => resultKey(r.caseId, r.target))),
      onResult: (r) => appendFileSync(resultsFile, `${JSON.stringify(r)}\n`),
      onProgress: (done, total) => {
        const step = Math.floor((done / Math.max(1, total)) * 10);
        if (tty) process.stderr.write(`\r${progressBar(done, total)}`);
        else if (step !== lastShown) {
          lastShown = step;
          process.stderr.write(`${progressBar(done, total)}\n`);
        }
      },
    });
    vectorDb?.close();
    if (tty) process.stderr.write("\n");
    const all = [...previous, ...fresh];
    const summary = summarise(all, labels);
    writeFileSync(
      join(out, "summary.json"),
      `${JSON.stringify({ cases: cases.length, targets: labels, summary, results: all }, null, 2)}\n`,
    );
    writeFileSync(join(out, "results.csv"), `${toCsv(all)}\n`);
    console.log(formatTable(summary));
    // Paths under the working directory print relative to it (shorter, and the same on every machine).
    const shown = (file: string) => (relative(".", file).startsWith("..") ? file : relative(".", file));
    console.log(`\nreports: ${shown(join(out, "summary.json"))}, ${shown(join(out, "results.csv"))}`);
    const problems = gate(summary, { baseline, thresholds, tolerance });
    if (problems.length) {
      console.error(`\nregression gate failed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
      return 1;
    }
    if (baseline || thresholds.length) console.log("regression gate passed");
    return 0;
  } catch (error) {
    if (error instanceof DatasetError) {
      console.error(error.message);
      return 2;
    }
    return reportConfigError(error);
  }
}

/** Opens the configured database (migrated) for a read-mostly command. */
async function withStore<T>(fn: (store: import("../store/store.ts").Store) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const { createStore } = await import("../store/store.ts");
  const database = openSqlite(config.databasePath);
  try {
    database.migrate();
    return await fn(createStore(database.db));
  } finally {
    database.close();
  }
}

export async function exportCommand(opts: {
  out?: string | undefined;
  since?: string | undefined;
  includePii: boolean;
}) {
  const { createRedactor } = await import("../drafting/redact.ts");
  const { createWriteStream } = await import("node:fs");
  const since = opts.since ? Date.parse(`${opts.since}T00:00:00Z`) : undefined;
  if (opts.since && !Number.isFinite(since)) {
    console.error(`--since: expected a date like 2026-11-01, got "${opts.since}"`);
    return 2;
  }
  try {
    return await withStore(async (store) => {
      const stream = opts.out ? createWriteStream(resolve(opts.out)) : process.stdout;
      let afterId: string | undefined;
      let count = 0;
      for (;;) {
        const page = await store.exportDrafts({ since, afterId, limit: 500 });
        if (page.length === 0) break;
        for (const { draft, outcome, similarity, finalText } of page) {
          // Drafts hold the real values restored for operators; exports redact them again.
          const redactor = createRedactor();
          const clean = (text: string | null) =>
            text === null || opts.includePii ? text : redactor.redact(text);
          const record = {
            id: draft.id,
            createdAt: new Date(draft.createdAt).toISOString(),
            websiteId: draft.websiteId,
            sessionId: draft.sessionId,
            status: draft.status,
            mode: draft.mode,
            intent: draft.intent,
            language: draft.language,
            confidence: draft.confidence,
            needsHuman: draft.needsHuman,
            provider: draft.provider,
            model: draft.model,
            prompt: draft.promptName,
            promptVersion: draft.promptVersion,
            variant: draft.variant,
            citations: draft.citations.map((c) => c.id),
            flags: draft.flags,
            transcript: clean(draft.context?.transcript ?? null),
            draft: clean(draft.text),
            outcome,
            similarity,
            finalText: clean(finalText),
            tokensIn: draft.tokensIn,
            tokensOut: draft.tokensOut,
            costUsd: draft.costUsd,
            latencyMs: draft.latency.total ?? null,
          };
          stream.write(`${JSON.stringify(record)}\n`);
          count++;
        }
        afterId = page.at(-1)?.draft.id;
      }
      if (opts.out) await new Promise<void>((done) => (stream as import("node:fs").WriteStream).end(done));
      console.error(
        `exported ${count} draft(s)${opts.includePii ? " with PII" : ", PII redacted"}${opts.out ? ` to ${opts.out}` : ""}`,
      );
      return 0;
    });
  } catch (error) {
    return reportConfigError(error);
  }
}

export async function gapsCommand(opts: { days?: string | undefined }) {
  const { findGaps } = await import("../knowledge/gaps.ts");
  try {
    const days = positiveInt("--days", opts.days, 30);
    return await withStore(async (store) => {
      const groups = findGaps(await store.gapCandidates({ since: Date.now() - days * 86_400_000 }));
      if (groups.length === 0) {
        console.log(`No knowledge gaps in the last ${days} days.`);
        return 0;
      }
      for (const g of groups) {
        const why = Object.entries(g.reasons)
          .map(([reason, n]) => `${reason} ${n}`)
          .join(", ");
        console.log(`${g.count} × ${g.topic.join(", ")}  (${why})`);
        for (const q of g.questions) console.log(`    - ${q}`);
      }
      return 0;
    });
  } catch (error) {
    return reportConfigError(error);
  }
}
