import type { SandboxMessage } from "../src/sandbox/state.ts";
import { fixedLatencyLlm, percentile, round, startRig, until } from "./lib.ts";

/**
 * 1. Draft overhead: 200 conversations at once, a fake LLM of 800 ms, Crisp (the sandbox,
 * in its own process) adding 20 ms to every call. Per conversation: (customer message →
 * draft note posted) over (LLM time + the Crisp calls on the critical path: read context,
 * re-check, post). Typing starts beside the LLM, so it is not on the path.
 */

const N = Number(process.env.BENCH_CONVERSATIONS ?? 200);
const LLM_MS = 800;
const CRISP_MS = 20;
const ARRIVAL_GAP_MS = 5;

const llm = fixedLatencyLlm(LLM_MS);
const rig = await startRig(
  { JOB_CONCURRENCY: String(N + 16), CRISP_CONCURRENCY: "512" },
  { llm: llm.engine },
);
await rig.control("/faults", { latencyMs: CRISP_MS });

// Warm up (JIT, connections, first-use module loading), as a running server would be.
const warm = await Promise.all(
  Array.from({ length: 20 }, (_, i) => rig.visitorSays(`Warm-up question ${i}`)),
);
const warmIds = new Set(warm.map((w) => w.session_id));
await until(
  async () => (await rig.notes()).filter((n) => warmIds.has(n.session_id)).length >= warm.length,
  60_000,
  "warm-up drafts",
);
await new Promise((r) => setTimeout(r, 200));
// 200 conversations in flight together: one starts every 5 ms, so all 200 overlap (a
// draft takes ~0.9 s) without being one single-millisecond burst.
const said = await Promise.all(
  Array.from({ length: N }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i * ARRIVAL_GAP_MS));
    return rig.visitorSays(`Where is my order #${1000 + i}?`);
  }),
);
const ids = new Set(said.map((s) => s.session_id));
const ours = async () => (await rig.notes()).filter((n) => ids.has(n.session_id));
await until(async () => (await ours()).length >= N, 60_000, "all drafts");
const notes = await ours();
const requests =
  await rig.control<Array<{ method: string; path: string; at: number; ms: number }>>("/requests");
const messages = await rig.control<SandboxMessage[]>("/messages?type=text");

const ratios: number[] = [];
for (const s of said) {
  const note = notes.find((m) => m.session_id === s.session_id);
  const customer = messages.find((m) => m.session_id === s.session_id && m.from === "user");
  if (!note || !customer) throw new Error(`no draft for ${s.session_id}`);
  const calls = requests.filter(
    (r) => r.path.includes(`/conversation/${s.session_id}`) && r.at <= note.timestamp,
  );
  const reads = calls.filter((r) => r.method === "GET");
  // context: conversation + messages in parallel; re-check: the same pair after the LLM
  const context = Math.max(reads[0]?.ms ?? 0, reads[1]?.ms ?? 0);
  const recheck = Math.max(reads[2]?.ms ?? 0, reads[3]?.ms ?? 0);
  const postCall = calls.find((r) => r.method === "POST")?.ms ?? 0;
  ratios.push((note.timestamp - customer.timestamp) / (LLM_MS + context + recheck + postCall));
}
await rig.stop();
console.log(`conversations=${N} llm_ms=${LLM_MS} crisp_ms=${CRISP_MS} peak_llm_in_flight=${llm.peak()}`);
console.log(`overhead_ratio_p99=${round(percentile(ratios, 99))}`);
console.log(`overhead_ratio_p50=${round(percentile(ratios, 50))}`);
