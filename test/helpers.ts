import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { type OnTestFinishedHandler, onTestFinished } from "vitest";
import { silentLogger } from "../src/log.ts";
import { type QuillHandle, type StartOptions, startQuill } from "../src/runtime/node.ts";
import type { Sandbox } from "../src/sandbox/app.ts";

/**
 * A `fetch` that calls a Hono app in process but behaves like the network for the
 * caller: it rejects as soon as the request's signal aborts, even if the handler is
 * still running (as a real connection would time out).
 */
export function inProcessFetch(app: Hono): typeof fetch {
  return ((input: string | URL | Request, init?: RequestInit) => {
    const signal = init?.signal;
    const response = app.request(String(input), init);
    if (!signal) return response;
    return new Promise<Response>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      Promise.resolve(response).then(
        (r) => {
          signal.removeEventListener("abort", onAbort);
          resolve(r);
        },
        (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      );
    });
  }) as typeof fetch;
}

/** Polls `probe` (sync or async) until it returns a value (not undefined or false), or fails after `timeoutMs`. */
export async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * quill in demo mode on a real port, as `npm start` runs it, with its own database in a
 * temporary folder; stopped and removed when the test finishes. Concurrent tests pass the
 * `onTestFinished` of their context.
 */
export async function startDemo(
  env: Record<string, string> = {},
  options: Omit<StartOptions, "env"> = {},
  onFinished: (fn: OnTestFinishedHandler) => void = onTestFinished,
) {
  const dir = mkdtempSync(join(tmpdir(), "quill-e2e-"));
  const quill: QuillHandle = await startQuill({
    env: { DATABASE_PATH: join(dir, "quill.db"), QUIET_PERIOD_MS: "0", POLL_INTERVAL_SECONDS: "0", ...env },
    port: 0,
    host: "127.0.0.1",
    log: silentLogger,
    ...options,
    sandbox: { seed: false, webhookRetryBaseMs: 20, ...options.sandbox },
  });
  onFinished(async () => {
    await quill.stop(1_000);
    rmSync(dir, { recursive: true, force: true });
  });
  const sandbox = quill.sandbox;
  if (!sandbox) throw new Error("demo mode expected: no Crisp credentials in the environment");
  return { quill, sandbox };
}

/** A sandbox conversation's operator side as text: notes (quill's and operators' commands) and replies. */
export function operatorSide(sandbox: Sandbox, sessionId: string) {
  const of = (type: "note" | "text") => () =>
    sandbox
      .messagesOf(sessionId)
      .filter((m) => m.type === type && m.from === "operator")
      .map((m) => String(m.content));
  return { notes: of("note"), replies: of("text") };
}
