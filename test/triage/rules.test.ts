import { describe, expect, it } from "vitest";
import { combine, evaluate, parseRules, RulesError, type TriageFacts } from "../../src/triage/rules.ts";

const facts = (over: Partial<TriageFacts> = {}): TriageFacts => ({
  segments: [],
  data: {},
  customerText: "",
  meta: {},
  now: Date.parse("2026-11-25T10:00:00Z"), // a Wednesday
  ...over,
});

function problems(text: string) {
  try {
    parseRules(text, "rules.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(RulesError);
    return (error as RulesError).problems.map((p) => `${p.line}:${p.column} ${p.message}`);
  }
  throw new Error("expected the file to be rejected");
}

describe("rules file", () => {
  it("points at the line of every fault", () => {
    expect(
      problems(`rules:
  - name: billing
    when:
      intnet: refund
    then:
      assign: billing@shop.test
  - name: nothing to do
    then: {}
  - name: bad state
    then:
      setState: closed
`),
    ).toEqual([
      expect.stringMatching(/^4:\d+ rules\.0\.when: Unrecognized key: "intnet"/),
      expect.stringMatching(/^8:\d+ rules\.1\.then: a rule needs at least one action/),
      expect.stringMatching(/^11:\d+ rules\.2\.then\.setState: /),
    ]);
    expect(problems("rules:\n  - name: x\n    then: [unclosed\n")[0]).toMatch(/^4:1 Flow sequence/);
    expect(problems('{"rules": [], "timezone": "Mars/Olympus"}')).toEqual([
      expect.stringMatching(/^1:\d+ timezone: unknown time zone/),
    ]);
    expect(problems("timezone: UTC\n")).toEqual([expect.stringMatching(/^1:1 rules: /)]);
  });

  it("reads JSON as well as YAML, with defaults for business hours", () => {
    const file = parseRules('{"rules":[{"name":"vip","when":{"segments":"vip"},"then":{"forceNote":true}}]}');
    expect(file.businessHours).toEqual({
      days: ["mon", "tue", "wed", "thu", "fri"],
      from: "09:00",
      to: "18:00",
    });
    expect(file.rules[0]?.when.segments).toEqual(["vip"]);
  });
});

describe("evaluation", () => {
  const file = parseRules(`
timezone: Europe/Paris
businessHours: { days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" }
rules:
  - name: spam
    when: { keywords: ["crypto giveaway"] }
    then: { skipDraft: true, setState: resolved }
  - name: enterprise
    when: { emailDomain: bigcorp.test, data: { plan: enterprise } }
    then: { addSegments: [enterprise], assign: lead@shop.test }
    continue: true
  - name: night
    when: { businessHours: false }
    then: { setData: { after_hours: true } }
  - name: refunds in French
    when: { intent: [refund, billing], language: fr }
    then: { assign: factures@shop.test, forceNote: true }
  - name: vip
    when: { segments: [vip], meta: { origin: chat } }
    then: { addSegments: [priority] }
`);

  it("stops at the first rule that fires, unless it says continue", () => {
    const bigcorp = facts({ email: "ann@eu.bigcorp.test", data: { plan: "enterprise" } });
    const { fired } = evaluate(file, bigcorp, "after");
    expect(fired.map((f) => f.rule)).toEqual(["enterprise"]); // "night" does not hold at 11:00 in Paris
    const late = evaluate(file, { ...bigcorp, now: Date.parse("2026-11-25T20:00:00Z") }, "after");
    expect(late.fired.map((f) => f.rule)).toEqual(["enterprise", "night"]);
    expect(combine(late.fired)).toEqual({
      addSegments: ["enterprise"],
      assign: "lead@shop.test",
      setData: { after_hours: true },
    });
  });

  it("matches keywords as whole words, any case", () => {
    expect(evaluate(file, facts({ customerText: "FREE Crypto Giveaway!!" }), "after").fired[0]?.rule).toBe(
      "spam",
    );
    expect(evaluate(file, facts({ customerText: "crypto giveaways" }), "after").fired).toEqual([]);
  });

  it("before drafting, stops at the first rule that needs the draft, so order is kept", () => {
    const vip = facts({ segments: ["VIP"], meta: { origin: "chat" } });
    const before = evaluate(file, vip, "before");
    expect(before).toEqual({ fired: [], next: 3 });
    const refund = evaluate(file, { ...vip, intent: "refund", language: "fr-FR" }, "after", before.next);
    expect(refund.fired.map((f) => f.rule)).toEqual(["refunds in French"]);
    const other = evaluate(file, { ...vip, intent: "shipping", language: "fr" }, "after", before.next);
    expect(other.fired.map((f) => f.rule)).toEqual(["vip"]);
    // A rule that needs no draft and comes first is decided before drafting.
    expect(evaluate(file, facts({ customerText: "crypto giveaway" }), "before").fired[0]?.actions).toEqual({
      skipDraft: true,
      setState: "resolved",
    });
  });

  it("pauses for the visitor's profile only at a rule whose other conditions hold", () => {
    const profile = parseRules(`
rules:
  - name: gold in chat
    when: { meta: { origin: chat }, visitorSegments: [Gold], visitorData: { plan: pro } }
    then: { assign: gold@shop.test }
  - name: anyone
    then: { addSegments: [seen] }
`);
    const email = facts({ meta: { origin: "email" } });
    expect(evaluate(profile, email, "before")).toMatchObject({ fired: [{ rule: "anyone" }] });
    const chat = facts({ meta: { origin: "chat" } });
    expect(evaluate(profile, chat, "before")).toEqual({ fired: [], next: undefined, visitorAt: 0 });
    const gold = { segments: ["gold"], data: { plan: "pro" } };
    expect(evaluate(profile, { ...chat, visitor: gold }, "before", 0).fired[0]?.rule).toBe("gold in chat");
    const free = { segments: ["gold"], data: { plan: "free" } };
    expect(evaluate(profile, { ...chat, visitor: free }, "before", 0).fired[0]?.rule).toBe("anyone");
    // No profile: visitor conditions do not hold.
    expect(evaluate(profile, { ...chat, visitor: null }, "before", 0).fired[0]?.rule).toBe("anyone");
  });

  it("business hours follow the file's time zone and days", () => {
    const saturday = Date.parse("2026-11-28T10:00:00Z");
    expect(evaluate(file, facts({ now: saturday }), "after").fired.map((f) => f.rule)).toEqual(["night"]);
    const tuesdayEvening = Date.parse("2026-11-24T16:30:00Z"); // 17:30 in Paris
    expect(evaluate(file, facts({ now: tuesdayEvening }), "after").fired.map((f) => f.rule)).toEqual([
      "night",
    ]);
  });
});
