import { and, eq, gte, lt, sql } from "drizzle-orm";
import { inboxEvents, pollState } from "./schema.ts";
import { lazy, p, type StoreContext } from "./shared.ts";

/** Where a poll walk cut short continues: its next page and the watermark it walks down to. */
export type PollResume = { page: number; watermark: number };

function prepare({ db }: StoreContext) {
  return {
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
    inboxKeyInRange: db
      .select({ id: inboxEvents.id })
      .from(inboxEvents)
      .where(and(gte(inboxEvents.deliveryKey, p("from")), lt(inboxEvents.deliveryKey, p("to"))))
      .limit(1)
      .prepare(),
  };
}

/** What arrived: web hook deliveries and poll observations by their keys, and each website's poll position. */
export function intakeQueries(ctx: StoreContext) {
  const { db, clock } = ctx;
  const q = lazy(() => prepare(ctx));

  return {
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

    /** Whether any recorded delivery's key starts with `prefix` (a range on the unique index). */
    async hasInboxKeyPrefix(prefix: string): Promise<boolean> {
      if (!prefix) throw new Error("hasInboxKeyPrefix needs a non-empty prefix");
      // Every key starting with the prefix sorts between it and the prefix with its last character bumped.
      const to = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      const rows = await q().inboxKeyInRange.all({ from: prefix, to });
      return rows.length > 0;
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
  };
}
