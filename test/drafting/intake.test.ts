import { describe, expect, it } from "vitest";
import type { CrispClient } from "../../src/crisp/client.ts";
import { deliveryKey, parseWebhookEvent } from "../../src/crisp/webhook.ts";
import { pollOnce } from "../../src/drafting/poll-cycle.ts";
import type { SandboxMessage } from "../../src/sandbox/state.ts";
import { answer, setup } from "./harness.ts";

/** Triggers (web hooks, poll cycles) through the real intake and store, against the sandbox. */

// Outcome sync jobs off: every job these tests run is a draft or a command.
const env = { QUIET_PERIOD_MS: "0", PEOPLE_SYNC: "off" };
type Harness = Awaited<ReturnType<typeof setup>>;

/** Delivers a message's web hook the way Crisp would, parsed by the real parser. */
async function hook({ sandbox, services }: Harness, m: SandboxMessage) {
  const websiteId = sandbox.website.website_id;
  const parsed = parseWebhookEvent(
    JSON.stringify({
      website_id: websiteId,
      event: m.from === "user" ? "message:send" : "message:received",
      timestamp: Date.now(),
      data: {
        website_id: websiteId,
        session_id: m.session_id,
        type: m.type,
        from: m.from,
        origin: m.origin,
        content: m.content,
        fingerprint: m.fingerprint,
        timestamp: m.timestamp,
        user: m.user,
        ...(m.automated !== undefined ? { automated: m.automated } : {}),
      },
    }),
  );
  if (!parsed.ok) throw new Error(parsed.reason);
  return services.intake.webhook(parsed.event, deliveryKey(parsed.event));
}

const notesOf = (h: Harness, sessionId: string) =>
  h.sandbox.messagesOf(sessionId).filter((m) => m.type === "note");

describe("operator answers", () => {
  it("a late operator hook cancels only the jobs of messages it answered, never a newer one", async () => {
    const h = await setup(env);
    const first = h.sandbox.visitorSays({ text: "Where is my parcel?" });
    await hook(h, first.message);
    const answer = h.sandbox.operatorSays({ sessionId: first.sessionId, text: "Checking, one moment." });
    const again = h.sandbox.visitorSays({ sessionId: first.sessionId, text: "It was due on Monday" });
    // Crisp delivers the customer's newer message before the operator's answer.
    await hook(h, again.message);
    expect(await hook(h, answer.message)).toMatchObject({ action: "operator_replied" });

    const jobs = await h.services.store.listJobs({ sessionId: first.sessionId });
    expect(jobs.map((j) => [j.fingerprint, j.status])).toEqual(
      expect.arrayContaining([
        [first.fingerprint, "superseded"],
        [again.fingerprint, "queued"],
      ]),
    );
    const { job, outcome } = await h.runNext();
    expect(job.fingerprint).toBe(again.fingerprint);
    expect(outcome).toEqual({ status: "done", outcome: "note" });
    expect(notesOf(h, first.sessionId)).toHaveLength(1);
  });

  it("an operator answer cancels the queued draft of the message it answered", async () => {
    const h = await setup(env);
    const said = h.sandbox.visitorSays({ text: "Do you ship to Canada?" });
    await hook(h, said.message);
    const answer = h.sandbox.operatorSays({ sessionId: said.sessionId, text: "Yes, we do." });
    await hook(h, answer.message);
    const [job] = await h.services.store.listJobs({ sessionId: said.sessionId });
    expect(job).toMatchObject({ status: "skipped", outcome: "an operator answered" });
    await expect(h.runNext()).rejects.toThrow("nothing to run");
  });

  it("quill's own /approve send, echoed back late, leaves the customer's newer message drafted", async () => {
    const h = await setup(env);
    const said = h.sandbox.visitorSays({ text: "Can I return shoes?" });
    await hook(h, said.message);
    await h.runNext();
    const command = h.sandbox.operatorSays({ sessionId: said.sessionId, text: "/approve", type: "note" });
    await hook(h, command.message);
    await h.runNext();
    const sent = h.sandbox.messagesOf(said.sessionId).find((m) => m.type === "text" && m.from === "operator");
    if (!sent) throw new Error("the draft was not sent");
    const more = h.sandbox.visitorSays({ sessionId: said.sessionId, text: "And how long do refunds take?" });
    await hook(h, more.message);
    await hook(h, sent);
    const { job, outcome } = await h.runNext();
    expect(job.fingerprint).toBe(more.fingerprint);
    expect(outcome).toEqual({ status: "done", outcome: "note" });
  });
});

