import { and, desc, eq, getTableColumns, gte, inArray, lt, lte, ne, or, type SQL, sql } from "drizzle-orm";
import type { BaseSQLiteDatabase, SQLiteColumn } from "drizzle-orm/sqlite-core";
import { type Clock, systemClock } from "../clock.ts";
import type { StoredVector } from "../knowledge/hybrid.ts";
import {
  type AdminSession,
  adminSessions,
  type ConversationState,
  conversations,
  crmRequests,
  type Draft,
  drafts,
  embeddings,
  type Feedback,
  feedback,
  inboxEvents,
  type Job,
  jobs,
  llmCalls,
  loginFailures,
  type McpCall,
  type McpToken,
  mcpCalls,
  mcpTokens,
  type NewDraft,
  pollState,
  promptVersions,
  type schema,
  serverSecrets,
  type TriageRun,
  triageRuns,
  websiteSettings,
} from "./schema.ts";

/**
 * Every query quill needs, written once for better-sqlite3 and D1: async functions over
 * single statements and unique keys (D1 has no interactive transactions).
 */

// biome-ignore lint/suspicious/noExplicitAny: the driver's run-result type differs between SQLite and D1
export type Database = BaseSQLiteDatabase<"sync" | "async", any, typeof schema>;

export type { AdminSession, ConversationState, Draft, Feedback, Job, McpCall, McpToken, TriageRun };
export type JobStatus = Job["status"];
export type JobTrigger = Job["trigger"];
export type DraftStatus = Draft["status"];
export type FeedbackKind = Feedback["kind"];
export type NewFeedback = Omit<typeof feedback.$inferInsert, "id" | "createdAt">;
/** Where a poll walk cut short continues: its next page and the watermark it walks down to. */
export type PollResume = { page: number; watermark: number };

/**
 * A UUIDv7 (RFC 9562): the time in ms, then a v4's random bits. Ids that grow with time
 * append to the primary key index instead of touching a random page of it per insert.
 */
/**
 * Hot inserts are prepared once with every column a placeholder (drizzle still encodes JSON
 * and booleans); building and compiling the statement per call dominated a draft's insert
 * (bench/profiling.md).
 */
const draftColumns = getTableColumns(drafts);
const llmCallColumns = getTableColumns(llmCalls);
const placeholders = (columns: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(columns).map((k) => [k, sql.placeholder(k)]));
/** The values of a prepared all-columns insert: what was given, else the schema's default, else null. */
function withDefaults(columns: Record<string, { default?: unknown }>, given: Record<string, unknown>) {
  const values: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(columns)) {
    values[key] = given[key] === undefined ? (column.default ?? null) : given[key];
  }
  return values;
}

const newId = () => {
  const time = Date.now().toString(16).padStart(12, "0");
  const random = crypto.randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
};

/**
 * The latest feedback value of the draft in the outer query. Written out by hand: in a
 * single-table select drizzle leaves columns unqualified, and "id" would bind to feedback.
 */
const latestFeedbackOf = (column: "kind" | "similarity") =>
  sql.raw(
    `(select f.${column} from feedback f where f.draft_id = "drafts"."id" order by f.created_at desc limit 1)`,
  );

/** One batch of RETENTION_DAYS: rows removed (events, calls) or blanked (drafts, feedback, jobs). */
export interface RetentionCounts {
  inboxEvents: number;
  llmCalls: number;
  drafts: number;
  feedback: number;
  jobs: number;
  mcpCalls: number;
}

/** A conversation, the unit every visitor's row hangs from. */
export type SessionRef = { websiteId: string; sessionId: string };

/** How a privacy request names a visitor; `emailHash` is `visitorEmailHash(email)`. */
export interface VisitorQuery {
  websiteId?: string | undefined;
  email?: string | undefined;
  emailHash?: string | undefined;
  peopleId?: string | undefined;
  sessionId?: string | undefined;
}

export interface VisitorRows {
  conversations: ConversationState[];
  inboxEvents: Array<typeof inboxEvents.$inferSelect>;
  jobs: Job[];
  drafts: Draft[];
  feedback: Feedback[];
  llmCalls: Array<typeof llmCalls.$inferSelect>;
  triageRuns: TriageRun[];
  mcpCalls: McpCall[];
}

/** D1 binds at most 100 parameters a statement. */
function chunks<T>(items: T[], size = 90): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A where clause per website and up to 90 of its sessions, for any table with both columns. */
function sessionChunks(sessions: SessionRef[]) {
  const byWebsite = new Map<string, string[]>();
  for (const s of sessions) byWebsite.set(s.websiteId, [...(byWebsite.get(s.websiteId) ?? []), s.sessionId]);
  return [...byWebsite].flatMap(([websiteId, ids]) =>
    chunks(ids).map(
      (part) =>
        <T extends { websiteId: SQLiteColumn; sessionId: SQLiteColumn }>(t: T) =>
          and(eq(t.websiteId, websiteId), inArray(t.sessionId, part)),
    ),
  );
}

export interface DraftFilters {
  websiteId?: string | undefined;
  sessionId?: string | undefined;
  status?: DraftStatus | undefined;
  outcome?: FeedbackKind | "none" | undefined;
  promptVersion?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  search?: string | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
}

