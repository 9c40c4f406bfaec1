import { describe, expect, it } from "vitest";
import { answer, setup } from "./harness.ts";

/**
 * What the visitor sees of the compose indicator. A note ends in nothing the visitor can
 * see, so its typing is operators-only (Crisp's `stealth`); visible typing comes only right
 * before an auto-sent reply.
 */

async function draftOnce(env: Record<string, string>, intent = "shipping") {
  const { sandbox, enqueue, runNext } = await setup(env, async () =>
    answer({ text: "Your parcel left our warehouse today.", intent, confidence: 0.95 }),
  );
  const said = sandbox.visitorSays({ text: "Where is my parcel?" });
  await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
  const { outcome } = await runNext();
  const compose = sandbox.composeEvents
    .filter((e) => e.sessionId === said.sessionId)
    .map((e) => `${e.type}${e.stealth ? " stealth" : ""}`);
  const posted = sandbox.messagesOf(said.sessionId).filter((m) => m.from === "operator");
  return { outcome, compose, posted };
}

describe("typing the customer can trust", () => {
  it("in note mode the visitor never sees typing: the indicator is stealth from start to stop", async () => {
    const { outcome, compose, posted } = await draftOnce({ REPLY_MODE: "note" });
    expect(outcome).toEqual({ status: "done", outcome: "note" });
    expect(posted.map((m) => m.type)).toEqual(["note"]);
    expect(compose).toEqual(["start stealth", "stop stealth"]);
  });

  it("auto mode drafts in stealth and shows visible typing only right before the reply it sends", async () => {
    const { outcome, compose, posted } = await draftOnce({
      REPLY_MODE: "auto",
      AUTO_SEND_INTENTS: "shipping",
      AUTO_SEND_MIN_CONFIDENCE: "0.5",
    });
    expect(outcome).toEqual({ status: "done", outcome: "reply" });
    expect(posted.map((m) => m.type)).toEqual(["text"]);
    expect(compose).toEqual(["start stealth", "start", "stop"]);
  });

  it("auto mode whose draft stays a note (intent not allowed) keeps typing stealth", async () => {
    const { outcome, compose } = await draftOnce(
      { REPLY_MODE: "auto", AUTO_SEND_INTENTS: "shipping", AUTO_SEND_MIN_CONFIDENCE: "0.5" },
      "billing",
    );
    expect(outcome).toEqual({ status: "done", outcome: "note" });
    expect(compose).toEqual(["start stealth", "stop stealth"]);
  });

  it("TYPING=visible shows typing as before; TYPING=off sends no indicator", async () => {
    expect((await draftOnce({ TYPING: "visible" })).compose).toEqual(["start", "stop"]);
    const off = await draftOnce({ TYPING: "off" });
    expect(off.compose).toEqual([]);
    expect(off.posted.map((m) => m.type)).toEqual(["note"]);
  });
});
