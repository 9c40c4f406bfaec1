import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { schema } from "../../src/store/schema.ts";
import { createStore, type Database } from "../../src/store/store.ts";
import { storeContract } from "../store/contract.ts";

/** The store contract on D1 (its own database, so the Worker tests' rows stay out of it). */
const tables = [
  "shadow_drafts",
  "feedback",
  "llm_calls",
  "triage_runs",
  "drafts",
  "jobs",
  "inbox_events",
  "poll_state",
  "prompt_versions",
  "website_settings",
  "crm_requests",
  "conversations",
  "mcp_calls",
];

storeContract(async (clock) => {
  // Children before parents: D1 enforces foreign keys.
  await env.STORE_DB.batch(tables.map((name) => env.STORE_DB.prepare(`delete from ${name}`)));
  const db = drizzle(env.STORE_DB, { schema }) as unknown as Database;
  return createStore(db, clock ? { clock } : {});
});
