import { eq, type SQL, sql } from "drizzle-orm";
import type { BaseSQLiteDatabase, SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Clock } from "../clock.ts";
import type { schema } from "./schema.ts";

// biome-ignore lint/suspicious/noExplicitAny: the driver's run-result type differs between SQLite and D1
export type Database = BaseSQLiteDatabase<"sync" | "async", any, typeof schema>;

/** A conversation, the unit every visitor's row hangs from. */
export type SessionRef = { websiteId: string; sessionId: string };

/** What every part of the store is built from. */
export interface StoreContext {
  db: Database;
  clock: Clock;
  /** With group commit (Node): resolves once every write so far is committed. */
  durable: () => Promise<void>;
}

/**
 * Hot statements are built and prepared once, on first use: a store can be created before
 * its migrations ran, and per-call query building and compiling dominate a hot path's CPU.
 */
export function lazy<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => {
    built ??= build();
    return built;
  };
}

export const p = sql.placeholder;
/** A placeholder where drizzle's types want a value (UPDATE … SET). */
export const v = (name: string) => sql`${sql.placeholder(name)}`;

/** Every column a placeholder, for an all-columns prepared insert (drizzle still encodes JSON and booleans). */
export const placeholders = (columns: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(columns).map((k) => [k, sql.placeholder(k)]));

/** The values of a prepared all-columns insert: what was given, else the schema's default, else null. */
export function withDefaults(columns: Record<string, { default?: unknown }>, given: Record<string, unknown>) {
  const values: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(columns)) {
    values[key] = given[key] === undefined ? (column.default ?? null) : given[key];
  }
  return values;
}

/**
 * A UUIDv7 (RFC 9562): the time in ms, then a v4's random bits. Ids that grow with time
 * append to the primary key index instead of touching a random page of it per insert.
 */
export const newId = () => {
  const time = Date.now().toString(16).padStart(12, "0");
  const random = crypto.randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
};

/** An equality for an optional filter: none when it is unset or empty (`and()` drops undefined). */
export const eqIf = (column: SQLiteColumn, value: string | undefined) =>
  value ? eq(column, value) : undefined;

/** The number of rows a statement's RETURNING gave back. */
export const rowCount = async (rows: Promise<unknown[]>) => (await rows).length;

export async function countWhere(db: Database, table: SQLiteTable, where: SQL | undefined): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)` }).from(table).where(where);
  return Number(row?.n ?? 0);
}

/** Deletes the rows matching `where`; returns how many went. */
export const gone = (db: Database, table: SQLiteTable, where: SQL | undefined, key: SQLiteColumn) =>
  rowCount(db.delete(table).where(where).returning({ key }));
