import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import {
  type ConversationState,
  conversations,
  type Draft,
  drafts,
  type Feedback,
  feedback,
  inboxEvents,
  type Job,
  jobs,
  llmCalls,
  type McpCall,
  mcpCalls,
  type TriageRun,
  triageRuns,
} from "./schema.ts";
import { type Database, gone, rowCount, type SessionRef, type StoreContext } from "./shared.ts";

/** How a privacy request names a visitor; `emailHash` is `visitorEmailHash(email)`. */
export interface VisitorQuery {
  websiteId?: string | undefined;
  email?: string | undefined;
  emailHash?: string | undefined;
  peopleId?: string | undefined;
  sessionId?: string | undefined;
}

export interface VisitorRows {
  conversations: ConversationState[];
  inboxEvents: Array<typeof inboxEvents.$inferSelect>;
  jobs: Job[];
  drafts: Draft[];
  feedback: Feedback[];
  llmCalls: Array<typeof llmCalls.$inferSelect>;
  triageRuns: TriageRun[];
  mcpCalls: McpCall[];
}

const visitorTables = [
  "conversations",
  "inboxEvents",
  "jobs",
  "drafts",
  "feedback",
  "llmCalls",
  "triageRuns",
  "mcpCalls",
] as const;

/** D1 binds at most 100 parameters a statement. */
function chunks<T>(items: T[], size = 90): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

type SessionTable = { websiteId: SQLiteColumn; sessionId: SQLiteColumn };

/** A where clause per website and up to 90 of its sessions, for any table with both columns. */
function sessionChunks(sessions: SessionRef[]) {
  const byWebsite = new Map<string, string[]>();
  for (const s of sessions) byWebsite.set(s.websiteId, [...(byWebsite.get(s.websiteId) ?? []), s.sessionId]);
  return [...byWebsite].flatMap(([websiteId, ids]) =>
    chunks(ids).map(
      (part) =>
        <T extends SessionTable>(t: T) =>
          and(eq(t.websiteId, websiteId), inArray(t.sessionId, part)),
    ),
  );
}

/**
 * The conversations of one visitor: by their Crisp profile, by their email (its hash, and
 * for drafts made before quill kept the hash, the email in a draft's unredacted context),
 * or by a session id. Optionally within one website.
 */
async function visitorSessions(db: Database, who: VisitorQuery): Promise<SessionRef[]> {
  const found = new Map<string, SessionRef>();
  const add = (rows: Array<{ websiteId: string; sessionId: string | null }>) => {
    for (const r of rows) {
      if (r.sessionId !== null) found.set(`${r.websiteId}\n${r.sessionId}`, r as SessionRef);
    }
  };
  const site = <T extends { websiteId: SQLiteColumn }>(t: T) =>
    who.websiteId ? eq(t.websiteId, who.websiteId) : undefined;
  const ref = <T extends SessionTable>(t: T) => ({ websiteId: t.websiteId, sessionId: t.sessionId });
  const links = [
    who.peopleId ? eq(conversations.peopleId, who.peopleId) : undefined,
    who.emailHash ? eq(conversations.emailHash, who.emailHash) : undefined,
    who.sessionId ? eq(conversations.sessionId, who.sessionId) : undefined,
  ].filter((c) => c !== undefined);
  if (links.length > 0) {
    add(
      (await db
        .select(ref(conversations))
        .from(conversations)
        .where(and(or(...links), site(conversations)))) as SessionRef[],
    );
  }
  if (who.email) {
    const email = who.email.trim().toLowerCase();
    add(
      (await db
        .selectDistinct(ref(drafts))
        .from(drafts)
        .where(
          and(sql`lower(json_extract(${drafts.context}, '$.visitor.email')) = ${email}`, site(drafts)),
        )) as SessionRef[],
    );
  }
  if (who.sessionId) {
    for (const t of [jobs, drafts, inboxEvents] as const) {
      add(
        (await db
          .selectDistinct(ref(t))
          .from(t)
          .where(and(eq(t.sessionId, who.sessionId), site(t)))) as Array<{
          websiteId: string;
          sessionId: string | null;
        }>,
      );
    }
  }
  return [...found.values()];
}

/** A visitor's export and erasure (src/privacy.ts drives them). */
export function privacyQueries({ db, durable }: StoreContext) {
  return {
    visitorSessions: (who: VisitorQuery) => visitorSessions(db, who),

    /** Every row quill holds about these conversations, table by table (`quill privacy export`). */
    async visitorRows(sessions: SessionRef[]): Promise<VisitorRows> {
      const out = Object.fromEntries(visitorTables.map((k) => [k, []])) as unknown as VisitorRows;
      for (const where of sessionChunks(sessions)) {
        out.conversations.push(...(await db.select().from(conversations).where(where(conversations))));
        out.inboxEvents.push(...(await db.select().from(inboxEvents).where(where(inboxEvents))));
        out.jobs.push(...(await db.select().from(jobs).where(where(jobs))));
        out.drafts.push(...(await db.select().from(drafts).where(where(drafts))));
        out.feedback.push(...(await db.select().from(feedback).where(where(feedback))));
        out.triageRuns.push(...(await db.select().from(triageRuns).where(where(triageRuns))));
        out.mcpCalls.push(...(await db.select().from(mcpCalls).where(where(mcpCalls))));
      }
      for (const ids of chunks(out.jobs.map((j) => j.id))) {
        out.llmCalls.push(...(await db.select().from(llmCalls).where(inArray(llmCalls.jobId, ids))));
      }
      return out;
    },

    /**
     * Removes every row of these conversations (children before parents: D1 enforces
     * foreign keys); the MCP audit keeps its rows without the session. Returns counts.
     */
    async eraseVisitor(sessions: SessionRef[]): Promise<Record<keyof VisitorRows, number>> {
      const counts = Object.fromEntries(visitorTables.map((k) => [k, 0])) as Record<
        keyof VisitorRows,
        number
      >;
      for (const where of sessionChunks(sessions)) {
        const jobIds = (await db.select({ id: jobs.id }).from(jobs).where(where(jobs))).map((j) => j.id);
        const draftIds = (await db.select({ id: drafts.id }).from(drafts).where(where(drafts))).map(
          (d) => d.id,
        );
        counts.feedback += await gone(db, feedback, where(feedback), feedback.id);
        // Feedback of another conversation never points at these drafts, but a foreign key would fail.
        for (const ids of chunks(draftIds)) {
          counts.feedback += await gone(db, feedback, inArray(feedback.draftId, ids), feedback.id);
          counts.llmCalls += await gone(db, llmCalls, inArray(llmCalls.draftId, ids), llmCalls.id);
        }
        for (const ids of chunks(jobIds)) {
          counts.llmCalls += await gone(db, llmCalls, inArray(llmCalls.jobId, ids), llmCalls.id);
        }
        counts.triageRuns += await gone(db, triageRuns, where(triageRuns), triageRuns.id);
        counts.drafts += await gone(db, drafts, where(drafts), drafts.id);
        counts.jobs += await gone(db, jobs, where(jobs), jobs.id);
        counts.inboxEvents += await gone(db, inboxEvents, where(inboxEvents), inboxEvents.id);
        counts.conversations += await gone(db, conversations, where(conversations), conversations.sessionId);
        counts.mcpCalls += await rowCount(
          db.update(mcpCalls).set({ sessionId: null }).where(where(mcpCalls)).returning({ id: mcpCalls.id }),
        );
      }
      await durable();
      return counts;
    },
  };
}
