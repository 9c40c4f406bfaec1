import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { agentFacing, checkDraft } from "../../src/drafting/policy.ts";
import { createKnowledgeBase, parseArticle } from "../../src/knowledge/kb.ts";
import { createOfflineProvider } from "../../src/llm/offline.ts";
import type { DraftRequest } from "../../src/llm/types.ts";

const kbDir = new URL("../../kb/", import.meta.url);
const kb = createKnowledgeBase(
  readdirSync(kbDir).map((name) => ({ name, content: readFileSync(new URL(name, kbDir), "utf8") })),
);
const offline = createOfflineProvider({ kb });
const request = (query: string): DraftRequest => ({
  system: "",
  conversation: query,
  query,
  knowledge: [],
  temperature: 0,
  maxTokens: 500,
});
const draft = (query: string) => offline.draft(request(query), { signal: new AbortController().signal });

describe("demo knowledge base", () => {
  it("holds one article per handbook subflow: a customer answer, guidance apart, example questions", () => {
    expect(kb.size).toBe(55);
    const article = kb.get("product-defect--return-due-to-size");
    expect(article?.title).toBe("Return Due to Size (Product Defect)");
    expect(article?.answer).toContain("Gold members can return items at any time");
    expect(article?.guidance).toContain("Pull up Account");
    expect(article?.answer).not.toMatch(/Pull up Account|the customer/);
    expect(article?.summary).toBe("returning an item that doesn't fit");
    expect(article?.questions.length).toBeGreaterThanOrEqual(5);
    expect(readFileSync(new URL("product-defect--return-due-to-size.md", kbDir), "utf8")).toContain(
      "ASAPP Research, MIT licence",
    );
    expect(article?.guidance).not.toContain("ASAPP");
  });

  it("no demo article's customer answer reads like agent guidance", () => {
    const offenders = readdirSync(kbDir)
      .filter((name) => name.endsWith(".md") && name !== "README.md")
      .map((name) => kb.get(name.replace(/\.md$/, "")))
      .filter((a) => a && agentFacing(a.answer).length > 0)
      .map((a) => `${a?.id}: ${agentFacing(a?.answer ?? "").join("; ")}`);
    expect(offenders).toEqual([]);
  });

  it("every demo answer passes the output checks when it cites its own article (no false flags)", () => {
    const flagged = [...new Set(readdirSync(kbDir))]
      .filter((name) => name.endsWith(".md") && name !== "README.md")
      .flatMap((name) => {
        const a = kb.get(name.replace(/\.md$/, ""));
        if (!a) return [];
        const snippet = { id: a.id, title: a.title, text: a.answer, guidance: a.guidance, score: 1 };
        const draft = {
          text: a.answer,
          confidence: 1,
          intent: a.intent,
          needsHuman: false,
          citations: [a.id],
        };
        const flags = checkDraft({ draft, knowledge: [snippet], protectedTexts: [] }, []);
        return flags.length ? [`${a.id}: ${flags.join("; ")}`] : [];
      });
    expect(flagged).toEqual([]);
  });

  it("parses front matter and falls back to the file name and first paragraph", () => {
    const plain = parseArticle(
      "opening-hours.md",
      "# Opening hours\n\nWe answer chats 9:00–18:00 CET, Monday to Friday.\n",
    );
    expect(plain).toMatchObject({ id: "opening-hours", title: "Opening hours", intent: "general" });
    expect(plain.answer).toBe("We answer chats 9:00–18:00 CET, Monday to Friday.");
    expect(plain.guidance).toBe("");
  });

  it("keeps an article's guidance sections out of its answer, whatever they are called", () => {
    const article = parseArticle(
      "refunds.md",
      [
        "---",
        "questions: [where is my money, refund still not here]",
        "aliases: money back, reimbursement",
        "---",
        "# Refunds",
        "",
        "## Internal notes",
        "Check the payment provider before promising anything.",
        "",
        "## Answer",
        "Refunds reach your card within 5 business days.",
        "",
        "## Steps for the agent",
        "1. Open the order in the back office.",
      ].join("\n"),
    );
    expect(article.answer).toBe("Refunds reach your card within 5 business days.");
    expect(article.guidance).toContain("Check the payment provider");
    expect(article.guidance).toContain("Open the order in the back office");
    expect(article.aliases).toEqual(["money back", "reimbursement"]);
    expect(article.questions).toEqual(["where is my money", "refund still not here"]);
  });

  it("drops attribution lines from either part, wherever they are", () => {
    const article = parseArticle(
      "sourced.md",
      [
        "# Sourced",
        "## Answer",
        "_Source: the handbook_",
        "Refunds take 5 days.",
        "",
        "_source: again_",
        "Then they show on your card.",
        "## Guidance",
        "Check the order.",
        "",
        "_Source: ABCD (kb/LICENSE)._",
        "",
      ].join("\n"),
    );
    expect(article.answer).toBe("Refunds take 5 days.\n\n\nThen they show on your card.");
    expect(article.guidance).toBe("Check the order.");
  });

  it("names the file when its front matter is not YAML", () => {
    expect(() => parseArticle("bad.md", "---\nquestions: [unclosed\n---\n# Bad\n")).toThrow(/bad\.md/);
  });

  it("refuses two articles with the same id", () => {
    const doc = { name: "a.md", content: "---\nid: same\n---\n# A\n\ntext" };
    expect(() => createKnowledgeBase([doc, { ...doc, name: "b.md" }])).toThrow(/duplicate article id "same"/);
  });
});

