import { describe, expect, it } from "vitest";
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
