import { describe, expect, it } from "vitest";
import { operatorSide, startDemo, until } from "../helpers.ts";

/**
 * Auto-send answers questions alone; money and goods (a refund, a waived fee, credit, a
 * replacement) wait for a person even when the article offers them, and /approve sends them.
 */

describe("auto-send and what a reply gives away", () => {
  it("holds a refund back as a note that says why, sends it on /approve, and still answers plain questions alone", async () => {
    const { sandbox } = await startDemo({
      REPLY_MODE: "auto",
      AUTO_SEND_INTENTS: "product_defect,storewide_query",
      AUTO_SEND_MIN_CONFIDENCE: "0.5",
    });
    const refund = sandbox.visitorSays({ text: "My boots arrived damaged, I want a refund" });
    const chat = operatorSide(sandbox, refund.sessionId);
    const note = await until(() => chat.notes().find((n) => n.includes("⚠️ commitment:")));
    expect(note).toContain("⚠️ commitment: the reply undertakes to give refund");
    await sandbox.flushWebhooks();
    expect(chat.replies()).toEqual([]);

    sandbox.operatorSays({ sessionId: refund.sessionId, text: "/approve", type: "note" });
    await until(() => chat.replies().length > 0);
    expect(chat.replies()[0]).toContain("I can get a refund started for you");

    const hours = sandbox.visitorSays({ text: "What time does your store open?" });
    const plain = operatorSide(sandbox, hours.sessionId);
    await until(() => plain.replies().length > 0);
    expect(plain.replies()[0]).toContain("Opening hours vary by location");
  });
});
