import { describe, expect, it } from "vitest";
import { signCrm } from "../../src/sync/signature.ts";
import { answer, setup } from "../drafting/harness.ts";

/** Triage rules through the real pipeline against the sandbox: every action type, recorded. */

const RULES = `
rules:
  - name: spam
    when: { keywords: ["crypto giveaway"] }
    then: { skipDraft: true, setState: resolved, addSegments: [spam] }
  - name: enterprise
    when: { emailDomain: bigcorp.test }
    then: { assign: owner@demo.quill.test, addSegments: [enterprise], setData: { tier: gold } }
    continue: true
  - name: refunds stay private
    when: { intent: returns }
    then: { forceNote: true, setState: pending }
  - name: legal
    when: { intent: legal }
    then: { skipDraft: true, assign: nobody@demo.quill.test }
`;

const withRules = (env: Record<string, string> = {}, llm = async () => answer()) =>
  setup(env, llm, { rules: { source: "rules.yaml", text: RULES } });

describe("triage in the pipeline", () => {
  it("an assign rule never overrides an assignment an operator made", async () => {
    // No outcome sync jobs in the queue: the next job is the customer's second message.
    const { sandbox, services, enqueue, runNext } = await withRules({ PEOPLE_SYNC: "off" }, async () =>
      answer({ intent: "shipping" }),
    );
    const first = sandbox.visitorSays({ text: "Where is my order?", email: "ann@bigcorp.test" });
    await enqueue(first.sessionId, first.fingerprint, first.message.timestamp);
    await runNext();
    const conversation = sandbox.state.conversations.get(first.sessionId);
    expect(conversation?.assigned).toEqual({ user_id: "5b1e2c1a-0c6f-4d5e-9a4e-0d1f2a3b4c5d" });
    // An operator hands it to a colleague; the customer writes again and the rule matches again.
    if (conversation) conversation.assigned = { user_id: "colleague-7" };
    const again = sandbox.visitorSays({
      sessionId: first.sessionId,
      text: "Any news?",
      email: "ann@bigcorp.test",
    });
    await enqueue(again.sessionId, again.fingerprint, again.message.timestamp);
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "note" });
    expect(sandbox.state.conversations.get(first.sessionId)?.assigned).toEqual({ user_id: "colleague-7" });
    const runs = await services.store.listTriageRuns({ sessionId: first.sessionId });
    expect(
      runs
        .flatMap((r) => r.results)
        .filter((r) => r.action === "assign")
        .map((r) => r.detail),
    ).toEqual(expect.arrayContaining(["kept the existing assignment (colleague-7)"]));
  });

  it("routes, tags and sets data before drafting, then drafts as usual", async () => {
    const { sandbox, services, enqueue, runNext } = await withRules({}, async () =>
      answer({ intent: "shipping" }),
    );
    const said = sandbox.visitorSays({ text: "Where is my order?", email: "ann@bigcorp.test" });
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "note" });
    const conversation = sandbox.state.conversations.get(said.sessionId);
    expect(conversation?.assigned).toEqual({ user_id: "5b1e2c1a-0c6f-4d5e-9a4e-0d1f2a3b4c5d" });
    expect(conversation?.meta.segments).toEqual(["enterprise"]);
    expect(conversation?.meta.data).toMatchObject({ tier: "gold" });
    const [run] = await services.store.listTriageRuns({ sessionId: said.sessionId });
    expect(run).toMatchObject({
      phase: "before",
      rules: ["enterprise"],
      results: [
        {
          action: "assign",
          ok: true,
          detail: "owner@demo.quill.test (5b1e2c1a-0c6f-4d5e-9a4e-0d1f2a3b4c5d)",
        },
        { action: "meta", ok: true },
      ],
    });
    // The dashboard shows what fired on the draft's page.
    const [draft] = await services.store.listDrafts({});
    const page = await (await services.app.request(`/admin/drafts/${draft?.id}`)).text();
    expect(page).toContain("before drafting: enterprise → assign ok (owner@demo.quill.test");
    const list = await (await services.app.request("/admin/triage")).text();
    expect(list).toContain(`<a href="/admin/drafts/${draft?.id}">${said.sessionId}</a>`);
    expect(list).toContain("segments +enterprise");
  });

  it("skips drafting when a rule says so, and still carries out its other actions", async () => {
    const { sandbox, services, requests, enqueue, runNext } = await withRules();
    const said = sandbox.visitorSays({ text: "Join our CRYPTO giveaway now" });
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    expect((await runNext()).outcome).toEqual({ status: "skipped", outcome: "triage: spam" });
    expect(requests).toHaveLength(0); // the LLM was never asked
    expect(sandbox.messagesOf(said.sessionId).filter((m) => m.from === "operator")).toEqual([]);
    const conversation = sandbox.state.conversations.get(said.sessionId);
    expect(conversation?.state).toBe("resolved");
    expect(conversation?.meta.segments).toEqual(["spam"]);
    expect(await services.store.listDrafts({})).toEqual([]);
  });

  it("rules on the draft's intent force a note even in auto mode, or withhold the draft", async () => {
    const auto = { REPLY_MODE: "auto", AUTO_SEND_INTENTS: "returns,legal", AUTO_SEND_MIN_CONFIDENCE: "0" };
    const { sandbox, services, enqueue, runNext } = await withRules(auto);
    const said = sandbox.visitorSays({ text: "Can I return shoes?" });
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "note" });
    expect(sandbox.state.conversations.get(said.sessionId)?.state).toBe("pending");
    const [draft] = await services.store.listDrafts({});
    expect(draft?.policyReasons).toEqual(['triage rule "refunds stay private" keeps drafts private']);
    const [run] = await services.store.listTriageRuns({ sessionId: said.sessionId });
    expect(run).toMatchObject({ phase: "after", rules: ["refunds stay private"], draftId: draft?.id });

    const legal = await withRules(auto, async () =>
      answer({ intent: "legal", text: "We accept liability." }),
    );
    const asked = legal.sandbox.visitorSays({ text: "I will sue you" });
    await legal.enqueue(asked.sessionId, asked.fingerprint, asked.message.timestamp);
    expect((await legal.runNext()).outcome).toEqual({ status: "skipped", outcome: "triage: legal" });
    expect(legal.sandbox.messagesOf(asked.sessionId).filter((m) => m.from === "operator")).toEqual([]);
    const [withheld] = await legal.services.store.listDrafts({});
    expect(withheld).toMatchObject({ status: "discarded", error: "triage: legal" });
    // An unknown operator is recorded as a failed action; nothing else is undone.
    const [failed] = await legal.services.store.listTriageRuns({ sessionId: asked.sessionId });
    expect(failed?.results).toEqual([
      { action: "assign", ok: false, detail: "no operator nobody@demo.quill.test on this website" },
      { action: "skipDraft", ok: true },
    ]);
  });

  it("a Crisp failure in an action is recorded and never blocks the draft", async () => {
    const { sandbox, services, enqueue, runNext } = await withRules();
    sandbox.faults.script.push({ method: "PATCH", path: "/meta", fault: "500", times: 10 });
    const said = sandbox.visitorSays({ text: "Hello", email: "bob@bigcorp.test" });
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "note" });
    const [run] = await services.store.listTriageRuns({ sessionId: said.sessionId });
    expect(run?.results.find((r) => r.action === "meta")).toMatchObject({ ok: false });
    expect(run?.results.find((r) => r.action === "assign")).toMatchObject({ ok: true });
  });
});

