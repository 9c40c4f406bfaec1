import { and, inArray, lt, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { drafts, feedback, inboxEvents, jobs, llmCalls, mcpCalls, shadowDrafts } from "./schema.ts";
import { type Database, gone, rowCount, type StoreContext } from "./shared.ts";

/** One batch of RETENTION_DAYS: rows removed (events, calls) or blanked (drafts, feedback, jobs). */
export interface RetentionCounts {
  inboxEvents: number;
  llmCalls: number;
  drafts: number;
  feedback: number;
  jobs: number;
  mcpCalls: number;
  shadowDrafts: number;
}

/**
 * RETENTION_DAYS, one batch: web hook deliveries, LLM calls and the MCP audit older than
 * `cutoff` go; drafts keep their row for statistics but lose every text (reply, transcript,
 * context), shadow drafts (shadow mode's candidates) theirs, feedback its operator text, finished jobs their payload (sync jobs carry the
 * draft's text). Call again while any count is `limit`: D1 bounds a statement's time.
 */
/** Up to `limit` rows of a table matching `where`: one batch. */
function batchOf(db: Database, limit: number) {
  return <T extends SQLiteTable & { id: SQLiteColumn }>(table: T, where: SQL | undefined) =>
    inArray(
      table.id,
      db
        .select({ id: table.id })
        .from(table as SQLiteTable)
        .where(where)
        .limit(limit),
    );
}

/** Finished jobs lose their payload: sync jobs carry the draft's text. */
function blankJobPayloads(db: Database, batch: ReturnType<typeof batchOf>, cutoff: number) {
  return rowCount(
    db
      .update(jobs)
      .set({ instructions: null })
      .where(
        batch(
          jobs,
          and(
            // Finished (a queued or leased job still needs its payload); not by status,
            // so the planner takes jobs_unpruned rather than walking every old job.
            sql`${jobs.finishedAt} is not null`,
            lt(jobs.runAfter, cutoff),
            sql`${jobs.instructions} is not null`,
          ),
        ),
      )
      .returning({ id: jobs.id }),
  );
}

export async function pruneBefore(db: Database, cutoff: number, limit = 500): Promise<RetentionCounts> {
  const batch = batchOf(db, limit);
  const deleteOlder = (table: typeof inboxEvents | typeof llmCalls | typeof mcpCalls, at: SQLiteColumn) =>
    gone(db, table, batch(table, lt(at, cutoff)), table.id);
  const inboxEventsGone = await deleteOlder(inboxEvents, inboxEvents.receivedAt);
  const llmCallsGone = await deleteOlder(llmCalls, llmCalls.createdAt);
  const draftsBlanked = await rowCount(
    db
      .update(drafts)
      .set({ text: "", transcript: null, context: null, needsHumanReason: null })
      .where(
        batch(
          drafts,
          and(
            lt(drafts.createdAt, cutoff),
            sql`(${drafts.text} != '' or ${drafts.transcript} is not null or ${drafts.context} is not null or ${drafts.needsHumanReason} is not null)`,
          ),
        ),
      )
      .returning({ id: drafts.id }),
  );
  const shadowsBlanked = await rowCount(
    db
      .update(shadowDrafts)
      .set({ text: "" })
      .where(batch(shadowDrafts, and(lt(shadowDrafts.createdAt, cutoff), sql`${shadowDrafts.text} != ''`)))
      .returning({ id: shadowDrafts.id }),
  );
  const feedbackBlanked = await rowCount(
    db
      .update(feedback)
      .set({ finalText: null, reason: null })
      .where(
        batch(
          feedback,
          and(
            lt(feedback.createdAt, cutoff),
            sql`(${feedback.finalText} is not null or ${feedback.reason} is not null)`,
          ),
        ),
      )
      .returning({ id: feedback.id }),
  );
  const jobsBlanked = await blankJobPayloads(db, batch, cutoff);
  const mcpCallsGone = await deleteOlder(mcpCalls, mcpCalls.createdAt);
  return {
    mcpCalls: mcpCallsGone,
    inboxEvents: inboxEventsGone,
    llmCalls: llmCallsGone,
    drafts: draftsBlanked,
    feedback: feedbackBlanked,
    jobs: jobsBlanked,
    shadowDrafts: shadowsBlanked,
  };
}

/** RETENTION_DAYS (src/privacy.ts runs the batches). */
export function retentionQueries({ db }: StoreContext) {
  return {
    pruneBefore: (cutoff: number, limit?: number) => pruneBefore(db, cutoff, limit),
  };
}
