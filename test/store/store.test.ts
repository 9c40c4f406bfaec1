import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { migrationsFolder, openSqlite } from "../../src/runtime/sqlite.ts";
import { createStore } from "../../src/store/store.ts";
import { job, manualClock, storeContract } from "./contract.ts";

const opened: Array<() => void> = [];
afterEach(() => {
  for (const close of opened.splice(0)) close();
});

function open(path = ":memory:", clock = manualClock().clock) {
  const handle = openSqlite(path);
  handle.migrate();
  opened.push(handle.close);
  return { ...handle, store: createStore(handle.db, { clock }) };
}

storeContract(async (clock) => open(":memory:", clock).store);

describe("store on SQLite", () => {
  it("sets the pragmas a server needs", () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-"));
    const { sqlite } = open(join(dir, "q.db"));
    expect(sqlite.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(sqlite.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(sqlite.pragma("synchronous", { simple: true })).toBe(1);
    expect(sqlite.pragma("busy_timeout", { simple: true })).toBe(5000);
  });

  it("never hands the same job to two processes sharing one database file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-"));
    const path = join(dir, "q.db");
    const one = open(path).store;
    const two = open(path).store;
    for (let i = 1; i <= 40; i++) await one.enqueueJob(job(i, { sessionId: `s${i}` }));
    const leased = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? one : two).leaseJobs({ owner: `p${i}`, leaseMs: 60_000, limit: 5 }),
      ),
    );
    const ids = leased.flat().map((j) => j.id);
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
  });

  it("gives rows time-ordered UUIDv7 ids, so inserts append to the primary key index", async () => {
    const { store } = open();
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) {
      ids.push((await store.enqueueJob(job(i, { sessionId: `s${i}` }))).job.id);
      await new Promise((r) => setTimeout(r, 2));
    }
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(Number.parseInt(ids[0]?.replace("-", "").slice(0, 12) ?? "", 16)).toBeLessThanOrEqual(Date.now());
  });

  it("ships migrations that D1 can apply (no PRAGMA, statement breakpoints)", () => {
    const sqlText = readFileSync(join(migrationsFolder, "0000_init.sql"), "utf8");
    expect(sqlText).not.toMatch(/PRAGMA/i);
    expect(sqlText).toContain("--> statement-breakpoint");
    expect(sqlText).toMatch(/CREATE UNIQUE INDEX `jobs_message`/);
  });
});