describe("retrieval", () => {
  const top = (q: string) => kb.search(q, 3)[0]?.id;
  it("finds the right article for paraphrases, typos, names and order numbers", () => {
    expect(top("where is my order? it's been two weeks")).toBe("shipping-issue--missing-item");
    expect(top("i got chraged for somthing i never bougth")).toBe(
      "purchase-dispute--mistimed-billing-never-bought",
    );
    expect(top("Hi, Grace Liu here, I have no idea what my user name is")).toBe(
      "account-access--recover-username",
    );
    expect(
      top("The dress is bright pink, nothing like the burgundy in the photos, I want to send it back"),
    ).toBe("product-defect--return-due-to-color");
    expect(top("my order #48213 cost less at another store")).toBe("purchase-dispute--bad-price-competitor");
  });

  it("tells apart neighbouring articles: a refund asked for before vs a new one", () => {
    expect(top("where is my refund")).toBe("product-defect--refund-status");
    expect(top("I asked for a refund a week ago, has it been processed yet?")).toBe(
      "product-defect--refund-status",
    );
    expect(top("the zipper broke, I want to get my money back for these jeans")).toBe(
      "product-defect--initiate-refund",
    );
  });

  it("finds nothing for words it does not know", () => {
    expect(kb.search("qwxz zzkv", 3)).toEqual([]);
  });
});

describe("the blind question sets (eval/README.md)", () => {
  const load = (name: string) =>
    readFileSync(new URL(`../../eval/${name}`, import.meta.url), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; question: string; article: string; also?: string });
  const score = (name: string) => {
    const set = load(name);
    let top1 = 0;
    let recall3 = 0;
    for (const q of set) {
      const hits = kb.search(q.question, 3);
      if (hits[0] && [q.article, q.also].includes(hits[0].id)) top1++;
      if (hits.some((h) => h.id === q.article)) recall3++;
    }
    return { cases: set.length, top1: top1 / set.length, recall3: recall3 / set.length };
  };

  it("label only articles that exist, and the held-out half never shares a question with the tuning half", () => {
    const tune = load("kb-tune.jsonl");
    const heldOut = load("kb-heldout.jsonl");
    const labels = [...tune, ...heldOut].flatMap((q) => [q.article, q.also ?? q.article]);
    expect(labels.filter((id) => !kb.get(id))).toEqual([]);
    const tuneQuestions = new Set(tune.map((q) => q.question.toLowerCase()));
    expect(heldOut.filter((q) => tuneQuestions.has(q.question.toLowerCase()))).toEqual([]);
    expect(tune.length + heldOut.length).toBeGreaterThanOrEqual(200);
  });

  it("finds the article a new user's plain phrasing is about, not one sharing a chatty verb", async () => {
    for (const [question, article] of [
      ["Tell me about the jacket", "single-item-query--jacket-faq"],
      ["I have a question about the jacket I bought", "single-item-query--jacket-faq"],
      ["tell me when my subscription is due", "subscription-inquiry--status-due-date"],
      ["I was charged for a jacket I never bought", "purchase-dispute--mistimed-billing-never-bought"],
      ["I bought boots yesterday and now they're cheaper", "purchase-dispute--bad-price-yesterday"],
    ] as const)
      expect(kb.search(question, 1)[0]?.id, question).toBe(article);
    // Nothing but chat ("need", "haven't", "anything"): no article, so a hand-over.
    expect(kb.search("hi, I need help", 1)).toEqual([]);
    expect((await draft("Hello, I want some help please")).citations).toEqual([]);
  });

  it("offline retrieval: held-out top-1 ≥ 90% and recall@3 ≥ 97%", () => {
    const tune = score("kb-tune.jsonl");
    const heldOut = score("kb-heldout.jsonl");
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    console.log(
      `retrieval: tuning ${tune.cases} top-1 ${pct(tune.top1)} recall@3 ${pct(tune.recall3)}; held-out ${heldOut.cases} top-1 ${pct(heldOut.top1)} recall@3 ${pct(heldOut.recall3)}`,
    );
    expect(heldOut.top1).toBeGreaterThanOrEqual(0.9);
    expect(heldOut.recall3).toBeGreaterThanOrEqual(0.97);
  });
});

