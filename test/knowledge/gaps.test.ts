import { describe, expect, it } from "vitest";
import { findGaps, type GapRow } from "../../src/knowledge/gaps.ts";

const row = (id: string, query: string, outcome: string | null, needsHuman = false): GapRow => ({
  id,
  createdAt: Number(id.replace(/\D/g, "")) * 1000,
  context: {
    transcript: "",
    query,
    language: "en",
    visitor: { name: "", email: "", segments: [], data: {} },
  },
  intent: "x",
  needsHuman,
  outcome,
  similarity: null,
});

describe("knowledge gaps", () => {
  it("groups questions that share words, largest group first, with why they are gaps", () => {
    const groups = findGaps([
      row("d1", "Do you ship to Canada?", null, true),
      row("d2", "Can you ship my order to Canada please", "rejected"),
      row("d3", "shipping to canada cost?", "ignored"),
      row("d4", "Is there a student discount?", "edited"),
      row("d5", "hi", null, true),
    ]);
    expect(groups.map((g) => g.count)).toEqual([3, 1]);
    expect(groups[0]?.topic.slice(0, 2)).toEqual(["canada", "ship"]);
    expect(groups[0]?.reasons).toEqual({ "no article": 1, rejected: 1, ignored: 1 });
    expect(groups[1]).toMatchObject({ topic: ["discount", "student"], reasons: { rewritten: 1 } });
    expect(groups.flatMap((g) => g.questions)).not.toContain("hi");
  });
});
