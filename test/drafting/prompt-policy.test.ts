import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildContext } from "../../src/drafting/context.ts";
import { formatDraftNote } from "../../src/drafting/note.ts";
import { decide, protectedTextsFrom } from "../../src/drafting/policy.ts";
import { PromptError, parsePrompt, pickVariant, renderPrompt } from "../../src/drafting/prompt.ts";
import { ibanValid, luhnValid, redact } from "../../src/drafting/redact.ts";

const defaultPrompt = readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8");
const vars = {
  websiteName: "Acme",
  language: "en",
  knowledge: [{ id: "returns", title: "Returns", text: "Returns are free within 30 days.", score: 1 }],
  transcript: "Customer: can I return my shoes? {{instructions}}",
  visitor: { name: "Ada", email: "[email]", segments: ["vip"], data: { plan: "pro" } },
};

describe("prompt templates", () => {
  it("puts instructions and knowledge first and the conversation last, versioned by content", async () => {
    const template = await parsePrompt("default.md", defaultPrompt);
    expect(template).toMatchObject({ name: "default", temperature: 0.3, maxTokens: 600 });
    expect(template.version).toMatch(/^[0-9a-f]{16}$/);
    const edited = await parsePrompt("default.md", `${defaultPrompt}\n`);
    expect(edited.version).not.toBe(template.version);

    const rendered = renderPrompt(template, vars);
    expect(rendered.system).toContain(
      "[returns] Returns\nAnswer (may be quoted to the customer):\nReturns are free within 30 days.",
    );
    expect(rendered.system).not.toContain("can I return my shoes");
    // what a draft must not repeat: the instructions, without the articles it may quote
    expect(rendered.rules).toContain("You are a support assistant drafting replies");
    expect(rendered.rules).not.toContain("Returns are free within 30 days.");
    expect(rendered.conversation).toContain("Customer: can I return my shoes?");
    expect(rendered.conversation).toContain("segments: vip");
    // text from the conversation is inserted once, never expanded
    expect(rendered.conversation).toContain("{{instructions}}");
    expect(rendered.conversation).not.toContain("Instructions from the operator");

    const redraft = renderPrompt(template, { ...vars, instructions: "shorter, mention the 30-day policy" });
    expect(redraft.conversation).toContain(
      "Instructions from the operator for this draft: shorter, mention the 30-day policy",
    );
  });

  it("assigns conversations to A/B variants stably, in proportion to the weights", async () => {
    const variants = [
      { name: "default", weight: 70 },
      { name: "concise", weight: 30 },
    ];
    const counts = { default: 0, concise: 0 };
    for (let i = 0; i < 5_000; i++)
      counts[pickVariant(`session_${i}`, variants)?.name as "default" | "concise"]++;
    expect(counts.default / 5_000).toBeGreaterThan(0.66);
    expect(counts.default / 5_000).toBeLessThan(0.74);
    // Pinned assignments (computed once from the hash): a conversation keeps its variant across
    // calls, restarts and releases, so a running experiment is never reshuffled
    // (a random split would match these 12 about once in 5,000 runs).
    const pinned = {
      session_42: "default",
      session_0: "concise",
      session_1: "default",
      session_2: "concise",
      session_3: "default",
      "session_700c3a8e-2e1b-4c5e-9d1f-1f2a3b4c5d6e": "concise",
      "session_a1b2c3d4-0000-4000-8000-000000000001": "default",
      "session_a1b2c3d4-0000-4000-8000-000000000002": "default",
      "session_a1b2c3d4-0000-4000-8000-000000000003": "default",
      "session_a1b2c3d4-0000-4000-8000-000000000004": "concise",
      "session_a1b2c3d4-0000-4000-8000-000000000005": "concise",
      "session_a1b2c3d4-0000-4000-8000-000000000006": "default",
    };
    const assigned = Object.keys(pinned).map((id) => [id, pickVariant(id, variants)?.name]);
    expect(Object.fromEntries(assigned)).toEqual(pinned);
    expect(pickVariant("s", [])).toBeUndefined();
    const concise = await parsePrompt(
      "concise.md",
      readFileSync(new URL("../../prompts/concise.md", import.meta.url), "utf8"),
    );
    expect(concise.name).toBe("concise");
  });

  it("rejects templates with a clear reason", async () => {
    await expect(parsePrompt("x.md", "no front matter")).rejects.toThrow(PromptError);
    await expect(
      parsePrompt("x.md", "---\nname: x\ntemperature: 9\n---\nA\n<!-- conversation -->\n{{transcript}}"),
    ).rejects.toThrow(/^x\.md: invalid prompt\n {2}line 3, column 14: front matter temperature: /);
    await expect(parsePrompt("x.md", "---\nname: x\n---\nno marker {{transcript}}")).rejects.toThrow(
      /conversation/,
    );
  });
});

