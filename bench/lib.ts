import { type ChildProcess, execSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LlmError } from "../src/llm/errors.ts";
import type { DraftEngine, DraftResult } from "../src/llm/types.ts";
import { silentLogger } from "../src/log.ts";
import { type StartOptions, startQuill } from "../src/runtime/node.ts";
import { DEMO_CREDENTIALS } from "../src/sandbox/app.ts";
import type { SandboxMessage } from "../src/sandbox/state.ts";

/**
 * Shared helpers for bench/: a fake LLM of fixed latency, the Crisp sandbox in its own
 * process (it stands for Crisp, whose CPU is not ours), quill in this one, percentiles.
 */

export const root = new URL("..", import.meta.url).pathname;

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

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

/** An LLM that answers after exactly `ms` (or stops when aborted), counting calls in flight. */
export function fixedLatencyLlm(ms: number) {
  let inFlight = 0;
  let peak = 0;
  const engine: DraftEngine = {
    draft: (_req, { signal }) =>
      new Promise((resolve, reject) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        const done = () => {
          inFlight--;
          signal.removeEventListener("abort", abort);
        };
        const timer = setTimeout(() => {
          done();
          const result: DraftResult = {
            text: "Your parcel left our warehouse today and should arrive within the week.",
            confidence: 0.8,
            intent: "shipping",
            needsHuman: false,
            citations: [],
            usage: { inputTokens: 900, outputTokens: 40, cachedInputTokens: 800 },
            model: "fixed-latency",
            provider: "bench",
          };
          resolve({
            ...result,
            attempts: [{ provider: "bench", model: "fixed-latency", status: "ok", latencyMs: ms }],
          });
        }, ms);
        const abort = () => {
          clearTimeout(timer);
          done();
          reject(new LlmError("bench", "aborted", "aborted"));
        };
        signal.addEventListener("abort", abort, { once: true });
      }),
  };
  return { engine, inFlight: () => inFlight, peak: () => peak };
}

export interface Rig {
  quill: Awaited<ReturnType<typeof startQuill>>;
  sandboxUrl: string;
  control: <T>(path: string, body?: unknown) => Promise<T>;
  visitorSays: (text: string) => Promise<{ session_id: string; fingerprint: number }>;
  notes: () => Promise<SandboxMessage[]>;
  stop: () => Promise<void>;
}

/** The sandbox as a child process (`quill sandbox`), quill in this process talking to it over HTTP. */
export async function startRig(
  env: Record<string, string>,
  options: Omit<StartOptions, "env"> = {},
): Promise<Rig> {
  const [sandboxPort, quillPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "quill-bench-"));
  // The sandbox stands for Crisp: it runs as plain bundled JavaScript so that its own CPU
  // (Crisp's, not ours) disturbs the measurements as little as possible.
  execSync("npm run --silent build", { cwd: root, stdio: "inherit" });
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "dist/quill.mjs",
      "sandbox",
      "--port",
      String(sandboxPort),
      "--webhook-url",
      `http://127.0.0.1:${quillPort}/webhooks/crisp`,
    ],
    {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: "error", CRISP_IDENTIFIER: "", CRISP_KEY: "" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  // never leave the sandbox behind, even when a benchmark throws
  process.once("exit", () => child.kill("SIGKILL"));
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`sandbox exited with ${code}`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("Crisp sandbox on")) resolve();
    });
  });
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const quill = await startQuill({
    env: {
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
    },
    port: quillPort,
    host: "127.0.0.1",
    log: silentLogger,
    ...options,
  });
  const control = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${sandboxUrl}/_sandbox${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`sandbox ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  return {
    quill,
    sandboxUrl,
    control,
    visitorSays: (text) => control("/visitor", { text }),
    notes: () => control<SandboxMessage[]>("/messages?type=note"),
    async stop() {
      await quill.stop(0);
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
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
