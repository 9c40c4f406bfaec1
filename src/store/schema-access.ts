import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * quill's access tables: dashboard sessions and login throttling, the server's own secrets,
 * MCP tokens and their audit trail, and signed requests already seen. schema.ts re-exports
 * them, so drizzle-kit and every query still read one schema.
 */

/**
 * Dashboard sessions, server-side so logout, a new website token or a disabled website end
 * them at once. `id_hash`: SHA-256 of the cookie's random id (a database leak opens nothing).
 */
export const adminSessions = sqliteTable(
  "admin_sessions",
  {
    idHash: text("id_hash").primaryKey(),
    /** "*" for an ADMIN_TOKEN session, else the one website the session may see. */
    subject: text("subject").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("admin_sessions_subject").on(t.subject), index("admin_sessions_expires").on(t.expiresAt)],
);

/** Failed dashboard logins per key ("ip:…", "target:admin", "target:website:…"), for throttling. */
export const loginFailures = sqliteTable("login_failures", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull(),
  lastFailureAt: integer("last_failure_at").notNull(),
});

/** Secrets quill generates once and shares between processes (the session signing key). */
export const serverSecrets = sqliteTable("server_secrets", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  createdAt: integer("created_at").notNull(),
});

/**
 * Bearer tokens of AI agents using quill's MCP server: never the Crisp key. `hash` is an
 * HMAC of the token under the server secret, so the table opens nothing if it leaks.
 */
export const mcpTokens = sqliteTable(
  "mcp_tokens",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    hash: text("hash").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    /** The one website the token may act on; null: the primary website. */
    websiteId: text("website_id"),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"),
  },
  (t) => [uniqueIndex("mcp_tokens_hash").on(t.hash)],
);

/** Every MCP tool call, for the audit trail: who, what, where, how it ended (no message text). */
export const mcpCalls = sqliteTable(
  "mcp_calls",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    tokenId: text("token_id").notNull(),
    tool: text("tool").notNull(),
    websiteId: text("website_id").notNull(),
    sessionId: text("session_id"),
    ok: integer("ok", { mode: "boolean" }).notNull(),
    outcome: text("outcome").notNull(),
    latencyMs: integer("latency_ms").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("mcp_calls_token").on(t.tokenId, t.createdAt), index("mcp_calls_created").on(t.createdAt)],
);

/**
 * Signed requests (POST /crm/people, Hugo's tool calls) seen while their timestamp is still
 * inside the signature window, keyed by origin and signature: the same request again answers 409.
 */
export const crmRequests = sqliteTable(
  "crm_requests",
  {
    key: text("key").primaryKey(),
    websiteId: text("website_id").notNull(),
    /** The signed timestamp plus the window: after it the timestamp check refuses the request. */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("crm_requests_expires").on(t.expiresAt)],
);
