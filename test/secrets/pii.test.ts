import { describe, expect, it } from "vitest";
import { answer, setup } from "../drafting/harness.ts";

/** PII never reaches the LLM with the default configuration; the operator still sees it. */

describe("PII redaction before the LLM (on by default)", () => {
  it("replaces emails, phone numbers, IBANs and card numbers, keeps order numbers, restores them in the draft", async () => {
    const { sandbox, requests, enqueue, runNext } = await setup({}, async () =>
      answer({ text: "We will call you at [phone 1] and refund card [card 1]." }),
    );
    const message = [
      "Hi, I'm ann.lee@example.co.uk, call me on +44 20 7946 0958 or 0033 6 12 34 56 78.",
      "Refund to IBAN GB82 WEST 1234 5698 7654 32 or my card 4111-1111-1111-1111.",
      "Order 48213, tracking 1234 5678 9012 3456 (not a card), invoice 2026-11-0042.",
    ].join(" ");
    const said = sandbox.visitorSays({ text: message });
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    await runNext();
    const sent = requests[0]?.conversation ?? "";
    for (const secret of [
      "ann.lee@example.co.uk",
      "7946 0958",
      "6 12 34 56 78",
      "GB82 WEST",
      "4111-1111-1111-1111",
    ]) {
      expect(sent).not.toContain(secret);
    }
    expect(sent).toContain("[email 1]");
    expect(sent).toContain("[phone 1]");
    expect(sent).toContain("[phone 2]");
    expect(sent).toContain("[iban 1]");
    expect(sent).toContain("[card 1]");
    // Numbers that fail the Luhn check, and short ones, are not personal data.
    expect(sent).toContain("Order 48213");
    expect(sent).toContain("1234 5678 9012 3456");
    expect(sent).toContain("2026-11-0042");
    const note = sandbox.messagesOf(said.sessionId).find((m) => m.type === "note");
    expect(String(note?.content)).toContain(
      "We will call you at +44 20 7946 0958 and refund card 4111-1111-1111-1111.",
    );
  });

  it("PII_REDACTION=false sends the text as written", async () => {
    const { sandbox, requests, enqueue, runNext } = await setup({ PII_REDACTION: "false" });
    const said = sandbox.visitorSays({ text: "Mail me at bo@example.com" });
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    await runNext();
    expect(requests[0]?.conversation).toContain("bo@example.com");
  });
});
