import { subscribe } from "node:diagnostics_channel";
import { renameSync, writeFileSync } from "node:fs";
import type { ClientRequest, IncomingMessage } from "node:http";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { silentLogger } from "../src/log.ts";
import { startQuill } from "../src/runtime/node.ts";
import { fixedLatencyLlm } from "./fake-llm.ts";

/**
 * quill as `npm start` runs it (bundled, its own process) with a fake LLM of fixed latency
 * (BENCH_LLM_MS), for the benchmarks that drive it through the sandbox. It records every
 * Crisp call as quill sees it, from the request's start to the last byte of the answer, and writes them
 * to BENCH_CALLS_FILE on SIGTERM; on SIGUSR2 its memory and LLM calls in flight to
 * BENCH_CALLS_FILE.status. Prints `port=N` once listening.
 */

export interface Call {
  method: string;
  path: string;
  start: number;
  end: number;
}

export interface LoopSample {
  at: number;
  busy: number;
  delayMs: number;
  /** The most LLM calls in flight during those 100 ms. */
  llmInFlight: number;
}

const calls: Call[] = [];
const started = new WeakMap<object, { start: number; t0: number }>();
// quill's Crisp client goes over node:http: its diagnostics channels see every call.
subscribe("http.client.request.start", (message) => {
  // Wall-clock anchor (the sandbox's clock is Date.now() too), monotonic duration.
  started.set((message as { request: object }).request, { start: Date.now(), t0: performance.now() });
});
subscribe("http.client.response.finish", (message) => {
  const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
  const at = started.get(request);
  if (!at) return;
  response.once("end", () => {
    const path = request.path.split("?")[0] ?? request.path;
    calls.push({ method: request.method, path, start: at.start, end: at.start + performance.now() - at.t0 });
  });
});

const llm = fixedLatencyLlm(Number(process.env.BENCH_LLM_MS ?? 800));

// quill's event loop, for the benchmarks to say how busy it was: every 100 ms, the share of
// time it ran (near 1: work waited for it), the longest delay of a timer, the most LLM calls in flight.
const loop: LoopSample[] = [];
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
let lastElu = performance.eventLoopUtilization();
setInterval(() => {
  const now = performance.eventLoopUtilization();
  loop.push({
    at: Date.now(),
    busy: performance.eventLoopUtilization(now, lastElu).utilization,
    delayMs: delay.max / 1e6,
    llmInFlight: llm.takePeak(),
  });
  lastElu = now;
  delay.reset();
}, 100).unref();

const quill = await startQuill({
  env: process.env,
  port: Number(process.env.PORT),
  host: "127.0.0.1",
  log: silentLogger,
  llm: llm.engine,
});

// SIGUSR2: how quill stands now (after a full GC when --expose-gc), for bench/memory.ts.
process.on("SIGUSR2", () => {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  const file = `${process.env.BENCH_CALLS_FILE}.status`;
  // written aside and renamed, so that the benchmark never reads half a file
  writeFileSync(`${file}.part`, JSON.stringify({ rss, heapUsed, llmInFlight: llm.inFlight() }));
  renameSync(`${file}.part`, file);
});

process.once("SIGTERM", async () => {
  await quill.stop(0);
  if (process.env.BENCH_CALLS_FILE)
    writeFileSync(process.env.BENCH_CALLS_FILE, JSON.stringify({ calls, loop }));
  process.exit(0);
});
// last: the benchmark signals quill as soon as it reads this line
console.log(`port=${quill.port}`);