export function createStore(
  db: Database,
  options: {
    clock?: Clock;
    /** Called after a feedback row was inserted (not for a duplicate): outcome sync hangs here. */
    onFeedback?: (f: NewFeedback) => Promise<void>;
    /** With group commit (Node): resolves once every write so far is committed. */
    durable?: () => Promise<void>;
  } = {},
) {
  const durable = options.durable ?? (() => Promise.resolve());
  const clock = options.clock ?? systemClock;

  /**
   * The hot statements, built and prepared once: drizzle's query building and SQLite's
   * statement compilation were most of quill's CPU per draft (see bench/).
   */
  const p = sql.placeholder;
  /** A placeholder where drizzle's types want a value (UPDATE … SET). */
  const v = (name: string) => sql`${sql.placeholder(name)}`;
  const due = (now: ReturnType<typeof sql.placeholder>) =>
    or(
      and(eq(jobs.status, "queued"), lte(jobs.runAfter, now)),
      and(eq(jobs.status, "leased"), lt(jobs.leaseExpiresAt, now)),
    );
  const build = () => ({
    insertDraft: db
      .insert(drafts)
      .values(placeholders(draftColumns) as unknown as NewDraft)
      .returning()
      .prepare(),
    insertLlmCall: db
      .insert(llmCalls)
      .values(placeholders(llmCallColumns) as unknown as typeof llmCalls.$inferInsert)
      .prepare(),
    getJob: db
      .select()
      .from(jobs)
      .where(eq(jobs.id, p("id")))
      .limit(1)
      .prepare(),
    draftForJob: db
      .select()
      .from(drafts)
      .where(eq(drafts.jobId, p("jobId")))
      .orderBy(desc(drafts.createdAt))
      .limit(1)
      .prepare(),
    inbox: db
      .insert(inboxEvents)
      .values({
        websiteId: p("websiteId"),
        deliveryKey: p("deliveryKey"),
        event: p("event"),
        sessionId: p("sessionId"),
        fingerprint: p("fingerprint"),
        payload: p("payload"),
        receivedAt: p("now"),
      })
      .onConflictDoNothing()
      .returning({ id: inboxEvents.id })
      .prepare(),
    insertJob: db
      .insert(jobs)
      .values({
        id: p("id"),
        websiteId: p("websiteId"),
        sessionId: p("sessionId"),
        fingerprint: p("fingerprint"),
        messageAt: p("messageAt"),
        commandKey: p("commandKey"),
        kind: p("kind"),
        status: "queued",
        trigger: p("trigger"),
        instructions: p("instructions"),
        maxAttempts: p("maxAttempts"),
        runAfter: p("runAfter"),
        createdAt: p("now"),
        updatedAt: p("now"),
      })
      .onConflictDoNothing()
      .returning()
      .prepare(),
    jobByKey: db
      .select()
      .from(jobs)
      .where(
        and(
          eq(jobs.websiteId, p("websiteId")),
          eq(jobs.sessionId, p("sessionId")),
          eq(jobs.fingerprint, p("fingerprint")),
          eq(jobs.commandKey, p("commandKey")),
        ),
      )
      .limit(1)
      .prepare(),
    supersede: db
      .update(jobs)
      .set({
        status: "superseded",
        outcome: "the customer wrote again",
        updatedAt: v("now"),
        finishedAt: v("now"),
      })
      .where(
        and(
          eq(jobs.websiteId, p("websiteId")),
          eq(jobs.sessionId, p("sessionId")),
          eq(jobs.status, "queued"),
          eq(jobs.kind, "draft"),
          lt(jobs.messageAt, p("before")),
        ),
      )
      .returning({ id: jobs.id })
      .prepare(),
    inboxKeyInRange: db
      .select({ id: inboxEvents.id })
      .from(inboxEvents)
      .where(and(gte(inboxEvents.deliveryKey, p("from")), lt(inboxEvents.deliveryKey, p("to"))))
      .limit(1)
      .prepare(),
    // Visitor typing: wait out the quiet period after the message, counted from the earlier of
    // Crisp's message time and the job's creation, so clock skew or a late hook never adds to it.
    deferDrafts: db
      .update(jobs)
      .set({
        runAfter: sql`min(${jobs.createdAt}, ${jobs.messageAt}) + ${sql.placeholder("quiet")}`,
        updatedAt: v("now"),
      })
      .where(
        and(
          eq(jobs.websiteId, p("websiteId")),
          eq(jobs.sessionId, p("sessionId")),
          eq(jobs.status, "queued"),
          eq(jobs.kind, "draft"),
          lt(jobs.messageAt, p("typedAt")),
          sql`${jobs.runAfter} < min(${jobs.createdAt}, ${jobs.messageAt}) + ${sql.placeholder("quiet")}`,
        ),
      )
      .returning({ id: jobs.id, runAfter: jobs.runAfter })
      .prepare(),
    advanceDrafts: db
      .update(jobs)
      .set({ runAfter: v("now"), updatedAt: v("now") })
      .where(
        and(
          eq(jobs.websiteId, p("websiteId")),
          eq(jobs.sessionId, p("sessionId")),
          eq(jobs.status, "queued"),
          eq(jobs.kind, "draft"),
          lte(jobs.messageAt, p("stoppedAt")),
          sql`${jobs.runAfter} > ${sql.placeholder("now")}`,
        ),
      )
      .returning({ id: jobs.id, runAfter: jobs.runAfter })
      .prepare(),
    markDead: db
      .update(jobs)
      .set({
        status: "dead",
        lastError: sql`coalesce(${jobs.lastError}, 'lease expired too often')`,
        updatedAt: v("now"),
        finishedAt: v("now"),
      })
      .where(
        and(
          eq(jobs.status, "leased"),
          lt(jobs.leaseExpiresAt, p("now")),
          gte(jobs.attempts, jobs.maxAttempts),
        ),
      )
      .prepare(),
    lease: db
      .update(jobs)
      .set({
        status: "leased",
        leaseOwner: v("owner"),
        leaseExpiresAt: v("expires"),
        attempts: sql`${jobs.attempts} + 1`,
        updatedAt: v("now"),
      })
      .where(
        and(
          inArray(
            jobs.id,
            db
              .select({ id: jobs.id })
              .from(jobs)
              .where(due(p("now")))
              .orderBy(jobs.runAfter)
              .limit(p("limit")),
          ),
          // re-check inside the UPDATE: another process may have taken it since the subquery ran
          due(p("now")),
        ),
      )
      .returning()
      .prepare(),
    finish: db
      .update(jobs)
      .set({
        status: v("status"),
        outcome: v("outcome"),
        lastError: v("error"),
        leaseOwner: null,
        leaseExpiresAt: null,
        updatedAt: v("now"),
        finishedAt: v("now"),
      })
      .where(and(eq(jobs.id, p("id")), eq(jobs.leaseOwner, p("owner")), eq(jobs.status, "leased")))
      .returning({ id: jobs.id })
      .prepare(),
  });
  // Prepared on first use, so a store can be created before its migrations ran.
  let prepared: ReturnType<typeof build> | undefined;
  const q = () => {
    prepared ??= build();
    return prepared;
  };
  const knownPromptVersions = new Set<string>();
  const draftUpdates = new Map<string, { run: (values: Record<string, unknown>) => unknown }>();

  async function getJob(id: string): Promise<Job | undefined> {
    return (await q().getJob.all({ id }))[0];
  }

  return {
    /** Cheap readiness probe. */
    async ping(): Promise<void> {
      await db.select({ one: sql`1` }).from(pollState).limit(1);
    },

    /** false when this delivery (or poll observation) was already recorded. */
    async recordInboxEvent(e: {
      websiteId: string;
      deliveryKey: string;
      event: string;
      sessionId?: string | undefined;
      fingerprint?: number | undefined;
      payload: unknown;
    }): Promise<{ inserted: boolean }> {
      const rows = await q().inbox.all({
        websiteId: e.websiteId,
        deliveryKey: e.deliveryKey,
        event: e.event,
        sessionId: e.sessionId ?? null,
        fingerprint: e.fingerprint ?? null,
        payload: JSON.stringify(e.payload),
        now: clock.now(),
      });
      return { inserted: rows.length > 0 };
    },

    /**
     * One job per (website, session, customer message[, command]): web hooks, their retries
     * and poll cycles all land on the same row.
     */
    async enqueueJob(j: {
      websiteId: string;
      sessionId: string;
      fingerprint: number;
      messageAt: number;
      trigger: JobTrigger;
      runAfter: number;
      kind?: Job["kind"];
      instructions?: string | undefined;
      commandKey?: string | undefined;
      maxAttempts?: number;
    }): Promise<{ job: Job; created: boolean }> {
      const key = {
        websiteId: j.websiteId,
        sessionId: j.sessionId,
        fingerprint: j.fingerprint,
        commandKey: j.commandKey ?? "",
      };
      const inserted = await q().insertJob.all({
        ...key,
        id: newId(),
        messageAt: j.messageAt,
        kind: j.kind ?? "draft",
        trigger: j.trigger,
        instructions: j.instructions ?? null,
        maxAttempts: j.maxAttempts ?? 5,
        runAfter: j.runAfter,
        now: clock.now(),
      });
      if (inserted[0]) return { job: inserted[0], created: true };
      const existing = await q().jobByKey.all(key);
      if (!existing[0]) throw new Error("job vanished after a unique conflict");
      return { job: existing[0], created: false };
    },

    /** Whether any recorded delivery's key starts with `prefix` (a range on the unique index). */
    async hasInboxKeyPrefix(prefix: string): Promise<boolean> {
      if (!prefix) throw new Error("hasInboxKeyPrefix needs a non-empty prefix");
      // Every key starting with the prefix sorts between it and the prefix with its last character bumped.
      const to = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      const rows = await q().inboxKeyInRange.all({ from: prefix, to });
      return rows.length > 0;
    },

    /**
     * The visitor is typing (at `typedAt`, Crisp's time): queued drafts of the session for
     * messages before it wait until `quietPeriodMs` after their message (until a stop, or a
     * newer message, ends the wait). Returns the jobs that moved, with their new run time.
     */
    async deferQueuedDrafts(d: {
      websiteId: string;
      sessionId: string;
      quietPeriodMs: number;
      typedAt: number;
    }): Promise<Array<{ id: string; runAfter: number }>> {
      return q().deferDrafts.all({
        websiteId: d.websiteId,
        sessionId: d.sessionId,
        quiet: d.quietPeriodMs,
        typedAt: d.typedAt,
        now: clock.now(),
      });
    },

    /** The visitor stopped typing (at `stoppedAt`): queued drafts of the session for messages up to then run now. */
    async advanceQueuedDrafts(d: {
      websiteId: string;
      sessionId: string;
      stoppedAt: number;
    }): Promise<Array<{ id: string; runAfter: number }>> {
      return q().advanceDrafts.all({
        websiteId: d.websiteId,
        sessionId: d.sessionId,
        stoppedAt: d.stoppedAt,
        now: clock.now(),
      });
    },

    /** The customer wrote again: queued jobs for older messages of the session will never post. */
    async supersedeQueuedJobs(
      websiteId: string,
      sessionId: string,
      olderThanMessageAt: number,
    ): Promise<number> {
      const rows = await q().supersede.all({
        websiteId,
        sessionId,
        before: olderThanMessageAt,
        now: clock.now(),
      });
      return rows.length;
    },

    /**
     * An operator answered or the conversation was resolved: no queued draft should run
     * (commands still do). An answer only settles customer messages up to its own time: a
     * late hook must not cancel the job of a message the customer wrote after it.
     */
    async cancelQueuedJobs(
      websiteId: string,
      sessionId: string,
      outcome: string,
      upToMessageAt?: number,
    ): Promise<number> {
      const now = clock.now();
      const rows = await db
        .update(jobs)
        .set({ status: "skipped", outcome, updatedAt: now, finishedAt: now })
        .where(
          and(
            eq(jobs.websiteId, websiteId),
            eq(jobs.sessionId, sessionId),
            eq(jobs.status, "queued"),
            eq(jobs.kind, "draft"),
            upToMessageAt === undefined ? undefined : lte(jobs.messageAt, upToMessageAt),
          ),
        )
        .returning({ id: jobs.id });
      return rows.length;
    },

    /**
     * Atomically leases due jobs (queued and due, or leased with an expired lease). One
     * UPDATE … RETURNING, so two processes never get the same job. Jobs whose lease expired
     * too often (a crash loop) are marked dead first.
     */
    async leaseJobs(l: { owner: string; leaseMs: number; limit: number }): Promise<Job[]> {
      const now = clock.now();
      await q().markDead.run({ now });
      const leased = await q().lease.all({ now, owner: l.owner, expires: now + l.leaseMs, limit: l.limit });
      // A job's attempt count must be on disk before its work starts: after a crash the next
      // attempt sees it and looks for what the last one may have posted.
      if (leased.length > 0) await durable();
      return leased;
    },

    /**
     * The Workers cron's safety net: marks crash-looping jobs dead (as leaseJobs does), then
     * lists jobs whose queue message may be lost: queued and due before `queuedBefore`, or
     * leased with an expired lease; longest overdue first.
     */
    async overdueJobs(o: { queuedBefore: number; limit: number }): Promise<Job[]> {
      const now = clock.now();
      await q().markDead.run({ now });
      return db
        .select()
        .from(jobs)
        .where(
          or(
            and(eq(jobs.status, "queued"), lte(jobs.runAfter, o.queuedBefore)),
            and(eq(jobs.status, "leased"), lt(jobs.leaseExpiresAt, now)),
          ),
        )
        .orderBy(jobs.runAfter)
        .limit(o.limit);
    },

    /** Lease one known job (a Workers queue message names its job). */
    async leaseJob(id: string, owner: string, leaseMs: number): Promise<Job | undefined> {
      const now = clock.now();
      const rows = await db
        .update(jobs)
        .set({
          status: "leased",
          leaseOwner: owner,
          leaseExpiresAt: now + leaseMs,
          attempts: sql`${jobs.attempts} + 1`,
          updatedAt: now,
        })
        .where(
          and(
            eq(jobs.id, id),
            or(eq(jobs.status, "queued"), and(eq(jobs.status, "leased"), lt(jobs.leaseExpiresAt, now))),
          ),
        )
        .returning();
      if (rows[0]) await durable();
      return rows[0];
    },

    async extendLease(id: string, owner: string, leaseMs: number): Promise<boolean> {
      const rows = await db
        .update(jobs)
        .set({ leaseExpiresAt: clock.now() + leaseMs })
        .where(and(eq(jobs.id, id), eq(jobs.leaseOwner, owner), eq(jobs.status, "leased")))
        .returning({ id: jobs.id });
      return rows.length > 0;
    },

    /** Ends a job this owner still holds; false when the lease was lost (another process took over). */
    async finishJob(
      id: string,
      owner: string,
      status: Extract<JobStatus, "done" | "failed" | "superseded" | "skipped" | "dead">,
      details: { outcome?: string | undefined; error?: string | undefined } = {},
    ): Promise<boolean> {
      const rows = await q().finish.all({
        id,
        owner,
        status,
        outcome: details.outcome ?? null,
        error: details.error ?? null,
        now: clock.now(),
      });
      return rows.length > 0;
    },

    /** Puts the job back for a later attempt, or marks it dead once attempts are used up. */
    async retryJob(
      id: string,
      owner: string,
      error: string,
      runAfter: number,
    ): Promise<"retry" | "dead" | "lost"> {
      const now = clock.now();
      const rows = await db
        .update(jobs)
        .set({
          status: sql`case when ${jobs.attempts} >= ${jobs.maxAttempts} then 'dead' else 'queued' end`,
          finishedAt: sql`case when ${jobs.attempts} >= ${jobs.maxAttempts} then ${now} else null end`,
          lastError: error,
          runAfter,
          leaseOwner: null,
          leaseExpiresAt: null,
          updatedAt: now,
        })
        .where(and(eq(jobs.id, id), eq(jobs.leaseOwner, owner), eq(jobs.status, "leased")))
        .returning({ status: jobs.status });
      const status = rows[0]?.status;
      return status === undefined ? "lost" : status === "dead" ? "dead" : "retry";
    },

    /** Graceful shutdown: hand this process's leases back without counting an attempt. */
    async releaseJobs(owner: string): Promise<number> {
      const rows = await db
        .update(jobs)
        .set({
          status: "queued",
          leaseOwner: null,
          leaseExpiresAt: null,
          attempts: sql`max(${jobs.attempts} - 1, 0)`,
          updatedAt: clock.now(),
        })
        .where(and(eq(jobs.leaseOwner, owner), eq(jobs.status, "leased")))
        .returning({ id: jobs.id });
      return rows.length;
    },

    getJob,

    async countJobsByStatus(websiteId?: string | undefined): Promise<Record<string, number>> {
      const rows = await db
        .select({ status: jobs.status, n: sql<number>`count(*)` })
        .from(jobs)
        .where(websiteId ? eq(jobs.websiteId, websiteId) : undefined)
        .groupBy(jobs.status);
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    },

    async listJobs(
      f: {
        websiteId?: string | undefined;
        sessionId?: string;
        status?: JobStatus;
        kind?: Job["kind"];
        limit?: number;
      } = {},
    ): Promise<Job[]> {
      const where: SQL[] = [];
      if (f.kind) where.push(eq(jobs.kind, f.kind));
      if (f.websiteId) where.push(eq(jobs.websiteId, f.websiteId));
      if (f.sessionId) where.push(eq(jobs.sessionId, f.sessionId));
      if (f.status) where.push(eq(jobs.status, f.status));
      return db
        .select()
        .from(jobs)
        .where(and(...where))
        .orderBy(desc(jobs.createdAt))
        .limit(f.limit ?? 100);
    },

    async insertDraft(d: Omit<NewDraft, "id" | "createdAt"> & { id?: string }): Promise<Draft> {
      const rows = await q().insertDraft.all(
        withDefaults(draftColumns, { ...d, id: d.id ?? newId(), createdAt: clock.now() }),
      );
      const row = rows[0];
      if (!row) throw new Error("draft insert returned nothing");
      return row;
    },

    async updateDraft(id: string, patch: Partial<Omit<NewDraft, "id">>): Promise<void> {
      // One prepared statement per set of columns (a handful: posted, failed, discarded...).
      const given = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
      const shape = Object.keys(given).sort().join(",");
      let update = draftUpdates.get(shape);
      if (!update) {
        // A bare placeholder (not sql``) so drizzle encodes it as its column (JSON, booleans).
        const set = Object.fromEntries(Object.keys(given).map((k) => [k, sql.placeholder(k)]));
        update = db
          .update(drafts)
          .set(set as Partial<NewDraft>)
          .where(eq(drafts.id, sql.placeholder("id")))
          .prepare();
        draftUpdates.set(shape, update);
      }
      await update.run({ ...given, id });
    },

    /** Moves a draft from one status to another only if it is still in `from` (e.g. approve once). */
    async transitionDraft(
      id: string,
      from: DraftStatus[],
      patch: Partial<Omit<NewDraft, "id">>,
    ): Promise<boolean> {
      const rows = await db
        .update(drafts)
        .set(patch)
        .where(and(eq(drafts.id, id), inArray(drafts.status, from)))
        .returning({ id: drafts.id });
      return rows.length > 0;
    },

    async getDraft(id: string): Promise<Draft | undefined> {
      return (await db.select().from(drafts).where(eq(drafts.id, id)).limit(1))[0];
    },

    async jobById(id: string): Promise<Job | undefined> {
      return (await db.select().from(jobs).where(eq(jobs.id, id)).limit(1))[0];
    },

    async draftForJob(jobId: string): Promise<Draft | undefined> {
      return (await q().draftForJob.all({ jobId }))[0];
    },

    /** Replies quill sent on its own (auto-send) for a website since a time: the hourly cap. */
    async countAutoReplies(websiteId: string, since: number): Promise<number> {
      const [row] = await db
        .select({ n: sql<number>`count(*)` })
        .from(drafts)
        .where(
          and(
            eq(drafts.websiteId, websiteId),
            eq(drafts.mode, "reply"),
            eq(drafts.status, "sent"),
            gte(drafts.postedAt, since),
          ),
        );
      return Number(row?.n ?? 0);
    },

    /** The draft operators act on: the newest one of the conversation that reached them. */
    async latestDraftForSession(websiteId: string, sessionId: string): Promise<Draft | undefined> {
      return (
        await db
          .select()
          .from(drafts)
          .where(
            and(
              eq(drafts.websiteId, websiteId),
              eq(drafts.sessionId, sessionId),
              ne(drafts.status, "discarded"),
              ne(drafts.status, "ready"),
            ),
          )
          .orderBy(desc(drafts.createdAt))
          .limit(1)
      )[0];
    },

    async listDrafts(
      f: DraftFilters = {},
    ): Promise<Array<Draft & { outcome: FeedbackKind | null; outcomeSimilarity: number | null }>> {
      const outcome = latestFeedbackOf("kind") as SQL<FeedbackKind | null>;
      const where: SQL[] = [];
      if (f.websiteId) where.push(eq(drafts.websiteId, f.websiteId));
      if (f.sessionId) where.push(eq(drafts.sessionId, f.sessionId));
      if (f.status) where.push(eq(drafts.status, f.status));
      if (f.promptVersion) where.push(eq(drafts.promptVersion, f.promptVersion));
      if (f.from !== undefined) where.push(gte(drafts.createdAt, f.from));
      if (f.to !== undefined) where.push(lte(drafts.createdAt, f.to));
      if (f.search) {
        // The draft or the customer's question; ESCAPE makes "50%" or "a_b" match literally.
        const p = `%${f.search.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
        where.push(
          sql`(${drafts.text} like ${p} escape '\\' or json_extract(${drafts.context}, '$.query') like ${p} escape '\\')`,
        );
      }
      if (f.outcome === "none") where.push(sql`${outcome} is null`);
      else if (f.outcome) where.push(sql`${outcome} = ${f.outcome}`);
      const rows = await db
        .select()
        .from(drafts)
        .where(and(...where))
        .orderBy(desc(drafts.createdAt))
        .limit(f.limit ?? 50)
        .offset(f.offset ?? 0);
      if (rows.length === 0) return [];
      const kinds = await db
        .select({
          draftId: feedback.draftId,
          kind: feedback.kind,
          similarity: feedback.similarity,
          at: feedback.createdAt,
        })
        .from(feedback)
        .where(
          inArray(
            feedback.draftId,
            rows.map((r) => r.id),
          ),
        )
        .orderBy(feedback.createdAt);
      const latest = new Map(kinds.map((k) => [k.draftId, k]));
      return rows.map((r) => ({
        ...r,
        outcome: latest.get(r.id)?.kind ?? null,
        outcomeSimilarity: latest.get(r.id)?.similarity ?? null,
      }));
    },

    /**
     * One row per draft with what prompt statistics need: version, time, cost, total
     * latency, and the latest feedback (kind + similarity). Newest first, bounded.
     */
    async draftOutcomes(
      f: { websiteId?: string | undefined; since?: number | undefined; limit?: number } = {},
    ) {
      const where: SQL[] = [];
      if (f.websiteId) where.push(eq(drafts.websiteId, f.websiteId));
      if (f.since !== undefined) where.push(gte(drafts.createdAt, f.since));
      return db
        .select({
          id: drafts.id,
          promptName: drafts.promptName,
          promptVersion: drafts.promptVersion,
          variant: drafts.variant,
          status: drafts.status,
          createdAt: drafts.createdAt,
          costUsd: drafts.costUsd,
          latency: drafts.latency,
          outcome: latestFeedbackOf("kind") as SQL<FeedbackKind | null>,
          similarity: latestFeedbackOf("similarity") as SQL<number | null>,
        })
        .from(drafts)
        .where(and(...where))
        .orderBy(desc(drafts.createdAt))
        .limit(f.limit ?? 5_000);
    },

    /** Drafts with their latest outcome, oldest first, a page at a time (for `quill export`). */
    async exportDrafts(f: { since?: number | undefined; afterId?: string | undefined; limit: number }) {
      const where: SQL[] = [];
      if (f.since !== undefined) where.push(gte(drafts.createdAt, f.since));
      if (f.afterId) where.push(sql`${drafts.id} > ${f.afterId}`);
      return db
        .select({
          draft: drafts,
          outcome: latestFeedbackOf("kind") as SQL<FeedbackKind | null>,
          similarity: latestFeedbackOf("similarity") as SQL<number | null>,
          finalText: sql.raw(
            `(select f.final_text from feedback f where f.draft_id = "drafts"."id" and f.final_text is not null order by f.created_at desc limit 1)`,
          ) as SQL<string | null>,
        })
        .from(drafts)
        .where(and(...where))
        .orderBy(drafts.id)
        .limit(f.limit);
    },

    /** Drafts that point at missing knowledge: rejected, rewritten, or handed over without a match. */
    async gapCandidates(
      f: { websiteId?: string | undefined; since?: number | undefined; limit?: number } = {},
    ) {
      const outcome = latestFeedbackOf("kind") as SQL<FeedbackKind | null>;
      const similarityOf = latestFeedbackOf("similarity") as SQL<number | null>;
      const where: SQL[] = [
        or(
          sql`${outcome} in ('rejected', 'ignored')`,
          sql`(${outcome} in ('edited', 'sent_edited') and ${similarityOf} < 0.5)`,
          and(eq(drafts.needsHuman, true), sql`${drafts.citations} = '[]'`),
        ) as SQL,
      ];
      if (f.since !== undefined) where.push(gte(drafts.createdAt, f.since));
      if (f.websiteId) where.push(eq(drafts.websiteId, f.websiteId));
      return db
        .select({
          id: drafts.id,
          createdAt: drafts.createdAt,
          context: drafts.context,
          intent: drafts.intent,
          needsHuman: drafts.needsHuman,
          outcome,
          similarity: similarityOf,
        })
        .from(drafts)
        .where(and(...where))
        .orderBy(desc(drafts.createdAt))
        .limit(f.limit ?? 2_000);
    },

    /**
     * The overview's raw material since a time: per draft its day facts (status, mode, intent,
     * prompt, cost, when posted, when the customer wrote: the job's message time for a first
     * draft) and its decision, the latest feedback that is not a /redraft. Two reads merged
     * here rather than correlated subqueries per draft, so 90 days stay cheap on D1 too.
     * Newest first, at most `limit` drafts (`truncated` says when more matched).
     */
    async overviewRows(f: { websiteId?: string | undefined; since: number; limit?: number }) {
      const limit = f.limit ?? 50_000;
      const where: SQL[] = [gte(drafts.createdAt, f.since)];
      if (f.websiteId) where.push(eq(drafts.websiteId, f.websiteId));
      const rows = await db
        .select({
          id: drafts.id,
          websiteId: drafts.websiteId,
          createdAt: drafts.createdAt,
          postedAt: drafts.postedAt,
          status: drafts.status,
          mode: drafts.mode,
          intent: drafts.intent,
          promptName: drafts.promptName,
          promptVersion: drafts.promptVersion,
          costUsd: drafts.costUsd,
          jobKind: jobs.kind,
          messageAt: jobs.messageAt,
        })
        .from(drafts)
        .leftJoin(jobs, eq(jobs.id, drafts.jobId))
        .where(and(...where))
        .orderBy(desc(drafts.createdAt))
        .limit(limit + 1);
      const truncated = rows.length > limit;
      const kept = truncated ? rows.slice(0, limit) : rows;
      const oldest = kept.at(-1)?.createdAt ?? f.since;
      const decisions = kept.length
        ? await db
            .select({
              draftId: feedback.draftId,
              kind: feedback.kind,
              similarity: feedback.similarity,
              operatorId: feedback.operatorId,
              operatorName: feedback.operatorName,
              delayMs: feedback.delayMs,
              createdAt: feedback.createdAt,
            })
            .from(feedback)
            .innerJoin(drafts, eq(drafts.id, feedback.draftId))
            .where(and(ne(feedback.kind, "redraft"), gte(drafts.createdAt, oldest), ...where.slice(1)))
            .orderBy(feedback.createdAt)
        : [];
      const latest = new Map(decisions.map((d) => [d.draftId, d]));
      return {
        truncated,
        rows: kept.map((r) => {
          const d = latest.get(r.id);
          return {
            ...r,
            decision: d
              ? {
                  kind: d.kind,
                  similarity: d.similarity,
                  operatorId: d.operatorId,
                  operatorName: d.operatorName,
                  delayMs: d.delayMs,
                  at: d.createdAt,
                }
              : null,
          };
        }),
      };
    },

    /** Drafts whose operator answer is known, newest first: the replay set for `quill eval --from-db`. */
    async evalCandidates(limit = 200) {
      const finalText = sql.raw(
        `(select f.final_text from feedback f where f.draft_id = "drafts"."id" and f.final_text is not null order by f.created_at desc limit 1)`,
      ) as SQL<string | null>;
      return db
        .select({ id: drafts.id, context: drafts.context, text: drafts.text, finalText })
        .from(drafts)
        .where(sql`${finalText} is not null`)
        .orderBy(desc(drafts.createdAt))
        .limit(limit);
    },

    /** false when the same source (command or reply delivery) was already recorded. */
    async insertFeedback(f: NewFeedback): Promise<{ inserted: boolean }> {
      const rows = await db
        .insert(feedback)
        .values({ ...f, id: newId(), createdAt: clock.now() })
        .onConflictDoNothing()
        .returning({ id: feedback.id });
      if (rows.length > 0 && options.onFeedback) {
        await options.onFeedback(f);
      }
      return { inserted: rows.length > 0 };
    },

    async feedbackForDraft(draftId: string): Promise<Feedback[]> {
      return db.select().from(feedback).where(eq(feedback.draftId, draftId)).orderBy(feedback.createdAt);
    },

    async upsertPromptVersion(version: { hash: string; name: string; body: string }): Promise<void> {
      // A version is immutable (its key is its hash): once written, there is nothing to do.
      if (knownPromptVersions.has(version.hash)) return;
      await db
        .insert(promptVersions)
        .values({ ...version, createdAt: clock.now() })
        .onConflictDoNothing();
      knownPromptVersions.add(version.hash);
    },

    async listPromptVersions() {
      return db.select().from(promptVersions).orderBy(desc(promptVersions.createdAt));
    },

    async insertLlmCalls(
      calls: Array<Omit<typeof llmCalls.$inferInsert, "id" | "createdAt">>,
    ): Promise<void> {
      const now = clock.now();
      for (const c of calls) {
        await q().insertLlmCall.run(withDefaults(llmCallColumns, { ...c, id: newId(), createdAt: now }));
      }
    },

    async llmCallsForJob(jobId: string) {
      return db.select().from(llmCalls).where(eq(llmCalls.jobId, jobId)).orderBy(llmCalls.createdAt);
    },

    async getPollState(
      websiteId: string,
    ): Promise<{ watermark: number; lastRunAt: number; resume: PollResume | null } | undefined> {
      const [row] = await db.select().from(pollState).where(eq(pollState.websiteId, websiteId)).limit(1);
      if (!row) return undefined;
      const { resumePage: page, resumeWatermark } = row;
      const resume = page !== null && resumeWatermark !== null ? { page, watermark: resumeWatermark } : null;
      return { watermark: row.watermark, lastRunAt: row.lastRunAt, resume };
    },

    /** The watermark never goes backwards; resume is replaced (null: no walk left to finish). */
    async setPollState(websiteId: string, watermark: number, resume: PollResume | null): Promise<void> {
      const now = clock.now();
      const resumeCols = { resumePage: resume?.page ?? null, resumeWatermark: resume?.watermark ?? null };
      await db
        .insert(pollState)
        .values({ websiteId, watermark, lastRunAt: now, ...resumeCols })
        .onConflictDoUpdate({
          target: pollState.websiteId,
          set: { watermark: sql`max(${pollState.watermark}, ${watermark})`, lastRunAt: now, ...resumeCols },
        });
    },

    /** Everything written so far is committed (a no-op without group commit). */
    durable,

    async insertTriageRun(run: Omit<typeof triageRuns.$inferInsert, "id" | "createdAt">): Promise<void> {
      await db.insert(triageRuns).values({ ...run, id: newId(), createdAt: clock.now() });
    },

    /** Links the triage run made before drafting to the draft that followed. */
    async attachTriageDraft(jobId: string, draftId: string): Promise<void> {
      await db
        .update(triageRuns)
        .set({ draftId })
        .where(and(eq(triageRuns.jobId, jobId), sql`${triageRuns.draftId} is null`));
    },

    /** Triage of one website's conversations (or one conversation), newest first. */
    async listTriageRuns(f: {
      websiteId?: string | undefined;
      sessionId?: string | undefined;
      jobId?: string | undefined;
      limit?: number | undefined;
    }) {
      const where = and(
        f.websiteId ? eq(triageRuns.websiteId, f.websiteId) : undefined,
        f.sessionId ? eq(triageRuns.sessionId, f.sessionId) : undefined,
        f.jobId ? eq(triageRuns.jobId, f.jobId) : undefined,
      );
      return db
        .select()
        .from(triageRuns)
        .where(where)
        .orderBy(desc(triageRuns.createdAt))
        .limit(f.limit ?? 100);
    },

    async getWebsiteSettings(websiteId: string): Promise<Record<string, unknown> | undefined> {
      const rows = await db
        .select()
        .from(websiteSettings)
        .where(eq(websiteSettings.websiteId, websiteId))
        .limit(1);
      return rows[0]?.settings;
    },

    async setWebsiteSettings(websiteId: string, settings: Record<string, unknown>): Promise<void> {
      const now = clock.now();
      await db
        .insert(websiteSettings)
        .values({ websiteId, settings, updatedAt: now })
        .onConflictDoUpdate({ target: websiteSettings.websiteId, set: { settings, updatedAt: now } });
    },

    async listWebsiteSettings() {
      return db.select().from(websiteSettings).orderBy(websiteSettings.websiteId);
    },

    /** The stored secret `name`, or `candidate` stored as it when there is none (first writer wins). */
    async ensureSecret(name: string, candidate: string): Promise<string> {
      await db
        .insert(serverSecrets)
        .values({ name, value: candidate, createdAt: clock.now() })
        .onConflictDoNothing({ target: serverSecrets.name });
      const rows = await db.select().from(serverSecrets).where(eq(serverSecrets.name, name)).limit(1);
      return rows[0]?.value ?? candidate;
    },

    async setSecret(name: string, value: string): Promise<void> {
      const now = clock.now();
      await db
        .insert(serverSecrets)
        .values({ name, value, createdAt: now })
        .onConflictDoUpdate({ target: serverSecrets.name, set: { value, createdAt: now } });
    },

    async insertAdminSession(s: Omit<AdminSession, "revokedAt">): Promise<void> {
      await db.insert(adminSessions).values(s);
      // Expired rows go with each login, so the table stays as small as the live sessions.
      await db.delete(adminSessions).where(lt(adminSessions.expiresAt, clock.now() - 86_400_000));
    },

    /** A session that is neither expired nor revoked. */
    async liveAdminSession(idHash: string): Promise<AdminSession | undefined> {
      const rows = await db.select().from(adminSessions).where(eq(adminSessions.idHash, idHash)).limit(1);
      const row = rows[0];
      return row && row.revokedAt === null && row.expiresAt > clock.now() ? row : undefined;
    },

    async revokeAdminSession(idHash: string): Promise<void> {
      await db
        .update(adminSessions)
        .set({ revokedAt: clock.now() })
        .where(and(eq(adminSessions.idHash, idHash), sql`${adminSessions.revokedAt} is null`));
    },

    /** Ends every session of a subject ("*" or a website id); returns how many were live. */
    async revokeAdminSessionsOf(subject: string): Promise<number> {
      const now = clock.now();
      const rows = await db
        .update(adminSessions)
        .set({ revokedAt: now })
        .where(
          and(
            eq(adminSessions.subject, subject),
            sql`${adminSessions.revokedAt} is null`,
            gte(adminSessions.expiresAt, now),
          ),
        )
        .returning({ idHash: adminSessions.idHash });
      return rows.length;
    },

    /**
     * Counts one failed login under each key, in one statement per key; a count whose last
     * failure is older than `forgetAfterMs` starts again at 1.
     */
    async recordLoginFailure(
      keys: string[],
      forgetAfterMs: number,
    ): Promise<Array<{ key: string; failures: number; lastFailureAt: number }>> {
      const now = clock.now();
      const out: Array<{ key: string; failures: number; lastFailureAt: number }> = [];
      for (const key of keys) {
        const rows = await db
          .insert(loginFailures)
          .values({ key, failures: 1, lastFailureAt: now })
          .onConflictDoUpdate({
            target: loginFailures.key,
            set: {
              failures: sql`case when ${loginFailures.lastFailureAt} < ${now - forgetAfterMs} then 1 else ${loginFailures.failures} + 1 end`,
              lastFailureAt: now,
            },
          })
          .returning();
        if (rows[0]) out.push(rows[0]);
      }
      return out;
    },

    async loginFailuresOf(
      keys: string[],
    ): Promise<Array<{ key: string; failures: number; lastFailureAt: number }>> {
      if (keys.length === 0) return [];
      return db.select().from(loginFailures).where(inArray(loginFailures.key, keys));
    },

    async clearLoginFailures(keys: string[]): Promise<void> {
      if (keys.length === 0) return;
      await db.delete(loginFailures).where(inArray(loginFailures.key, keys));
    },

    async conversationState(websiteId: string, sessionId: string): Promise<ConversationState | undefined> {
      const rows = await db
        .select()
        .from(conversations)
        .where(and(eq(conversations.websiteId, websiteId), eq(conversations.sessionId, sessionId)))
        .limit(1);
      return rows[0];
    },

    /** /quill off (paused) or /quill on; `at` is also when operators' earlier answers stop counting. */
    async setConversationPaused(
      websiteId: string,
      sessionId: string,
      paused: boolean,
      by: string | null,
      at = clock.now(),
    ): Promise<void> {
      const change = paused
        ? { paused, changedBy: by, pausedAt: at }
        : { paused, changedBy: by, resumedAt: at };
      await db
        .insert(conversations)
        .values({ websiteId, sessionId, ...change, updatedAt: at })
        .onConflictDoUpdate({
          target: [conversations.websiteId, conversations.sessionId],
          set: { ...change, updatedAt: at },
        });
    },

    async setConversationResolved(websiteId: string, sessionId: string, at = clock.now()): Promise<void> {
      await db
        .insert(conversations)
        .values({ websiteId, sessionId, resolvedAt: at, updatedAt: at })
        .onConflictDoUpdate({
          target: [conversations.websiteId, conversations.sessionId],
          set: { resolvedAt: at, updatedAt: at },
        });
    },

    /** Conversations where quill is off, newest change first (the dashboard lists them). */
    async pausedConversations(websiteId?: string | undefined, limit = 100): Promise<ConversationState[]> {
      return db
        .select()
        .from(conversations)
        .where(
          websiteId
            ? and(eq(conversations.paused, true), eq(conversations.websiteId, websiteId))
            : eq(conversations.paused, true),
        )
        .orderBy(desc(conversations.updatedAt))
        .limit(limit);
    },

    async insertMcpToken(token: Omit<McpToken, "revokedAt" | "lastUsedAt">): Promise<void> {
      await db.insert(mcpTokens).values(token);
    },

    async mcpTokenByHash(hash: string): Promise<McpToken | undefined> {
      return (await db.select().from(mcpTokens).where(eq(mcpTokens.hash, hash)).limit(1))[0];
    },

    async listMcpTokens(): Promise<McpToken[]> {
      return db.select().from(mcpTokens).orderBy(desc(mcpTokens.createdAt));
    },

    /** True when a live token of that id (or name) was revoked now. */
    async revokeMcpToken(idOrName: string, at = clock.now()): Promise<boolean> {
      const rows = await db
        .update(mcpTokens)
        .set({ revokedAt: at })
        .where(
          and(
            or(eq(mcpTokens.id, idOrName), eq(mcpTokens.name, idOrName)),
            sql`${mcpTokens.revokedAt} is null`,
          ),
        )
        .returning({ id: mcpTokens.id });
      return rows.length > 0;
    },

    async touchMcpToken(id: string, at = clock.now()): Promise<void> {
      await db.update(mcpTokens).set({ lastUsedAt: at }).where(eq(mcpTokens.id, id));
    },

    async recordMcpCall(call: Omit<McpCall, "id" | "createdAt">): Promise<void> {
      await db.insert(mcpCalls).values({ ...call, createdAt: clock.now() });
    },

    async listMcpCalls(f: { tokenId?: string; websiteId?: string; limit?: number } = {}): Promise<McpCall[]> {
      return db
        .select()
        .from(mcpCalls)
        .where(
          and(
            f.tokenId ? eq(mcpCalls.tokenId, f.tokenId) : undefined,
            f.websiteId ? eq(mcpCalls.websiteId, f.websiteId) : undefined,
          ),
        )
        .orderBy(desc(mcpCalls.id))
        .limit(f.limit ?? 100);
    },

    /** A token's calls since a time (its rate limit), or a website's sends to customers (the send caps). */
    async countMcpCalls(f: {
      tokenId?: string;
      websiteId?: string;
      since: number;
      tool?: string;
    }): Promise<number> {
      const [row] = await db
        .select({ n: sql<number>`count(*)` })
        .from(mcpCalls)
        .where(
          and(
            f.tokenId ? eq(mcpCalls.tokenId, f.tokenId) : undefined,
            f.websiteId ? eq(mcpCalls.websiteId, f.websiteId) : undefined,
            gte(mcpCalls.createdAt, f.since),
            f.tool ? and(eq(mcpCalls.tool, f.tool), eq(mcpCalls.ok, true)) : undefined,
          ),
        );
      return Number(row?.n ?? 0);
    },

    /**
     * Remembers who the visitor of a conversation is (their Crisp profile, a hash of their
     * email), so a privacy export or erase finds every session of theirs. A value already
     * known is kept when the conversation no longer carries one.
     */
    async linkVisitor(
      websiteId: string,
      sessionId: string,
      visitor: { peopleId?: string | null | undefined; emailHash?: string | null | undefined },
    ): Promise<void> {
      const peopleId = visitor.peopleId || null;
      const emailHash = visitor.emailHash || null;
      if (!peopleId && !emailHash) return;
      await db
        .insert(conversations)
        .values({ websiteId, sessionId, peopleId, emailHash, updatedAt: clock.now() })
        .onConflictDoUpdate({
          target: [conversations.websiteId, conversations.sessionId],
          set: {
            peopleId: sql`coalesce(excluded.people_id, ${conversations.peopleId})`,
            emailHash: sql`coalesce(excluded.email_hash, ${conversations.emailHash})`,
          },
        });
    },

    /**
     * RETENTION_DAYS: one batch (up to `limit` rows per table) of removing what is older than
     * `cutoff`. Web hook deliveries, LLM calls and the MCP audit go; drafts keep their row for statistics
     * but lose every text (reply, transcript, context), feedback its operator text, finished
     * jobs their payload (sync jobs carry the draft's text). Call again while any count is
     * `limit`: D1 bounds a statement's time, so no single statement touches everything.
     */
    async pruneBefore(cutoff: number, limit = 500): Promise<RetentionCounts> {
      const rowsOf = async (rows: Promise<unknown[]>) => (await rows).length;
      // Rows that go whole: the oldest `limit` by their time column.
      const deleteOlder = async (
        table: typeof inboxEvents | typeof llmCalls | typeof mcpCalls,
        at: SQLiteColumn,
      ) =>
        (
          await db
            .delete(table)
            .where(
              inArray(table.id, db.select({ id: table.id }).from(table).where(lt(at, cutoff)).limit(limit)),
            )
            .returning({ id: table.id })
        ).length;
      const inboxEventsGone = await deleteOlder(inboxEvents, inboxEvents.receivedAt);
      const llmCallsGone = await deleteOlder(llmCalls, llmCalls.createdAt);
      const draftsBlanked = await rowsOf(
        db
          .update(drafts)
          .set({ text: "", transcript: null, context: null, needsHumanReason: null })
          .where(
            inArray(
              drafts.id,
              db
                .select({ id: drafts.id })
                .from(drafts)
                .where(
                  and(
                    lt(drafts.createdAt, cutoff),
                    sql`(${drafts.text} != '' or ${drafts.transcript} is not null or ${drafts.context} is not null or ${drafts.needsHumanReason} is not null)`,
                  ),
                )
                .limit(limit),
            ),
          )
          .returning({ id: drafts.id }),
      );
      const feedbackBlanked = await rowsOf(
        db
          .update(feedback)
          .set({ finalText: null, reason: null })
          .where(
            inArray(
              feedback.id,
              db
                .select({ id: feedback.id })
                .from(feedback)
                .where(
                  and(
                    lt(feedback.createdAt, cutoff),
                    sql`(${feedback.finalText} is not null or ${feedback.reason} is not null)`,
                  ),
                )
                .limit(limit),
            ),
          )
          .returning({ id: feedback.id }),
      );
      const jobsBlanked = await rowsOf(
        db
          .update(jobs)
          .set({ instructions: null })
          .where(
            inArray(
              jobs.id,
              db
                .select({ id: jobs.id })
                .from(jobs)
                .where(
                  and(
                    // Finished (a queued or leased job still needs its payload); not by status,
                    // so the planner takes jobs_unpruned rather than walking every old job.
                    sql`${jobs.finishedAt} is not null`,
                    lt(jobs.runAfter, cutoff),
                    sql`${jobs.instructions} is not null`,
                  ),
                )
                .limit(limit),
            ),
          )
          .returning({ id: jobs.id }),
      );
      const mcpCallsGone = await deleteOlder(mcpCalls, mcpCalls.createdAt);
      return {
        mcpCalls: mcpCallsGone,
        inboxEvents: inboxEventsGone,
        llmCalls: llmCallsGone,
        drafts: draftsBlanked,
        feedback: feedbackBlanked,
        jobs: jobsBlanked,
      };
    },

    /**
     * The conversations of one visitor: by their Crisp profile, by their email (its hash, and
     * for drafts made before quill kept the hash, the email in a draft's unredacted context),
     * or by a session id. Optionally within one website.
     */
    async visitorSessions(who: VisitorQuery): Promise<SessionRef[]> {
      const found = new Map<string, SessionRef>();
      const add = (rows: SessionRef[]) => {
        for (const r of rows) found.set(`${r.websiteId}\n${r.sessionId}`, r);
      };
      const site = <T extends { websiteId: SQLiteColumn }>(t: T) =>
        who.websiteId ? eq(t.websiteId, who.websiteId) : undefined;
      const ref = <T extends { websiteId: SQLiteColumn; sessionId: SQLiteColumn }>(t: T) => ({
        websiteId: t.websiteId,
        sessionId: t.sessionId,
      });
      const links = [
        who.peopleId ? eq(conversations.peopleId, who.peopleId) : undefined,
        who.emailHash ? eq(conversations.emailHash, who.emailHash) : undefined,
        who.sessionId ? eq(conversations.sessionId, who.sessionId) : undefined,
      ].filter((c) => c !== undefined);
      if (links.length > 0) {
        add(
          (await db
            .select(ref(conversations))
            .from(conversations)
            .where(and(or(...links), site(conversations)))) as SessionRef[],
        );
      }
      if (who.email) {
        const email = who.email.trim().toLowerCase();
        add(
          (await db
            .selectDistinct(ref(drafts))
            .from(drafts)
            .where(
              and(sql`lower(json_extract(${drafts.context}, '$.visitor.email')) = ${email}`, site(drafts)),
            )) as SessionRef[],
        );
      }
      if (who.sessionId) {
        for (const t of [jobs, drafts, inboxEvents] as const) {
          add(
            (
              (await db
                .selectDistinct(ref(t))
                .from(t)
                .where(and(eq(t.sessionId, who.sessionId), site(t)))) as Array<{
                websiteId: string;
                sessionId: string | null;
              }>
            ).filter((r): r is SessionRef => r.sessionId !== null),
          );
        }
      }
      return [...found.values()];
    },

    /** Every row quill holds about these conversations, table by table (`quill privacy export`). */
    async visitorRows(sessions: SessionRef[]): Promise<VisitorRows> {
      const out: VisitorRows = {
        conversations: [],
        inboxEvents: [],
        jobs: [],
        drafts: [],
        feedback: [],
        llmCalls: [],
        triageRuns: [],
        mcpCalls: [],
      };
      for (const where of sessionChunks(sessions)) {
        out.conversations.push(...(await db.select().from(conversations).where(where(conversations))));
        out.inboxEvents.push(...(await db.select().from(inboxEvents).where(where(inboxEvents))));
        out.jobs.push(...(await db.select().from(jobs).where(where(jobs))));
        out.drafts.push(...(await db.select().from(drafts).where(where(drafts))));
        out.feedback.push(...(await db.select().from(feedback).where(where(feedback))));
        out.triageRuns.push(...(await db.select().from(triageRuns).where(where(triageRuns))));
        out.mcpCalls.push(...(await db.select().from(mcpCalls).where(where(mcpCalls))));
      }
      for (const ids of chunks(out.jobs.map((j) => j.id))) {
        out.llmCalls.push(...(await db.select().from(llmCalls).where(inArray(llmCalls.jobId, ids))));
      }
      return out;
    },

    /**
     * Removes every row of these conversations (children before parents: D1 enforces
     * foreign keys); the MCP audit keeps its rows without the session. Returns counts.
     */
    async eraseVisitor(sessions: SessionRef[]): Promise<Record<keyof VisitorRows, number>> {
      const counts: Record<keyof VisitorRows, number> = {
        conversations: 0,
        inboxEvents: 0,
        jobs: 0,
        drafts: 0,
        feedback: 0,
        llmCalls: 0,
        triageRuns: 0,
        mcpCalls: 0,
      };
      for (const where of sessionChunks(sessions)) {
        const jobIds = (await db.select({ id: jobs.id }).from(jobs).where(where(jobs))).map((j) => j.id);
        const draftIds = (await db.select({ id: drafts.id }).from(drafts).where(where(drafts))).map(
          (d) => d.id,
        );
        counts.feedback += (
          await db.delete(feedback).where(where(feedback)).returning({ id: feedback.id })
        ).length;
        // Feedback of another conversation never points at these drafts, but a foreign key would fail.
        for (const ids of chunks(draftIds)) {
          counts.feedback += (
            await db.delete(feedback).where(inArray(feedback.draftId, ids)).returning({ id: feedback.id })
          ).length;
          counts.llmCalls += (
            await db.delete(llmCalls).where(inArray(llmCalls.draftId, ids)).returning({ id: llmCalls.id })
          ).length;
        }
        for (const ids of chunks(jobIds)) {
          counts.llmCalls += (
            await db.delete(llmCalls).where(inArray(llmCalls.jobId, ids)).returning({ id: llmCalls.id })
          ).length;
        }
        counts.triageRuns += (
          await db.delete(triageRuns).where(where(triageRuns)).returning({ id: triageRuns.id })
        ).length;
        counts.drafts += (await db.delete(drafts).where(where(drafts)).returning({ id: drafts.id })).length;
        counts.jobs += (await db.delete(jobs).where(where(jobs)).returning({ id: jobs.id })).length;
        counts.inboxEvents += (
          await db.delete(inboxEvents).where(where(inboxEvents)).returning({ id: inboxEvents.id })
        ).length;
        counts.conversations += (
          await db
            .delete(conversations)
            .where(where(conversations))
            .returning({ sessionId: conversations.sessionId })
        ).length;
        counts.mcpCalls += (
          await db
            .update(mcpCalls)
            .set({ sessionId: null })
            .where(where(mcpCalls))
            .returning({ id: mcpCalls.id })
        ).length;
      }
      await durable();
      return counts;
    },

    /**
     * Records a signed request (CRM, Hugo) until `expiresAt`; false when the same key is still
     * recorded (a replay). Expired keys are dropped on the way, so the table stays small.
     */
    async claimSignedRequest(key: string, websiteId: string, expiresAt: number): Promise<boolean> {
      await db.delete(crmRequests).where(lt(crmRequests.expiresAt, clock.now()));
      const rows = await db
        .insert(crmRequests)
        .values({ key, websiteId, expiresAt })
        .onConflictDoNothing()
        .returning({ key: crmRequests.key });
      return rows.length > 0;
    },

    /** Forgets a claimed request (it was not applied), so the sender may repeat it. */
    async releaseSignedRequest(key: string): Promise<void> {
      await db.delete(crmRequests).where(eq(crmRequests.key, key));
    },

    /** Every cached article vector of an embedding model. */
    async embeddings(model: string): Promise<StoredVector[]> {
      return db
        .select({ hash: embeddings.hash, vector: embeddings.vector, scale: embeddings.scale })
        .from(embeddings)
        .where(eq(embeddings.model, model));
    },

    async saveEmbeddings(model: string, rows: StoredVector[]): Promise<void> {
      const createdAt = clock.now();
      // A few rows per statement: D1 binds at most 100 parameters.
      for (let i = 0; i < rows.length; i += 16) {
        await db
          .insert(embeddings)
          .values(rows.slice(i, i + 16).map((r) => ({ model, ...r, createdAt })))
          .onConflictDoNothing();
      }
    },
  };
}

export type Store = ReturnType<typeof createStore>;
