import type { SandboxMessage } from "../src/sandbox/state.ts";
import { percentile, round, startProcessRig, until } from "./lib.ts";

/**
 * 2. Typing indicator: from the web hook leaving Crisp (the sandbox) to the compose start
 * it records, p99, in sandbox round trips (a round trip = one REST call as the sandbox
 * measures it, 20 ms added latency included). 50 conversations, one every 20 ms.
 */

const N = 50;
const rig = await startProcessRig({ JOB_CONCURRENCY: "128", CRISP_CONCURRENCY: "512" }, 800);
await rig.control("/faults", { latencyMs: 20 });
const warm = await Promise.all(Array.from({ length: 10 }, (_, i) => rig.visitorSays(`warm-up ${i}`)));
const warmIds = new Set(warm.map((w) => w.session_id));
await until(
  async () => (await rig.notes()).filter((n) => warmIds.has(n.session_id)).length >= 10,
  60_000,
  "warm-up",
);

const said = await Promise.all(
  Array.from({ length: N }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i * 20));
    return rig.visitorSays(`Can I change my delivery address? (${i})`);
  }),
);
const ids = new Set(said.map((s) => s.session_id));
await until(
  async () => (await rig.notes()).filter((n: SandboxMessage) => ids.has(n.session_id)).length >= N,
  60_000,
  "drafts",
);
const deliveries =
  await rig.control<Array<{ event: string; sessionId: string; sentAt: number }>>("/deliveries");
const compose = await rig.control<Array<{ sessionId: string; type: string; at: number }>>("/compose");
const requests = await rig.control<Array<{ method: string; ms: number }>>("/requests");
const roundTrip = percentile(
  requests.filter((r) => r.method === "GET").map((r) => r.ms),
  50,
);
const delays = said.map((s) => {
  const hook = deliveries.find((d) => d.event === "message:send" && d.sessionId === s.session_id);
  const start = compose.find((c) => c.sessionId === s.session_id && c.type === "start");
  if (!hook || !start) throw new Error(`missing hook or typing for ${s.session_id}`);
  return start.at - hook.sentAt;
});
await rig.stop();
console.log(
  `typing_ms_p50=${percentile(delays, 50)} typing_ms_p99=${percentile(delays, 99)} round_trip_ms=${roundTrip}`,
);
console.log(`typing_round_trips_p99=${round(percentile(delays, 99) / roundTrip, 2)}`);
