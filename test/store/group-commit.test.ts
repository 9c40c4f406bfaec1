import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createStore } from "../../src/store/store.ts";

/** SQLite group commit (the Node runtime): one transaction per event-loop turn, durable() awaited. */

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function open() {
  const path = join(mkdtempSync(join(tmpdir(), "quill-gc-")), "q.db");
  const database = openSqlite(path, { groupCommit: true });
  database.migrate();
  const reader = new Database(path, { readonly: true });
  closers.push(() => reader.close(), database.close);
  const store = createStore(database.db, { durable: database.durable });
  const jobsSeen = () => (reader.prepare("select count(*) as n from jobs").get() as { n: number }).n;
  return { database, store, jobsSeen };
}

const job = (n: number) => ({
  websiteId: "w",
  sessionId: `s${n}`,
  fingerprint: n,
  messageAt: n,
  trigger: "webhook" as const,
  runAfter: 0,
});

it("commits the writes of one turn together, and durable() waits for that commit", async () => {
  const { database, store, jobsSeen } = open();
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.enqueueJob(job(i))));
  expect(database.sqlite.inTransaction).toBe(true);
  expect(jobsSeen()).toBe(0); // another connection does not see them yet
  await store.durable();
  expect(database.sqlite.inTransaction).toBe(false);
  expect(jobsSeen()).toBe(20);
});

it("a lease is on disk before leaseJobs returns, so a crash right after cannot forget the attempt", async () => {
  const { store, jobsSeen } = open();
  await store.enqueueJob(job(1));
  const [leased] = await store.leaseJobs({ owner: "me", leaseMs: 60_000, limit: 1 });
  expect(leased?.attempts).toBe(1);
  expect(jobsSeen()).toBe(1);
});

it("a failing statement does not undo the other writes of its turn", async () => {
  const { store, jobsSeen } = open();
  const results = await Promise.allSettled([
    store.enqueueJob(job(1)),
    store.insertFeedback({ draftId: "no-such-draft", websiteId: "w", sessionId: "s", kind: "rejected" }),
    store.enqueueJob(job(2)),
  ]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  await store.durable();
  expect(jobsSeen()).toBe(2);
});

it("with backgroundCheckpoint, another thread copies the WAL into the database file; the commits do not", async () => {
  const sizes = async (backgroundCheckpoint: boolean) => {
    const path = join(mkdtempSync(join(tmpdir(), "quill-ckpt-")), "q.db");
    const database = openSqlite(path, { groupCommit: true, backgroundCheckpoint });
    closers.push(database.close);
    database.migrate();
    database.sqlite.pragma("wal_checkpoint(TRUNCATE)");
    const before = statSync(path).size;
    const store = createStore(database.db, { durable: database.durable });
    // ~2 MB of rows: well under the commit-time checkpoint threshold either way
    for (let i = 0; i < 2_000; i++) {
      await store.recordInboxEvent({
        websiteId: "w",
        deliveryKey: `k${i}`,
        event: "e",
        payload: "x".repeat(1000),
      });
    }
    await store.durable();
    await new Promise((r) => setTimeout(r, 600));
    return { before, after: statSync(path).size, wal: statSync(`${path}-wal`).size };
  };
  const background = await sizes(true);
  expect(background.after - background.before).toBeGreaterThan(2_000_000);
  const inline = await sizes(false);
  expect(inline.after).toBe(inline.before); // without it, only a commit-time checkpoint would copy
  expect(inline.wal).toBeGreaterThan(2_000_000);
});

it("two processes opening a new database file at once both end up migrated", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "quill-gc-")), "q.db");
  const [first, second] = [openSqlite(path), openSqlite(path)];
  closers.push(first.close, second.close);
  // The other process applies the migrations right after this one read that none are applied.
  const prepare = second.sqlite.prepare.bind(second.sqlite);
  let raced = false;
  second.sqlite.prepare = ((source: string) => {
    if (!raced && source.trim() === "BEGIN") {
      raced = true;
      first.migrate();
    }
    return prepare(source);
  }) as typeof second.sqlite.prepare;
  expect(() => second.migrate()).not.toThrow();
  expect(raced).toBe(true);
  await createStore(second.db).enqueueJob(job(1));
  expect(await createStore(first.db).countJobsByStatus()).toEqual({ queued: 1 });
});
