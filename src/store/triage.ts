import { and, desc, eq, sql } from "drizzle-orm";
import { triageRuns } from "./schema.ts";
import { eqIf, newId, type StoreContext } from "./shared.ts";

/** What the triage rules decided per conversation, linked to the draft that followed. */
export function triageQueries({ db, clock }: StoreContext) {
  return {
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
      return db
        .select()
        .from(triageRuns)
        .where(
          and(
            eqIf(triageRuns.websiteId, f.websiteId),
            eqIf(triageRuns.sessionId, f.sessionId),
            eqIf(triageRuns.jobId, f.jobId),
          ),
        )
        .orderBy(desc(triageRuns.createdAt))
        .limit(f.limit ?? 100);
    },
  };
}
