import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { deliveryKey, parseWebhookEvent } from "../../src/crisp/webhook.ts";
import { createIntake } from "../../src/drafting/intake.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createStore } from "../../src/store/store.ts";

/**
 * The typing-aware debounce as the intake decides it: when each customer message's draft
 * job is due, given the visitor's compose (typing) web hooks. A clock we move by hand, the
 * real store on SQLite in memory.
 */

const QUIET = 3_000;
const GRACE = 300;
const WEBSITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc";
const SESSION = "session_700c65e1-85e2-465a-b9ac-ecb5ec2c9881";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function setup(options: { quietPeriodMs?: number; typingGraceMs?: number } = {}) {
  let now = 1_764_000_000_000;
  const clock: Clock = { now: () => now, sleep: async () => {} };
  const database = openSqlite(":memory:");
  database.migrate();
  closers.push(database.close);
  const store = createStore(database.db, { clock });
  const enqueued: Array<{ id: string; runAfter: number }> = [];
  const moved: Array<{ id: string; runAfter: number; earlier: boolean }> = [];
  const intake = createIntake({
    store,
    clock,
    log: silentLogger,
    quietPeriodMs: options.quietPeriodMs ?? QUIET,
    typingGraceMs: options.typingGraceMs ?? GRACE,
    onEnqueued: (job) => {
      enqueued.push({ id: job.id, runAfter: job.runAfter });
    },
    onRescheduled: (job, earlier) => {
      moved.push({ id: job.id, runAfter: job.runAfter, earlier });
    },
  });
  let fingerprint = 176_400_000_100;
  let hookSeq = 0;
  const deliver = async (event: string, data: Record<string, unknown>, sessionId = SESSION) => {
    const parsed = parseWebhookEvent(
      JSON.stringify({
        website_id: WEBSITE,
        event,
        data: { website_id: WEBSITE, session_id: sessionId, ...data },
        // Distinct per delivery, as Crisp's emission times are.
        timestamp: now + hookSeq++ / 1000,
      }),
    );
    if (!parsed.ok) throw new Error(parsed.reason);
    return intake.webhook(parsed.event, deliveryKey(parsed.event));
  };
  const h = {
    store,
    enqueued,
    moved,
    get now() {
      return now;
    },
    advance(ms: number) {
      now += ms;
    },
    /** The visitor sends a text; Crisp's message time is `at` (now unless a late hook). */
    says: async (at = now, sessionId = SESSION) => {
      fingerprint += 1;
      const fp = fingerprint;
      await deliver(
        "message:send",
        {
          type: "text",
          from: "user",
          origin: "chat",
          content: "hello",
          fingerprint: fp,
          timestamp: at,
          user: { user_id: sessionId, nickname: "Ada" },
        },
        sessionId,
      );
      return fp;
    },
    typing: (type: "start" | "stop", at = now, sessionId = SESSION) =>
      deliver("message:compose:send", { type, timestamp: at }, sessionId),
    /** The session's queued draft jobs: message fingerprint and due time. */
    queued: async (sessionId = SESSION) =>
      (await store.listJobs({ sessionId }))
        .filter((j) => j.status === "queued")
        .map((j) => ({ fingerprint: j.fingerprint, runAfter: j.runAfter })),
    job: async (fp: number) =>
      (await store.listJobs({ sessionId: SESSION })).find((j) => j.fingerprint === fp),
  };
  return h;
}

