import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import autocannon from "autocannon";
import { root, round } from "./lib.ts";

/**
 * 3. Web hook intake: autocannon against POST /webhooks/crisp with signed, unique
 * message:send bodies (each a new job), next to a bare Hono route on the same machine:
 * throughput ratio at saturation, and p99 latency at a fixed 5,000 requests per second.
 */

const WEBSITE = "42b1a8c6-5d3e-4f7a-9b2c-1e0d9f8a7b6c";
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);

async function server(kind: "quill" | "bare"): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/intake-server.ts", kind], {
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

let counter = 0;
function signedRequest() {
  const n = ++counter;
  const now = Date.now();
  const body = JSON.stringify({
    website_id: WEBSITE,
    event: "message:send",
    timestamp: now,
    data: {
      website_id: WEBSITE,
      session_id: `session_bench_${n}`,
      type: "text",
      from: "user",
      origin: "chat",
      content: "Hello, where is my parcel? It should have arrived yesterday.",
      fingerprint: n,
      timestamp: now,
      user: { nickname: "Bench", user_id: `session_bench_${n}` },
    },
  });
  const ts = String(now);
  return {
    method: "POST" as const,
    body,
    headers: {
      "content-type": "application/json",
      "x-crisp-request-timestamp": ts,
      "x-crisp-signature": createHmac("sha256", "bench-secret").update(`[${ts};${body}]`).digest("hex"),
    },
  };
}

const run = (url: string, extra: Partial<autocannon.Options> = {}) =>
  autocannon({
    url,
    connections: 50,
    duration: DURATION,
    requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, ...signedRequest() }) }],
    ...extra,
  });

const bare = await server("bare");
await run(bare.url, { duration: 2 }); // warm-up
const bareResult = await run(bare.url);
bare.child.kill();

const quill = await server("quill");
await run(quill.url, { duration: 2 });
const quillResult = await run(quill.url);
const paced = await run(quill.url, { overallRate: 5_000, connections: 100 });
quill.child.kill();

const errors = quillResult.non2xx + quillResult.errors + paced.non2xx + paced.errors;
console.log(
  `bare_rps=${Math.round(bareResult.requests.average)} quill_rps=${Math.round(quillResult.requests.average)} errors=${errors}`,
);
console.log(
  `at_5000_rps: achieved=${Math.round(paced.requests.average)} p50_ms=${paced.latency.p50} p99_ms=${paced.latency.p99}`,
);
console.log(`intake_p99_ms_at_5000=${paced.latency.p99}`);
console.log(`intake_throughput_ratio=${round(quillResult.requests.average / bareResult.requests.average)}`);
process.exit(0);
