import { describe, expect, it } from "vitest";
import type { DraftEngine, DraftRequest } from "../../src/llm/types.ts";
import { silentLogger } from "../../src/log.ts";
import type { QuillHandle } from "../../src/runtime/node.ts";
import { operatorSide, startDemo, until } from "../helpers.ts";

/** Operators act on drafts with private notes in the Crisp inbox (here, the sandbox). */

const seen: DraftRequest[] = [];
/** Conversations whose text contains "hold on" are drafted only once the test calls release(). */
let release = () => {};
let held = Promise.resolve();
const llm: DraftEngine = {
  async draft(req) {
    seen.push(req);
    if (req.conversation.includes("hold on")) await held;
    const redraft = req.conversation.includes("Instructions from the operator");
    return {
      text: redraft ? "Short version: it ships today." : "Your parcel left our warehouse and ships today.",
      confidence: 0.7,
      intent: "shipping",
      needsHuman: false,
      citations: [],
      usage: { inputTokens: 100, outputTokens: 20, cachedInputTokens: 0 },
      model: "scripted",
      provider: "openai",
      attempts: [{ provider: "openai", model: "scripted", status: "ok", latencyMs: 1 }],
    };
  },
};

const start = () =>
  startDemo(
    {},
    {
      log: process.env.DEBUG_E2E
        ? {
            ...silentLogger,
            warn: console.warn,
            error: console.error,
            child() {
              return this;
            },
          }
        : silentLogger,
      llm,
    },
  );

async function withDraft() {
  const { quill, sandbox } = await start();
  const { sessionId } = sandbox.visitorSays({ text: "Where is my parcel?" });
  await until(() => sandbox.messagesOf(sessionId).some((m) => m.type === "note"));
  const { notes, replies } = operatorSide(sandbox, sessionId);
  return { quill, sandbox, sessionId, notes, replies };
}

