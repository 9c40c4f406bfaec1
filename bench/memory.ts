import { round, startProcessRig, until } from "./lib.ts";

/**
 * 5. Memory: quill's resident set size with 1,000 drafts in flight (an LLM that takes 60 s),
 * quill bundled in its own process as `npm start` runs it (BENCH_QUILL_NODE_FLAGS adds flags,
 * e.g. --optimize-for-size as `npm run start:small` runs it); the sandbox (Crisp) and this
 * harness run in their own processes and are not counted.
 */

const N = 1_000;
const rig = await startProcessRig({ JOB_CONCURRENCY: String(N), CRISP_CONCURRENCY: "256" }, 60_000);
const idle = await rig.status();
for (let i = 0; i < N; i += 50) {
  await Promise.all(Array.from({ length: 50 }, (_, j) => rig.visitorSays(`Where is order ${i + j}?`)));
}
await until(async () => (await rig.status()).llmInFlight >= N, 120_000, `${N} drafts in flight`);
const busy = await rig.status();
await rig.stop();
console.log(
  `in_flight=${busy.llmInFlight} idle_rss_mb=${round(idle.rss / 2 ** 20, 1)} heap_used_mb=${round(busy.heapUsed / 2 ** 20, 1)}`,
);
console.log(`rss_mb=${round(busy.rss / 2 ** 20, 1)}`);
process.exit(0);