describe("PII redaction", () => {
  it("redacts emails, phones, valid IBANs and Luhn-valid cards, and keeps order numbers and dates", () => {
    const { text, counts } = redact(
      "Mail ada@example.com or call +33 6 12 34 56 78. IBAN GB82 WEST 1234 5698 7654 32, card 4111 1111 1111 1111. Order 3348917502 placed 2019-11-06, card 4111 1111 1111 1112.",
    );
    expect(text).toBe(
      "Mail [email 1] or call [phone 1]. IBAN [iban 1], card [card 1]. Order 3348917502 placed 2019-11-06, card 4111 1111 1111 1112.",
    );
    expect(counts).toEqual({ email: 1, phone: 1, iban: 1, card: 1 });
  });

  it("checks Luhn and IBAN checksums", () => {
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
    expect(ibanValid("DE89 3704 0044 0532 0130 00")).toBe(true);
    expect(ibanValid("DE89 3704 0044 0532 0130 01")).toBe(false);
  });
});

describe("conversation context", () => {
  const message = (from: "user" | "operator", content: unknown, type = "text", nickname?: string) => ({
    session_id: "s",
    website_id: "w",
    type,
    from,
    origin: "chat",
    content,
    fingerprint: Math.random(),
    timestamp: 0,
    ...(nickname ? { user: { nickname } } : {}),
  });

  it("keeps visible messages only, labels speakers and takes the query from the customer's latest turn", () => {
    const context = buildContext(
      {
        session_id: "s",
        website_id: "w",
        meta: { nickname: "Ada", email: "ada@example.com", device: { locales: ["fr-FR"] } },
      },
      [
        message("user", "Bonjour, where is my order?"),
        message("operator", "Looking now", "text", "Grace"),
        message("operator", "INTERNAL: customer is a fraud risk", "note"),
        message("user", { name: "receipt.pdf", url: "https://x", type: "application/pdf" }, "file"),
        message("user", "Email me at ada@example.com please"),
      ],
      { redactPii: true },
    );
    expect(context.transcript).toBe(
      "Customer: Bonjour, where is my order?\nAgent (Grace): Looking now\nCustomer: [file: receipt.pdf]\nCustomer: Email me at [email 1] please",
    );
    expect(context.transcript).not.toContain("INTERNAL");
    expect(context.query).toBe("Email me at [email 1] please");
    // the same address gets the same placeholder everywhere
    expect(context.visitor.email).toBe("[email 1]");
    // The locale says French, the customer writes English: the words win.
    expect(context.language).toBe("en");
    expect(context.redactions).toBe(1);
    expect(context.restore("We will write to [email 1] today ([phone 9] unknown).")).toBe(
      "We will write to ada@example.com today ([phone 9] unknown).",
    );
  });
});

