import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import type { Store } from "../../src/store/store.ts";
import { shadowContract } from "./shadow-contract.ts";

/**
 * The store's behaviour, written once and run on every database quill ships on: SQLite
 * (test/store/store.test.ts, Node) and D1 (test/worker/store.test.ts, inside workerd).
 * `open` returns a store over an empty, migrated database.
 */

export function manualClock(start = 1_000_000) {
  let now = start;
  const clock: Clock = { now: () => now, sleep: async () => {} };
  return { clock, advance: (ms: number) => (now += ms) };
}

export const job = (fingerprint: number, extra: Partial<Parameters<Store["enqueueJob"]>[0]> = {}) => ({
  websiteId: "w1",
  sessionId: "s1",
  fingerprint,
  messageAt: fingerprint * 1000,
  trigger: "webhook" as const,
  runAfter: 0,
  ...extra,
});

export function storeContract(open: (clock?: Clock) => Promise<Store>) {
  shadowContract(open);
  describe("store contract", () => {
    it("records a web hook delivery once", async () => {
      const store = await open();
      const e = { websiteId: "w1", deliveryKey: "w1:s1:msg:1", event: "message:send", payload: {} };
      expect(await store.recordInboxEvent(e)).toEqual({ inserted: true });
      expect(await store.recordInboxEvent(e)).toEqual({ inserted: false });
    });

    it("keeps one job per customer message, and a separate one per redraft command", async () => {
      const store = await open();
      const a = await store.enqueueJob(job(1));
      const b = await store.enqueueJob(job(1, { trigger: "poll" }));
      expect(a.created).toBe(true);
      expect(b).toMatchObject({ created: false, job: { id: a.job.id, trigger: "webhook" } });
      const redraft = await store.enqueueJob(
        job(1, { kind: "redraft", commandKey: "cmd:99", trigger: "command" }),
      );
      expect(redraft.created).toBe(true);
      expect(redraft.job.id).not.toBe(a.job.id);
    });

    it("leases due jobs once, counts attempts, and re-leases an expired lease", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      await store.enqueueJob(job(1));
      await store.enqueueJob(job(2, { sessionId: "s2", runAfter: 5_000_000 })); // not due yet
      const first = await store.leaseJobs({ owner: "a", leaseMs: 1_000, limit: 10 });
      expect(first.map((j) => j.fingerprint)).toEqual([1]);
      expect(first[0]).toMatchObject({ status: "leased", leaseOwner: "a", attempts: 1 });
      expect(await store.leaseJobs({ owner: "b", leaseMs: 1_000, limit: 10 })).toEqual([]);
      advance(1_001);
      const again = await store.leaseJobs({ owner: "b", leaseMs: 1_000, limit: 10 });
      expect(again).toMatchObject([{ fingerprint: 1, leaseOwner: "b", attempts: 2 }]);
      // the old owner lost the lease and cannot finish it
      expect(await store.finishJob(first[0]?.id ?? "", "a", "done")).toBe(false);
      expect(await store.finishJob(first[0]?.id ?? "", "b", "done")).toBe(true);
    });

    it("retries with a delay, then marks the job dead when attempts are used up", async () => {
      const store = await open();
      const { job: j } = await store.enqueueJob(job(1, { maxAttempts: 2 }));
      await store.leaseJobs({ owner: "a", leaseMs: 1_000, limit: 1 });
      expect(await store.retryJob(j.id, "a", "crisp 503", 0)).toBe("retry");
      expect(await store.getJob(j.id)).toMatchObject({ status: "queued", lastError: "crisp 503" });
      await store.leaseJobs({ owner: "a", leaseMs: 1_000, limit: 1 });
      expect(await store.retryJob(j.id, "a", "crisp 503 again", 0)).toBe("dead");
      expect(await store.getJob(j.id)).toMatchObject({ status: "dead", attempts: 2 });
      expect(await store.countJobsByStatus()).toEqual({ dead: 1 });
    });

    it("marks a crash-looping job dead instead of leasing it forever", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      const { job: j } = await store.enqueueJob(job(1, { maxAttempts: 1 }));
      await store.leaseJobs({ owner: "a", leaseMs: 1_000, limit: 1 });
      advance(2_000);
      expect(await store.leaseJobs({ owner: "b", leaseMs: 1_000, limit: 1 })).toEqual([]);
      expect(await store.getJob(j.id)).toMatchObject({ status: "dead" });
    });

    it("releases leases on shutdown without burning an attempt", async () => {
      const store = await open();
      const { job: j } = await store.enqueueJob(job(1));
      await store.leaseJobs({ owner: "a", leaseMs: 60_000, limit: 1 });
      expect(await store.releaseJobs("a")).toBe(1);
      expect(await store.getJob(j.id)).toMatchObject({ status: "queued", attempts: 0, leaseOwner: null });
    });

    it("supersedes queued jobs for older messages only", async () => {
      const store = await open();
      const old = await store.enqueueJob(job(1));
      const newer = await store.enqueueJob(job(3));
      expect(await store.supersedeQueuedJobs("w1", "s1", 2_000)).toBe(1);
      expect(await store.getJob(old.job.id)).toMatchObject({ status: "superseded" });
      expect(await store.getJob(newer.job.id)).toMatchObject({ status: "queued" });
    });

    it("finds the latest posted draft of a conversation and filters drafts", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      const { job: j } = await store.enqueueJob(job(1));
      const base = {
        jobId: j.id,
        websiteId: "w1",
        sessionId: "s1",
        customerFingerprint: 1,
        mode: "note" as const,
      };
      const first = await store.insertDraft({
        ...base,
        text: "Refunds take 5 days",
        status: "posted",
        promptVersion: "v1",
      });
      advance(10);
      await store.insertDraft({ ...base, text: "never posted", status: "discarded", promptVersion: "v1" });
      advance(10);
      const second = await store.insertDraft({
        ...base,
        text: "Returns are free",
        status: "posted",
        promptVersion: "v2",
      });
      expect((await store.latestDraftForSession("w1", "s1"))?.id).toBe(second.id);
      expect((await store.listDrafts({ search: "refund" })).map((d) => d.id)).toEqual([first.id]);
      expect((await store.listDrafts({ promptVersion: "v2" })).map((d) => d.id)).toEqual([second.id]);
      await store.insertFeedback({
        draftId: first.id,
        websiteId: "w1",
        sessionId: "s1",
        kind: "approved",
        sourceKey: "k1",
      });
      expect((await store.listDrafts({ outcome: "approved" })).map((d) => d.id)).toEqual([first.id]);
      expect((await store.listDrafts({ outcome: "none", status: "posted" })).map((d) => d.id)).toEqual([
        second.id,
      ]);
      expect(await store.transitionDraft(first.id, ["posted"], { status: "sent" })).toBe(true);
      expect(await store.transitionDraft(first.id, ["posted"], { status: "sent" })).toBe(false);
    });

    it("counts a website's auto-sent replies since a time, for the hourly cap", async () => {
      const { clock } = manualClock();
      const store = await open(clock);
      const { job: j } = await store.enqueueJob(job(1));
      const base = { jobId: j.id, sessionId: "s1", customerFingerprint: 1, text: "Hi" };
      await store.insertDraft({ ...base, websiteId: "w1", mode: "reply", status: "sent", postedAt: 1_000 });
      await store.insertDraft({ ...base, websiteId: "w1", mode: "reply", status: "sent", postedAt: 5_000 });
      await store.insertDraft({ ...base, websiteId: "w1", mode: "note", status: "posted", postedAt: 5_000 });
      await store.insertDraft({ ...base, websiteId: "w2", mode: "reply", status: "sent", postedAt: 5_000 });
      expect(await store.countAutoReplies("w1", 2_000)).toBe(1);
      expect(await store.countAutoReplies("w1", 0)).toBe(2);
      expect(await store.countAutoReplies("w3", 0)).toBe(0);
    });

    it("records feedback from one source once", async () => {
      const store = await open();
      const { job: j } = await store.enqueueJob(job(1));
      const d = await store.insertDraft({
        jobId: j.id,
        websiteId: "w1",
        sessionId: "s1",
        customerFingerprint: 1,
        mode: "note",
        text: "x",
        status: "posted",
      });
      const f = {
        draftId: d.id,
        websiteId: "w1",
        sessionId: "s1",
        kind: "rejected" as const,
        sourceKey: "cmd:w1:s1:7",
      };
      expect(await store.insertFeedback(f)).toEqual({ inserted: true });
      expect(await store.insertFeedback(f)).toEqual({ inserted: false });
      expect(await store.feedbackForDraft(d.id)).toHaveLength(1);
    });

    it("keeps the poll watermark monotonic while its resume cursor is replaced and cleared", async () => {
      const store = await open();
      expect(await store.getPollState("w1")).toBeUndefined();
      await store.setPollState("w1", 500, { page: 40, watermark: 100 });
      expect(await store.getPollState("w1")).toMatchObject({
        watermark: 500,
        resume: { page: 40, watermark: 100 },
      });
      await store.setPollState("w1", 300, { page: 79, watermark: 100 });
      expect(await store.getPollState("w1")).toMatchObject({
        watermark: 500,
        resume: { page: 79, watermark: 100 },
      });
      await store.setPollState("w1", 600, null);
      expect(await store.getPollState("w1")).toMatchObject({ watermark: 600, resume: null });
    });

    it("leases one named job once, and again only after its lease expired", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      const { job: j } = await store.enqueueJob(job(1));
      expect(await store.leaseJob(j.id, "a", 1_000)).toMatchObject({ leaseOwner: "a", attempts: 1 });
      expect(await store.leaseJob(j.id, "b", 1_000)).toBeUndefined();
      advance(1_001);
      expect(await store.leaseJob(j.id, "b", 1_000)).toMatchObject({ leaseOwner: "b", attempts: 2 });
      expect(await store.finishJob(j.id, "b", "done", { outcome: "posted" })).toBe(true);
      expect(await store.leaseJob(j.id, "c", 1_000)).toBeUndefined();
    });

    it("lists overdue jobs and expired leases oldest first, after marking crash loops dead", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      const late = await store.enqueueJob(job(1, { runAfter: 300_000 }));
      const stuck = await store.enqueueJob(job(2, { sessionId: "s2", runAfter: 100_000 }));
      const looping = await store.enqueueJob(job(3, { sessionId: "s3", runAfter: 50_000, maxAttempts: 1 }));
      await store.enqueueJob(job(4, { sessionId: "s4", runAfter: 990_000 })); // due, not overdue
      await store.enqueueJob(job(5, { sessionId: "s5", runAfter: 2_000_000 })); // future
      const live = await store.enqueueJob(job(6, { sessionId: "s6", runAfter: 10_000 }));
      await store.leaseJob(stuck.job.id, "gone", 1_000);
      await store.leaseJob(looping.job.id, "gone", 1_000);
      advance(2_000);
      await store.leaseJob(live.job.id, "busy", 60_000);
      const overdue = await store.overdueJobs({ queuedBefore: 950_000, limit: 10 });
      expect(overdue.map((j) => j.id)).toEqual([stuck.job.id, late.job.id]);
      expect(await store.getJob(looping.job.id)).toMatchObject({ status: "dead" });
      expect((await store.overdueJobs({ queuedBefore: 950_000, limit: 1 })).map((j) => j.id)).toEqual([
        stuck.job.id,
      ]);
    });

    it("keeps one sync job per draft, target and outcome", async () => {
      const store = await open();
      const sync = (outcome: string) =>
        store.enqueueJob(
          job(1, { kind: "sync", trigger: "outcome", commandKey: `sync:people:d1:${outcome}` }),
        );
      const first = await sync("approved");
      expect(first.created).toBe(true);
      expect(await sync("approved")).toMatchObject({ created: false, job: { id: first.job.id } });
      expect((await sync("rejected")).created).toBe(true);
      expect(await store.listJobs({ kind: "sync" })).toHaveLength(2);
    });

    it("stores website settings, replacing them on update", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      expect(await store.getWebsiteSettings("w1")).toBeUndefined();
      await store.setWebsiteSettings("w1", { provider: "offline", replyMode: "note" });
      advance(10);
      await store.setWebsiteSettings("w1", { provider: "openai" });
      await store.setWebsiteSettings("w2", { provider: "anthropic" });
      expect(await store.getWebsiteSettings("w1")).toEqual({ provider: "openai" });
      expect((await store.listWebsiteSettings()).map((s) => [s.websiteId, s.updatedAt])).toEqual([
        ["w1", 1_000_010],
        ["w2", 1_000_010],
      ]);
    });

    it("keeps the first stored secret; a later candidate does not replace it", async () => {
      const store = await open();
      expect(await store.ensureSecret("session", "first")).toBe("first");
      expect(await store.ensureSecret("session", "second")).toBe("first");
      await store.setSecret("session", "third");
      expect(await store.ensureSecret("session", "fourth")).toBe("third");
    });

    it("keeps dashboard sessions until they expire or are revoked, one or by subject", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      const session = (idHash: string, subject: string) =>
        store.insertAdminSession({ idHash, subject, createdAt: clock.now(), expiresAt: clock.now() + 1_000 });
      await session("a", "*");
      await session("b", "w1");
      await session("c", "w1");
      await session("d", "w2");
      expect(await store.liveAdminSession("a")).toMatchObject({ subject: "*", revokedAt: null });
      await store.revokeAdminSession("a");
      expect(await store.liveAdminSession("a")).toBeUndefined();
      expect(await store.revokeAdminSessionsOf("w1")).toBe(2);
      expect(await store.liveAdminSession("b")).toBeUndefined();
      expect(await store.liveAdminSession("c")).toBeUndefined();
      expect(await store.liveAdminSession("d")).toMatchObject({ subject: "w2" });
      advance(1_001);
      expect(await store.liveAdminSession("d")).toBeUndefined();
      expect(await store.liveAdminSession("missing")).toBeUndefined();
    });

    it("counts login failures per key, forgets old ones and clears on demand", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      const counts = async (keys: string[]) =>
        (await store.recordLoginFailure(keys, 10_000)).map((r) => [r.key, r.failures]);
      expect(await counts(["ip:1", "target:admin"])).toEqual([
        ["ip:1", 1],
        ["target:admin", 1],
      ]);
      expect(await counts(["ip:1", "target:admin"])).toEqual([
        ["ip:1", 2],
        ["target:admin", 2],
      ]);
      expect(await counts(["ip:2", "target:admin"])).toEqual([
        ["ip:2", 1],
        ["target:admin", 3],
      ]);
      advance(10_001);
      expect(await counts(["ip:1"])).toEqual([["ip:1", 1]]);
      await store.clearLoginFailures(["ip:1", "ip:2"]);
      expect((await store.loginFailuresOf(["ip:1", "ip:2", "target:admin"])).map((r) => r.key)).toEqual([
        "target:admin",
      ]);
    });

    it("keeps a conversation's pause, resume and resolve times, and lists paused ones newest first", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      expect(await store.conversationState("w1", "s1")).toBeUndefined();
      await store.setConversationPaused("w1", "s1", true, "op-1");
      advance(1000);
      await store.setConversationPaused("w1", "s2", true, "op-2");
      advance(1000);
      await store.setConversationPaused("w2", "s3", true, "op-3");
      expect((await store.pausedConversations()).map((c) => c.sessionId)).toEqual(["s3", "s2", "s1"]);
      expect((await store.pausedConversations("w1")).map((c) => c.sessionId)).toEqual(["s2", "s1"]);
      advance(1000);
      await store.setConversationPaused("w1", "s1", false, "op-1");
      await store.setConversationResolved("w1", "s2");
      expect(await store.conversationState("w1", "s1")).toMatchObject({
        paused: false,
        changedBy: "op-1",
        pausedAt: 1_000_000,
        resumedAt: 1_003_000,
      });
      // Resolving does not turn quill back on: only /quill on does.
      expect(await store.conversationState("w1", "s2")).toMatchObject({
        paused: true,
        resolvedAt: 1_003_000,
      });
      await store.setConversationResolved("w1", "s9");
      expect(await store.conversationState("w1", "s9")).toMatchObject({
        paused: false,
        resolvedAt: 1_003_000,
      });
      expect((await store.pausedConversations("w1")).map((c) => c.sessionId)).toEqual(["s2"]);
    });

    it("claims a signed CRM request once until it expires, and forgets a released one", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      const until = clock.now() + 300_000;
      expect(await store.claimSignedRequest("w1:v1=aa", "w1", until)).toBe(true);
      expect(await store.claimSignedRequest("w1:v1=aa", "w1", until)).toBe(false);
      expect(await store.claimSignedRequest("w2:v1=aa", "w2", until)).toBe(true);
      await store.releaseSignedRequest("w2:v1=aa");
      expect(await store.claimSignedRequest("w2:v1=aa", "w2", until)).toBe(true);
      advance(300_000);
      expect(await store.claimSignedRequest("w1:v1=aa", "w1", until)).toBe(false); // still inside
      advance(1);
      expect(await store.claimSignedRequest("w1:v1=aa", "w1", clock.now() + 300_000)).toBe(true);
    });

    it("keeps article vectors by model and hash, the first one stored winning", async () => {
      const store = await open();
      const rows = Array.from({ length: 40 }, (_, i) => ({ hash: `h${i}`, vector: `v${i}`, scale: i / 10 }));
      await store.saveEmbeddings("m1", rows);
      await store.saveEmbeddings("m1", [{ hash: "h0", vector: "other", scale: 9 }]);
      await store.saveEmbeddings("m2", [{ hash: "h0", vector: "m2", scale: 1 }]);
      const saved = await store.embeddings("m1");
      expect(saved).toHaveLength(40);
      expect(saved.find((r) => r.hash === "h0")).toEqual({ hash: "h0", vector: "v0", scale: 0 });
      expect(await store.embeddings("m2")).toEqual([{ hash: "h0", vector: "m2", scale: 1 }]);
      expect(await store.embeddings("none")).toEqual([]);
    });

    it("prunes by age in batches: old deliveries and LLM calls go, old drafts, feedback and finished jobs lose their text", async () => {
      const { clock, advance } = manualClock();
      const store = await open(clock);
      await seedConversation(store, "w1", "s-old", "old secret", clock.now());
      await seedConversation(store, "w2", "s-old2", "old secret too", clock.now());
      const oldQueued = await store.enqueueJob(job(9, { sessionId: "s-old", instructions: "still to run" }));
      const call = { tokenId: "t1", websiteId: "w1", ok: true, outcome: "ok", latencyMs: 5 };
      await store.recordMcpCall({ ...call, tool: "get_conversation", sessionId: "s-old" });
      advance(50_000);
      const cutoff = clock.now();
      await store.recordMcpCall({ ...call, tool: "search_knowledge", sessionId: null });
      const fresh = await seedConversation(store, "w1", "s-new", "fresh text", clock.now());

      // Two old conversations: 4 deliveries, 2 calls, 4 drafts, 2 feedback, 4 finished jobs, 2 shadows.
      expect(await store.pruneBefore(cutoff, 3)).toEqual({
        inboxEvents: 3,
        llmCalls: 2,
        drafts: 3,
        feedback: 2,
        jobs: 3,
        mcpCalls: 1,
        shadowDrafts: 2,
      });
      expect(await store.pruneBefore(cutoff, 3)).toEqual({
        inboxEvents: 1,
        llmCalls: 0,
        drafts: 1,
        feedback: 0,
        jobs: 1,
        mcpCalls: 0,
        shadowDrafts: 0,
      });
      expect(await store.pruneBefore(cutoff, 3)).toEqual({
        inboxEvents: 0,
        llmCalls: 0,
        drafts: 0,
        feedback: 0,
        jobs: 0,
        mcpCalls: 0,
        shadowDrafts: 0,
      });
      expect((await store.listMcpCalls({})).map((c) => c.tool)).toEqual(["search_knowledge"]);

      const before = await store.visitorRows([{ websiteId: "w1", sessionId: "s-old" }]);
      expect(before.inboxEvents).toEqual([]);
      expect(before.llmCalls).toEqual([]);
      // Draft rows stay for statistics, without a word of the conversation.
      expect(before.drafts).toHaveLength(2);
      for (const d of before.drafts) {
        expect(d).toMatchObject({ text: "", transcript: null, context: null, needsHumanReason: null });
        expect(d.promptVersion).toBe("v1");
        expect(d.costUsd).toBe(0.01);
      }
      expect(before.feedback).toMatchObject([
        { kind: "sent_edited", finalText: null, reason: null, similarity: 0.4 },
      ]);
      // The candidate's row stays for the Shadow page's cost and latency, without its text.
      expect(before.shadowDrafts).toMatchObject([{ text: "", promptName: "concise" }]);
      expect(JSON.stringify(before)).not.toContain("old secret");
      // A job still waiting to run keeps what it needs.
      expect((await store.getJob(oldQueued.job.id))?.instructions).toBe("still to run");
      expect((await store.draftOutcomes()).length).toBe(6);

      const after = await store.visitorRows([{ websiteId: "w1", sessionId: "s-new" }]);
      expect(after.inboxEvents).toHaveLength(2);
      expect(after.llmCalls).toHaveLength(1);
      expect(after.drafts.map((d) => d.text).sort()).toEqual(["fresh text draft", "fresh text reply"]);
      expect(after.feedback[0]?.finalText).toBe("fresh text final");
      expect(after.shadowDrafts[0]?.text).toBe("fresh text shadow");
      expect(after.jobs.find((j) => j.id === fresh.syncJobId)?.instructions).toContain("fresh text");
    });

    it("links a visitor to their conversations and finds them by email hash, profile or session", async () => {
      const store = await open();
      await store.setConversationPaused("w1", "s1", true, "op", 5);
      await store.linkVisitor("w1", "s1", { peopleId: "p1", emailHash: "h1" });
      await store.linkVisitor("w1", "s2", { peopleId: "p1" });
      await store.linkVisitor("w2", "s3", { emailHash: "h1" });
      await store.linkVisitor("w1", "s4", { peopleId: "p2", emailHash: "h2" });
      await store.linkVisitor("w1", "s5", {}); // nothing known: no row
      // A later job without the email keeps the one known; the pause state is untouched.
      await store.linkVisitor("w1", "s1", { peopleId: "p1", emailHash: null });
      expect(await store.conversationState("w1", "s1")).toMatchObject({
        paused: true,
        peopleId: "p1",
        emailHash: "h1",
      });
      expect(await store.conversationState("w1", "s5")).toBeUndefined();
      const keys = (refs: Array<{ websiteId: string; sessionId: string }>) =>
        refs.map((r) => `${r.websiteId}/${r.sessionId}`).sort();
      expect(keys(await store.visitorSessions({ emailHash: "h1" }))).toEqual(["w1/s1", "w2/s3"]);
      expect(keys(await store.visitorSessions({ peopleId: "p1" }))).toEqual(["w1/s1", "w1/s2"]);
      expect(keys(await store.visitorSessions({ emailHash: "h1", websiteId: "w2" }))).toEqual(["w2/s3"]);
      expect(await store.visitorSessions({ peopleId: "nobody" })).toEqual([]);
      // A session seen only by its job, and a draft made before the link with the email unredacted.
      const { job: j } = await store.enqueueJob(job(1, { sessionId: "s9" }));
      await store.insertDraft({
        jobId: j.id,
        websiteId: "w1",
        sessionId: "s9",
        customerFingerprint: 1,
        text: "x",
        mode: "note",
        status: "posted",
        context: {
          transcript: "",
          query: "",
          language: "en",
          visitor: { name: "", email: "Old.Visitor@Example.com", segments: [], data: {} },
        },
      });
      expect(keys(await store.visitorSessions({ sessionId: "s9" }))).toEqual(["w1/s9"]);
      expect(keys(await store.visitorSessions({ email: "old.visitor@example.com" }))).toEqual(["w1/s9"]);
    });

    it("exports and erases every row of a visitor's conversations, and only theirs", async () => {
      const store = await open();
      const mine = await seedConversation(store, "w1", "s1", "my secret");
      await seedConversation(store, "w1", "s2", "other visitor");
      await store.linkVisitor("w1", "s1", { peopleId: "p1", emailHash: "h1" });
      await store.recordMcpCall({
        tokenId: "t1",
        tool: "get_conversation",
        websiteId: "w1",
        sessionId: "s1",
        ok: true,
        outcome: "ok",
        latencyMs: 3,
      });
      const sessions = await store.visitorSessions({ peopleId: "p1" });
      const rows = await store.visitorRows(sessions);
      expect({
        conversations: rows.conversations.length,
        inboxEvents: rows.inboxEvents.length,
        jobs: rows.jobs.length,
        drafts: rows.drafts.length,
        feedback: rows.feedback.length,
        llmCalls: rows.llmCalls.length,
        triageRuns: rows.triageRuns.length,
        mcpCalls: rows.mcpCalls.length,
        shadowDrafts: rows.shadowDrafts.length,
      }).toEqual({
        conversations: 1,
        inboxEvents: 2,
        jobs: 2,
        drafts: 2,
        feedback: 1,
        llmCalls: 1,
        triageRuns: 1,
        mcpCalls: 1,
        shadowDrafts: 1,
      });
      expect(rows.jobs.map((j) => j.id)).toContain(mine.syncJobId);
      expect(JSON.stringify(rows)).not.toContain("other visitor");

      expect(await store.eraseVisitor(sessions)).toEqual({
        conversations: 1,
        inboxEvents: 2,
        jobs: 2,
        drafts: 2,
        feedback: 1,
        llmCalls: 1,
        triageRuns: 1,
        mcpCalls: 1,
        shadowDrafts: 1,
      });
      const left = await store.visitorRows(sessions);
      expect(Object.values(left).every((table) => table.length === 0)).toBe(true);
      expect(await store.visitorSessions({ peopleId: "p1" })).toEqual([]);
      // The audit keeps the call, without the conversation.
      expect(await store.listMcpCalls()).toMatchObject([{ tool: "get_conversation", sessionId: null }]);
      // The other visitor's rows are all there.
      const other = await store.visitorRows([{ websiteId: "w1", sessionId: "s2" }]);
      expect(other.drafts).toHaveLength(2);
      expect(other.shadowDrafts).toHaveLength(1);
      expect(other.inboxEvents).toHaveLength(2);
      expect(await store.eraseVisitor([])).toMatchObject({ drafts: 0 });
    });

    it("gives the overview each draft with its job's message time and its latest decision, not a redraft", async () => {
      const { clock, advance } = manualClock(10_000_000);
      const store = await open(clock);
      const draftOf = async (n: number, websiteId = "w1") => {
        const { job: j } = await store.enqueueJob(
          job(n, { websiteId, sessionId: `s${n}`, messageAt: 9_000_000 + n }),
        );
        return store.insertDraft({
          jobId: j.id,
          websiteId,
          sessionId: `s${n}`,
          customerFingerprint: n,
          text: `draft ${n}`,
          mode: "note",
          status: "posted",
          intent: "shipping",
          costUsd: 0.002,
          postedAt: 10_000_000,
        });
      };
      const old = await draftOf(1);
      await store.updateDraft(old.id, { createdAt: 1_000 });
      const a = await draftOf(2);
      const b = await draftOf(3);
      await draftOf(4, "w2");
      const feedbackOf = (
        d: { id: string; sessionId: string },
        kind: "edited" | "redraft" | "rejected",
        similarity: number | null = null,
      ) =>
        store.insertFeedback({
          draftId: d.id,
          websiteId: "w1",
          sessionId: d.sessionId,
          kind,
          similarity,
          operatorName: "Ada",
          delayMs: 5,
        });
      await feedbackOf(a, "edited", 0.7);
      advance(1);
      await feedbackOf(a, "rejected");
      await feedbackOf(b, "redraft");
      const { rows, truncated } = await store.overviewRows({ websiteId: "w1", since: 5_000_000 });
      expect(truncated).toBe(false);
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect([...byId.keys()].sort()).toEqual([a.id, b.id].sort());
      expect(byId.get(a.id)).toMatchObject({
        jobKind: "draft",
        messageAt: 9_000_002,
        postedAt: 10_000_000,
        costUsd: 0.002,
        decision: { kind: "rejected", operatorName: "Ada", delayMs: 5 },
      });
      expect(byId.get(b.id)?.decision).toBeNull();
      expect((await store.overviewRows({ since: 0 })).rows).toHaveLength(4);
      expect(await store.overviewRows({ since: 0, limit: 2 })).toMatchObject({
        truncated: true,
        rows: [{}, {}],
      });
    });
  });
}

