import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
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
 * A thread with its own connection that checkpoints the WAL (PASSIVE: it never blocks the
 * writer) every CHECKPOINT_EVERY_MS. A checkpoint inside a commit on the main thread copied
 * thousands of pages and fsynced while every web hook in flight waited (the intake's p99).
 */
const CHECKPOINT_EVERY_MS = 200;
const checkpointerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 0");
const timer = setInterval(() => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
}, workerData.everyMs);
parentPort.on("message", () => { clearInterval(timer); db.close(); parentPort.close(); });
`;
function startCheckpointer(path: string): Worker {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(checkpointerSource, {
    eval: true,
    execArgv: [],
    workerData: { driver, path, everyMs: CHECKPOINT_EVERY_MS },
  });
  worker.unref();
  // Without it the commit that crosses wal_autocheckpoint still checkpoints: slower, never unsafe.
  worker.on("error", () => {});
  return worker;
}

/** The database file with the pragmas openSqlite describes, and its checkpointer thread when asked for. */
function openConnection(path: string, backgroundCheckpoint: boolean) {
  if (path !== ":memory:") mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new Database(path);
  // First, so switching a new file to WAL waits for another process instead of failing.
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("synchronous = NORMAL");
  // Deleted and blanked rows (retention, `quill privacy erase`) are overwritten with zeros
  // instead of lingering in free pages of the file.
  sqlite.pragma("secure_delete = ON");
  const checkpointer =
    backgroundCheckpoint && path !== ":memory:" ? startCheckpointer(resolve(path)) : undefined;
  // The checkpointer copies the WAL into the database on its own thread; the commit that
  // crosses this size (there it has little left to copy) restarts the WAL and bounds it.
  if (checkpointer) sqlite.pragma("wal_autocheckpoint = 4000");
  return { sqlite, checkpointer };
}

/**
 * drizzle reads what is applied before it takes the write lock, so two processes opening a new
 * file both try to apply it; the loser's second look sees it applied (a real fault fails again).
 */
function migrateShared(db: Parameters<typeof migrate>[0]) {
  try {
    migrate(db, { migrationsFolder });
  } catch (error) {
    try {
      migrate(db, { migrationsFolder });
    } catch {
      throw error;
    }
  }
}

/**
 * Opens the SQLite database the way a long-running server needs it: WAL so readers never
 * block the writer, foreign keys on, NORMAL sync (durable at checkpoints, safe with WAL),
 * a busy timeout so two processes on one file wait instead of failing, and secure delete.
 *
 * `groupCommit`: every write of one event-loop turn joins one transaction, committed on
 * setImmediate. A commit per statement was most of quill's CPU per web hook and per draft;
 * one per turn is shared by every request in flight. What must be durable before quill goes
 * on (a lease before its work, a web hook before its 2xx) awaits `durable()`.
 */
export function openSqlite(
  path: string,
  options: { groupCommit?: boolean; backgroundCheckpoint?: boolean } = {},
) {
  const { sqlite, checkpointer } = openConnection(path, Boolean(options.backgroundCheckpoint));

  let grouping = Boolean(options.groupCommit);
  const begin = sqlite.prepare("BEGIN IMMEDIATE");
  const commitStatement = sqlite.prepare("COMMIT");
  const rollback = sqlite.prepare("ROLLBACK");
  let scheduled = false;
  let waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  const commit = () => {
    scheduled = false;
    const batch = waiters;
    waiters = [];
    try {
      if (sqlite.inTransaction) commitStatement.run();
      for (const w of batch) w.resolve();
    } catch (error) {
      if (sqlite.inTransaction) rollback.run();
      for (const w of batch) w.reject(error);
    }
  };
  const join = () => {
    if (!grouping || sqlite.inTransaction) return;
    begin.run();
    if (!scheduled) {
      scheduled = true;
      setImmediate(commit);
    }
  };
  if (options.groupCommit) {
    const prepare = sqlite.prepare.bind(sqlite);
    sqlite.prepare = ((source: string) => {
      const statement = prepare(source);
      if (!statement.readonly) {
        for (const method of ["run", "all", "get", "iterate"] as const) {
          const original = statement[method].bind(statement) as (...args: unknown[]) => unknown;
          (statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
            join();
            return original(...args);
          };
        }
      }
      return statement;
    }) as typeof sqlite.prepare;
  }

  const db = drizzle(sqlite, { schema });
  return {
    db: db as unknown as StoreDatabase,
    sqlite,
    migrate: () => {
      // The migrator runs its own transaction.
      const was = grouping;
      grouping = false;
      try {
        migrateShared(db);
      } finally {
        grouping = was;
      }
    },
    /** Resolves once every write made so far is committed. */
    durable: (): Promise<void> =>
      sqlite.inTransaction
        ? new Promise((resolveDurable, reject) => waiters.push({ resolve: resolveDurable, reject }))
        : Promise.resolve(),
    close: () => {
      if (!sqlite.open) return;
      if (sqlite.inTransaction) commit();
      sqlite.close();
      checkpointer?.postMessage("close");
    },
  };
}
