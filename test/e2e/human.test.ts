import { describe, expect, it } from "vitest";
import type { DraftEngine } from "../../src/llm/types.ts";
import { startDemo, until } from "../helpers.ts";

/** quill never talks over a human: an operator's answer, /quill off and /quill on, through real web hooks. */

const llm: DraftEngine = {
  async draft() {
    return {
      text: "Your parcel left our warehouse today.",
      confidence: 0.95,
      intent: "shipping",
      needsHuman: false,
      citations: [],
      usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 },
      model: "scripted",
      provider: "openai",
      attempts: [{ provider: "openai", model: "scripted", status: "ok", latencyMs: 1 }],
    };
  },
};

async function start() {
  const { quill, sandbox } = await startDemo(
    {
      REPLY_MODE: "auto",
      AUTO_SEND_INTENTS: "shipping",
      AUTO_SEND_MIN_CONFIDENCE: "0.5",
      AUTO_SEND_DISCLOSURE: "off",
    },
    { llm },
  );
  return Object.assign(sandbox, { store: quill.services.store });
}

describe("quill never talks over a human", () => {
  it("after an operator answers, drafts are notes; /quill on lets auto-send answer again", async () => {
    const sandbox = await start();
    const { sessionId } = sandbox.visitorSays({ text: "Where is my parcel?" });
    const of = (type: string) => () =>
      sandbox.messagesOf(sessionId).filter((m) => m.from === "operator" && m.type === type);
    const replies = of("text");
    const notes = of("note");
    await until(() => replies().length === 1); // quill answers on its own at first
    sandbox.operatorSays({ sessionId, text: "Hi, Ada here, I'm looking into it." });
    sandbox.visitorSays({ sessionId, text: "Thanks, any news?" });
    await until(() => notes().length === 1);
    expect(String(notes()[0]?.content)).toContain("💬 Suggested reply");
    expect(replies().map((m) => m.content)).toEqual([
      "Your parcel left our warehouse today.",
      "Hi, Ada here, I'm looking into it.",
    ]);

    sandbox.operatorSays({ sessionId, text: "/quill on", type: "note" });
    await until(() => notes().some((n) => String(n.content).includes("on again in this conversation")));
    sandbox.visitorSays({ sessionId, text: "When will it arrive?" });
    await until(() => replies().length === 3);
  });

  it("/quill off stops drafts until /quill on", async () => {
    const sandbox = await start();
    const { sessionId } = sandbox.visitorSays({ text: "Hello" });
    const notes = () =>
      sandbox
        .messagesOf(sessionId)
        .filter((m) => m.type === "note" && m.from === "operator")
        .map((m) => String(m.content));
    const replies = () =>
      sandbox.messagesOf(sessionId).filter((m) => m.type === "text" && m.from === "operator");
    await until(() => replies().length === 1);
    sandbox.operatorSays({ sessionId, text: "/quill off", type: "note" });
    await until(() => notes().some((n) => n.includes("quill: off in this conversation")));
    expect(sandbox.state.conversations.get(sessionId)?.meta.data).toMatchObject({ quill_paused: "off" });
    sandbox.visitorSays({ sessionId, text: "Where is my parcel?" });
    await new Promise((r) => setTimeout(r, 500));
    await sandbox.flushWebhooks();
    expect(replies()).toHaveLength(1);
    expect(notes().filter((n) => n.includes("Suggested reply"))).toEqual([]);

    sandbox.operatorSays({ sessionId, text: "/quill on", type: "note" });
    await until(() => notes().some((n) => n.includes("on again")));
    expect(sandbox.state.conversations.get(sessionId)?.meta.data?.quill_paused).toBe("");
    sandbox.visitorSays({ sessionId, text: "Hello again, where is it?" });
    await until(() => replies().length === 2);
  });

  it("a resolved conversation starts afresh: the operator's earlier answer no longer keeps auto-send away", async () => {
    const sandbox = await start();
    const { sessionId } = sandbox.visitorSays({ text: "Where is my parcel?" });
    const of = (type: string) => () =>
      sandbox.messagesOf(sessionId).filter((m) => m.from === "operator" && m.type === type);
    const replies = of("text");
    const notes = of("note");
    await until(() => replies().length === 1);
    sandbox.operatorSays({ sessionId, text: "Ada here: it ships tomorrow." });
    sandbox.setState(sessionId, "resolved");
    await until(
      async () => (await sandbox.store.conversationState(sandbox.website.website_id, sessionId))?.resolvedAt,
    );
    // Crisp's clock is in milliseconds too: the next message must come after the resolve.
    await new Promise((r) => setTimeout(r, 5));
    sandbox.visitorSays({ sessionId, text: "One more question: where is my parcel now?" });
    await until(() => replies().length === 3);
    expect(notes().filter((n) => String(n.content).includes("Suggested reply"))).toEqual([]);
  });

  it("/quill off is kept in the store too: a conversation whose meta data lost it stays off", async () => {
    const sandbox = await start();
    const { sessionId } = sandbox.visitorSays({ text: "Hello" });
    const replies = () =>
      sandbox.messagesOf(sessionId).filter((m) => m.type === "text" && m.from === "operator");
    const notes = () =>
      sandbox
        .messagesOf(sessionId)
        .filter((m) => m.type === "note" && m.from === "operator")
        .map((m) => String(m.content));
    await until(() => replies().length === 1);
    sandbox.operatorSays({ sessionId, text: "/quill off", type: "note" });
    await until(() => notes().some((n) => n.includes("quill: off in this conversation")));
    const websiteId = sandbox.website.website_id;
    expect(await sandbox.store.conversationState(websiteId, sessionId)).toMatchObject({ paused: true });
    expect((await sandbox.store.pausedConversations(websiteId)).map((c) => c.sessionId)).toEqual([sessionId]);
    // Someone (an integration, another tool) replaces the conversation's meta data.
    const conversation = sandbox.state.conversations.get(sessionId);
    if (conversation) conversation.meta.data = {};
    sandbox.visitorSays({ sessionId, text: "Where is my parcel?" });
    await new Promise((r) => setTimeout(r, 500));
    await sandbox.flushWebhooks();
    expect(replies()).toHaveLength(1);
    expect(notes().filter((n) => n.includes("Suggested reply"))).toEqual([]);
  });
});
