import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { schema } from "../store/schema.ts";
import type { Database as StoreDatabase } from "../store/store.ts";

/** The project's migrations/, from src/runtime/ (tsx) or from dist/ (the bundle `npm start` runs). */
const here = dirname(fileURLToPath(import.meta.url));
export const migrationsFolder =
  [resolve(here, "../../migrations"), resolve(here, "../migrations")].find((dir) =>
    existsSync(resolve(dir, "meta/_journal.json")),
  ) ?? resolve(here, "../../migrations");

/**
 * Opens the SQLite database the way a long-running server needs it: WAL so readers never
 * block the writer, foreign keys on, NORMAL sync (durable at checkpoints, safe with WAL),
 * and a busy timeout so two processes on one file wait instead of failing.
 */
export function openSqlite(path: string) {
  if (path !== ":memory:") mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  const db = drizzle(sqlite, { schema });
  return {
    db: db as unknown as StoreDatabase,
    sqlite,
    migrate: () => migrate(db, { migrationsFolder }),
    close: () => {
      if (sqlite.open) sqlite.close();
    },
  };
}
