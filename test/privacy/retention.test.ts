import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.ts";
import { type QuillHandle, startQuill } from "../../src/runtime/node.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createStore } from "../../src/store/store.ts";
import { manualClock, seedConversation } from "../store/contract.ts";

/** RETENTION_DAYS on Node: `quill start` prunes at start (then hourly), in the same process. */

const handles: QuillHandle[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.stop(1_000)));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;

/** A database with one conversation from 100 days ago and one from yesterday. */
async function seeded() {
  const dir = mkdtempSync(join(tmpdir(), "quill-retention-"));
  dirs.push(dir);
  const path = join(dir, "quill.db");
  const database = openSqlite(path);
  database.migrate();
  const { clock, advance } = manualClock(Date.now() - 100 * DAY);
  const store = createStore(database.db, { clock });
  await seedConversation(store, "w1", "s-old", "hundred days ago", clock.now());
  advance(99 * DAY);
  await seedConversation(store, "w1", "s-new", "yesterday's words", clock.now());
  database.close();
  return path;
}

async function start(path: string, env: Record<string, string> = {}) {
  const handle = await startQuill({
    env: { DATABASE_PATH: path, QUIET_PERIOD_MS: "0", POLL_INTERVAL_SECONDS: "0", ...env },
    port: 0,
    host: "127.0.0.1",
    log: silentLogger,
    sandbox: { seed: false },
  });
  handles.push(handle);
  return handle;
}

async function until(probe: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("RETENTION_DAYS on Node", () => {
  it("prunes conversation data older than the limit at start and keeps newer rows", async () => {
    const quill = await start(await seeded(), { RETENTION_DAYS: "90" });
    const { store } = quill.services;
    const old = () => store.visitorRows([{ websiteId: "w1", sessionId: "s-old" }]);
    await until(async () => (await old()).inboxEvents.length === 0);
    const rows = await old();
    expect(rows.llmCalls).toEqual([]);
    expect(rows.drafts.map((d) => d.text)).toEqual(["", ""]);
    expect(rows.shadowDrafts.map((d) => d.text)).toEqual([""]);
    expect(JSON.stringify(rows)).not.toContain("hundred days ago");
    const recent = await store.visitorRows([{ websiteId: "w1", sessionId: "s-new" }]);
    expect(recent.inboxEvents).toHaveLength(2);
    expect(JSON.stringify(recent)).toContain("yesterday's words");
    expect(recent.shadowDrafts.map((d) => d.text)).toEqual(["yesterday's words shadow"]);
  });

  it("keeps everything with RETENTION_DAYS=off", async () => {
    const quill = await start(await seeded(), { RETENTION_DAYS: "off" });
    await new Promise((r) => setTimeout(r, 300));
    const rows = await quill.services.store.visitorRows([{ websiteId: "w1", sessionId: "s-old" }]);
    expect(rows.inboxEvents).toHaveLength(2);
    expect(JSON.stringify(rows)).toContain("hundred days ago");
  });
});
