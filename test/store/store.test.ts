import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { migrationsFolder, openSqlite } from "../../src/runtime/sqlite.ts";
import { createStore } from "../../src/store/store.ts";

const opened: Array<() => void> = [];
afterEach(() => {
  for (const close of opened.splice(0)) close();
});

function manualClock(start = 1_000_000) {
  let now = start;
  const clock: Clock = { now: () => now, sleep: async () => {} };
  return { clock, advance: (ms: number) => (now += ms) };
}

function open(path = ":memory:", clock = manualClock().clock) {
  const handle = openSqlite(path);
  handle.migrate();
  opened.push(handle.close);
  return { ...handle, store: createStore(handle.db, { clock }) };
}

const job = (
  fingerprint: number,
  extra: Partial<Parameters<ReturnType<typeof createStore>["enqueueJob"]>[0]> = {},
) => ({
  websiteId: "w1",
  sessionId: "s1",
  fingerprint,
  messageAt: fingerprint * 1000,
  trigger: "webhook" as const,
  runAfter: 0,
  ...extra,
});

describe("store", () => {
  it("sets the pragmas a server needs", () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-"));
    const { sqlite } = open(join(dir, "q.db"));
    expect(sqlite.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(sqlite.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(sqlite.pragma("synchronous", { simple: true })).toBe(1);
    expect(sqlite.pragma("busy_timeout", { simple: true })).toBe(5000);
  });

  it("records a web hook delivery once", async () => {
    const { store } = open();
    const e = { websiteId: "w1", deliveryKey: "w1:s1:msg:1", event: "message:send", payload: {} };
    expect(await store.recordInboxEvent(e)).toEqual({ inserted: true });
    expect(await store.recordInboxEvent(e)).toEqual({ inserted: false });
  });

  it("keeps one job per customer message, and a separate one per redraft command", async () => {
    const { store } = open();
    const a = await store.enqueueJob(job(1));
    const b = await store.enqueueJob(job(1, { trigger: "poll" }));
    expect(a.created).toBe(true);
    expect(b).toMatchObject({ created: false, job: { id: a.job.id, trigger: "webhook" } });
    const redraft = await store.enqueueJob(
      job(1, { kind: "redraft", commandKey: "cmd:99", trigger: "command" }),
    );
    expect(redraft.created).toBe(true);
    expect(redraft.job.id).not.toBe(a.job.id);
  });

  it("leases due jobs once, counts attempts, and re-leases an expired lease", async () => {
    const { clock, advance } = manualClock();
    const { store } = open(":memory:", clock);
    await store.enqueueJob(job(1));
    await store.enqueueJob(job(2, { sessionId: "s2", runAfter: 5_000_000 })); // not due yet
    const first = await store.leaseJobs({ owner: "a", leaseMs: 1_000, limit: 10 });
    expect(first.map((j) => j.fingerprint)).toEqual([1]);
    expect(first[0]).toMatchObject({ status: "leased", leaseOwner: "a", attempts: 1 });
    expect(await store.leaseJobs({ owner: "b", leaseMs: 1_000, limit: 10 })).toEqual([]);
    advance(1_001);
    const again = await store.leaseJobs({ owner: "b", leaseMs: 1_000, limit: 10 });
    expect(again).toMatchObject([{ fingerprint: 1, leaseOwner: "b", attempts: 2 }]);
    // the old owner lost the lease and cannot finish it
    expect(await store.finishJob(first[0]?.id ?? "", "a", "done")).toBe(false);
    expect(await store.finishJob(first[0]?.id ?? "", "b", "done")).toBe(true);
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

  it("retries with a delay, then marks the job dead when attempts are used up", async () => {
    const { store } = open();
    const { job: j } = await store.enqueueJob(job(1, { maxAttempts: 2 }));
    await store.leaseJobs({ owner: "a", leaseMs: 1_000, limit: 1 });
    expect(await store.retryJob(j.id, "a", "crisp 503", 0)).toBe("retry");
    expect(await store.getJob(j.id)).toMatchObject({ status: "queued", lastError: "crisp 503" });
    await store.leaseJobs({ owner: "a", leaseMs: 1_000, limit: 1 });
    expect(await store.retryJob(j.id, "a", "crisp 503 again", 0)).toBe("dead");
    expect(await store.getJob(j.id)).toMatchObject({ status: "dead", attempts: 2 });
    expect(await store.countJobsByStatus()).toEqual({ dead: 1 });
  });

  it("marks a crash-looping job dead instead of leasing it forever", async () => {
    const { clock, advance } = manualClock();
    const { store } = open(":memory:", clock);
    const { job: j } = await store.enqueueJob(job(1, { maxAttempts: 1 }));
    await store.leaseJobs({ owner: "a", leaseMs: 1_000, limit: 1 });
    advance(2_000);
    expect(await store.leaseJobs({ owner: "b", leaseMs: 1_000, limit: 1 })).toEqual([]);
    expect(await store.getJob(j.id)).toMatchObject({ status: "dead" });
  });

  it("releases leases on shutdown without burning an attempt", async () => {
    const { store } = open();
    const { job: j } = await store.enqueueJob(job(1));
    await store.leaseJobs({ owner: "a", leaseMs: 60_000, limit: 1 });
    expect(await store.releaseJobs("a")).toBe(1);
    expect(await store.getJob(j.id)).toMatchObject({ status: "queued", attempts: 0, leaseOwner: null });
  });

  it("supersedes queued jobs for older messages only", async () => {
    const { store } = open();
    const old = await store.enqueueJob(job(1));
    const newer = await store.enqueueJob(job(3));
    expect(await store.supersedeQueuedJobs("w1", "s1", 2_000)).toBe(1);
    expect(await store.getJob(old.job.id)).toMatchObject({ status: "superseded" });
    expect(await store.getJob(newer.job.id)).toMatchObject({ status: "queued" });
  });

  it("finds the latest posted draft of a conversation and filters drafts", async () => {
    const { clock, advance } = manualClock();
    const { store } = open(":memory:", clock);
    const { job: j } = await store.enqueueJob(job(1));
    const base = {
      jobId: j.id,
      websiteId: "w1",
      sessionId: "s1",
      customerFingerprint: 1,
      mode: "note" as const,
    };
    const first = await store.insertDraft({
      ...base,
      text: "Refunds take 5 days",
      status: "posted",
      promptVersion: "v1",
    });
    advance(10);
    await store.insertDraft({ ...base, text: "never posted", status: "discarded", promptVersion: "v1" });
    advance(10);
    const second = await store.insertDraft({
      ...base,
      text: "Returns are free",
      status: "posted",
      promptVersion: "v2",
    });
    expect((await store.latestDraftForSession("w1", "s1"))?.id).toBe(second.id);
    expect((await store.listDrafts({ search: "refund" })).map((d) => d.id)).toEqual([first.id]);
    expect((await store.listDrafts({ promptVersion: "v2" })).map((d) => d.id)).toEqual([second.id]);
    await store.insertFeedback({
      draftId: first.id,
      websiteId: "w1",
      sessionId: "s1",
      kind: "approved",
      sourceKey: "k1",
    });
    expect((await store.listDrafts({ outcome: "approved" })).map((d) => d.id)).toEqual([first.id]);
    expect((await store.listDrafts({ outcome: "none", status: "posted" })).map((d) => d.id)).toEqual([
      second.id,
    ]);
    expect(await store.transitionDraft(first.id, ["posted"], { status: "sent" })).toBe(true);
    expect(await store.transitionDraft(first.id, ["posted"], { status: "sent" })).toBe(false);
  });

  it("records feedback from one source once", async () => {
    const { store } = open();
    const { job: j } = await store.enqueueJob(job(1));
    const d = await store.insertDraft({
      jobId: j.id,
      websiteId: "w1",
      sessionId: "s1",
      customerFingerprint: 1,
      mode: "note",
      text: "x",
      status: "posted",
    });
    const f = {
      draftId: d.id,
      websiteId: "w1",
      sessionId: "s1",
      kind: "rejected" as const,
      sourceKey: "cmd:w1:s1:7",
    };
    expect(await store.insertFeedback(f)).toEqual({ inserted: true });
    expect(await store.insertFeedback(f)).toEqual({ inserted: false });
    expect(await store.feedbackForDraft(d.id)).toHaveLength(1);
  });

  it("keeps the poll watermark monotonic", async () => {
    const { store } = open();
    await store.setPollState("w1", 500);
    await store.setPollState("w1", 300);
    expect((await store.getPollState("w1"))?.watermark).toBe(500);
  });

  it("ships migrations that D1 can apply (no PRAGMA, statement breakpoints)", () => {
    const sqlText = readFileSync(join(migrationsFolder, "0000_init.sql"), "utf8");
    expect(sqlText).not.toMatch(/PRAGMA/i);
    expect(sqlText).toContain("--> statement-breakpoint");
    expect(sqlText).toMatch(/CREATE UNIQUE INDEX `jobs_message`/);
  });
});
