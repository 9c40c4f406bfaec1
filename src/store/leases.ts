import { and, eq, gte, inArray, lt, lte, or, type Placeholder, sql } from "drizzle-orm";
import type { JobStatus } from "./jobs.ts";
import { type Job, jobs } from "./schema.ts";
import { lazy, p, rowCount, type StoreContext, v } from "./shared.ts";

type Value = number | Placeholder;

const expiredLease = (now: Value) => and(eq(jobs.status, "leased"), lt(jobs.leaseExpiresAt, now));
/** Queued and due by `queuedBefore`, or leased with an expired lease. */
const due = (now: Value, queuedBefore: Value = now) =>
  or(and(eq(jobs.status, "queued"), lte(jobs.runAfter, queuedBefore)), expiredLease(now));
/** The job(s) this owner still holds: a lost lease matches nothing. */
const heldBy = (owner: string | Placeholder, id?: string | Placeholder) =>
  and(id === undefined ? undefined : eq(jobs.id, id), eq(jobs.leaseOwner, owner), eq(jobs.status, "leased"));
const unleased = { leaseOwner: null, leaseExpiresAt: null };

function prepare({ db }: StoreContext) {
  const leaseSet = {
    status: "leased" as const,
    leaseOwner: v("owner"),
    leaseExpiresAt: v("expires"),
    attempts: sql`${jobs.attempts} + 1`,
    updatedAt: v("now"),
  };
  return {
    // Read-only: no write transaction (with group commit) when nothing is due, the common case.
    anyDue: db
      .select({ id: jobs.id })
      .from(jobs)
      .where(due(p("now")))
      .limit(1)
      .prepare(),
    markDead: db
      .update(jobs)
      .set({
        status: "dead",
        lastError: sql`coalesce(${jobs.lastError}, 'lease expired too often')`,
        updatedAt: v("now"),
        finishedAt: v("now"),
      })
      .where(and(expiredLease(p("now")), gte(jobs.attempts, jobs.maxAttempts)))
      .prepare(),
    lease: db
      .update(jobs)
      .set(leaseSet)
      .where(
        and(
          inArray(
            jobs.id,
            db
              .select({ id: jobs.id })
              .from(jobs)
              .where(due(p("now")))
              // Shadow jobs only compare: every other due job is leased before them.
              .orderBy(sql`${jobs.kind} = 'shadow'`, jobs.runAfter)
              .limit(p("limit")),
          ),
          // re-check inside the UPDATE: another process may have taken it since the subquery ran
          due(p("now")),
        ),
      )
      .returning()
      .prepare(),
    leaseOne: db
      .update(jobs)
      .set(leaseSet)
      .where(and(eq(jobs.id, p("id")), or(eq(jobs.status, "queued"), expiredLease(p("now")))))
      .returning()
      .prepare(),
  };
}

function prepareFinish({ db }: StoreContext) {
  return {
    finish: db
      .update(jobs)
      .set({
        status: v("status"),
        outcome: v("outcome"),
        lastError: v("error"),
        ...unleased,
        updatedAt: v("now"),
        finishedAt: v("now"),
      })
      .where(heldBy(p("owner"), p("id")))
      .returning({ id: jobs.id })
      .prepare(),
  };
}

/**
 * Leases: a job is taken, extended, finished or handed back by one UPDATE … RETURNING that
 * re-checks its state, so two processes never hold the same job.
 */
export function leaseQueries(ctx: StoreContext) {
  const { db, clock, durable } = ctx;
  const q = lazy(() => prepare(ctx));

  return {
    /**
     * Atomically leases due jobs (queued and due, or leased with an expired lease). Jobs
     * whose lease expired too often (a crash loop) are marked dead first.
     */
    async leaseJobs(l: { owner: string; leaseMs: number; limit: number }): Promise<Job[]> {
      const now = clock.now();
      // Dead-marking and leasing only touch due jobs: with none, both would change nothing.
      if ((await q().anyDue.all({ now })).length === 0) return [];
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
      return db.select().from(jobs).where(due(now, o.queuedBefore)).orderBy(jobs.runAfter).limit(o.limit);
    },

    /** Lease one known job (a Workers queue message names its job). */
    async leaseJob(id: string, owner: string, leaseMs: number): Promise<Job | undefined> {
      const now = clock.now();
      const [row] = await q().leaseOne.all({ id, owner, expires: now + leaseMs, now });
      if (row) await durable();
      return row;
    },
  };
}

/** What the holder of a lease does with it: extend, finish, retry or hand back. */
export function leaseHolderQueries(ctx: StoreContext) {
  const { db, clock } = ctx;
  const q = lazy(() => prepareFinish(ctx));

  return {
    async extendLease(id: string, owner: string, leaseMs: number): Promise<boolean> {
      const extended = await rowCount(
        db
          .update(jobs)
          .set({ leaseExpiresAt: clock.now() + leaseMs })
          .where(heldBy(owner, id))
          .returning({ id: jobs.id }),
      );
      return extended > 0;
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
          ...unleased,
          updatedAt: now,
        })
        .where(heldBy(owner, id))
        .returning({ status: jobs.status });
      const status = rows[0]?.status;
      return status === undefined ? "lost" : status === "dead" ? "dead" : "retry";
    },

    /** Graceful shutdown: hand this process's leases back without counting an attempt. */
    async releaseJobs(owner: string): Promise<number> {
      return rowCount(
        db
          .update(jobs)
          .set({
            status: "queued",
            ...unleased,
            attempts: sql`max(${jobs.attempts} - 1, 0)`,
            updatedAt: clock.now(),
          })
          .where(heldBy(owner))
          .returning({ id: jobs.id }),
      );
    },
  };
}
