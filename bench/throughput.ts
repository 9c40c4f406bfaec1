import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqlite } from "../src/runtime/sqlite.ts";
import { round, startProcessRig, until } from "./lib.ts";

/**
 * 7. Throughput with an instant LLM: drafts per second through the whole pipeline (web hook,
 * job, Crisp reads, post) with quill bundled in its own process as `npm start` runs it
 * (group commit, background checkpoints) and Crisp (the sandbox) in another, so the
 * sandbox's CPU is not counted as quill's; against a bare insert loop on SQLite opened the
 * same way, as the reference. Reported, no target.
 */

const N = 1_000;
const BATCH = 50;
const rig = await startProcessRig({ JOB_CONCURRENCY: "64", CRISP_CONCURRENCY: "64" }, 0);
const send = async (count: number, from: number) => {
  for (let i = 0; i < count; i += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, count - i) }, (_, j) =>
        rig.visitorSays(`Where is order ${from + i + j}?`),
      ),
    );
  }
};
await send(100, 0); // warm-up
await until(async () => (await rig.noteCount()) >= 100, 60_000, "warm-up drafts");
const cpuBefore = rig.cpuMs();
const started = performance.now();
await send(N, 100);
await until(async () => (await rig.noteCount()) >= 100 + N, 120_000, "all drafts");
const seconds = (performance.now() - started) / 1000;
const cpuPerDraft = (rig.cpuMs() - cpuBefore) / N;
await rig.stop();
const draftsPerSecond = N / seconds;

const dir = mkdtempSync(join(tmpdir(), "quill-throughput-"));
const database = openSqlite(join(dir, "q.db"));
database.sqlite.exec(
  "create table bench_insert (id integer primary key, website_id text, payload text, at integer)",
);
const insert = database.sqlite.prepare("insert into bench_insert (website_id, payload, at) values (?, ?, ?)");
const insertStart = performance.now();
for (let i = 0; i < 20_000; i++) insert.run("w", `payload ${i}`, Date.now());
const insertsPerSecond = 20_000 / ((performance.now() - insertStart) / 1000);
database.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  `drafts=${N} drafts_per_s=${Math.round(draftsPerSecond)} quill_cpu_ms_per_draft=${round(cpuPerDraft, 2)} bare_inserts_per_s=${Math.round(insertsPerSecond)}`,
);
console.log(`pipeline_vs_insert_ratio=${round(draftsPerSecond / insertsPerSecond, 4)}`);
process.exit(0);