/** Leases and runs every job that is due now, as the runner would between triggers. */
async function runDue({ services }: Harness): Promise<number> {
  const jobs = await services.store.leaseJobs({ owner: "runner", leaseMs: 60_000, limit: 10 });
  for (const job of jobs) await services.pipeline.run(job, "runner", new AbortController().signal);
  return jobs.length;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("bursts and stale drafts", () => {
  for (const trigger of ["web hook", "poll"] as const) {
    it(`a burst of 3 messages within the quiet period gets one draft, for the last message (${trigger})`, async () => {
      const quiet = 400;
      const h = await setup({ ...env, QUIET_PERIOD_MS: String(quiet) });
      let sessionId: string | undefined;
      const burst = ["hi", "my order", "hasn't arrived"];
      let last: SandboxMessage | undefined;
      for (const text of burst) {
        const said = h.sandbox.visitorSays({ sessionId, text });
        sessionId = said.sessionId;
        last = said.message;
        if (trigger === "poll") await h.services.poll();
        else await hook(h, said.message);
        expect(await runDue(h)).toBe(0); // the customer is still typing
        await sleep(50);
      }
      if (!sessionId || !last) throw new Error("no burst");
      await sleep(quiet);
      expect(await runDue(h)).toBe(1);
      expect(notesOf(h, sessionId)).toHaveLength(1);
      const drafts = await h.services.store.listDrafts({ sessionId });
      expect(drafts.map((d) => [d.customerFingerprint, d.status])).toEqual([[last.fingerprint, "posted"]]);
      expect(h.requests).toHaveLength(1);
      expect(h.requests[0]?.conversation).toContain("hasn't arrived");
    });
  }

  it("a message written while the model drafts makes that draft stale, and the new message gets its own draft", async () => {
    let sessionId = "";
    let later: SandboxMessage | undefined;
    const h = await setup(env, async (req) => {
      // The customer writes while the first draft is being made; its web hook has not come yet.
      if (!later) later = h.sandbox.visitorSays({ sessionId, text: "Actually it is order 1234" }).message;
      return req.conversation.includes("order 1234")
        ? answer({ text: "Order 1234 ships today." })
        : answer({ text: "Which order is it?" });
    });
    const said = h.sandbox.visitorSays({ text: "Where is my parcel?" });
    sessionId = said.sessionId;
    await hook(h, said.message);
    expect((await h.runNext()).outcome.status).toBe("superseded");
    expect(notesOf(h, sessionId)).toEqual([]);

    const { job, outcome } = await h.runNext();
    expect(job.fingerprint).toBe(later?.fingerprint);
    expect(outcome).toEqual({ status: "done", outcome: "note" });
    const drafts = await h.services.store.listDrafts({ sessionId });
    expect(drafts.map((d) => [d.text, d.status])).toEqual([
      ["Order 1234 ships today.", "posted"],
      ["Which order is it?", "superseded"],
    ]);
    expect(notesOf(h, sessionId).map((n) => String(n.content))).toEqual([
      expect.stringContaining("Order 1234 ships today."),
    ]);
  });
});

describe("routing settings", () => {
  const operator = "5b1e2c1a-0c6f-4d5e-9a4e-0d1f2a3b4c5d"; // the sandbox's owner@demo.quill.test

  it("SKIP_ASSIGNED keeps quill out of a conversation an operator took, and SKIP_INBOXES out of an inbox", async () => {
    const h = await setup({ ...env, SKIP_ASSIGNED: "true", SKIP_INBOXES: "inbox-legal" });
    const taken = h.sandbox.visitorSays({ text: "Where is my parcel?" });
    const conversation = h.sandbox.state.conversations.get(taken.sessionId);
    if (!conversation) throw new Error("no conversation");
    conversation.assigned = { user_id: operator };
    await hook(h, taken.message);
    expect((await h.runNext()).outcome).toEqual({
      status: "skipped",
      outcome: `assigned to ${operator} (SKIP_ASSIGNED)`,
    });

    const legal = h.sandbox.visitorSays({ text: "My lawyer will call" });
    const legalConversation = h.sandbox.state.conversations.get(legal.sessionId);
    if (!legalConversation) throw new Error("no conversation");
    legalConversation.inbox_id = "inbox-legal";
    await hook(h, legal.message);
    expect((await h.runNext()).outcome).toEqual({
      status: "skipped",
      outcome: 'inbox "inbox-legal" is excluded by SKIP_INBOXES',
    });

    const free = h.sandbox.visitorSays({ text: "Do you ship to Canada?" });
    await hook(h, free.message);
    expect((await h.runNext()).outcome).toEqual({ status: "done", outcome: "note" });
    expect(notesOf(h, taken.sessionId)).toEqual([]);
    expect(notesOf(h, legal.sessionId)).toEqual([]);
  });

  it("an assignment made by quill's own triage rule does not throw away the draft it runs for", async () => {
    const rules =
      "rules:\n  - name: route\n    when: { keywords: [parcel] }\n    then: { assign: owner@demo.quill.test }\n";
    // The model answers once the rule's assignment is in, so the re-check before posting sees it.
    const h: Harness = await setup(
      { ...env, SKIP_ASSIGNED: "true" },
      async () => {
        while (!h.sandbox.state.conversations.get(said.sessionId)?.assigned) await sleep(5);
        return answer();
      },
      { rules: { source: "rules.yaml", text: rules } },
    );
    const said = h.sandbox.visitorSays({ text: "Where is my parcel?" });
    await hook(h, said.message);
    expect((await h.runNext()).outcome).toEqual({ status: "done", outcome: "note" });
    expect(h.sandbox.state.conversations.get(said.sessionId)?.assigned).toEqual({ user_id: operator });
    // Now that the conversation is assigned, the customer's next message is the operator's.
    const next = h.sandbox.visitorSays({ sessionId: said.sessionId, text: "Any news on the parcel?" });
    await hook(h, next.message);
    expect((await h.runNext()).outcome.status).toBe("skipped");
  });
});

describe("poll cycles", () => {
  interface Listed {
    session_id: string;
    updated_at: number;
    state?: string;
    /** Absent on older API answers: the poller reads the last page of messages instead. */
    preview?: boolean;
  }

  /** A Crisp stand-in that lists conversations newest update first, and counts every call. */
  function fakeCrisp(conversations: Listed[]) {
    const calls = { list: 0, messages: 0 };
    const crisp = {
      conversations: {
        async list(_website: string, page: number, query: { per_page: number }) {
          calls.list++;
          return conversations
            .filter((c) => c.state !== "resolved")
            .sort((a, b) => b.updated_at - a.updated_at)
            .slice((page - 1) * query.per_page, page * query.per_page)
            .map((c) => ({
              session_id: c.session_id,
              updated_at: c.updated_at,
              ...(c.preview === false
                ? {}
                : { preview_message: { from: "user", type: "text", fingerprint: c.updated_at } }),
            }));
        },
      },
      messages: {
        async list(_website: string, sessionId: string) {
          calls.messages++;
          const c = conversations.find((x) => x.session_id === sessionId);
          return {
            messages: [{ type: "text", from: "user", fingerprint: c?.updated_at, timestamp: c?.updated_at }],
          };
        },
      },
    } as unknown as CrispClient;
    return { crisp, calls };
  }

  async function poller(conversations: Listed[], options: { perPage?: number; maxPages?: number } = {}) {
    const h = await setup(env);
    const { crisp, calls } = fakeCrisp(conversations);
    const cycle = (over: { maxPages?: number } = {}) =>
      pollOnce({
        store: h.services.store,
        crisp,
        intake: h.services.intake,
        websiteId: "w",
        ...options,
        ...over,
      });
    const jobsFor = async () =>
      (await h.services.store.listJobs({ websiteId: "w" })).map((j) => j.sessionId).sort();
    return { cycle, calls, jobsFor, store: h.services.store };
  }

  it("costs one list call plus the changed conversations only", async () => {
    const now = Date.now();
    const conversations: Listed[] = [
      { session_id: "a", updated_at: now - 3_000 },
      { session_id: "b", updated_at: now - 2_000, preview: false },
      { session_id: "c", updated_at: now - 1_000 },
    ];
    const { cycle, calls, jobsFor } = await poller(conversations);
    expect(await cycle()).toEqual({ listCalls: 1, changed: 3, enqueued: 3 });
    expect(calls).toEqual({ list: 1, messages: 1 });
    expect(await jobsFor()).toEqual(["a", "b", "c"]);

    // Nothing changed: the list call alone.
    expect(await cycle()).toEqual({ listCalls: 1, changed: 0, enqueued: 0 });
    expect(calls).toEqual({ list: 2, messages: 1 });

    // The preview-less conversation changes: one more read, for it alone.
    const b = conversations[1] as Listed;
    b.updated_at = now;
    expect(await cycle()).toEqual({ listCalls: 1, changed: 1, enqueued: 1 });
    expect(calls).toEqual({ list: 3, messages: 2 });
  });

  it("pages until it reaches a conversation unchanged since the watermark", async () => {
    const now = Date.now();
    const conversations: Listed[] = ["a", "b", "c", "d", "e"].map((id, i) => ({
      session_id: id,
      updated_at: now - 10_000 + i,
    }));
    const { cycle } = await poller(conversations, { perPage: 2 });
    // 2 + 2 + 1: the short third page is the end of the list.
    expect(await cycle()).toEqual({ listCalls: 3, changed: 5, enqueued: 5 });
    (conversations[3] as Listed).updated_at = now;
    (conversations[2] as Listed).updated_at = now - 1;
    (conversations[1] as Listed).updated_at = now - 2;
    // d, c, b changed: the second page holds b and e (unchanged), where the walk stops.
    expect(await cycle()).toEqual({ listCalls: 2, changed: 3, enqueued: 3 });
  });

  /** s0 … s(n-1), newest first, each with the customer's message waiting. */
  const backlog = (n: number, now: number): Listed[] =>
    Array.from({ length: n }, (_, i) => ({ session_id: `s${i}`, updated_at: now - 1_000 * (i + 1) }));

  it("a walk cut short by maxPages advances the watermark and reaches the rest through its resume cursor", async () => {
    const now = Date.now();
    const conversations = backlog(9, now);
    const { cycle, calls, jobsFor, store } = await poller(conversations, { perPage: 2, maxPages: 2 });
    expect(await cycle()).toEqual({ listCalls: 2, changed: 4, enqueued: 4 });
    expect(await store.getPollState("w")).toMatchObject({
      watermark: now - 1_000,
      resume: { page: 2, watermark: 0 },
    });

    // Each cycle: page 1 (nothing new at the top), then two more pages of the backlog,
    // re-reading the last one already seen.
    expect(await cycle()).toEqual({ listCalls: 3, changed: 4, enqueued: 2 });
    expect(await cycle()).toEqual({ listCalls: 3, changed: 4, enqueued: 2 });
    expect(await cycle()).toEqual({ listCalls: 3, changed: 3, enqueued: 1 });
    expect(await jobsFor()).toEqual(conversations.map((c) => c.session_id).sort());
    expect((await store.getPollState("w"))?.resume).toBeNull();

    // The backlog done, an idle cycle is the one list call again.
    const before = calls.list;
    expect(await cycle()).toEqual({ listCalls: 1, changed: 0, enqueued: 0 });
    expect(calls.list - before).toBe(1);
  });

  it("re-reads a page when resuming, so conversations shifted up by resolved ones are not skipped", async () => {
    const now = Date.now();
    const conversations = backlog(9, now);
    const { cycle, jobsFor, store } = await poller(conversations, { perPage: 2, maxPages: 2 });
    await cycle(); // s0 … s3, resume at page 2
    // Operators resolve s0 and s1: s4 and s5 move up to page 2, which the cursor re-reads.
    for (const c of conversations.slice(0, 2)) c.state = "resolved";
    expect(await cycle()).toEqual({ listCalls: 3, changed: 4, enqueued: 4 });
    expect(await cycle()).toEqual({ listCalls: 3, changed: 3, enqueued: 1 });
    expect((await store.getPollState("w"))?.resume).toBeNull();
    const jobs = await store.listJobs({ websiteId: "w" });
    expect(await jobsFor()).toEqual(conversations.map((c) => c.session_id).sort());
    expect(jobs).toHaveLength(9); // the overlap re-enqueued nothing
  });

  it("a second cut-short walk restarts the cursor from the older watermark, so none of the backlog is lost", async () => {
    const now = Date.now();
    const conversations = backlog(9, now);
    const { cycle, jobsFor, store } = await poller(conversations, { perPage: 2, maxPages: 2 });
    await cycle(); // s0 … s3, resume { page 2, watermark 0 }
    // Four new conversations: the head walk is cut short again before it gets to s0.
    for (let i = 0; i < 4; i++)
      conversations.push({ session_id: `n${i}`, updated_at: now + 1_000 * (4 - i) });
    expect(await cycle()).toEqual({ listCalls: 2, changed: 4, enqueued: 4 });
    expect(await store.getPollState("w")).toMatchObject({
      watermark: now + 4_000,
      resume: { page: 2, watermark: 0 },
    });
    for (let i = 0; i < 10 && (await store.getPollState("w"))?.resume; i++) await cycle();
    expect(await jobsFor()).toEqual(conversations.map((c) => c.session_id).sort());
  });
});
