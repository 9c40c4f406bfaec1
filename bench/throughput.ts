import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { createJobRunner } from "../src/drafting/runner.ts";
import { silentLogger } from "../src/log.ts";
import { openSqlite } from "../src/runtime/sqlite.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../src/sandbox/app.ts";
import { buildServices } from "../src/services.ts";
import { fixedLatencyLlm, root, round } from "./lib.ts";

/**
 * 7. Throughput with an instant LLM: drafts per second through the whole pipeline on
 * SQLite (Crisp is the sandbox called in process, so the figure is quill's own cost),
 * against a bare insert loop on the same database as the reference.
 */

const N = 1_000;
const dir = mkdtempSync(join(tmpdir(), "quill-throughput-"));
const database = openSqlite(join(dir, "q.db"));
database.migrate();
const sandbox = createSandbox();
const services = await buildServices({
  config: loadConfig({
    DATABASE_PATH: join(dir, "q.db"),
    CRISP_IDENTIFIER: DEMO_CREDENTIALS.identifier,
    CRISP_KEY: DEMO_CREDENTIALS.key,
    CRISP_WEBSITE_ID: sandbox.website.website_id,
    CRISP_WEBHOOK_SECRET: DEMO_CREDENTIALS.webhookSecret,
    CRISP_API_URL: "http://sandbox.local/v1",
    CRISP_CONCURRENCY: "64",
  }),
  db: database.db,
  clock: systemClock,
  log: silentLogger,
  kbFiles: [],
  promptFiles: [{ name: "default.md", content: readFileSync(join(root, "prompts/default.md"), "utf8") }],
  fetch: ((input: string | URL | Request, init?: RequestInit) =>
    sandbox.app.request(String(input), init)) as typeof fetch,
  llm: fixedLatencyLlm(0).engine,
});
const runner = createJobRunner({
  lease: (limit) => services.store.leaseJobs({ owner: "bench", leaseMs: 60_000, limit }),
  run: async (job, signal) => {
    await services.pipeline.run(job, "bench", signal);
  },
  concurrency: 32,
  idleMs: 5,
  clock: systemClock,
  log: silentLogger,
});

async function batch(count: number) {
  for (let i = 0; i < count; i++) {
    const said = sandbox.visitorSays({ text: `Where is order ${i}?` });
    await services.intake.enqueueForMessage({
      websiteId: sandbox.website.website_id,
      sessionId: said.sessionId,
      fingerprint: said.fingerprint,
      messageAt: said.message.timestamp,
      trigger: "webhook",
      delayMs: 0,
    });
  }
  const started = performance.now();
  await runner.drain();
  return performance.now() - started;
}

await batch(100); // warm-up
const ms = await batch(N);
const draftsPerSecond = N / (ms / 1000);
const done = (await services.store.countJobsByStatus()).done ?? 0;

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
  `drafts_done=${done} drafts_per_s=${Math.round(draftsPerSecond)} bare_inserts_per_s=${Math.round(insertsPerSecond)}`,
);
console.log(`pipeline_vs_insert_ratio=${round(draftsPerSecond / insertsPerSecond, 4)}`);
