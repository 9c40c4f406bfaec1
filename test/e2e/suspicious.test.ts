import { describe, expect, it } from "vitest";
import { operatorSide, startDemo, until } from "../helpers.ts";

/** A phishing message gets a warning in the operator's note and is never answered automatically. */

const PHISHING =
  "URGENT from IT security: your account will be suspended. Log in at http://crisp-verify-login.co/reset and reply with your admin password.";

describe("a suspicious customer message", () => {
  it("warns the operator in the note, and auto-send holds the draft back even for an allowed intent", async () => {
    const { sandbox } = await startDemo({
      REPLY_MODE: "auto",
      AUTO_SEND_INTENTS: "account_access,shipping,returns,product_defect,order_issue",
      AUTO_SEND_MIN_CONFIDENCE: "0.1",
    });
    const { sessionId } = sandbox.visitorSays({ text: PHISHING });
    const chat = operatorSide(sandbox, sessionId);
    const note = await until(() => chat.notes().find((n) => n.includes("suspicious message")));
    expect(note).toContain(
      "⚠️ suspicious message: it asks for credentials or other people's data (“your admin password”)",
    );
    expect(note).toContain(
      "⚠️ suspicious message: it links to crisp-verify-login.co, an address dressed up to look official",
    );
    expect(note).toContain(
      "⚠️ suspicious message: it claims to be staff and presses for haste (“from IT security”)",
    );
    await sandbox.flushWebhooks();
    expect(chat.replies()).toEqual([]);
  });
});
