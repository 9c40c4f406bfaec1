import type { SandboxMessage } from "../src/sandbox/state.ts";
import { percentile, round, startProcessRig, until } from "./lib.ts";

/**
 * 9. Draft-ready overhead: what the operator waits for beyond the model. A visitor opens the
 * chat, types for a moment, sends and stops (the sandbox's send ends the typing, as the
 * chatbox does), through the sandbox over HTTP; quill bundled in its own process, an LLM of
 * fixed latency, Crisp adding 20 ms per call, the default quiet period (3 s). Per
 * conversation: (draft note posted − customer message) − LLM time, both on the sandbox's
 * clock. Beside it, the same figure for visitors whose typing quill never sees (poll-only or
 * no compose hooks): the fixed quiet period.
 */

const N = Number(process.env.BENCH_CONVERSATIONS ?? 60);
const LLM_MS = 800;
const CRISP_MS = 20;
const QUIET_MS = 3_000;
const TYPING_MS = 400;
/** One conversation starts every this many ms: several are drafting at once. */
const ARRIVAL_GAP_MS = 50;

const rig = await startProcessRig(
  { QUIET_PERIOD_MS: String(QUIET_MS), JOB_CONCURRENCY: "64", CRISP_CONCURRENCY: "512" },
  LLM_MS,
);
await rig.control("/faults", { latencyMs: CRISP_MS });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Said {
  session_id: string;
  fingerprint: number;
}

/** A visitor who types and sends; their compose events reach quill. */
async function typedConversation(i: number): Promise<Said> {
  const { session_id } = await rig.control<{ session_id: string }>("/visitor/compose", {
    type: "start",
    excerpt: "Where is my",
  });
  await sleep(TYPING_MS);
  return rig.control<Said>("/visitor", { session_id, text: `Where is my order #${2000 + i}?` });
}

/** A visitor whose typing quill never sees: only the message arrives. */
const untypedConversation = (i: number): Promise<Said> =>
  rig.control<Said>("/visitor", { text: `Where is my order #${3000 + i}?` });

async function measure(start: (i: number) => Promise<Said>, count: number, what: string) {
  const said = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      await sleep(i * ARRIVAL_GAP_MS);
      return start(i);
    }),
  );
  // Every conversation of this round has its note (a count of all notes would include the
  // sandbox's seeded conversations, which the poller may draft at any moment).
  const ids = new Set(said.map((s) => s.session_id));
  let all: SandboxMessage[] = [];
  await until(
    async () => {
      all = await rig.control<SandboxMessage[]>("/messages");
      const noted = new Set(
        all.filter((m) => m.type === "note" && ids.has(m.session_id)).map((m) => m.session_id),
      );
      return noted.size === ids.size;
    },
    60_000,
    what,
  );
  return said.map((s) => {
    const mine = all.filter((m) => m.session_id === s.session_id);
    const message = mine.find((m) => m.fingerprint === s.fingerprint);
    const note = mine.find((m) => m.type === "note");
    if (!message || !note) throw new Error(`no message or no draft note in ${s.session_id}`);
    return note.timestamp - message.timestamp - LLM_MS;
  });
}

// Warm up (JIT, connections), as a running server would be.
await measure(typedConversation, 10, "warm-up drafts");
const requestsBefore = (await rig.control<unknown[]>("/requests")).length;
const typed = await measure(typedConversation, N, "typed drafts");
const requests = await rig.control<Array<{ method: string; path: string }>>("/requests");
const crispCalls = requests.slice(requestsBefore).filter((r) => r.path.includes("/conversation/")).length;
const fixed = await measure(untypedConversation, Math.min(N, 30), "untyped drafts");
await rig.stop();

console.log(
  `conversations=${N} llm_ms=${LLM_MS} crisp_ms=${CRISP_MS} quiet_period_ms=${QUIET_MS} crisp_calls_per_draft=${round(crispCalls / N, 2)}`,
);
console.log(
  `fixed_quiet_overhead_ms_p50=${round(percentile(fixed, 50), 1)} fixed_quiet_overhead_ms_p99=${round(percentile(fixed, 99), 1)}`,
);
console.log(
  `draft_ready_overhead_ms_p50=${round(percentile(typed, 50), 1)} draft_ready_overhead_ms_p99=${round(percentile(typed, 99), 1)}`,
);
process.exit(0);
