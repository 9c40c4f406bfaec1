import { describe, expect, it } from "vitest";
import { answer, setup } from "../drafting/harness.ts";

/** A payload no attempt can read is a dead letter at once, with its reason; nothing runs. */
describe("job payloads", () => {
  const enqueueCommand = async (instructions: string | undefined) => {
    const harness = await setup({}, async () => answer());
    const session = harness.sandbox.visitorSays({ text: "Can I return shoes?" });
    const { job } = await harness.services.store.enqueueJob({
      websiteId: harness.sandbox.website.website_id,
      sessionId: session.sessionId,
      fingerprint: 42,
      messageAt: 1,
      trigger: "command",
      kind: "command",
      commandKey: "command",
      instructions,
      runAfter: 0,
    });
    const leased = await harness.services.store.leaseJob(job.id, "t", 60_000);
    if (!leased) throw new Error("no job");
    const outcome = await harness.services.pipeline.run(leased, "t", new AbortController().signal);
    return { harness, job, outcome };
  };

  it.each([
    ["not JSON", "{name:", "invalid command payload: the payload is not JSON"],
    ["an unknown command", JSON.stringify({ name: "dance", arg: "" }), "invalid command payload: name: "],
    ["no payload", undefined, "invalid command payload: the job has no payload"],
  ])("%s: dead, never retried, reason recorded", async (_, instructions, reason) => {
    const { harness, job, outcome } = await enqueueCommand(instructions);
    expect(outcome).toMatchObject({ status: "failed", outcome: "invalid_payload" });
    expect(outcome.status === "failed" && outcome.error.startsWith(reason)).toBe(true);
    const stored = await harness.services.store.getJob(job.id);
    expect(stored).toMatchObject({ status: "dead", attempts: 1, outcome: "invalid_payload" });
    expect(stored?.lastError).toContain("invalid command payload");
    // Nothing was posted to the conversation.
    expect(harness.sandbox.state.messages.get(job.sessionId)?.filter((m) => m.type === "note") ?? []).toEqual(
      [],
    );
  });
});
