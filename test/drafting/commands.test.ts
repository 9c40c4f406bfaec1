import { describe, expect, it } from "vitest";
import { commandProblem, parseCommand, replyOutcome, similarity } from "../../src/drafting/commands.ts";

describe("note commands", () => {
  it("parses the commands operators type, case-insensitively, with their argument", () => {
    expect(parseCommand("/approve")).toEqual({ name: "approve", arg: "" });
    expect(parseCommand("  /Send Hello Ada,\nit ships today. ")).toEqual({
      name: "send",
      arg: "Hello Ada,\nit ships today.",
    });
    expect(parseCommand("/redraft shorter, mention the 30-day refund policy")).toEqual({
      name: "redraft",
      arg: "shorter, mention the 30-day refund policy",
    });
    expect(parseCommand("/reject wrong product")).toEqual({ name: "reject", arg: "wrong product" });
    expect(parseCommand("/quill help")).toEqual({ name: "help", arg: "help" });
    expect(parseCommand("/quill")).toEqual({ name: "help", arg: "" });
    expect(parseCommand("/approved")).toBeUndefined();
    expect(parseCommand("please /approve")).toBeUndefined();
    expect(parseCommand("/unknown thing")).toBeUndefined();
  });

  it("refuses with a clear reason when the command cannot act", () => {
    const posted = { status: "posted", mode: "note" };
    expect(commandProblem({ name: "approve", arg: "" }, undefined, "pending")).toBe(
      "there is no draft to approve",
    );
    expect(commandProblem({ name: "approve", arg: "" }, posted, "resolved")).toBe(
      "the conversation is resolved",
    );
    expect(commandProblem({ name: "approve", arg: "" }, { status: "sent", mode: "note" }, "pending")).toBe(
      "the latest draft was already sent",
    );
    expect(commandProblem({ name: "send", arg: "" }, posted, "pending")).toBe("/send needs the text to send");
    expect(commandProblem({ name: "reject", arg: "" }, posted, "pending")).toBe("/reject needs a reason");
    expect(
      commandProblem({ name: "redraft", arg: "shorter" }, { status: "rejected", mode: "note" }, "pending"),
    ).toBeUndefined();
    expect(commandProblem({ name: "approve", arg: "" }, posted, "unresolved")).toBeUndefined();
    // RETENTION_DAYS blanked an old draft: /approve would send an empty reply.
    expect(commandProblem({ name: "approve", arg: "" }, { ...posted, text: "" }, "pending")).toMatch(
      /text is gone \(RETENTION_DAYS\)/,
    );
    expect(
      commandProblem({ name: "redraft", arg: "again" }, { ...posted, text: "" }, "pending"),
    ).toBeUndefined();
  });

  it("scores an operator's reply against the draft", () => {
    expect(similarity("Hello  Ada!", "Hello Ada!")).toBe(1);
    expect(replyOutcome(similarity("Your parcel ships today.", "Your parcel ships tomorrow."))).toBe(
      "edited",
    );
    expect(
      replyOutcome(similarity("Your parcel ships today.", "Sorry, we are closed on Sundays, back Monday!")),
    ).toBe("ignored");
    expect(replyOutcome(0.97)).toBe("sent_as_is");
  });
});
