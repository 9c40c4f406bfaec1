import { and, desc, eq, getTableColumns, gte, inArray, lte, ne, type SQL, sql } from "drizzle-orm";
import { type FeedbackKind, latestFeedback, latestFeedbackByDraft } from "./feedback.ts";
import { type Draft, drafts, type NewDraft } from "./schema.ts";
import {
  countWhere,
  eqIf,
  lazy,
  newId,
  p,
  placeholders,
  rowCount,
  type StoreContext,
  withDefaults,
} from "./shared.ts";

export type DraftStatus = Draft["status"];

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

const draftColumns = getTableColumns(drafts);

function prepare({ db }: StoreContext) {
  return {
    // Every column a placeholder, so one compiled statement serves every draft.
    insertDraft: db
      .insert(drafts)
      .values(placeholders(draftColumns) as unknown as NewDraft)
      .returning()
      .prepare(),
    draftForJob: db
      .select()
      .from(drafts)
      .where(eq(drafts.jobId, p("jobId")))
      .orderBy(desc(drafts.createdAt))
      .limit(1)
      .prepare(),
  };
}

/** The filters of the dashboard's drafts list, as one where clause. */
function draftsWhere(f: DraftFilters): SQL | undefined {
  const outcome = latestFeedback.kind();
  const where: Array<SQL | undefined> = [
    eqIf(drafts.websiteId, f.websiteId),
    eqIf(drafts.sessionId, f.sessionId),
    eqIf(drafts.status, f.status),
    eqIf(drafts.promptVersion, f.promptVersion),
    f.from === undefined ? undefined : gte(drafts.createdAt, f.from),
    f.to === undefined ? undefined : lte(drafts.createdAt, f.to),
  ];
  if (f.search) {
    // The draft or the customer's question; ESCAPE makes "50%" or "a_b" match literally.
    const like = `%${f.search.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
    where.push(
      sql`(${drafts.text} like ${like} escape '\\' or json_extract(${drafts.context}, '$.query') like ${like} escape '\\')`,
    );
  }
  if (f.outcome === "none") where.push(sql`${outcome} is null`);
  else if (f.outcome) where.push(sql`${outcome} = ${f.outcome}`);
  return and(...where);
}

/** Drafts: written once per attempt, then moved through their statuses. */
export function draftQueries(ctx: StoreContext) {
  const { db, clock } = ctx;
  const q = lazy(() => prepare(ctx));
  // One prepared update per set of columns (a handful: posted, failed, discarded...).
  const draftUpdates = new Map<string, { run: (values: Record<string, unknown>) => unknown }>();

  return {
    async insertDraft(d: Omit<NewDraft, "id" | "createdAt"> & { id?: string }): Promise<Draft> {
      const rows = await q().insertDraft.all(
        withDefaults(draftColumns, { ...d, id: d.id ?? newId(), createdAt: clock.now() }),
      );
      const row = rows[0];
      if (!row) throw new Error("draft insert returned nothing");
      return row;
    },

    async updateDraft(id: string, patch: Partial<Omit<NewDraft, "id">>): Promise<void> {
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
      const moved = await rowCount(
        db
          .update(drafts)
          .set(patch)
          .where(and(eq(drafts.id, id), inArray(drafts.status, from)))
          .returning({ id: drafts.id }),
      );
      return moved > 0;
    },

    async getDraft(id: string): Promise<Draft | undefined> {
      return (await db.select().from(drafts).where(eq(drafts.id, id)).limit(1))[0];
    },

    async draftForJob(jobId: string): Promise<Draft | undefined> {
      return (await q().draftForJob.all({ jobId }))[0];
    },
  };
}

/** Reads of drafts: the auto-send cap, the draft operators act on, the dashboard's list. */
export function draftReadQueries({ db }: StoreContext) {
  return {
    /** Replies quill sent on its own (auto-send) for a website since a time: the hourly cap. */
    async countAutoReplies(websiteId: string, since: number): Promise<number> {
      return countWhere(
        db,
        drafts,
        and(
          eq(drafts.websiteId, websiteId),
          eq(drafts.mode, "reply"),
          eq(drafts.status, "sent"),
          gte(drafts.postedAt, since),
        ),
      );
    },

    /** The draft operators act on: the newest one of the conversation that reached them. */
    async latestDraftForSession(websiteId: string, sessionId: string): Promise<Draft | undefined> {
      const rows = await db
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
        .limit(1);
      return rows[0];
    },

    async listDrafts(
      f: DraftFilters = {},
    ): Promise<Array<Draft & { outcome: FeedbackKind | null; outcomeSimilarity: number | null }>> {
      const rows = await db
        .select()
        .from(drafts)
        .where(draftsWhere(f))
        .orderBy(desc(drafts.createdAt))
        .limit(f.limit ?? 50)
        .offset(f.offset ?? 0);
      if (rows.length === 0) return [];
      const latest = await latestFeedbackByDraft(
        db,
        rows.map((r) => r.id),
      );
      return rows.map((r) => ({
        ...r,
        outcome: latest.get(r.id)?.kind ?? null,
        outcomeSimilarity: latest.get(r.id)?.similarity ?? null,
      }));
    },
  };
}