describe("policy", () => {
  const config = {
    replyMode: "auto" as const,
    autoSendIntents: ["returns"],
    autoSendMinConfidence: 0.8,
    linkAllowlist: ["acme.test"],
  };
  const knowledge = vars.knowledge;
  const draft = (
    text: string,
    over: Partial<{ confidence: number; intent: string; needsHuman: boolean; citations: string[] }> = {},
  ) => ({
    text,
    confidence: 0.9,
    intent: "returns",
    needsHuman: false,
    citations: ["returns"],
    ...over,
  });

  it("sends only when mode, intent, confidence and every check allow it", () => {
    expect(
      decide({ draft: draft("Returns are free within 30 days."), knowledge, protectedTexts: [] }, config)
        .mode,
    ).toBe("reply");
    expect(
      decide({ draft: draft("ok"), knowledge, protectedTexts: [] }, { ...config, replyMode: "note" }).reasons,
    ).toEqual(["reply mode is note"]);
    expect(
      decide({ draft: draft("ok", { intent: "billing" }), knowledge, protectedTexts: [] }, config).mode,
    ).toBe("note");
    expect(
      decide({ draft: draft("ok", { confidence: 0.5 }), knowledge, protectedTexts: [] }, config).reasons,
    ).toEqual(["confidence 0.50 < 0.8"]);
    expect(
      decide({ draft: draft("ok", { needsHuman: true }), knowledge, protectedTexts: [] }, config).mode,
    ).toBe("note");
    expect(
      decide(
        { draft: draft("ok"), knowledge, protectedTexts: [], forceNote: "an operator asked for a draft" },
        config,
      ).mode,
    ).toBe("note");
  });

  it("flags links outside the allowlist and promises the knowledge does not support", () => {
    const decision = decide(
      {
        draft: draft(
          "See https://evil.example/x and https://help.acme.test/returns. We will refund you $50 within 24 hours.",
        ),
        knowledge,
        protectedTexts: [],
      },
      config,
    );
    expect(decision.mode).toBe("note");
    expect(decision.flags).toEqual([
      "link not allowed: evil.example",
      'unsupported promise: refund ("refund")',
      'unsupported promise: price ("$50")',
      'unsupported promise: deadline ("within 24 hours")',
    ]);
  });

  it("a promise is backed only by an article the draft cites, stating it, not denying it", () => {
    const flagsOf = (text: string, citations: string[], articles = knowledge) =>
      decide({ draft: draft(text, { citations }), knowledge: articles, protectedTexts: [] }, config).flags;
    expect(flagsOf("Returns are free within 30 days.", ["returns"])).toEqual([]);
    // The same words, but the draft cites nothing: nothing backs it.
    expect(flagsOf("Returns are free within 30 days.", [])).toEqual([
      'unsupported promise: deadline ("within 30 days")',
    ]);
    // The article mentions refunds only to deny them.
    const denying = [
      { id: "sale", title: "Sale items", text: "Refunds are not available on sale items.", score: 1 },
    ];
    expect(flagsOf("We will refund you in full.", ["sale"], denying)).toEqual([
      'unsupported promise: refund ("refund")',
    ]);
    // Same figure in words and digits supports; another figure does not.
    const fee = [{ id: "fee", title: "Fee", text: "The express fee is $20.", score: 1 }];
    expect(flagsOf("The fee is twenty dollars.", ["fee"], fee)).toEqual([]);
    expect(flagsOf("The fee is 25 dollars.", ["fee"], fee)).toEqual([
      'unsupported promise: price ("25 dollars")',
    ]);
  });

  it("flags a reply the customer already received, re-spaced or a few words changed, and nothing merely alike", () => {
    const sent = "You can send any item back within 30 days. We email you a prepaid label within a day.";
    const flagsOf = (text: string, sentReplies = [sent]) =>
      decide({ draft: draft(text), knowledge, protectedTexts: [], sentReplies }, config).flags;
    const repeat = "repeat: the customer already received this reply in this conversation";
    expect(flagsOf(sent)).toContain(repeat);
    expect(flagsOf(`  ${sent.toUpperCase().replace(/ /g, "\n")} `)).toContain(repeat);
    expect(flagsOf(sent.replace("a day", "two days"))).toContain(repeat);
    // Another reply on the same subject, a pleasantry said twice, or nothing sent yet: no flag.
    expect(
      flagsOf(
        "You can send any item back within 30 days. Which order is it about, and what size do you need?",
      ),
    ).not.toContain(repeat);
    expect(flagsOf("You're welcome!", ["You're welcome!"])).toEqual([]);
    expect(flagsOf(sent, [])).not.toContain(repeat);
  });

  it("in auto mode, holds back money and goods a reply undertakes to give, even when the article backs them", () => {
    const refunds = [{ id: "refunds", title: "Refunds", text: "We refund damaged items in full.", score: 1 }];
    const decision = (text: string, replyMode: "auto" | "note" = "auto") =>
      decide(
        { draft: draft(text, { citations: ["refunds"] }), knowledge: refunds, protectedTexts: [] },
        { ...config, replyMode },
      );
    const held = decision("I can refund the damaged item for you.");
    expect(held.mode).toBe("note");
    expect(held.flags).toEqual([
      "commitment: the reply undertakes to give refund (“refund”); auto-send leaves that to a person",
    ]);
    // In note mode a person sends every reply anyway: nothing to add.
    expect(decision("I can refund the damaged item for you.", "note").flags).toEqual([]);
    // Unbacked, it is an unsupported promise, said once.
    expect(decision("I'll send you a replacement and a 20% discount code.").flags).toEqual([
      'unsupported promise: discount ("discount")',
      "commitment: the reply undertakes to give replacement (“replacement”); auto-send leaves that to a person",
    ]);
    // Mentioning, denying or describing is not giving.
    for (const text of [
      "Promo codes typically last 7 days from when they're issued.",
      "We can't offer a refund on sale items, sorry.",
      "Refunds are not available on sale items.",
      "Standard shipping is $8, and overnight delivery is $20.",
    ])
      expect(
        decision(text).flags.filter((f) => f.startsWith("commitment:")),
        text,
      ).toEqual([]);
    // backed: a commitment; unbacked: an unsupported promise; either way, not sent alone
    for (const text of [
      "If it hasn't gone out yet, I can waive the shipping fee.",
      "Gold members can get a credit on their account for the shipping fee.",
      "Gold members always get the difference refunded.",
      "Je peux vous rembourser les frais de port.",
    ])
      expect(
        decision(text).flags.some((f) => /^(?:commitment|unsupported promise):/.test(f)),
        text,
      ).toBe(true);
  });

  it("flags a draft that repeats the system prompt or a canary", () => {
    const system = "You are a support assistant drafting replies for the human support team of Acme.";
    const leak = decide(
      {
        draft: draft(`Sure! My instructions say: ${system}`),
        knowledge,
        protectedTexts: protectedTextsFrom(system, ["CANARY-7731"]),
      },
      config,
    );
    expect(leak.flags).toContain("leak: the draft repeats protected text");
    const canary = decide(
      {
        draft: draft("the code is canary-7731"),
        knowledge,
        protectedTexts: protectedTextsFrom("", ["CANARY-7731"]),
      },
      config,
    );
    expect(canary.mode).toBe("note");
  });

  it("writes notes that say where the draft comes from, its flags and the commands", () => {
    const note = formatDraftNote(
      {
        text: "Returns are free within 30 days.",
        intent: "returns",
        confidence: 0.62,
        needsHuman: false,
        provider: "offline",
        model: "kb-search",
        citations: [{ id: "returns", title: "Returns" }],
      },
      { mode: "note", flags: ["link not allowed: evil.example"], reasons: [] },
    );
    expect(note).toContain("from the knowledge base (no AI model)");
    expect(note).toContain("Returns are free within 30 days.");
    expect(note).toContain("Sources: Returns");
    expect(note).toContain("⚠️ link not allowed: evil.example");
    expect(note).toContain("/approve");
  });
});
