import { and, desc, eq, gte, inArray, isNotNull, sql } from "drizzle-orm";
import { drafts, feedback, type NewShadowDraft, type ShadowDraft, shadowDrafts } from "./schema.ts";
import { eqIf, newId, type StoreContext } from "./shared.ts";

/** Shadow mode's rows: one candidate draft per live draft, and the pairs the Shadow page compares. */

/** A shadow row with what its live draft was and what the operator finally sent (if anything). */
export interface ShadowPair {
  shadow: ShadowDraft;
  live: {
    text: string;
    status: string;
    provider: string | null;
    model: string | null;
    promptName: string | null;
    costUsd: number;
    latency: Record<string, number>;
    query: string | null;
  };
  /** The latest sent decision (approved, sent as is, edited), or undefined when none was sent. */
  sent?: { kind: string; finalText: string } | undefined;
}

const SENT_KINDS = ["approved", "sent_as_is", "sent_edited", "edited"] as const;

/** D1 binds at most 100 parameters a statement. */
function chunks<T>(items: T[], size = 90): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function shadowQueries({ db, clock }: StoreContext) {
  return {
    /** false when the live draft already has its shadow (a retried job). */
    async insertShadow(s: Omit<NewShadowDraft, "id" | "createdAt">): Promise<{ inserted: boolean }> {
      const rows = await db
        .insert(shadowDrafts)
        .values({ ...s, id: newId(), createdAt: clock.now() })
        .onConflictDoNothing()
        .returning({ id: shadowDrafts.id });
      return { inserted: rows.length > 0 };
    },

    async shadowForDraft(draftId: string): Promise<ShadowDraft | undefined> {
      const [row] = await db.select().from(shadowDrafts).where(eq(shadowDrafts.draftId, draftId)).limit(1);
      return row;
    },

    /**
     * Shadow rows since `since`, newest first, with their live draft and its latest sent
     * feedback: two reads (rows joined to drafts, then their feedback), merged here.
     */
    async shadowPairs(f: { websiteId?: string | undefined; since: number; limit: number }) {
      const rows = await db
        .select({
          shadow: shadowDrafts,
          live: {
            text: drafts.text,
            status: drafts.status,
            provider: drafts.provider,
            model: drafts.model,
            promptName: drafts.promptName,
            costUsd: drafts.costUsd,
            latency: drafts.latency,
            query: sql<string | null>`json_extract(${drafts.context}, '$.query')`,
          },
        })
        .from(shadowDrafts)
        .innerJoin(drafts, eq(drafts.id, shadowDrafts.draftId))
        .where(and(eqIf(shadowDrafts.websiteId, f.websiteId), gte(shadowDrafts.createdAt, f.since)))
        .orderBy(desc(shadowDrafts.createdAt))
        .limit(f.limit);
      const sent = new Map<string, { kind: string; finalText: string }>();
      for (const ids of chunks(rows.map((r) => r.shadow.draftId))) {
        const decisions = await db
          .select({ draftId: feedback.draftId, kind: feedback.kind, finalText: feedback.finalText })
          .from(feedback)
          .where(
            and(
              inArray(feedback.draftId, ids),
              inArray(feedback.kind, [...SENT_KINDS]),
              isNotNull(feedback.finalText),
            ),
          )
          .orderBy(feedback.createdAt);
        // Ordered oldest first: the latest sent decision wins.
        for (const d of decisions) sent.set(d.draftId, { kind: d.kind, finalText: d.finalText ?? "" });
      }
      return rows.map((r): ShadowPair => ({ ...r, sent: sent.get(r.shadow.draftId) }));
    },
  };
}
