import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

import {
  adminSessions,
  crmRequests,
  loginFailures,
  mcpCalls,
  mcpTokens,
  serverSecrets,
} from "./schema-access.ts";

export { adminSessions, crmRequests, loginFailures, mcpCalls, mcpTokens, serverSecrets };

/**
 * quill's tables (the access ones in schema-access.ts). Conversation data is keyed by website_id, so one deployment can serve
 * many Crisp websites. Times are Unix milliseconds, like Crisp's.
 */

export const inboxEvents = sqliteTable(
  "inbox_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    websiteId: text("website_id").notNull(),
    /** Web hook delivery key or poll observation key; a retried delivery has the same key. */
    deliveryKey: text("delivery_key").notNull(),
    event: text("event").notNull(),
    sessionId: text("session_id"),
    fingerprint: integer("fingerprint"),
    payload: text("payload").notNull(),
    receivedAt: integer("received_at").notNull(),
  },
  (t) => [
    uniqueIndex("inbox_events_delivery_key").on(t.deliveryKey),
    index("inbox_events_received").on(t.receivedAt),
  ],
);

export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    websiteId: text("website_id").notNull(),
    sessionId: text("session_id").notNull(),
    /** The customer message this job answers. */
    fingerprint: integer("fingerprint").notNull(),
    /** The customer message's timestamp: a job never supersedes one for a newer message. */
    messageAt: integer("message_at").notNull(),
    /** "" for the first draft of a message; the command's key for a /redraft, so each redraft is its own job. */
    commandKey: text("command_key").notNull().default(""),
    /** shadow: a candidate prompt/provider drafts a posted draft's conversation again, never posted. */
    /** sync: a side effect after a draft (people event, CRM web hook), retried like any job. */
    kind: text("kind", { enum: ["draft", "redraft", "command", "sync", "shadow"] })
      .notNull()
      .default("draft"),
    status: text("status", {
      enum: ["queued", "leased", "done", "failed", "dead", "superseded", "skipped"],
    }).notNull(),
    trigger: text("trigger", {
      enum: ["webhook", "poll", "command", "cli", "dashboard", "outcome", "mcp", "widget"],
    }).notNull(),
    instructions: text("instructions"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(5),
    runAfter: integer("run_after").notNull(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: integer("lease_expires_at"),
    lastError: text("last_error"),
    /** Why a job ended without a draft (superseded, operator replied, resolved...). */
    outcome: text("outcome"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    uniqueIndex("jobs_message").on(t.websiteId, t.sessionId, t.fingerprint, t.commandKey),
    index("jobs_due").on(t.status, t.runAfter),
    // Expired leases, looked for on every lease: a range, not a walk over every job in flight.
    index("jobs_lease").on(t.status, t.leaseExpiresAt).where(sql`${t.leaseExpiresAt} is not null`),
    index("jobs_session").on(t.websiteId, t.sessionId, t.status),
    // Jobs whose payload RETENTION_DAYS may still remove (redrafts, commands, sync jobs).
    index("jobs_unpruned").on(t.runAfter).where(sql`${t.instructions} is not null`),
  ],
);

export interface DraftContextRecord {
  transcript: string;
  query: string;
  language: string;
  visitor: { name: string; email: string; segments: string[]; data: Record<string, unknown> };
}

export const drafts = sqliteTable(
  "drafts",
  {
    id: text("id").primaryKey(),
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id),
    websiteId: text("website_id").notNull(),
    sessionId: text("session_id").notNull(),
    customerFingerprint: integer("customer_fingerprint").notNull(),
    text: text("text").notNull(),
    mode: text("mode", { enum: ["note", "reply"] }).notNull(),
    status: text("status", {
      enum: ["ready", "posted", "failed", "discarded", "approved", "sent", "rejected", "superseded"],
    }).notNull(),
    confidence: real("confidence"),
    intent: text("intent"),
    language: text("language"),
    needsHuman: integer("needs_human", { mode: "boolean" }).notNull().default(false),
    needsHumanReason: text("needs_human_reason"),
    citations: text("citations", { mode: "json" })
      .$type<Array<{ id: string; title: string }>>()
      .notNull()
      .default([]),
    flags: text("flags", { mode: "json" }).$type<string[]>().notNull().default([]),
    policyReasons: text("policy_reasons", { mode: "json" }).$type<string[]>().notNull().default([]),
    provider: text("provider"),
    model: text("model"),
    promptName: text("prompt_name"),
    promptVersion: text("prompt_version"),
    variant: text("variant"),
    tokensIn: integer("tokens_in").notNull().default(0),
    tokensOut: integer("tokens_out").notNull().default(0),
    tokensCached: integer("tokens_cached").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
    latency: text("latency", { mode: "json" }).$type<Record<string, number>>().notNull().default({}),
    /** What the model saw (after redaction), for the dashboard and replays. */
    transcript: text("transcript"),
    /** The redacted context the draft was made from, so `quill eval` can replay it with other prompts. */
    context: text("context", { mode: "json" }).$type<DraftContextRecord>(),
    /** Deterministic fingerprint chosen before posting: the exactly-once marker. */
    markerFingerprint: integer("marker_fingerprint"),
    postedFingerprint: integer("posted_fingerprint"),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
    postedAt: integer("posted_at"),
  },
  (t) => [
    index("drafts_session").on(t.websiteId, t.sessionId, t.createdAt),
    index("drafts_job").on(t.jobId),
    index("drafts_prompt").on(t.promptVersion),
    // Drafts RETENTION_DAYS has yet to blank, by age: blanked rows leave the index, so a
    // prune never walks the years it already did.
    index("drafts_unpruned")
      .on(t.createdAt)
      .where(
        sql`${t.text} != '' or ${t.transcript} is not null or ${t.context} is not null or ${t.needsHumanReason} is not null`,
      ),
  ],
);

