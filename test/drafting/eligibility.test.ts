import { describe, expect, it } from "vitest";
import { checkEligibility, type EligibilityMessage } from "../../src/drafting/eligibility.ts";

let clock = 1_000;
const msg = (from: "user" | "operator", fingerprint: number, type = "text"): EligibilityMessage => {
  clock += 1_000;
  return { type, from, fingerprint, timestamp: clock };
};

const base = { conversation: { state: "pending" }, skipSegments: [] as string[] };

describe("eligibility", () => {
  it("is eligible when the customer's message is the newest visible one", () => {
    const messages = [msg("user", 1), msg("operator", 2), msg("user", 3)];
    expect(checkEligibility({ ...base, messages, fingerprint: 3 })).toMatchObject({
      eligible: true,
      customerMessage: { fingerprint: 3 },
    });
  });

  it("ignores private notes and events when deciding who spoke last", () => {
    const messages = [msg("user", 1), msg("operator", 2, "note"), msg("operator", 3, "event")];
    expect(checkEligibility({ ...base, messages, fingerprint: 1 })).toMatchObject({ eligible: true });
  });

  it("is not eligible once an operator answered", () => {
    const messages = [msg("user", 1), msg("operator", 2)];
    expect(checkEligibility({ ...base, messages, fingerprint: 1 })).toMatchObject({
      eligible: false,
      reason: "operator_replied",
    });
  });

  it("reports a newer customer message so the caller drafts for it instead", () => {
    const messages = [msg("user", 1), msg("user", 2)];
    expect(checkEligibility({ ...base, messages, fingerprint: 1 })).toMatchObject({
      eligible: false,
      reason: "superseded",
      newestCustomerMessage: { from: "user", fingerprint: 2 },
    });
  });

  it("sorts by timestamp rather than trusting the API's order", () => {
    const first = msg("user", 1);
    const answer = msg("operator", 2);
    expect(checkEligibility({ ...base, messages: [answer, first], fingerprint: 1 })).toMatchObject({
      reason: "operator_replied",
    });
  });

  it("skips resolved, blocked and excluded-segment conversations", () => {
    const messages = [msg("user", 1)];
    expect(
      checkEligibility({ ...base, conversation: { state: "resolved" }, messages, fingerprint: 1 }),
    ).toMatchObject({
      reason: "resolved",
    });
    expect(
      checkEligibility({ ...base, conversation: { is_blocked: true }, messages, fingerprint: 1 }),
    ).toMatchObject({
      reason: "blocked",
    });
    expect(
      checkEligibility({
        conversation: { meta: { segments: ["vip", "legal"] } },
        skipSegments: ["legal"],
        messages,
        fingerprint: 1,
      }),
    ).toMatchObject({ reason: "skipped_segment" });
  });

  describe("routing (SKIP_ASSIGNED, SKIP_OPERATORS, SKIP_INBOXES)", () => {
    const messages = [msg("user", 1)];
    const routing = { assigned: false, operators: [] as string[], inboxes: [] as string[] };
    const check = (conversation: Parameters<typeof checkEligibility>[0]["conversation"], skip = routing) =>
      checkEligibility({ ...base, conversation, messages, fingerprint: 1, routing: skip });

    it("drafts assigned conversations by default", () => {
      expect(check({ assigned: { user_id: "op-1" }, inbox_id: "inbox-1" })).toMatchObject({ eligible: true });
    });

    it("skips any assigned conversation with SKIP_ASSIGNED, and only assigned ones", () => {
      const skip = { ...routing, assigned: true };
      expect(check({ assigned: { user_id: "op-1" } }, skip)).toMatchObject({
        eligible: false,
        reason: "skipped_routing",
        detail: "assigned to op-1 (SKIP_ASSIGNED)",
      });
      expect(check({ assigned: null }, skip)).toMatchObject({ eligible: true });
      expect(check({ assigned: { user_id: null } }, skip)).toMatchObject({ eligible: true });
      expect(check({}, skip)).toMatchObject({ eligible: true });
    });

    it("skips conversations assigned to a listed operator only", () => {
      const skip = { ...routing, operators: ["op-vip"] };
      expect(check({ assigned: { user_id: "op-vip" } }, skip)).toMatchObject({
        reason: "skipped_routing",
        detail: "assigned to op-vip, excluded by SKIP_OPERATORS",
      });
      expect(check({ assigned: { user_id: "op-1" } }, skip)).toMatchObject({ eligible: true });
    });

    it("skips conversations in a listed inbox only", () => {
      const skip = { ...routing, inboxes: ["inbox-legal"] };
      expect(check({ inbox_id: "inbox-legal" }, skip)).toMatchObject({
        reason: "skipped_routing",
        detail: 'inbox "inbox-legal" is excluded by SKIP_INBOXES',
      });
      expect(check({ inbox_id: "inbox-sales" }, skip)).toMatchObject({ eligible: true });
      expect(check({ inbox_id: null }, skip)).toMatchObject({ eligible: true });
    });
  });

  it("is not eligible with no visible message at all", () => {
    expect(
      checkEligibility({ ...base, messages: [msg("operator", 1, "note")], fingerprint: 1 }),
    ).toMatchObject({
      reason: "no_customer_message",
    });
  });
});
