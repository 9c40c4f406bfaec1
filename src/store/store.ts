import { sql } from "drizzle-orm";
import { type Clock, systemClock } from "../clock.ts";
import { sessionQueries, throttleQueries } from "./auth.ts";
import { conversationQueries } from "./conversations.ts";
import { draftQueries, draftReadQueries } from "./drafts.ts";
import { feedbackQueries, type NewFeedback } from "./feedback.ts";
import { intakeQueries } from "./intake.ts";
import { debounceQueries, jobQueries } from "./jobs.ts";
import { leaseHolderQueries, leaseQueries } from "./leases.ts";
import { llmQueries } from "./llm.ts";
import { mcpQueries } from "./mcp.ts";
import { privacyQueries } from "./privacy.ts";
import { overviewQueries, reportQueries } from "./reports.ts";
import { retentionQueries } from "./retention.ts";
import { pollState } from "./schema.ts";
import { settingsQueries } from "./settings.ts";
import type { Database, StoreContext } from "./shared.ts";
import { triageQueries } from "./triage.ts";

/**
 * Every query quill needs, written once for better-sqlite3 and D1: async functions over
 * single statements and unique keys (D1 has no interactive transactions). One file per
 * concern; this one composes them into the Store every caller gets.
 */

export type { DraftFilters, DraftStatus } from "./drafts.ts";
export type { FeedbackKind, NewFeedback } from "./feedback.ts";
export type { PollResume } from "./intake.ts";
export type { JobStatus, JobTrigger } from "./jobs.ts";
export type { VisitorQuery, VisitorRows } from "./privacy.ts";
export type { RetentionCounts } from "./retention.ts";
export type {
  AdminSession,
  ConversationState,
  Draft,
  Feedback,
  Job,
  McpCall,
  McpToken,
  TriageRun,
} from "./schema.ts";
export type { Database, SessionRef } from "./shared.ts";

export function createStore(
  db: Database,
  options: {
    clock?: Clock;
    /** Called after a feedback row was inserted (not for a duplicate): outcome sync hangs here. */
    onFeedback?: (f: NewFeedback) => Promise<void>;
    /** With group commit (Node): resolves once every write so far is committed. */
    durable?: () => Promise<void>;
  } = {},
) {
  const ctx: StoreContext = {
    db,
    clock: options.clock ?? systemClock,
    durable: options.durable ?? (() => Promise.resolve()),
  };
  return {
    /** Cheap readiness probe. */
    async ping(): Promise<void> {
      await db.select({ one: sql`1` }).from(pollState).limit(1);
    },
    /** Everything written so far is committed (a no-op without group commit). */
    durable: ctx.durable,
    ...intakeQueries(ctx),
    ...jobQueries(ctx),
    ...debounceQueries(ctx),
    ...leaseQueries(ctx),
    ...leaseHolderQueries(ctx),
    ...draftQueries(ctx),
    ...draftReadQueries(ctx),
    ...feedbackQueries(ctx, options.onFeedback),
    ...reportQueries(ctx),
    ...overviewQueries(ctx),
    ...llmQueries(ctx),
    ...triageQueries(ctx),
    ...conversationQueries(ctx),
    ...settingsQueries(ctx),
    ...sessionQueries(ctx),
    ...throttleQueries(ctx),
    ...mcpQueries(ctx),
    ...retentionQueries(ctx),
    ...privacyQueries(ctx),
  };
}

export type Store = ReturnType<typeof createStore>;