/**
 * Shadow mode: what a candidate prompt or provider drafted for a live draft's conversation,
 * never posted. One row per live draft; `error` says why the candidate gave no draft.
 */
export const shadowDrafts = sqliteTable(
  "shadow_drafts",
  {
    id: text("id").primaryKey(),
    draftId: text("draft_id")
      .notNull()
      .references(() => drafts.id),
    websiteId: text("website_id").notNull(),
    sessionId: text("session_id").notNull(),
    promptName: text("prompt_name"),
    promptVersion: text("prompt_version"),
    provider: text("provider").notNull(),
    model: text("model"),
    text: text("text").notNull().default(""),
    confidence: real("confidence"),
    latencyMs: integer("latency_ms").notNull().default(0),
    tokensIn: integer("tokens_in").notNull().default(0),
    tokensOut: integer("tokens_out").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("shadow_drafts_draft").on(t.draftId),
    index("shadow_drafts_website").on(t.websiteId, t.createdAt),
    index("shadow_drafts_session").on(t.websiteId, t.sessionId),
    // Rows RETENTION_DAYS has yet to blank (as drafts_unpruned).
    index("shadow_drafts_unpruned").on(t.createdAt).where(sql`${t.text} != ''`),
  ],
);

export const feedback = sqliteTable(
  "feedback",
  {
    id: text("id").primaryKey(),
    draftId: text("draft_id")
      .notNull()
      .references(() => drafts.id),
    websiteId: text("website_id").notNull(),
    sessionId: text("session_id").notNull(),
    kind: text("kind", {
      enum: [
        "approved",
        "sent_edited",
        "redraft",
        "rejected",
        "sent_as_is",
        "edited",
        "ignored",
        "resolved_no_reply",
      ],
    }).notNull(),
    operatorId: text("operator_id"),
    operatorName: text("operator_name"),
    finalText: text("final_text"),
    similarity: real("similarity"),
    reason: text("reason"),
    /** Dedupes a command or reply delivered twice. */
    sourceKey: text("source_key"),
    delayMs: integer("delay_ms"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("feedback_source").on(t.sourceKey),
    index("feedback_draft").on(t.draftId),
    index("feedback_unpruned")
      .on(t.createdAt)
      .where(sql`${t.finalText} is not null or ${t.reason} is not null`),
  ],
);

export const promptVersions = sqliteTable("prompt_versions", {
  hash: text("hash").primaryKey(),
  name: text("name").notNull(),
  body: text("body").notNull(),
  createdAt: integer("created_at").notNull(),
});

export const llmCalls = sqliteTable(
  "llm_calls",
  {
    id: text("id").primaryKey(),
    draftId: text("draft_id"),
    jobId: text("job_id"),
    websiteId: text("website_id").notNull(),
    provider: text("provider").notNull(),
    model: text("model"),
    status: text("status").notNull(),
    latencyMs: integer("latency_ms").notNull(),
    tokensIn: integer("tokens_in").notNull().default(0),
    tokensOut: integer("tokens_out").notNull().default(0),
    tokensCached: integer("tokens_cached").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("llm_calls_job").on(t.jobId), index("llm_calls_created").on(t.createdAt)],
);

export const pollState = sqliteTable("poll_state", {
  websiteId: text("website_id").primaryKey(),
  /** Newest conversation updated_at seen; the next cycle stops paging below it. */
  watermark: integer("watermark").notNull(),
  /** A walk cut short by maxPages continues from this page, down to resume_watermark, in later cycles. */
  resumePage: integer("resume_page"),
  resumeWatermark: integer("resume_watermark"),
  lastRunAt: integer("last_run_at").notNull(),
});

/** Which triage rules fired for a job, what they asked for and how each action went. */
export const triageRuns = sqliteTable(
  "triage_runs",
  {
    id: text("id").primaryKey(),
    websiteId: text("website_id").notNull(),
    sessionId: text("session_id").notNull(),
    jobId: text("job_id").notNull(),
    draftId: text("draft_id"),
    /** before: decided before drafting; after: needed the draft's intent or language. */
    phase: text("phase", { enum: ["before", "after"] }).notNull(),
    rules: text("rules", { mode: "json" }).$type<string[]>().notNull(),
    actions: text("actions", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    results: text("results", { mode: "json" })
      .$type<Array<{ action: string; ok: boolean; detail?: string }>>()
      .notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("triage_runs_session").on(t.websiteId, t.sessionId, t.createdAt),
    index("triage_runs_job").on(t.jobId),
  ],
);

/** Plugin mode: per-website settings over the process defaults (prompt, provider, mode, rules, knowledge). */
export const websiteSettings = sqliteTable("website_settings", {
  websiteId: text("website_id").primaryKey(),
  settings: text("settings", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * quill's own state of a conversation, beside Crisp's meta data: operators' /quill off and
 * /quill on, and when it was last resolved (operators' answers before that no longer count).
 */
export const conversations = sqliteTable(
  "conversations",
  {
    websiteId: text("website_id").notNull(),
    sessionId: text("session_id").notNull(),
    paused: integer("paused", { mode: "boolean" }).notNull().default(false),
    /** Who wrote the last /quill off or /quill on. */
    changedBy: text("changed_by"),
    pausedAt: integer("paused_at"),
    resumedAt: integer("resumed_at"),
    resolvedAt: integer("resolved_at"),
    /**
     * Who the visitor is, so `quill privacy export|erase` finds every session of a person:
     * their Crisp profile and a SHA-256 of their email (never the address itself).
     */
    peopleId: text("people_id"),
    emailHash: text("email_hash"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.websiteId, t.sessionId] }),
    index("conversations_paused").on(t.paused, t.updatedAt),
    index("conversations_people").on(t.peopleId),
    index("conversations_email").on(t.emailHash),
  ],
);

/**
 * Article embeddings for hybrid retrieval, by model and by the hash of the text embedded:
 * an edited article misses and is embedded again, an unchanged one is loaded.
 */
export const embeddings = sqliteTable(
  "embeddings",
  {
    model: text("model").notNull(),
    hash: text("hash").notNull(),
    /** Int8 components, base64; times `scale` they are the unit vector. */
    vector: text("vector").notNull(),
    scale: real("scale").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.hash] })],
);

export const schema = {
  inboxEvents,
  jobs,
  drafts,
  feedback,
  promptVersions,
  llmCalls,
  pollState,
  triageRuns,
  websiteSettings,
  adminSessions,
  loginFailures,
  serverSecrets,
  conversations,
  embeddings,
  mcpTokens,
  mcpCalls,
  crmRequests,
  shadowDrafts,
};

export type Job = typeof jobs.$inferSelect;
export type Draft = typeof drafts.$inferSelect;
export type NewDraft = typeof drafts.$inferInsert;
export type Feedback = typeof feedback.$inferSelect;
export type LlmCall = typeof llmCalls.$inferSelect;
export type TriageRun = typeof triageRuns.$inferSelect;
export type AdminSession = typeof adminSessions.$inferSelect;
export type ConversationState = typeof conversations.$inferSelect;
export type McpToken = typeof mcpTokens.$inferSelect;
export type McpCall = typeof mcpCalls.$inferSelect;
export type ShadowDraft = typeof shadowDrafts.$inferSelect;
export type NewShadowDraft = typeof shadowDrafts.$inferInsert;