describe("visitor profile conditions", () => {
  const VISITOR_RULES = `
rules:
  - name: spam
    when: { keywords: [casino] }
    then: { skipDraft: true }
  - name: vip visitors
    when: { visitorSegments: vip }
    then: { assign: owner@demo.quill.test }
    continue: true
  - name: pro plan refunds
    when: { intent: returns, visitorData: { plan: pro } }
    then: { forceNote: true, addSegments: [pro] }
`;
  const SECRET = "crm-shared-secret";

  /** Counts the people profile reads quill makes; the CRM writes the profile through quill. */
  async function withVisitorRules(env: Record<string, string> = {}) {
    const reads: string[] = [];
    let sandboxFetch: typeof fetch = fetch;
    const fetchImpl = ((input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if ((init?.method ?? "GET") === "GET" && /\/people\/(profile|data|profiles)\//.test(url))
        reads.push(url.replace(/.*\/people\//, "").split("/")[0] ?? "");
      return sandboxFetch(input, init);
    }) as typeof fetch;
    const harness = await setup(
      { CRM_WEBHOOK_SECRET: SECRET, PEOPLE_SYNC: "off", ...env },
      async () => answer(),
      {
        rules: { source: "rules.yaml", text: VISITOR_RULES },
        fetch: fetchImpl,
      },
    );
    sandboxFetch = harness.inProcess;
    const crm = async (body: unknown) => {
      const raw = JSON.stringify(body);
      const timestamp = String(Date.now());
      const res = await harness.services.app.request("/crm/people", {
        method: "POST",
        headers: {
          "x-quill-timestamp": timestamp,
          "x-quill-signature": await signCrm(SECRET, timestamp, raw),
        },
        body: raw,
      });
      expect(res.status).toBe(200);
    };
    const draftFor = async (text: string, email?: string) => {
      const said = harness.sandbox.visitorSays({ text, ...(email ? { email } : {}) });
      await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
      reads.length = 0;
      return { said, outcome: (await harness.runNext()).outcome };
    };
    return { ...harness, reads, crm, draftFor };
  }

  it("a segment and data the CRM set on the visitor's profile route the conversation", async () => {
    const { sandbox, services, reads, crm, draftFor } = await withVisitorRules();
    sandbox.visitorSays({ text: "hello", email: "vip@example.com" });
    await crm({ email: "vip@example.com", add_segments: ["vip"], data: { plan: "pro" } });

    const { said, outcome } = await draftFor("Can I return shoes?", "vip@example.com");
    expect(outcome).toEqual({ status: "done", outcome: "note" });
    const conversation = sandbox.state.conversations.get(said.sessionId);
    expect(conversation?.assigned).toEqual({ user_id: "5b1e2c1a-0c6f-4d5e-9a4e-0d1f2a3b4c5d" });
    expect(conversation?.meta.segments).toEqual(["pro"]); // the conversation had none of its own
    const runs = await services.store.listTriageRuns({ sessionId: said.sessionId });
    expect(runs.map((r) => [r.phase, r.rules])).toEqual(
      expect.arrayContaining([
        ["before", ["vip visitors"]],
        ["after", ["pro plan refunds"]],
      ]),
    );
    // One read of the profile and one of its data, shared by both phases of the job.
    expect(reads.sort()).toEqual(["data", "profile"]);
  });

  it("finds the profile by the conversation's email when Crisp did not link one", async () => {
    const { sandbox, reads, crm, enqueue, runNext } = await withVisitorRules();
    sandbox.visitorSays({ text: "hello", email: "vip@example.com" });
    await crm({ email: "vip@example.com", add_segments: ["vip"] });
    const said = sandbox.visitorSays({ text: "Where is my order?", email: "vip@example.com" });
    const conversation = sandbox.state.conversations.get(said.sessionId);
    if (conversation) delete conversation.people_id;
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    reads.length = 0;
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "note" });
    expect(conversation?.assigned).toEqual({ user_id: "5b1e2c1a-0c6f-4d5e-9a4e-0d1f2a3b4c5d" });
    expect(reads.sort()).toEqual(["data", "profiles"]); // the search returns the segments
  });

  it("reads no profile when no rule gets that far, and none for a visitor without one", async () => {
    const { sandbox, services, reads, crm, draftFor } = await withVisitorRules();
    sandbox.visitorSays({ text: "hello", email: "vip@example.com" });
    await crm({ email: "vip@example.com", add_segments: ["vip"] });
    expect((await draftFor("casino bonus", "vip@example.com")).outcome).toEqual({
      status: "skipped",
      outcome: "triage: spam",
    });
    expect(reads).toEqual([]);

    const anonymous = await draftFor("Can I return shoes?");
    expect(anonymous.outcome).toEqual({ status: "done", outcome: "note" });
    expect(reads).toEqual([]);
    expect(await services.store.listTriageRuns({ sessionId: anonymous.said.sessionId })).toEqual([]);
  });

  it("a profile Crisp cannot read matches no visitor rule and does not block the draft", async () => {
    const { sandbox, services, crm, draftFor } = await withVisitorRules({ CRISP_MAX_RETRIES: "0" });
    sandbox.visitorSays({ text: "hello", email: "vip@example.com" });
    await crm({ email: "vip@example.com", add_segments: ["vip"], data: { plan: "pro" } });
    sandbox.faults.script.push({ method: "GET", path: "/people/", fault: "500", times: 20 });
    const { said, outcome } = await draftFor("Can I return shoes?", "vip@example.com");
    expect(outcome).toEqual({ status: "done", outcome: "note" });
    expect(sandbox.state.conversations.get(said.sessionId)?.assigned).toBeFalsy();
    expect(await services.store.listTriageRuns({ sessionId: said.sessionId })).toEqual([]);
  });
});
