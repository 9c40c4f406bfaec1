import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { DEFAULT_DISCLOSURE } from "../../src/config.ts";
import type { DraftEngine } from "../../src/llm/types.ts";
import { operatorSide, startDemo, until } from "../helpers.ts";

/**
 * An article's internal guidance is for operators: it appears in the note, apart from the
 * suggested reply, and never reaches the customer — not by auto-send, not by /approve,
 * whether the drafter is offline or a model that quotes it.
 */

const GUIDANCE =
  "Ask the customer for their order ID, then check the Returns tool before promising anything.";
const ARTICLES = {
  "returns.md": [
    "---",
    "id: returns",
    "intent: returns",
    "summary: returning an item",
    "questions: [can I return my shoes, how do I send an item back, return policy]",
    "---",
    "# Returns",
    "",
    "## Answer",
    "You can send any item back for a full exchange or store return within our returns window. Pack it in its box. We email a label.",
    "",
    "## Guidance",
    GUIDANCE,
  ].join("\n"),
  // A team's article whose "answer" is really written for agents.
  "exchanges.md": [
    "---",
    "id: exchanges",
    "intent: exchanges",
    "summary: exchanging an item for another colour",
    "questions: [can I exchange these for another colour, swap for a different colour]",
    "---",
    "# Exchanges",
    "",
    "## Answer",
    "Confirm the customer's membership level with [Pull Up Account] before offering an exchange.",
  ].join("\n"),
};

/** A model that does what a careless prompt lets it: it quotes the guidance to the customer. */
const quotingModel: DraftEngine = {
  async draft() {
    return {
      text: `Sure! ${GUIDANCE}`,
      confidence: 0.95,
      intent: "returns",
      needsHuman: false,
      citations: ["returns"],
      usage: { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 },
      model: "scripted",
      provider: "openai",
      attempts: [{ provider: "openai", model: "scripted", status: "ok", latencyMs: 1 }],
    };
  },
};

async function start(llm?: DraftEngine) {
  const kbDir = mkdtempSync(join(tmpdir(), "quill-guidance-kb-"));
  onTestFinished(() => rmSync(kbDir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(ARTICLES)) writeFileSync(join(kbDir, name), content);
  const { quill, sandbox } = await startDemo(
    {
      KB_DIR: kbDir,
      REPLY_MODE: "auto",
      AUTO_SEND_INTENTS: "returns,exchanges",
      AUTO_SEND_MIN_CONFIDENCE: "0.5",
    },
    llm ? { llm } : {},
  );
  const ask = (text: string) => {
    const { sessionId } = sandbox.visitorSays({ text });
    return { sessionId, ...operatorSide(sandbox, sessionId) };
  };
  return { quill, sandbox, ask };
}

const agentText = /the customer|Pull Up Account|Returns tool|Guidance/;

describe("internal guidance never reaches the customer", () => {
  it("auto-sends the customer answer only; the guidance stays in quill's records", async () => {
    const { ask } = await start();
    const chat = ask("can I return my shoes?");
    const [reply] = await until(() => chat.replies().length > 0 && chat.replies());
    expect(reply).toBe(
      `You can send any item back for a full exchange or store return within our returns window. Pack it in its box. We email a label.\n\n${DEFAULT_DISCLOSURE}`,
    );
    expect(reply).not.toMatch(agentText);
  });

  it("an article whose answer is written for agents is flagged, kept a note, and /approve refuses it", async () => {
    const { sandbox, ask } = await start();
    const chat = ask("can I exchange these for another colour?");
    const [note] = await until(() => chat.notes().length > 0 && chat.notes());
    expect(note).toContain("💬 Suggested reply (/approve sends exactly this):");
    expect(note).toMatch(/⚠️ guidance: the reply reads like internal guidance/);

    sandbox.operatorSays({ sessionId: chat.sessionId, text: "/approve", type: "note" });
    await until(() => chat.notes().some((n) => n.includes("reads like internal guidance, not a reply")));
    sandbox.operatorSays({
      sessionId: chat.sessionId,
      text: "/send Happy to swap them, which colour?",
      type: "note",
    });
    await until(() => chat.replies().length > 0);
    expect(chat.replies()).toEqual(["Happy to swap them, which colour?"]);
  });

  it("/redraft with the offline drafter follows 'shorter' and says plainly what it cannot do", async () => {
    const { sandbox, ask } = await start();
    const chat = ask("can I exchange these for another colour?");
    await until(() => chat.notes().length > 0);
    // The first draft is flagged (a note), so the conversation waits for the operator.
    sandbox.operatorSays({ sessionId: chat.sessionId, text: "/redraft in French, friendlier", type: "note" });
    const redrafted = await until(() => chat.notes().find((n) => n.includes("ℹ️")));
    expect(redrafted).toContain(
      "ℹ️ The offline drafter cannot translate or follow “in French, friendlier”: it only answers from the knowledge base.",
    );
  });

  it("a model quoting the guidance is flagged and never auto-sent; the note shows the guidance apart", async () => {
    const { sandbox, ask } = await start(quotingModel);
    const chat = ask("how do I send an item back?");
    const [note] = await until(() => chat.notes().length > 0 && chat.notes());
    expect(note).toContain("⚠️ guidance: the reply repeats an article's internal guidance");
    const guidanceAt =
      note?.indexOf("🔒 Guidance for you (never sent to the customer), from “Returns”:") ?? -1;
    expect(guidanceAt).toBeGreaterThan(note?.indexOf("💬 Suggested reply") ?? Number.POSITIVE_INFINITY);
    expect(note?.slice(guidanceAt)).toContain(GUIDANCE);

    sandbox.operatorSays({ sessionId: chat.sessionId, text: "/approve", type: "note" });
    await until(() => chat.notes().some((n) => n.includes("reads like internal guidance, not a reply")));
    await sandbox.flushWebhooks();
    expect(chat.replies()).toEqual([]);
  });
});
