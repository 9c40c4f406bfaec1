import { fixedLatencyLlm, round, startRig, until } from "./lib.ts";

/** 5. Memory: resident set size with 1,000 drafts in flight (an LLM that takes 60 s). */

const N = 1_000;
const llm = fixedLatencyLlm(60_000);
const rig = await startRig({ JOB_CONCURRENCY: String(N), CRISP_CONCURRENCY: "256" }, { llm: llm.engine });
const baseline = process.memoryUsage().rss;
for (let i = 0; i < N; i += 50) {
  await Promise.all(Array.from({ length: 50 }, (_, j) => rig.visitorSays(`Where is order ${i + j}?`)));
}
await until(() => llm.inFlight() >= N, 120_000, `${N} drafts in flight`);
globalThis.gc?.();
const rss = process.memoryUsage().rss;
const inFlight = llm.inFlight();
await rig.stop();
console.log(`in_flight=${inFlight} idle_rss_mb=${round(baseline / 2 ** 20, 1)}`);
console.log(`rss_mb=${round(rss / 2 ** 20, 1)}`);
process.exit(0);
