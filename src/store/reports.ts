import { and, desc, eq, gte, ne, or, type SQL, sql } from "drizzle-orm";
import { latestFeedback } from "./feedback.ts";
import { drafts, feedback, jobs } from "./schema.ts";
import { eqIf, type StoreContext } from "./shared.ts";

type Since = { websiteId?: string | undefined; since?: number | undefined; limit?: number };

const sinceWhere = (f: { websiteId?: string | undefined; since?: number | undefined }) =>
  and(
    eqIf(drafts.websiteId, f.websiteId),
    f.since === undefined ? undefined : gte(drafts.createdAt, f.since),
  );

/**
 * Per draft, its latest decision: the newest feedback that is not a /redraft, for the drafts
 * matching `where` created since `oldest`. One read merged by the caller.
 */
async function decisionsSince(db: StoreContext["db"], oldest: number, where: SQL | undefined) {
  const rows = await db
    .select({
      draftId: feedback.draftId,
      kind: feedback.kind,
      similarity: feedback.similarity,
      operatorId: feedback.operatorId,
      operatorName: feedback.operatorName,
      delayMs: feedback.delayMs,
      at: feedback.createdAt,
    })
    .from(feedback)
    .innerJoin(drafts, eq(drafts.id, feedback.draftId))
    .where(and(ne(feedback.kind, "redraft"), gte(drafts.createdAt, oldest), where))
    .orderBy(feedback.createdAt);
  return new Map(rows.map(({ draftId, ...decision }) => [draftId, decision]));
}

/** Read-only views over drafts and their outcomes: prompt statistics, export, knowledge gaps. */
export function reportQueries({ db }: StoreContext) {
  return {
    /**
     * One row per draft with what prompt statistics need: version, time, cost, total
     * latency, and the latest feedback (kind + similarity). Newest first, bounded.
     */
    async draftOutcomes(f: Since = {}) {
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
          outcome: latestFeedback.kind(),
          similarity: latestFeedback.similarity(),
        })
        .from(drafts)
        .where(sinceWhere(f))
        .orderBy(desc(drafts.createdAt))
        .limit(f.limit ?? 5_000);
    },

    /** Drafts with their latest outcome, oldest first, a page at a time (for `quill export`). */
    async exportDrafts(f: { since?: number | undefined; afterId?: string | undefined; limit: number }) {
      return db
        .select({
          draft: drafts,
          outcome: latestFeedback.kind(),
          similarity: latestFeedback.similarity(),
          finalText: latestFeedback.finalText(),
        })
        .from(drafts)
        .where(and(sinceWhere(f), f.afterId ? sql`${drafts.id} > ${f.afterId}` : undefined))
        .orderBy(drafts.id)
        .limit(f.limit);
    },

    /** Drafts that point at missing knowledge: rejected, rewritten, or handed over without a match. */
    async gapCandidates(f: Since = {}) {
      const outcome = latestFeedback.kind();
      const similarity = latestFeedback.similarity();
      const missing = or(
        sql`${outcome} in ('rejected', 'ignored')`,
        sql`(${outcome} in ('edited', 'sent_edited') and ${similarity} < 0.5)`,
        and(eq(drafts.needsHuman, true), sql`${drafts.citations} = '[]'`),
      );
      return db
        .select({
          id: drafts.id,
          createdAt: drafts.createdAt,
          context: drafts.context,
          intent: drafts.intent,
          needsHuman: drafts.needsHuman,
          outcome,
          similarity,
        })
        .from(drafts)
        .where(and(missing, sinceWhere(f)))
        .orderBy(desc(drafts.createdAt))
        .limit(f.limit ?? 2_000);
    },
  };
}

/** The dashboard overview's raw material and the eval replay set. */
export function overviewQueries({ db }: StoreContext) {
  return {
    /**
     * The overview's raw material since a time: per draft its day facts (status, mode, intent,
     * prompt, cost, when posted, when the customer wrote: the job's message time for a first
     * draft) and its decision, the latest feedback that is not a /redraft. Two reads merged
     * here rather than correlated subqueries per draft, so 90 days stay cheap on D1 too.
     * Newest first, at most `limit` drafts (`truncated` says when more matched).
     */
    async overviewRows(f: { websiteId?: string | undefined; since: number; limit?: number }) {
      const limit = f.limit ?? 50_000;
      const site = eqIf(drafts.websiteId, f.websiteId);
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
        .where(and(gte(drafts.createdAt, f.since), site))
        .orderBy(desc(drafts.createdAt))
        .limit(limit + 1);
      const truncated = rows.length > limit;
      const kept = truncated ? rows.slice(0, limit) : rows;
      const oldest = kept.at(-1)?.createdAt ?? f.since;
      const decisions = kept.length ? await decisionsSince(db, oldest, site) : undefined;
      return { truncated, rows: kept.map((r) => ({ ...r, decision: decisions?.get(r.id) ?? null })) };
    },

    /** Drafts whose operator answer is known, newest first: the replay set for `quill eval --from-db`. */
    async evalCandidates(limit = 200) {
      const finalText = latestFeedback.finalText();
      return db
        .select({ id: drafts.id, context: drafts.context, text: drafts.text, finalText })
        .from(drafts)
        .where(sql`${finalText} is not null`)
        .orderBy(desc(drafts.createdAt))
        .limit(limit);
    },
  };
}
