import { describe, expect, it } from "vitest";
import { answer, setup } from "./harness.ts";

/**
 * The Crisp requests one draft costs (Crisp's daily quota is per plugin token): the re-check
 * before a note reads the conversation only, unless its preview shows a newer message.
 */

type Sandbox = Awaited<ReturnType<typeof setup>>["sandbox"];

async function draftWith(
  env: Record<string, string>,
  during?: (sandbox: Sandbox, sessionId: string) => void,
) {
  let sessionId = "";
  const harness = await setup(env, async () => {
    during?.(harness.sandbox, sessionId);
    return answer();
  });
  const said = harness.sandbox.visitorSays({ text: "Can I return shoes?" });
  sessionId = said.sessionId;
  await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
  const before = harness.sandbox.requests.length;
  const { outcome } = await harness.runNext();
  const calls = harness.sandbox.requests
    .slice(before)
    .map((r) => `${r.method} ${r.path.replace(/^.*\/conversation\/[^/]+/, "")}`);
  return { outcome, calls, harness, sessionId };
}

describe("Crisp calls per draft", () => {
  it("a note: typing, the context (conversation and messages), one re-check read, the post, typing off", async () => {
    const { outcome, calls } = await draftWith({});
    expect(outcome).toEqual({ status: "done", outcome: "note" });
    expect(calls.sort()).toEqual(
      ["PATCH /compose", "GET ", "GET /messages", "GET ", "POST /message", "PATCH /compose"].sort(),
    );
  });

  it("the customer wrote again while drafting: the preview shows it, the messages are read, nothing posted", async () => {
    const { outcome, calls, harness, sessionId } = await draftWith({}, (sandbox, session) =>
      sandbox.visitorSays({ sessionId: session, text: "Actually, never mind." }),
    );
    expect(outcome.status).toBe("superseded");
    expect(calls.filter((c) => c === "GET /messages")).toHaveLength(2);
    expect(calls).not.toContain("POST /message");
    expect(harness.sandbox.messagesOf(sessionId).filter((m) => m.type === "note")).toEqual([]);
  });

  it("an operator answered while drafting: skipped, no note", async () => {
    const { outcome, calls, harness, sessionId } = await draftWith({}, (sandbox, session) =>
      sandbox.operatorSays({ sessionId: session, text: "Yes, from your orders page." }),
    );
    expect(outcome).toMatchObject({ status: "skipped" });
    expect(calls).not.toContain("POST /message");
    expect(harness.sandbox.messagesOf(sessionId).filter((m) => m.type === "note")).toEqual([]);
  });

  it("a reply sent to the customer always re-reads the messages before it goes", async () => {
    const { outcome, calls } = await draftWith({ REPLY_MODE: "auto", AUTO_SEND_INTENTS: "returns" });
    expect(outcome).toEqual({ status: "done", outcome: "reply" });
    expect(calls.filter((c) => c === "GET /messages")).toHaveLength(2);
  });
});