describe("operator loop", () => {
  it("/approve sends the draft verbatim once, even when the hook is delivered twice, and records the outcome", async () => {
    const { quill, sandbox, sessionId, notes, replies } = await withDraft();
    sandbox.faults.duplicateRate = 1;
    sandbox.operatorSays({ sessionId, text: "/approve", type: "note" });
    await until(() => notes().some((n) => n.startsWith("✅")));
    await sandbox.flushWebhooks();
    expect(replies()).toEqual(["Your parcel left our warehouse and ships today."]);
    expect(notes().filter((n) => n.startsWith("✅"))).toEqual([
      "✅ quill: the draft was sent to the customer.",
    ]);

    sandbox.faults.duplicateRate = 0;
    sandbox.operatorSays({ sessionId, text: "/approve", type: "note" });
    await until(() => notes().some((n) => n.includes("already sent")));
    expect(replies()).toHaveLength(1);

    const [draft] = await quill.services.store.listDrafts({});
    expect(draft).toMatchObject({ status: "sent", outcome: "approved" });
  });

  it("ignores commands not written as an operator's private note", async () => {
    const { quill, sandbox, sessionId, notes, replies } = await withDraft();
    sandbox.visitorSays({ sessionId, text: "/approve" });
    sandbox.operatorSays({ sessionId, text: "/approve" }); // a visible reply, not a note
    await sandbox.flushWebhooks();
    await new Promise((r) => setTimeout(r, 300));
    expect(replies()).toEqual(["/approve"]);
    expect(notes().filter((n) => n.startsWith("✅"))).toEqual([]);
    const [draft] = await quill.services.store.listDrafts({});
    expect(draft?.status).toBe("posted");
  });

  it("answers a command with a clear note when there is no draft yet", async () => {
    held = new Promise((resolve) => {
      release = resolve;
    });
    const { sandbox } = await start();
    const { sessionId } = sandbox.visitorSays({ text: "hello, hold on" });
    // The draft is still being written: /approve must say so rather than wait for it.
    await until(() => seen.some((r) => r.conversation.includes("hold on")));
    sandbox.operatorSays({ sessionId, text: "/approve", type: "note" });
    await until(() =>
      sandbox
        .messagesOf(sessionId)
        .some((m) => m.type === "note" && String(m.content) === "⚠️ quill: there is no draft to approve."),
    );
    release();
    expect(sandbox.messagesOf(sessionId).filter((m) => m.type === "text" && m.from === "operator")).toEqual(
      [],
    );
  });

  it("/send sends the operator's text and records it as an edit", async () => {
    const { quill, sandbox, sessionId, notes, replies } = await withDraft();
    sandbox.operatorSays({
      sessionId,
      text: "/send Your parcel ships today, tracking follows by email.",
      type: "note",
    });
    await until(() => notes().some((n) => n.startsWith("✅")));
    expect(replies()).toEqual(["Your parcel ships today, tracking follows by email."]);
    const [draft] = await quill.services.store.listDrafts({});
    const [feedback] = await quill.services.store.feedbackForDraft(draft?.id ?? "");
    expect(feedback).toMatchObject({
      kind: "sent_edited",
      finalText: "Your parcel ships today, tracking follows by email.",
    });
    expect(feedback?.similarity).toBeGreaterThan(0.3);
    expect(feedback?.similarity).toBeLessThan(1);
  });

  it("/redraft drafts again with the operator's instructions; /reject records the reason; /quill help lists commands", async () => {
    const { quill, sandbox, sessionId, notes } = await withDraft();
    sandbox.operatorSays({ sessionId, text: "/redraft shorter please", type: "note" });
    await until(() => notes().some((n) => n.includes("Short version")));
    expect(seen.at(-1)?.conversation).toContain(
      "Instructions from the operator for this draft: shorter please",
    );

    sandbox.operatorSays({ sessionId, text: "/reject too vague", type: "note" });
    await until(() => notes().some((n) => n.startsWith("👎")));
    const drafts = await quill.services.store.listDrafts({ sessionId });
    expect(drafts.map((d) => [d.text, d.status])).toEqual([
      ["Short version: it ships today.", "rejected"],
      ["Your parcel left our warehouse and ships today.", "discarded"],
    ]);

    sandbox.operatorSays({ sessionId, text: "/quill help", type: "note" });
    await until(() => notes().some((n) => n.startsWith("quill commands")));
    sandbox.operatorSays({ sessionId, text: "/approve", type: "note" });
    await until(() => notes().some((n) => n.includes("the latest draft was rejected")));
  });

  it("records an operator's edited reply with its similarity, and an unrelated reply as ignored", async () => {
    const feedbackOf = async (quill: QuillHandle, sessionId: string) =>
      until(async () => {
        const [draft] = await quill.services.store.listDrafts({ sessionId });
        return (await quill.services.store.feedbackForDraft(draft?.id ?? ""))[0];
      });
    const edited = await withDraft();
    const text = "Your parcel left our warehouse yesterday and ships today by courier.";
    edited.sandbox.operatorSays({ sessionId: edited.sessionId, text });
    const feedback = await feedbackOf(edited.quill, edited.sessionId);
    expect(feedback).toMatchObject({ kind: "edited", finalText: text, operatorName: "Sam" });
    expect(feedback.similarity).toBeCloseTo(0.691, 3);
    expect(feedback.delayMs).toBeGreaterThanOrEqual(0);
    const [draft] = await edited.quill.services.store.listDrafts({ sessionId: edited.sessionId });
    expect(draft?.outcome).toBe("edited");

    const other = edited.sandbox.visitorSays({ text: "Is my parcel insured?" });
    await until(() => edited.sandbox.messagesOf(other.sessionId).some((m) => m.type === "note"));
    edited.sandbox.operatorSays({
      sessionId: other.sessionId,
      text: "Hi Ada! Could you send me your order number please?",
    });
    const ignored = await feedbackOf(edited.quill, other.sessionId);
    expect(ignored).toMatchObject({ kind: "ignored" });
    expect(ignored.similarity).toBeLessThan(0.5);
  });

  it("answers a command in a resolved conversation with an error note and sends nothing", async () => {
    const { sandbox, sessionId, notes, replies } = await withDraft();
    sandbox.setState(sessionId, "resolved");
    sandbox.operatorSays({ sessionId, text: "/approve", type: "note" });
    await until(() => notes().includes("⚠️ quill: the conversation is resolved."));
    expect(replies()).toEqual([]);
  });

  it("records an operator's own reply against the draft, and a conversation resolved with no reply", async () => {
    const first = await withDraft();
    first.sandbox.operatorSays({
      sessionId: first.sessionId,
      text: "Your parcel left our warehouse and ships today!",
    });
    const feedback = await until(async () => {
      const [draft] = await first.quill.services.store.listDrafts({});
      const rows = await first.quill.services.store.feedbackForDraft(draft?.id ?? "");
      return rows[0];
    });
    expect(feedback).toMatchObject({ kind: "sent_as_is" });
    expect(feedback.delayMs).toBeGreaterThanOrEqual(0);

    const other = first.sandbox.visitorSays({ text: "Do you ship to Canada?" });
    await until(() => first.sandbox.messagesOf(other.sessionId).some((m) => m.type === "note"));
    first.sandbox.setState(other.sessionId, "resolved");
    const outcome = await until(
      async () =>
        (await first.quill.services.store.listDrafts({ sessionId: other.sessionId }))[0]?.outcome ??
        undefined,
    );
    expect(outcome).toBe("resolved_no_reply");
  });
});
