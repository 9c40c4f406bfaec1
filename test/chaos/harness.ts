import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import Database from "better-sqlite3";
import { markerFingerprint } from "../../src/drafting/marker.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { startFakeLlm } from "./fake-llm.ts";

/**
 * Exactly-once under chaos. quill runs as a real child process (`node dist/quill.mjs start`)
 * against a sandbox served over HTTP and a misbehaving LLM server. Web hooks are duplicated
 * and reordered, the poller races them, Crisp answers 429 and 500 and loses the responses
 * of writes that landed, the LLM is slow, fails, truncates and refuses, and the process is
 * killed with SIGKILL at random moments and restarted. Some customers write twice before
 * the answer (the second message lands while the first is being drafted).
 *
 * Each of quill's messages is traced to the customer message it answers by its marker
 * fingerprint (derived from the job id). Afterwards, as ARCHITECTURE.md promises: no
 * customer message has two answers; the newest message of every conversation has exactly
 * one (a draft note, or a recorded failure note); an older message of a burst has one or
 * none, and a draft quill recorded as superseded was never posted; and the database has no
 * job left leased or queued.
 */

export interface ChaosOptions {
  conversations: number;
  kills: number;
  /** Conversations start spread over this window; kills fall inside it. */
  trafficMs: number;
  /** Share of conversations where the customer writes again once answered. */
  followUpRate: number;
  /** Share of conversations where the customer writes again before the answer (during the quiet period or the draft). */
  burstRate: number;
  settleTimeoutMs: number;
  seed: number;
  /** Progress lines (the long run prints them). */
  progress?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  conversations: number;
  customerMessages: number;
  answered: number;
  draftNotes: number;
  failureNotes: number;
  /** Customer messages with two or more answers; newest messages with none. */
  duplicated: string[];
  missing: string[];
  /** Conversations whose customer wrote twice before the first answer. */
  bursts: number;
  /** Older messages of a burst left unanswered: the newest message's answer covers them. */
  supersededMessages: number;
  /** Drafts quill recorded as superseded (drafted, then not posted because the customer wrote again). */
  supersededDrafts: number;
  /** Answers posted after a newer customer message arrived (it came between the re-check and the post). */
  lateAnswers: string[];
  /** Quill messages in Crisp that no job accounts for, and drafts whose record contradicts Crisp. */
  unattributed: string[];
  contradictions: string[];
  kills: number;
  starts: number;
  jobs: Record<string, number>;
  leasedLeft: number;
  queuedLeft: number;
  crisp: { requests: number; rate429: number; rate500: number; lost: number };
  hooks: { deliveries: number; failed: number };
  llm: Record<string, number>;
  elapsedMs: number;
  logFile: string;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const QUESTIONS = [
  "Where is my parcel? Order 48213 was due yesterday.",
  "How do I return a pair of shoes that don't fit?",
  "Can I change the delivery address on my order?",
  "My promo code is not accepted at checkout.",
  "Do you ship to Canada, and how long does it take?",
  "I was charged twice for the same order.",
  "How do I reset my password?",
  "The jacket I received has a broken zip.",
];

/** mulberry32: a seeded generator, so a failing run can be replayed with its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const random = seeded(options.seed);
  const progress = options.progress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), "quill-chaos-"));
  const logFile = join(dir, "quill.log");
  const logStream = createWriteStream(logFile);

  const quillPort = await freePort();
  const quillUrl = `http://127.0.0.1:${quillPort}`;
  const sandbox = createSandbox({
    webhookUrls: [`${quillUrl}/webhooks/crisp`],
    seed: false,
    random: seeded(options.seed + 1),
    webhookRetryBaseMs: 200,
    webhookAttempts: 4,
  });
  const sandboxServer = serve({ fetch: sandbox.app.fetch, port: 0, hostname: "127.0.0.1" });
  await once(sandboxServer, "listening");
  const sandboxPort = (sandboxServer.address() as { port: number }).port;
  const llm = await startFakeLlm(seeded(options.seed + 2), {
    latencyMs: [50, 400],
    rate500: 0.08,
    hangRate: 0.04,
    hangMs: 2_500,
    truncatedRate: 0.04,
    refusalRate: 0.02,
  });

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CRISP_API_URL: `http://127.0.0.1:${sandboxPort}/v1`,
    CRISP_IDENTIFIER: DEMO_CREDENTIALS.identifier,
    CRISP_KEY: DEMO_CREDENTIALS.key,
    CRISP_WEBSITE_ID: sandbox.website.website_id,
    CRISP_WEBHOOK_SECRET: DEMO_CREDENTIALS.webhookSecret,
    CRISP_TIER: "plugin",
    CRISP_TIMEOUT_MS: "2000",
    LLM_PROVIDER: "compatible",
    LLM_BASE_URL: llm.url,
    LLM_MODEL: "chaos-model",
    LLM_TIMEOUT_MS: "1500",
    LLM_RETRIES: "1",
    DRAFT_DEADLINE_MS: "4000",
    JOB_LEASE_SECONDS: "9",
    QUIET_PERIOD_MS: "100",
    POLL_INTERVAL_SECONDS: "1",
    JOB_CONCURRENCY: "8",
    DATABASE_PATH: join(dir, "quill.db"),
    HOST: "127.0.0.1",
    PORT: String(quillPort),
    LOG_LEVEL: "warn",
  };

  let child: ChildProcess | undefined;
  let starts = 0;
  let kills = 0;
  const startQuillProcess = async () => {
    starts++;
    const proc = spawn(process.execPath, ["dist/quill.mjs", "start"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout?.pipe(logStream, { end: false });
    proc.stderr?.pipe(logStream, { end: false });
    child = proc;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null)
        throw new Error(`quill exited with ${proc.exitCode} at start; see ${logFile}`);
      const ok = await fetch(`${quillUrl}/healthz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`quill did not become healthy; see ${logFile}`);
      await sleep(50);
    }
  };
  const killQuill = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null) return;
    const exited = once(proc, "exit");
    proc.kill("SIGKILL");
    await exited;
    kills++;
  };

  const isCustomer = (m: { from: string; type: string }) => m.from === "user" && m.type === "text";
  const isQuill = (m: { from: string; type: string }) =>
    m.from === "operator" && (m.type === "note" || m.type === "text");
  /** Something of quill's follows the customer's newest message. */
  const settled = (sessionId: string) => {
    const messages = sandbox.messagesOf(sessionId);
    return messages.findLastIndex(isQuill) > messages.findLastIndex(isCustomer);
  };
  const typing = (sessionId: string) =>
    sandbox.composeEvents.some(
      (e) => e.sessionId === sessionId && e.from === "operator" && e.type === "start",
    );

