import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import autocannon from "autocannon";
import { bundle, root, round } from "./lib.ts";

/**
 * 3. Web hook intake: autocannon against POST /webhooks/crisp with signed, unique
 * message:send bodies (each a new job), next to a bare Hono route on the same machine:
 * throughput ratio at saturation, and p99 latency at a fixed 5,000 requests per second.
 * Both servers run as bundled JavaScript in their own process (as `npm start` runs quill);
 * the bodies are signed before the load starts, so the load generator takes as little of
 * the machine's CPU as it can, the same for both.
 */

const WEBSITE = "42b1a8c6-5d3e-4f7a-9b2c-1e0d9f8a7b6c";
/** CRISP_WEBHOOK_SECRET of bench/intake-server.ts: a body signed with anything else is a 401. */
const SECRET = "bench-webhook-secret";
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);

const serverEntry = bundle("intake-server.ts");
async function server(kind: "quill" | "bare"): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [serverEntry, kind], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.once("exit", () => child.kill("SIGKILL"));
  const port = await new Promise<string>((resolve) =>
    child.stdout?.on("data", (chunk: Buffer) => {
      const match = /port=(\d+)/.exec(chunk.toString());
      if (match?.[1]) resolve(match[1]);
    }),
  );
  return { url: `http://127.0.0.1:${port}/webhooks/crisp`, child };
}

/** Enough signed deliveries for every quill phase to send only new messages. */
function signedRequests(count: number) {
  const now = Date.now();
  const ts = String(now);
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const body = `{"website_id":"${WEBSITE}","event":"message:send","timestamp":${now},"data":{"website_id":"${WEBSITE}","session_id":"session_bench_${n}","type":"text","from":"user","origin":"chat","content":"Hello, where is my parcel? It should have arrived yesterday.","fingerprint":${n},"timestamp":${now},"user":{"nickname":"Bench","user_id":"session_bench_${n}"}}}`;
    return {
      method: "POST" as const,
      body,
      headers: {
        "content-type": "application/json",
        "x-crisp-request-timestamp": ts,
        "x-crisp-signature": createHmac("sha256", SECRET).update(`[${ts};${body}]`).digest("hex"),
      },
    };
  });
}
const pool = signedRequests(Number(process.env.BENCH_POOL ?? 400_000));
let next = 0;
let wrapped = false;
const take = () => {
  if (next === pool.length) {
    next = 0;
    wrapped = true;
  }
  return pool[next++] as (typeof pool)[number];
};

const run = (url: string, extra: Partial<autocannon.Options> = {}) =>
  autocannon({
    url,
    connections: 50,
    duration: DURATION,
    requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, ...take() }) }],
    ...extra,
  });

const paced = (url: string) => run(url, { overallRate: 5_000, connections: 100 });
const bare = await server("bare");
await run(bare.url, { duration: 2 }); // warm-up
const bareResult = await run(bare.url);
// The same paced load on the bare route: the latency floor of this machine and load generator.
const barePaced = await paced(bare.url);
bare.child.kill();

next = 0;
wrapped = false;
const quill = await server("quill");
await run(quill.url, { duration: 2 });
const quillResult = await run(quill.url);
const quillPaced = await paced(quill.url);
quill.child.kill();
// A repeated delivery is a cheap duplicate for quill: the figure would flatter it.
if (wrapped) throw new Error("signed request pool too small: raise BENCH_POOL");

const errors = quillResult.non2xx + quillResult.errors + quillPaced.non2xx + quillPaced.errors;
console.log(
  `bare_rps=${Math.round(bareResult.requests.average)} quill_rps=${Math.round(quillResult.requests.average)} errors=${errors}`,
);
console.log(
  `at_5000_rps: achieved=${Math.round(quillPaced.requests.average)} p50_ms=${quillPaced.latency.p50} p99_ms=${quillPaced.latency.p99} bare_p99_ms=${barePaced.latency.p99}`,
);
console.log(`intake_p99_ms_at_5000=${quillPaced.latency.p99}`);
console.log(`intake_throughput_ratio=${round(quillResult.requests.average / bareResult.requests.average)}`);
// Rejected deliveries (a 401 is far cheaper than an intake) would make the figures meaningless.
if (errors > 0) throw new Error(`${errors} web hook deliveries failed or were rejected`);
process.exit(0);