describe("offline drafter", () => {
  it("answers in the customer's voice from the best article and cites it", async () => {
    const result = await draft("I need to return an item, I got the wrong size");
    expect(result.citations).toEqual(["product-defect--return-due-to-size"]);
    expect(result.intent).toBe("product_defect");
    expect(result.needsHuman).toBe(false);
    expect(result.text).toContain("Gold members can return items at any time");
    expect(agentFacing(result.text)).toEqual([]);
    expect(result.text).not.toContain("Pull up Account");
    expect(result.provider).toBe("offline");
    expect(result.confidence).toBeGreaterThanOrEqual(0.75);
  });

  it("asks one clarifying question when two articles fit equally", async () => {
    const result = await draft("question about a promo code");
    expect(result.citations).toHaveLength(2);
    expect(result.text).toMatch(
      /^Thanks for getting in touch! Just to make sure I help with the right thing: is this about .+, or .+\?$/,
    );
    expect(result.text).toContain("a promo code");
    expect(result.confidence).toBe(0.5);
    expect(result.remarks?.[0]).toMatch(/Two articles fit about equally/);
  });

  it("hands over to a human when nothing in the knowledge base matches", async () => {
    const result = await draft("Can you recommend a good pizza place near the Eiffel tower?");
    expect(result.needsHuman).toBe(true);
    expect(result.citations).toEqual([]);
    expect(result.needsHumanReason).toMatch(/no knowledge base article/);
    expect(result.confidence).toBeLessThan(0.2);
  });

  it("hands over off-topic messages instead of answering from the nearest article", async () => {
    const offTopic = [
      "what's the weather like",
      "can I pay with bitcoin",
      "Can you recommend a good pizza place near the Eiffel tower?",
      "are you hiring developers?",
      "who won the game last night",
      "tell me a joke",
      "what is the meaning of life",
      "do you sell electric bikes?",
      "how do I bake sourdough bread",
      "is your CEO on twitter",
      "what's 2+2",
      "can you write my essay",
      "I want to invest in your company",
      "do you have a store in Tokyo",
      "what's your favourite colour",
      "can I bring my dog to the store",
      "how tall is the eiffel tower",
      "recommend a movie",
      "how do I fix my car",
      "what's the capital of France",
      "are you a robot",
      "do you sell groceries",
      "translate hello into spanish",
      "my cat is sick",
      "what time is it in London",
    ];
    const answered: string[] = [];
    for (const question of offTopic) if (!(await draft(question)).needsHuman) answered.push(question);
    // Five still reach an article through a word that names it ("pay" → "Manage Pay Bill",
    // "colour" → "Return Due to Color", "last night" ~ yesterday): auto-send rules guard those.
    expect(answered.length).toBeLessThanOrEqual(5);
    for (const question of ["what's the weather like", "tell me a joke", "what is the meaning of life"])
      expect(answered).not.toContain(question);
  });

  it("hands over when the customer asks for a person", async () => {
    const result = await draft("I want to speak to a real person about my refund");
    expect(result).toMatchObject({ needsHuman: true, intent: "human_request", citations: [] });
  });

  it("follows /redraft shorter and says plainly what it cannot do", async () => {
    const full = await draft("I need to return an item, I got the wrong size");
    const shorter = await offline.draft(
      { ...request("I need to return an item, I got the wrong size"), instructions: "make it shorter" },
      { signal: new AbortController().signal },
    );
    expect(shorter.text.length).toBeLessThan(full.text.length / 2);
    expect(full.text.startsWith(shorter.text)).toBe(true);
    expect(shorter.remarks).toEqual(["Shortened to the first two sentences of the answer."]);

    const french = await offline.draft(
      { ...request("I need to return an item, I got the wrong size"), instructions: "in French, friendlier" },
      { signal: new AbortController().signal },
    );
    expect(french.text).toBe(full.text);
    expect(french.remarks?.[0]).toMatch(
      /cannot translate or follow “in French, friendlier”.*LLM provider \(LLM_PROVIDER\)/,
    );
  });

  it("finds a relevant flow for the customers of the ABCD sample conversations", async () => {
    const samples = JSON.parse(
      readFileSync(new URL("../../eval/abcd/abcd_sample.json", import.meta.url), "utf8"),
    ) as Array<{ scenario: { flow: string }; original: Array<[string, string]> }>;
    const intents: string[] = [];
    const flows: string[] = [];
    for (const sample of samples) {
      const customerWords = sample.original
        .filter(([who]) => who === "customer")
        .slice(0, 3)
        .map(([, text]) => text)
        .join(" ");
      const result = await draft(customerWords);
      expect(result.needsHuman).toBe(false);
      intents.push(result.intent);
      flows.push(sample.scenario.flow);
    }
    // The third asks when promo codes expire: labelled a storewide timing FAQ, the
    // handbook's promo code articles are a fair match too.
    expect(intents).toEqual(["product_defect", "product_defect", "purchase_dispute"]);
    expect(flows).toEqual(["product_defect", "product_defect", "storewide_query"]);
  });

  it("stops when the caller aborts", async () => {
    const controller = new AbortController();
    controller.abort(new Error("deadline"));
    await expect(offline.draft(request("return"), { signal: controller.signal })).rejects.toThrow("deadline");
  });
});

