import { and, desc, eq, sql } from "drizzle-orm";
import type { SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import { type ConversationState, conversations } from "./schema.ts";
import { lazy, p, type StoreContext } from "./shared.ts";

type Insert = typeof conversations.$inferInsert;

/** One row per conversation, created by the first fact known about it. */
const upsert = (
  db: StoreContext["db"],
  websiteId: string,
  sessionId: string,
  values: Omit<Insert, "websiteId" | "sessionId">,
  set: SQLiteUpdateSetSource<typeof conversations>,
) =>
  db
    .insert(conversations)
    .values({ websiteId, sessionId, ...values })
    .onConflictDoUpdate({ target: [conversations.websiteId, conversations.sessionId], set });

/** Per conversation: whether quill is paused there, when it was resolved, who the visitor is. */
export function conversationQueries({ db, clock }: StoreContext) {
  // Read once or twice per draft: built and prepared once.
  const stateOf = lazy(() =>
    db
      .select()
      .from(conversations)
      .where(and(eq(conversations.websiteId, p("websiteId")), eq(conversations.sessionId, p("sessionId"))))
      .limit(1)
      .prepare(),
  );
  return {
    async conversationState(websiteId: string, sessionId: string): Promise<ConversationState | undefined> {
      const rows = await stateOf().all({ websiteId, sessionId });
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
      await upsert(db, websiteId, sessionId, { ...change, updatedAt: at }, { ...change, updatedAt: at });
    },

    async setConversationResolved(websiteId: string, sessionId: string, at = clock.now()): Promise<void> {
      const change = { resolvedAt: at, updatedAt: at };
      await upsert(db, websiteId, sessionId, change, change);
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
      await upsert(
        db,
        websiteId,
        sessionId,
        { peopleId, emailHash, updatedAt: clock.now() },
        {
          peopleId: sql`coalesce(excluded.people_id, ${conversations.peopleId})`,
          emailHash: sql`coalesce(excluded.email_hash, ${conversations.emailHash})`,
        },
      );
    },
  };
}
