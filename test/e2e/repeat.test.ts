import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { operatorSide, startDemo, until } from "../helpers.ts";

/**
 * A follow-up often gets the same article, so the same draft: the customer must not read
 * the same reply twice. Such a draft is flagged, stays a note, and /approve refuses it.
 */

const ANSWER =
  "You can send any item back within 30 days for a full refund. Pack it in its box and we email you a prepaid label.";

async function start(env: Record<string, string> = {}) {
  const kbDir = mkdtempSync(join(tmpdir(), "quill-repeat-kb-"));
  onTestFinished(() => rmSync(kbDir, { recursive: true, force: true }));
  writeFileSync(
    join(kbDir, "returns.md"),
    [
      "---",
      "id: returns",
      "intent: returns",
      "summary: returning an item",
      "questions: [can I return my shoes, how do I send an item back, return policy]",
      "---",
      "# Returns",
      "",
      "## Answer",
      ANSWER,
    ].join("\n"),
  );
  const { sandbox } = await startDemo({ KB_DIR: kbDir, ...env });
  const { sessionId } = sandbox.visitorSays({ text: "Can I return my shoes?" });
  return { sandbox, sessionId, chat: operatorSide(sandbox, sessionId) };
}

describe("a draft the customer already received", () => {
  it("is flagged in the note, and /approve refuses to send it a second time", async () => {
    const { sandbox, sessionId, chat } = await start();
    await until(() => chat.notes().length > 0);
    sandbox.operatorSays({ sessionId, text: "/approve", type: "note" });
    await until(() => chat.replies().length > 0);
    expect(chat.replies()).toEqual([ANSWER]);

    sandbox.visitorSays({ sessionId, text: "Thanks. So how do I return my shoes? The order is 77120." });
    const repeated = await until(() => chat.notes().find((n) => n.includes("⚠️ repeat:")));
    expect(repeated).toContain("⚠️ repeat: the customer already received this reply in this conversation");

    sandbox.operatorSays({ sessionId, text: "/approve", type: "note" });
    await until(() =>
      chat
        .notes()
        .some((n) =>
          n.includes("the customer already received this reply in this conversation; write a new one"),
        ),
    );
    await sandbox.flushWebhooks();
    expect(chat.replies()).toEqual([ANSWER]);

    sandbox.operatorSays({
      sessionId,
      text: "/send Thanks! I have sent the label for order 77120 to your email.",
      type: "note",
    });
    await until(() => chat.replies().length > 1);
    expect(chat.replies()[1]).toBe("Thanks! I have sent the label for order 77120 to your email.");
  });

  it("is not auto-sent twice: the second one waits as a note, the disclosure line notwithstanding", async () => {
    const { sandbox, sessionId, chat } = await start({
      REPLY_MODE: "auto",
      AUTO_SEND_INTENTS: "returns",
      AUTO_SEND_MIN_CONFIDENCE: "0.5",
    });
    await until(() => chat.replies().length > 0);
    expect(chat.replies()[0]?.startsWith(ANSWER)).toBe(true);

    sandbox.visitorSays({ sessionId, text: "Sorry, how do I return my shoes again?" });
    const note = await until(() => chat.notes().find((n) => n.includes("⚠️ repeat:")));
    expect(note).toContain("💬 Suggested reply");
    await sandbox.flushWebhooks();
    expect(chat.replies()).toHaveLength(1);
  });
});
