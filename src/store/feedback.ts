import { eq, inArray, type SQL, sql } from "drizzle-orm";
import { type Feedback, feedback } from "./schema.ts";
import { newId, type StoreContext } from "./shared.ts";

export type FeedbackKind = Feedback["kind"];
export type NewFeedback = Omit<typeof feedback.$inferInsert, "id" | "createdAt">;

/**
 * The latest feedback value of the draft in the outer query. Written out by hand: in a
 * single-table select drizzle leaves columns unqualified, and "id" would bind to feedback.
 */
const latestOf = <T>(column: string, onlySet = false) =>
  sql.raw(
    `(select f.${column} from feedback f where f.draft_id = "drafts"."id"${onlySet ? ` and f.${column} is not null` : ""} order by f.created_at desc limit 1)`,
  ) as SQL<T | null>;

export const latestFeedback = {
  kind: () => latestOf<FeedbackKind>("kind"),
  similarity: () => latestOf<number>("similarity"),
  /** The operator's latest own text, skipping feedback that carries none. */
  finalText: () => latestOf<string>("final_text", true),
};

/** The latest feedback (kind, similarity) of each of these drafts, in one read. */
export async function latestFeedbackByDraft(db: StoreContext["db"], draftIds: string[]) {
  const rows = await db
    .select({ draftId: feedback.draftId, kind: feedback.kind, similarity: feedback.similarity })
    .from(feedback)
    .where(inArray(feedback.draftId, draftIds))
    .orderBy(feedback.createdAt);
  return new Map(rows.map((r) => [r.draftId, r]));
}

/** What operators did with drafts: one row per source (command or reply delivery). */
export function feedbackQueries(
  { db, clock }: StoreContext,
  /** Called after a feedback row was inserted (not for a duplicate): outcome sync hangs here. */
  onFeedback: ((f: NewFeedback) => Promise<void>) | undefined,
) {
  return {
    /** false when the same source (command or reply delivery) was already recorded. */
    async insertFeedback(f: NewFeedback): Promise<{ inserted: boolean }> {
      const rows = await db
        .insert(feedback)
        .values({ ...f, id: newId(), createdAt: clock.now() })
        .onConflictDoNothing()
        .returning({ id: feedback.id });
      if (rows.length > 0 && onFeedback) {
        await onFeedback(f);
      }
      return { inserted: rows.length > 0 };
    },

    async feedbackForDraft(draftId: string): Promise<Feedback[]> {
      return db.select().from(feedback).where(eq(feedback.draftId, draftId)).orderBy(feedback.createdAt);
    },
  };
}
