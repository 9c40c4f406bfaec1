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

  it("redacts the visitor's data, nested strings and numbers included, and restores it in the note", async () => {
    const { sandbox, requests, enqueue, runNext } = await setup({}, async () =>
      answer({ text: "On file: [phone 1], [card 1], [email 1], [iban 1], [card 2]." }),
    );
    const said = sandbox.visitorSays({ text: "Is my payment method on file?", nickname: "Bo" });
    const conversation = sandbox.state.conversations.get(said.sessionId);
    if (!conversation) throw new Error("no conversation");
    conversation.meta.data = {
      plan: "pro",
      contact: { mobile: "+33 6 12 34 56 78", backups: ["billing: bo.dupont@example.fr"] },
      payment: [{ card: "4111 1111 1111 1111", iban: "GB82 WEST 1234 5698 7654 32" }],
      card_digits: 5500000000000004,
      order: 48213,
    };
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    await runNext();
    const sent = JSON.stringify(requests[0]);
    for (const secret of [
      "12 34 56 78",
      "bo.dupont@example.fr",
      "4111 1111 1111 1111",
      "GB82 WEST",
      "5500000000000004",
    ]) {
      expect(sent).not.toContain(secret);
    }
    expect(requests[0]?.conversation).toContain(
      'data: {"plan":"pro","contact":{"mobile":"[phone 1]","backups":["billing: [email 1]"]},"payment":[{"card":"[card 1]","iban":"[iban 1]"}],"card_digits":"[card 2]","order":48213}',
    );
    const note = sandbox.messagesOf(said.sessionId).find((m) => m.type === "note");
    expect(String(note?.content)).toContain(
      "On file: +33 6 12 34 56 78, 4111 1111 1111 1111, bo.dupont@example.fr, GB82 WEST 1234 5698 7654 32, 5500000000000004.",
    );
  });

  it("redacts an operator's /redraft instructions and restores them in the new draft", async () => {
    const { sandbox, services, requests, enqueue, runNext } = await setup({}, async (req) =>
      answer({
        text: req.conversation.includes("Instructions from the operator")
          ? "We will call you on [phone 1] and refund card [card 1] to [email 1]."
          : "You can start a return from your orders page.",
      }),
    );
    const said = sandbox.visitorSays({ text: "I'd like a refund please." });
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    await runNext();
    const command = sandbox.operatorSays({
      sessionId: said.sessionId,
      type: "note",
      text: "/redraft say we call +44 20 7946 0958, refund card 4111-1111-1111-1111, receipt to ann@example.org",
    });
    await services.intake.enqueueCommand({
      websiteId: sandbox.website.website_id,
      sessionId: said.sessionId,
      sourceFingerprint: command.fingerprint,
      at: command.message.timestamp,
      payload: {
        name: "redraft",
        arg: "say we call +44 20 7946 0958, refund card 4111-1111-1111-1111, receipt to ann@example.org",
      },
      trigger: "command",
    });
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "command:redraft" });
    const redraft = requests[1];
    expect(redraft?.conversation).toContain(
      "Instructions from the operator for this draft: say we call [phone 1], refund card [card 1], receipt to [email 1]",
    );
    for (const secret of ["7946 0958", "4111-1111-1111-1111", "ann@example.org"]) {
      expect(JSON.stringify(redraft)).not.toContain(secret);
    }
    const notes = sandbox.messagesOf(said.sessionId).filter((m) => m.type === "note");
    expect(String(notes.at(-1)?.content)).toContain(
      "We will call you on +44 20 7946 0958 and refund card 4111-1111-1111-1111 to ann@example.org.",
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