/**
 * One conversation's worth of rows in every table that holds conversation data, each
 * carrying `text` so a test can look for it: deliveries, a draft job and a sync job, a
 * posted note and a sent reply, the operator's edited answer, an LLM call, a triage run.
 */
export async function seedConversation(
  store: Store,
  websiteId: string,
  sessionId: string,
  text: string,
  /** When its jobs fall due (jobs are created due now or later). */
  at = 0,
) {
  for (const n of [1, 2]) {
    await store.recordInboxEvent({
      websiteId,
      deliveryKey: `${websiteId}:${sessionId}:${n}`,
      event: "message:send",
      sessionId,
      fingerprint: n,
      payload: { type: "text" },
    });
  }
  const { job: draftJob } = await store.enqueueJob(
    job(1, { websiteId, sessionId, instructions: `${text} instructions`, runAfter: at }),
  );
  await store.leaseJob(draftJob.id, "seed", 60_000);
  await store.finishJob(draftJob.id, "seed", "done");
  const base = { jobId: draftJob.id, websiteId, sessionId, customerFingerprint: 1, promptVersion: "v1" };
  const context = {
    transcript: `Customer: ${text}`,
    query: text,
    language: "en",
    visitor: { name: "", email: "", segments: [], data: {} },
  };
  const note = await store.insertDraft({
    ...base,
    text: `${text} draft`,
    mode: "note",
    status: "posted",
    transcript: `Customer: ${text}`,
    context,
    needsHumanReason: `${text} reason`,
    costUsd: 0.01,
  });
  await store.insertDraft({
    ...base,
    text: `${text} reply`,
    mode: "reply",
    status: "sent",
    transcript: `Customer: ${text}`,
    context,
    costUsd: 0.01,
  });
  await store.insertFeedback({
    draftId: note.id,
    websiteId,
    sessionId,
    kind: "sent_edited",
    finalText: `${text} final`,
    reason: `${text} because`,
    similarity: 0.4,
    sourceKey: `msg:${websiteId}:${sessionId}`,
  });
  await store.insertLlmCalls([
    { draftId: note.id, jobId: draftJob.id, websiteId, provider: "openai", status: "ok", latencyMs: 5 },
  ]);
  await store.insertShadow({
    draftId: note.id,
    websiteId,
    sessionId,
    promptName: "concise",
    provider: "offline",
    text: `${text} shadow`,
  });
  await store.insertTriageRun({
    websiteId,
    sessionId,
    jobId: draftJob.id,
    draftId: note.id,
    phase: "before",
    rules: ["vip"],
    actions: {},
    results: [],
  });
  const { job: syncJob } = await store.enqueueJob(
    job(1, {
      websiteId,
      sessionId,
      kind: "sync",
      trigger: "outcome",
      commandKey: `sync:people:${note.id}:draft_posted`,
      instructions: JSON.stringify({ draft: { text: `${text} draft` } }),
      runAfter: at,
    }),
  );
  await store.leaseJob(syncJob.id, "seed", 60_000);
  await store.finishJob(syncJob.id, "seed", "done");
  return { draftJobId: draftJob.id, syncJobId: syncJob.id, noteId: note.id };
}
