import { describe, expect, it, type OnTestFinishedHandler } from "vitest";
import type { DraftEngine } from "../../src/llm/types.ts";
import type { SandboxMessage } from "../../src/sandbox/state.ts";
import { startDemo } from "../helpers.ts";

/**
 * The typing-aware debounce end to end: quill in demo mode on a real port, the visitor
 * typing and writing through the sandbox's HTTP control API, signed web hooks over the
 * network, an LLM that takes LLM_MS. The quiet period is the default 3 s.
 */

const QUIET = 3_000;
const LLM_MS = 150;
const usage = { inputTokens: 900, outputTokens: 40, cachedInputTokens: 0 };
const llm: DraftEngine = {
  async draft(_req, { signal }) {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, LLM_MS);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    });
    return {
      text: "You can reset your two-factor code from your account page.",
      confidence: 0.8,
      intent: "account",
      needsHuman: false,
      citations: [],
      usage,
      model: "fixed",
      provider: "openai",
      attempts: [{ provider: "openai", model: "fixed", status: "ok", latencyMs: LLM_MS, usage }],
    };
  },
};

/** `onTestFinished` comes from the test context: concurrent tests have no global current test. */
async function start(onTestFinished: (fn: OnTestFinishedHandler) => void) {
  const { quill } = await startDemo({ QUIET_PERIOD_MS: String(QUIET) }, { llm }, onTestFinished);
  const control = async <T>(path: string, body: unknown): Promise<T> => {
    const response = await fetch(`${quill.url}/sandbox/_sandbox${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const visitor = {
    says: (text: string, sessionId?: string) =>
      control<{ session_id: string; fingerprint: number }>("/visitor", {
        text,
        ...(sessionId ? { session_id: sessionId } : {}),
      }),
    typing: (sessionId: string, type: "start" | "stop") =>
      control("/visitor/compose", {
        session_id: sessionId,
        type,
        ...(type === "start" ? { excerpt: "also" } : {}),
      }),
  };
  const notesOf = (sessionId: string): SandboxMessage[] =>
    quill.sandbox?.messagesOf(sessionId).filter((m) => m.type === "note") ?? [];
  const messageAt = (sessionId: string, fingerprint: number) =>
    quill.sandbox?.messagesOf(sessionId).find((m) => m.fingerprint === fingerprint)?.timestamp ?? Number.NaN;
  /** A conversation whose first message is drafted; the visitor typed after it, so typing is known to reach quill. */
  const opened = async () => {
    const { session_id: sessionId } = await visitor.says("Hi, I cannot log in");
    await visitor.typing(sessionId, "start");
    await visitor.typing(sessionId, "stop");
    await firstNote(() => notesOf(sessionId));
    return sessionId;
  };
  return { quill, visitor, notesOf, messageAt, opened };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function firstNote(notesOf: () => SandboxMessage[], timeoutMs = 10_000): Promise<SandboxMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const note = notesOf()[0];
    if (note) return note;
    if (Date.now() > deadline) throw new Error("no draft note in time");
    await sleep(10);
  }
}

// Each test has its own quill and mostly waits on the clock: they run side by side.
describe.concurrent("typing-aware debounce, end to end", () => {
  it("without typing seen, a message waits the quiet period; once the visitor types and stops, it is drafted at once", async ({
    onTestFinished,
  }) => {
    const { visitor, notesOf, messageAt } = await start(onTestFinished);
    const said = await visitor.says("Hi, I cannot log in");
    const sessionId = said.session_id;
    await sleep(1_500);
    // Nothing says the visitor is done: quill keeps the quiet period, as before.
    expect(notesOf(sessionId)).toHaveLength(0);
    await visitor.typing(sessionId, "start");
    await sleep(300);
    expect(notesOf(sessionId)).toHaveLength(0);
    await visitor.typing(sessionId, "stop");
    const note = await firstNote(() => notesOf(sessionId));
    const waited = note.timestamp - messageAt(sessionId, said.fingerprint);
    expect(waited).toBeGreaterThanOrEqual(1_800 + LLM_MS);
    expect(waited).toBeLessThan(QUIET);
  });

  it("a visitor who types, sends and stops gets the draft note in the LLM's time, not after the quiet period", async ({
    onTestFinished,
  }) => {
    const { visitor, notesOf, messageAt, opened } = await start(onTestFinished);
    const sessionId = await opened();
    await visitor.typing(sessionId, "start");
    await sleep(50);
    // The send stops the typing (as the chatbox does).
    const sent = await visitor.says("also my 2FA code never arrives", sessionId);
    const note = await firstNote(() => notesOf(sessionId).slice(1));
    const waited = note.timestamp - messageAt(sessionId, sent.fingerprint);
    expect(waited).toBeGreaterThanOrEqual(LLM_MS);
    // Web hooks, reads, the LLM, the re-check and the post: far from the 3 s quiet period.
    expect(waited).toBeLessThan(1_200);
    expect(notesOf(sessionId)).toHaveLength(2);
  });

  it("a message followed by no typing is drafted after the grace", async ({ onTestFinished }) => {
    const { visitor, notesOf, messageAt, opened } = await start(onTestFinished);
    const sessionId = await opened();
    const sent = await visitor.says("also my 2FA code never arrives", sessionId);
    const note = await firstNote(() => notesOf(sessionId).slice(1));
    const waited = note.timestamp - messageAt(sessionId, sent.fingerprint);
    expect(waited).toBeGreaterThanOrEqual(300 + LLM_MS);
    expect(waited).toBeLessThan(1_500);
  });

  it("typing after the message keeps the draft waiting, up to the quiet period; a stop releases it", async ({
    onTestFinished,
  }) => {
    const { visitor, notesOf, messageAt, opened } = await start(onTestFinished);
    const sessionId = await opened();

    // Typing again right after sending, and never stopping: the draft waits out the quiet period.
    const sent = await visitor.says("I was charged twice", sessionId);
    await visitor.typing(sessionId, "start");
    await sleep(1_500);
    expect(notesOf(sessionId)).toHaveLength(1);
    const capped = await firstNote(() => notesOf(sessionId).slice(1), 6_000);
    const waited = capped.timestamp - messageAt(sessionId, sent.fingerprint);
    expect(waited).toBeGreaterThanOrEqual(QUIET);
    expect(waited).toBeLessThan(QUIET + 1_000);

    // Typing after a message, then stopping without sending: drafted at the stop.
    await visitor.typing(sessionId, "stop");
    const third = await visitor.says("on the same card", sessionId);
    await visitor.typing(sessionId, "start");
    await sleep(800);
    expect(notesOf(sessionId)).toHaveLength(2);
    await visitor.typing(sessionId, "stop");
    const released = await firstNote(() => notesOf(sessionId).slice(2));
    const afterMessage = released.timestamp - messageAt(sessionId, third.fingerprint);
    expect(afterMessage).toBeGreaterThanOrEqual(800 + LLM_MS);
    expect(afterMessage).toBeLessThan(QUIET);
  });

  it("a burst of typed messages gets one draft, answering the last", async ({ onTestFinished }) => {
    const { quill, visitor, notesOf, opened } = await start(onTestFinished);
    const sessionId = await opened();
    for (const text of ["My parcel", "it was due Monday", "order 4417-2290"]) {
      await visitor.typing(sessionId, "start");
      await sleep(60);
      await visitor.says(text, sessionId);
    }
    await firstNote(() => notesOf(sessionId).slice(1));
    // Nothing else arrives once every job has settled.
    await sleep(QUIET + 500);
    expect(notesOf(sessionId)).toHaveLength(2);
    const posted = (await quill.services.store.listDrafts({})).filter(
      (d) => d.sessionId === sessionId && d.status === "posted",
    );
    const jobs = await quill.services.store.listJobs({ sessionId });
    const answered = jobs.filter((j) => posted.some((d) => d.jobId === j.id)).map((j) => j.fingerprint);
    const last = quill.sandbox
      ?.messagesOf(sessionId)
      .filter((m) => m.from === "user")
      .at(-1);
    expect(answered).toHaveLength(2);
    expect(answered).toContain(last?.fingerprint);
  });
});