describe("the offline hand-over", () => {
  const ask = (query: string, language?: string) =>
    offline.draft(
      { ...request(query), ...(language ? { language } : {}) },
      { signal: new AbortController().signal },
    );

  it("is written in the customer's language when no article fits, and says why none did", async () => {
    const spanish = await ask("Mi código promocional no funciona en la caja, ¿qué hago?", "es");
    expect(spanish.citations).toEqual([]);
    expect(spanish.text).toBe(
      "¡Gracias por su mensaje! Un miembro de nuestro equipo lo revisará y le responderá en breve.",
    );
    expect(spanish.language).toBe("es");
    expect(spanish.remarks?.join(" ")).toContain(
      "The customer writes Spanish: the offline drafter finds articles by their words",
    );
    const german = await ask("Xyzzy quux frobnicate", "de");
    expect(german.text).toMatch(/^Vielen Dank für Ihre Nachricht!/);
  });

  it("stays English for English (no remark) and for a language it has no wording for", async () => {
    const english = await ask("Xyzzy quux frobnicate");
    expect(english.text).toBe(
      "Thanks for your message! A member of our team will look into this and get back to you shortly.",
    );
    expect(english.remarks ?? []).toEqual([]);
    const japanese = await ask("Xyzzy quux frobnicate", "ja");
    expect(japanese.language).toBe("en");
    expect(japanese.text).toMatch(/^Thanks for your message!/);
  });
});

describe("an FAQ none of whose parts a question is about", () => {
  it("asks which of its topics the customer means instead of quoting them all, with low confidence", async () => {
    const result = await draft("How long does shipping usually take?");
    expect(result.citations).toEqual(["storewide-query--timing-faq"]);
    expect(result.text).toBe(
      "Happy to help! Is your question about spring collection release, store opening hours, annual sale dates or promo code expiry?",
    );
    expect(result.confidence).toBeLessThanOrEqual(0.4);
    expect(result.remarks?.[0]).toContain("No part of “Timing FAQ (Storewide Query)” is about this question");
    // One part asked about: that part only, as before.
    expect((await draft("how long is a promo code good for")).text).toBe(
      "Good question! Promo codes typically last 7 days from when they're issued.",
    );
  });
});

describe("a question naming one item's FAQ while its words fit another's", () => {
  it("answers from the FAQ of the item the customer names, and says so", async () => {
    const jeans = await draft("what material are the jeans");
    expect(jeans.citations).toEqual(["single-item-query--jeans-faq"]);
    expect(jeans.remarks?.join(" ")).toContain("The customer names “Jeans FAQ (Single-Item Query)”");
    expect(jeans.confidence).toBeLessThan(0.85);
    const jacket = await draft("How should I wash my jacket? Can it go in the dryer?");
    expect(jacket.citations).toEqual(["single-item-query--jacket-faq"]);
    expect(jacket.text).toContain("machine washed cold on a gentle cycle and hung to dry");
    // Naming the best match's own item changes nothing.
    const shirt = await draft("can I put my shirt in the dryer");
    expect(shirt.citations).toEqual(["single-item-query--shirt-faq"]);
    expect(shirt.remarks?.join(" ")).not.toContain("The customer names");
  });
});