  try {
    await startQuillProcess();
    sandbox.faults.duplicateRate = 0.3;
    sandbox.faults.reorderMs = 150;
    sandbox.faults.rate429 = 0.03;
    sandbox.faults.retryAfterSeconds = 1;
    sandbox.faults.rate500 = 0.03;
    sandbox.faults.lostResponseRate = 0.04;
    sandbox.faults.lostResponseHoldMs = 2_500;

    const sessions: string[] = [];
    const conversation = async (i: number) => {
      await sleep(random() * options.trafficMs);
      const question = QUESTIONS[i % QUESTIONS.length] as string;
      const { sessionId } = sandbox.visitorSays({ text: `${question} (#${i})` });
      sessions.push(sessionId);
      const roll = random();
      if (roll < options.burstRate) {
        // Before the answer: during the quiet period, or once quill shows typing (drafting).
        if (random() < 0.3) await sleep(random() * 100);
        else {
          const deadline = Date.now() + 5_000;
          while (!typing(sessionId) && !settled(sessionId) && Date.now() < deadline) await sleep(25);
          await sleep(random() * 300);
        }
        sandbox.visitorSays({ sessionId, text: `Also, about #${i}: can I pay by invoice?` });
        return;
      }
      if (roll >= options.burstRate + options.followUpRate) return;
      // The follow-up comes once the first message is answered, so each message is its own turn.
      const deadline = Date.now() + options.trafficMs + options.settleTimeoutMs / 2;
      while (!settled(sessionId) && Date.now() < deadline) await sleep(100);
      await sleep(random() * 500);
      sandbox.visitorSays({ sessionId, text: `Thanks. One more thing about #${i}: can I pay by invoice?` });
    };
    const killer = async () => {
      const moments = Array.from({ length: options.kills }, () => random() * options.trafficMs).sort(
        (a, b) => a - b,
      );
      let last = 0;
      for (const at of moments) {
        await sleep(Math.max(0, at - last));
        last = at;
        await killQuill();
        progress(`kill ${kills}/${options.kills}`);
        await sleep(random() * 400);
        await startQuillProcess();
      }
    };
    await Promise.all([
      killer(),
      ...Array.from({ length: options.conversations }, (_, i) => conversation(i)),
    ]);
    progress(`traffic done: ${sessions.length} conversations, ${kills} kills; settling`);

    // Chaos off: what is still owed must now arrive (expired leases, the poller, hook retries).
    Object.assign(sandbox.faults, {
      duplicateRate: 0,
      reorderMs: 0,
      rate429: 0,
      rate500: 0,
      lostResponseRate: 0,
    });
    // Settled: every message answered, and no job left leased or queued — a job leased by a
    // killed process comes back when its lease expires and must then finish.
    const openJobs = () => {
      try {
        const db = new Database(env.DATABASE_PATH as string, { readonly: true, fileMustExist: true });
        try {
          return (
            db.prepare("select count(*) as n from jobs where status in ('leased', 'queued')").get() as {
              n: number;
            }
          ).n;
        } finally {
          db.close();
        }
      } catch {
        return Number.POSITIVE_INFINITY;
      }
    };
    const settleBy = Date.now() + options.settleTimeoutMs;
    while (Date.now() < settleBy && !(sessions.every(settled) && openJobs() === 0)) await sleep(250);
    // Give a late duplicate (a retried job, a slow hook) the chance to show itself.
    await sandbox.flushWebhooks();
    await sleep(1_500);

    const proc = child;
    if (proc && proc.exitCode === null) {
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      await exited;
    }

    const db = new Database(env.DATABASE_PATH as string, { readonly: true });
    const jobs = Object.fromEntries(
      (
        db.prepare("select status, count(*) as n from jobs group by status").all() as Array<{
          status: string;
          n: number;
        }>
      ).map((r) => [r.status, r.n]),
    );
    const draftJobs = db
      .prepare("select id, session_id as sessionId, fingerprint from jobs where kind in ('draft', 'redraft')")
      .all() as Array<{ id: string; sessionId: string; fingerprint: number }>;
    const draftRows = db
      .prepare(
        "select session_id as sessionId, customer_fingerprint as fingerprint, status, marker_fingerprint as marker from drafts",
      )
      .all() as Array<{ sessionId: string; fingerprint: number; status: string; marker: number | null }>;
    db.close();

    // Which customer message each of quill's messages answers: its fingerprint is its job's marker.
    const answering = new Map<number, { sessionId: string; fingerprint: number }>();
    for (const job of draftJobs) answering.set(await markerFingerprint(job.id), job);
    const inCrisp = new Set<number>();

    const duplicated: string[] = [];
    const missing: string[] = [];
    const unattributed: string[] = [];
    let customerMessages = 0;
    let draftNotes = 0;
    let failureNotes = 0;
    let bursts = 0;
    let supersededMessages = 0;
    const lateAnswers: string[] = [];
    for (const sessionId of sessions) {
      const messages = sandbox.messagesOf(sessionId);
      const customer = messages.flatMap((m, index) =>
        isCustomer(m) ? [{ index, fingerprint: m.fingerprint }] : [],
      );
      const answers = new Map(customer.map((c) => [c.fingerprint, [] as number[]]));
      for (const [index, m] of messages.entries()) {
        if (!isQuill(m)) continue;
        inCrisp.add(m.fingerprint);
        const target = answering.get(m.fingerprint);
        const list = target?.sessionId === sessionId ? answers.get(target.fingerprint) : undefined;
        if (!list) {
          unattributed.push(`${sessionId}: ${m.type} ${m.fingerprint} "${String(m.content).slice(0, 60)}"`);
          continue;
        }
        list.push(index);
        if (String(m.content).startsWith("⚠️ quill: draft unavailable")) failureNotes++;
        else draftNotes++;
      }
      let burst = false;
      for (const [k, { index, fingerprint }] of customer.entries()) {
        customerMessages++;
        const id = `${sessionId}#${fingerprint}`;
        const posted = answers.get(fingerprint) ?? [];
        const newer = customer[k + 1];
        // The customer wrote again before anything of quill's appeared.
        if (newer && !messages.slice(index, newer.index).some(isQuill)) burst = true;
        if (posted.length > 1) duplicated.push(`${id}: ${posted.length} answers`);
        if (posted.length === 0 && !newer) missing.push(id);
        if (posted.length === 0 && newer) supersededMessages++;
        const late = newer ? posted.find((at) => at > newer.index) : undefined;
        if (newer && late !== undefined) {
          const ms = (messages[late]?.timestamp ?? 0) - (messages[newer.index]?.timestamp ?? 0);
          lateAnswers.push(`${id}: answered ${ms} ms after the customer's newer message`);
        }
      }
      if (burst) bursts++;
    }
    const contradictions = draftRows.flatMap((d) => {
      const id = `${d.sessionId}#${d.fingerprint}`;
      const landed = d.marker !== null && inCrisp.has(d.marker);
      if (d.status === "superseded" && landed) return [`${id}: draft recorded superseded, but posted`];
      if ((d.status === "posted" || d.status === "sent") && !landed)
        return [`${id}: draft recorded ${d.status}, not in Crisp`];
      return [];
    });

    const statuses = sandbox.requests.map((r) => r.status);
    return {
      seed: options.seed,
      conversations: sessions.length,
      customerMessages,
      answered: customerMessages - missing.length,
      draftNotes,
      failureNotes,
      duplicated,
      missing,
      bursts,
      supersededMessages,
      supersededDrafts: draftRows.filter((d) => d.status === "superseded").length,
      lateAnswers,
      unattributed,
      contradictions,
      kills,
      starts,
      jobs,
      leasedLeft: jobs.leased ?? 0,
      queuedLeft: jobs.queued ?? 0,
      crisp: {
        requests: statuses.length,
        rate429: statuses.filter((s) => s === 429).length,
        rate500: statuses.filter((s) => s === 500).length,
        lost: statuses.filter((s) => s === 504).length,
      },
      hooks: {
        deliveries: sandbox.deliveries.length,
        failed: sandbox.deliveries.filter((d) => d.status === "error" || d.status >= 400).length,
      },
      llm: { ...llm.counts },
      elapsedMs: Date.now() - started,
      logFile,
    };
  } finally {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await sandbox.flushWebhooks().catch(() => undefined);
    await new Promise((resolve) => sandboxServer.close(resolve));
    await llm.close();
    logStream.end();
    if (process.env.CHAOS_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
  }
}

export function formatReport(r: ChaosReport): string {
  return [
    `chaos seed=${r.seed}: ${r.conversations} conversations, ${r.customerMessages} customer messages, ${r.kills} SIGKILLs (${r.starts} starts) in ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `  answers: ${r.draftNotes} draft notes, ${r.failureNotes} failure notes; duplicated ${r.duplicated.length}, missing ${r.missing.length}, unattributed ${r.unattributed.length}, contradicting the database ${r.contradictions.length}`,
    `  bursts: ${r.bursts} conversations written to twice before the answer; ${r.supersededMessages} older messages covered by the newer answer, ${r.supersededDrafts} drafts recorded superseded (not posted), ${r.lateAnswers.length} answers landed after a newer message${r.lateAnswers.map((l) => `\n    ${l}`).join("")}`,
    `  jobs: ${Object.entries(r.jobs)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}; left leased ${r.leasedLeft}, left queued ${r.queuedLeft}`,
    `  crisp: ${r.crisp.requests} requests, ${r.crisp.rate429} × 429, ${r.crisp.rate500} × 500, ${r.crisp.lost} lost responses; hooks: ${r.hooks.deliveries} deliveries, ${r.hooks.failed} failed`,
    `  llm: ${Object.entries(r.llm)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  ].join("\n");
}