describe("typing-aware debounce", () => {
  it("without typing reported for the conversation, a message waits the whole quiet period", async () => {
    const h = setup();
    const fp = await h.says();
    expect(await h.queued()).toEqual([{ fingerprint: fp, runAfter: h.now + QUIET }]);
  });

  it("typing seen only in another conversation does not shorten this one's wait", async () => {
    const h = setup();
    await h.typing("start", h.now, "session_other");
    const fp = await h.says();
    expect(await h.queued()).toEqual([{ fingerprint: fp, runAfter: h.now + QUIET }]);
  });

  it("a visitor who typed and sent, with no typing after, is drafted after the grace only", async () => {
    const h = setup();
    await h.typing("start");
    h.advance(1_500);
    const fp = await h.says();
    const t0 = h.now;
    expect(await h.queued()).toEqual([{ fingerprint: fp, runAfter: t0 + GRACE }]);
    expect(h.enqueued.at(-1)?.runAfter).toBe(t0 + GRACE);
  });

  it("a stop after the message drafts at once and tells the runtime to look sooner", async () => {
    const h = setup();
    await h.typing("start");
    const fp = await h.says();
    h.advance(40);
    expect(await h.typing("stop")).toMatchObject({ action: "typing_stop" });
    const job = await h.job(fp);
    expect(job?.runAfter).toBe(h.now);
    expect(h.moved).toEqual([{ id: job?.id, runAfter: h.now, earlier: true }]);
  });

  it("typing after the message defers the draft, but never past the quiet period after the message", async () => {
    const h = setup();
    await h.typing("start");
    const fp = await h.says();
    const t0 = h.now;
    h.advance(100);
    expect(await h.typing("start")).toMatchObject({ action: "typing_start" });
    expect((await h.job(fp))?.runAfter).toBe(t0 + QUIET);
    expect(h.moved.at(-1)).toMatchObject({ runAfter: t0 + QUIET, earlier: false });
    // Still typing later on: the ceiling holds, and an unchanged job is not reported again.
    h.advance(2_000);
    expect(await h.typing("start")).toMatchObject({ action: "ignored" });
    expect((await h.job(fp))?.runAfter).toBe(t0 + QUIET);
    expect(h.moved).toHaveLength(1);
    // They stop without sending: the draft need not wait out the rest.
    h.advance(200);
    await h.typing("stop");
    expect((await h.job(fp))?.runAfter).toBe(h.now);
  });

  it("the ceiling counts from the earlier of Crisp's message time and the hook's arrival", async () => {
    const h = setup();
    await h.typing("start");
    // The hook arrives 2 s after Crisp stamped the message.
    const fp = await h.says(h.now - 2_000);
    h.advance(50);
    await h.typing("start");
    expect((await h.job(fp))?.runAfter).toBe(h.now - 50 - 2_000 + QUIET);
  });

  it("typing from before the message (delivered late) neither defers nor advances it", async () => {
    const h = setup();
    await h.typing("start");
    const messageAt = h.now;
    const fp = await h.says();
    h.advance(30);
    expect(await h.typing("start", messageAt - 500)).toMatchObject({ action: "ignored" });
    expect((await h.job(fp))?.runAfter).toBe(messageAt + GRACE);
    // A stop from before the message: the visitor may have typed again since, so keep waiting.
    await h.typing("start");
    const deferred = (await h.job(fp))?.runAfter;
    expect(await h.typing("stop", messageAt - 100)).toMatchObject({ action: "ignored" });
    expect((await h.job(fp))?.runAfter).toBe(deferred);
  });

  it("a burst gets one draft: each message supersedes the one before, and the last waits for the stop", async () => {
    const h = setup();
    await h.typing("start");
    const first = await h.says();
    h.advance(20);
    await h.typing("start");
    h.advance(900);
    const second = await h.says();
    h.advance(20);
    await h.typing("start");
    h.advance(700);
    const third = await h.says();
    h.advance(10);
    await h.typing("stop");
    expect(await h.queued()).toEqual([{ fingerprint: third, runAfter: h.now }]);
    expect((await h.job(first))?.status).toBe("superseded");
    expect((await h.job(second))?.status).toBe("superseded");
  });

  it("a leased (running) draft is left alone by typing; commands are never deferred", async () => {
    const h = setup();
    await h.typing("start");
    const fp = await h.says();
    h.advance(GRACE);
    const [leased] = await h.store.leaseJobs({ owner: "t", leaseMs: 60_000, limit: 1 });
    expect(leased?.fingerprint).toBe(fp);
    h.advance(10);
    expect(await h.typing("start")).toMatchObject({ action: "ignored" });
    expect((await h.job(fp))?.status).toBe("leased");
  });

  it("a grace of at least the quiet period keeps the fixed quiet period", async () => {
    const h = setup({ typingGraceMs: 5_000 });
    await h.typing("start");
    const fp = await h.says();
    expect(await h.queued()).toEqual([{ fingerprint: fp, runAfter: h.now + QUIET }]);
  });

  it("a redelivered compose hook is a duplicate and moves nothing", async () => {
    const h = setup();
    await h.typing("start");
    await h.says();
    const raw = JSON.stringify({
      website_id: WEBSITE,
      event: "message:compose:send",
      data: { website_id: WEBSITE, session_id: SESSION, type: "start", timestamp: h.now + 5 },
      timestamp: h.now + 5,
    });
    const parsed = parseWebhookEvent(raw);
    if (!parsed.ok) throw new Error(parsed.reason);
    h.advance(5);
    const intakeAgain = createIntake({
      store: h.store,
      clock: { now: () => h.now, sleep: async () => {} },
      log: silentLogger,
      quietPeriodMs: QUIET,
      typingGraceMs: GRACE,
      onEnqueued: () => {},
    });
    expect(await intakeAgain.webhook(parsed.event, deliveryKey(parsed.event))).toMatchObject({
      action: "typing_start",
    });
    expect(await intakeAgain.webhook(parsed.event, deliveryKey(parsed.event))).toMatchObject({
      action: "duplicate",
    });
  });
});

describe("TYPING_GRACE_MS", () => {
  it("defaults to 300 ms and rejects what is not a whole number of ms in range, naming the variable", () => {
    expect(loadConfig({}).drafting.typingGraceMs).toBe(300);
    expect(loadConfig({ TYPING_GRACE_MS: "0" }).drafting.typingGraceMs).toBe(0);
    expect(() => loadConfig({ TYPING_GRACE_MS: "soon" })).toThrow(/TYPING_GRACE_MS/);
    expect(() => loadConfig({ TYPING_GRACE_MS: "-1" })).toThrow(/TYPING_GRACE_MS/);
    expect(() => loadConfig({ TYPING_GRACE_MS: "60001" })).toThrow(/TYPING_GRACE_MS/);
  });
});
