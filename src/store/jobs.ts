import { and, desc, eq, lt, lte, type Placeholder, sql } from "drizzle-orm";
import { type Job, jobs } from "./schema.ts";
import { eqIf, lazy, newId, p, rowCount, type SessionRef, type StoreContext, v } from "./shared.ts";

export type JobStatus = Job["status"];
export type JobTrigger = Job["trigger"];

export interface NewJob {
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
}

/** Queued draft jobs of one conversation; commands are never deferred, superseded or cancelled. */
export const queuedDraftsOf = (websiteId: string | Placeholder, sessionId: string | Placeholder) =>
  and(
    eq(jobs.websiteId, websiteId),
    eq(jobs.sessionId, sessionId),
    eq(jobs.status, "queued"),
    eq(jobs.kind, "draft"),
  );

function prepare({ db }: StoreContext) {
  return {
    getJob: db
      .select()
      .from(jobs)
      .where(eq(jobs.id, p("id")))
      .limit(1)
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
  };
}

/** The typing debounce and the newer-message rule, over one conversation's queued drafts. */
function prepareDebounce({ db }: StoreContext) {
  return {
    supersede: db
      .update(jobs)
      .set({
        status: "superseded",
        outcome: "the customer wrote again",
        updatedAt: v("now"),
        finishedAt: v("now"),
      })
      .where(and(queuedDraftsOf(p("websiteId"), p("sessionId")), lt(jobs.messageAt, p("before"))))
      .returning({ id: jobs.id })
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
          queuedDraftsOf(p("websiteId"), p("sessionId")),
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
          queuedDraftsOf(p("websiteId"), p("sessionId")),
          lte(jobs.messageAt, p("stoppedAt")),
          sql`${jobs.runAfter} > ${sql.placeholder("now")}`,
        ),
      )
      .returning({ id: jobs.id, runAfter: jobs.runAfter })
      .prepare(),
  };
}

/** Enqueueing jobs and reading them back. */
export function jobQueries(ctx: StoreContext) {
  const { db, clock } = ctx;
  const q = lazy(() => prepare(ctx));

  async function getJob(id: string): Promise<Job | undefined> {
    return (await q().getJob.all({ id }))[0];
  }

  return {
    /**
     * One job per (website, session, customer message[, command]): web hooks, their retries
     * and poll cycles all land on the same row.
     */
    async enqueueJob(j: NewJob): Promise<{ job: Job; created: boolean }> {
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

    getJob,
    jobById: getJob,

    async countJobsByStatus(websiteId?: string | undefined): Promise<Record<string, number>> {
      const rows = await db
        .select({ status: jobs.status, n: sql<number>`count(*)` })
        .from(jobs)
        .where(eqIf(jobs.websiteId, websiteId))
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
      return db
        .select()
        .from(jobs)
        .where(
          and(
            eqIf(jobs.kind, f.kind),
            eqIf(jobs.websiteId, f.websiteId),
            eqIf(jobs.sessionId, f.sessionId),
            eqIf(jobs.status, f.status),
          ),
        )
        .orderBy(desc(jobs.createdAt))
        .limit(f.limit ?? 100);
    },
  };
}

/** The typing debounce and the newer-message rule, over one conversation's queued drafts. */
export function debounceQueries(ctx: StoreContext) {
  const { db, clock } = ctx;
  const q = lazy(() => prepareDebounce(ctx));

  return {
    /**
     * The visitor is typing (at `typedAt`, Crisp's time): queued drafts of the session for
     * messages before it wait until `quietPeriodMs` after their message (until a stop, or a
     * newer message, ends the wait). Returns the jobs that moved, with their new run time.
     */
    async deferQueuedDrafts(
      d: SessionRef & { quietPeriodMs: number; typedAt: number },
    ): Promise<Array<{ id: string; runAfter: number }>> {
      return q().deferDrafts.all({
        websiteId: d.websiteId,
        sessionId: d.sessionId,
        quiet: d.quietPeriodMs,
        typedAt: d.typedAt,
        now: clock.now(),
      });
    },

    /** The visitor stopped typing (at `stoppedAt`): queued drafts of the session for messages up to then run now. */
    async advanceQueuedDrafts(
      d: SessionRef & { stoppedAt: number },
    ): Promise<Array<{ id: string; runAfter: number }>> {
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
      return rowCount(
        db
          .update(jobs)
          .set({ status: "skipped", outcome, updatedAt: now, finishedAt: now })
          .where(
            and(
              queuedDraftsOf(websiteId, sessionId),
              upToMessageAt === undefined ? undefined : lte(jobs.messageAt, upToMessageAt),
            ),
          )
          .returning({ id: jobs.id }),
      );
    },
  };
}
