import { type ChildProcess, execSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildSync } from "esbuild";
import { DEMO_CREDENTIALS } from "../src/sandbox/app.ts";
import type { SandboxMessage } from "../src/sandbox/state.ts";
import type { Call, LoopSample } from "./draft-server.ts";

/**
 * Shared helpers for bench/: a fake LLM of fixed latency, the Crisp sandbox in its own
 * process (it stands for Crisp, whose CPU is not ours), quill in this process or its own, percentiles.
 */

export const root = new URL("..", import.meta.url).pathname;

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

/**
 * Bundles bench/<file> to plain JavaScript as scripts/build.mjs bundles `npm start` (lazily
 * imported modules in chunks of their own, so a provider's SDK loads only when used); returns
 * the entry's path.
 */
export function bundle(file: string): string {
  const name = file.replace(/\.ts$/, "");
  buildSync({
    entryPoints: { [name]: join(root, "bench", file) },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    splitting: true,
    // beside `npm start`'s bundle: quill finds its migrations from where its code lies
    outdir: join(root, "dist", "bench"),
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  return join(root, "dist", "bench", `${name}.mjs`);
}

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/** CPU time a process has used so far, in ms (Linux: from /proc). */
export function processCpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * Cores busy (any process) from now until the returned function is called, on average and in
 * the busiest 100 ms (Linux: /proc/stat).
 */
export function machineBusy(): () => { mean: number; peak: number } {
  const read = () => {
    const [, ...ticks] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks.map(Number);
    return { busy: user + nice + system + irq + softirq + steal, wall: performance.now() };
  };
  const cores = (from: ReturnType<typeof read>, to: ReturnType<typeof read>) =>
    (to.busy - from.busy) / 100 / Math.max(1e-3, (to.wall - from.wall) / 1000);
  const start = read();
  let last = start;
  let peak = 0;
  const timer = setInterval(() => {
    const now = read();
    peak = Math.max(peak, cores(last, now));
    last = now;
  }, 100);
  return () => {
    clearInterval(timer);
    return { mean: cores(start, read()), peak };
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Rig {
  sandboxUrl: string;
  control: <T>(path: string, body?: unknown) => Promise<T>;
  visitorSays: (text: string) => Promise<{ session_id: string; fingerprint: number }>;
  notes: () => Promise<SandboxMessage[]>;
  /** How many draft notes the sandbox holds, without fetching them. */
  noteCount: () => Promise<number>;
  stop: () => Promise<void>;
}

/** Spawns a child and resolves once a line of its stdout matches `ready`; killed when this process exits. */
async function spawnReady(args: string[], env: NodeJS.ProcessEnv, ready: RegExp) {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  // never leave a child behind, even when a benchmark throws
  process.once("exit", () => child.kill("SIGKILL"));
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      if (ready.test(chunk.toString())) resolve();
    });
  });
  return child;
}

/**
 * The sandbox as a child process (`quill sandbox`) and the environment that points quill at
 * it. It stands for Crisp: it runs as plain bundled JavaScript so that its own CPU (Crisp's,
 * not ours) disturbs the measurements as little as possible.
 */
async function startSandbox(env: Record<string, string>) {
  const [sandboxPort, quillPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "quill-bench-"));
  execSync("npm run --silent build", { cwd: root, stdio: "inherit" });
  const child = await spawnReady(
    [
      "dist/quill.mjs",
      "sandbox",
      "--port",
      String(sandboxPort),
      "--webhook-url",
      `http://127.0.0.1:${quillPort}/webhooks/crisp`,
    ],
    { ...process.env, LOG_LEVEL: "error", CRISP_IDENTIFIER: "", CRISP_KEY: "" },
    /Crisp sandbox on/,
  );
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const control = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${sandboxUrl}/_sandbox${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`sandbox ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const quillEnv: Record<string, string> = {
    DATABASE_PATH: join(dir, "quill.db"),
    CRISP_API_URL: `${sandboxUrl}/v1`,
    CRISP_IDENTIFIER: DEMO_CREDENTIALS.identifier,
    CRISP_KEY: DEMO_CREDENTIALS.key,
    CRISP_WEBSITE_ID: DEMO_CREDENTIALS.websiteId,
    CRISP_WEBHOOK_SECRET: DEMO_CREDENTIALS.webhookSecret,
    QUIET_PERIOD_MS: "0",
    POLL_INTERVAL_SECONDS: "0",
    LOG_LEVEL: "silent",
    ...env,
  };
  const rig = {
    sandboxUrl,
    control,
    visitorSays: (text: string) => control<{ session_id: string; fingerprint: number }>("/visitor", { text }),
    notes: () => control<SandboxMessage[]>("/messages?type=note"),
    noteCount: async () => (await control<{ count: number }>("/messages?type=note&count=1")).count,
  };
  const stop = () => {
    child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  return { rig, quillPort, quillEnv, stop, pid: child.pid };
}

export interface QuillStatus {
  rss: number;
  heapUsed: number;
  llmInFlight: number;
}

/**
 * The sandbox and quill each in their own process, quill bundled as `npm start` runs it
 * (bench/draft-server.ts) with an LLM of fixed latency. `stop()` resolves to the Crisp
 * calls quill made, as quill timed them.
 */
export async function startProcessRig(
  env: Record<string, string>,
  llmMs: number,
): Promise<
  Omit<Rig, "stop"> & {
    cpuMs: () => number;
    sandboxCpuMs: () => number;
    status: () => Promise<QuillStatus>;
    stop: () => Promise<{ calls: Call[]; loop: LoopSample[] }>;
  }
> {
  const sandbox = await startSandbox(env);
  const callsFile = join(mkdtempSync(join(tmpdir(), "quill-calls-")), "calls.json");
  // e.g. BENCH_QUILL_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile quill alone
  const flags = process.env.BENCH_QUILL_NODE_FLAGS?.split(" ").filter(Boolean) ?? [];
  const child = await spawnReady(
    [...flags, bundle("draft-server.ts")],
    {
      ...process.env,
      ...sandbox.quillEnv,
      PORT: String(sandbox.quillPort),
      BENCH_LLM_MS: String(llmMs),
      BENCH_CALLS_FILE: callsFile,
    },
    /port=\d+/,
  );
  return {
    ...sandbox.rig,
    /** CPU time quill's process has used so far, in ms. */
    cpuMs: () => processCpuMs(child.pid),
    /** The sandbox's (Crisp's stand-in), on the same cores. */
    sandboxCpuMs: () => processCpuMs(sandbox.pid),
    /** quill's memory and LLM calls in flight, as its own process reports them. */
    async status() {
      const file = `${callsFile}.status`;
      rmSync(file, { force: true });
      child.kill("SIGUSR2");
      await until(() => existsSync(file), 10_000, "quill's status");
      return JSON.parse(readFileSync(file, "utf8")) as QuillStatus;
    },
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      sandbox.stop();
      const recorded = JSON.parse(readFileSync(callsFile, "utf8")) as { calls: Call[]; loop: LoopSample[] };
      rmSync(dirname(callsFile), { recursive: true, force: true });
      return recorded;
    },
  };
}

export async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
