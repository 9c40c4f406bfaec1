import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildKb } from "../../scripts/build-kb.ts";
import { focusedAnswer } from "../../src/knowledge/answer.ts";
import { type Article, createKnowledgeBase, parseArticle } from "../../src/knowledge/kb.ts";
import { createOfflineProvider } from "../../src/llm/offline.ts";
import type { DraftRequest } from "../../src/llm/types.ts";

const kbDir = new URL("../../kb/", import.meta.url);
const kb = createKnowledgeBase(
  readdirSync(kbDir).map((name) => ({ name, content: readFileSync(new URL(name, kbDir), "utf8") })),
);
const offline = createOfflineProvider({ kb });
const draft = (query: string) =>
  offline.draft(
    { system: "", conversation: query, query, knowledge: [], temperature: 0, maxTokens: 500 } as DraftRequest,
    {
      signal: new AbortController().signal,
    },
  );

const FAQ = `---
title: Store FAQ
---
# Store FAQ

## Answer

Happy to help!

### Opening hours
We open at 9am every day.

### Gift wrapping
Gift wrapping costs $3 at checkout.

## Guidance
Check the store's own page first.
`;

describe("FAQ articles answer the part the customer asked about", () => {
  it("reads ### parts under the answer; the whole answer is the opening and every part", () => {
    const article = parseArticle("faq.md", FAQ);
    expect(article.answerParts).toEqual([
      { topic: "Opening hours", text: "We open at 9am every day." },
      { topic: "Gift wrapping", text: "Gift wrapping costs $3 at checkout." },
    ]);
    expect(article.answer).toBe(
      "Happy to help! We open at 9am every day. Gift wrapping costs $3 at checkout.",
    );
    expect(article.guidance).toBe("Check the store's own page first.");
  });

  it("the demo's opening-hours question gets the hours, not the spring collection and the sale", async () => {
    const result = await draft("what are your opening hours?");
    expect(result.citations).toEqual(["storewide-query--timing-faq"]);
    expect(result.text).toBe(
      "Good question! Opening hours vary by location, so let me know which store you're asking about and I'll check for you.",
    );
    expect(result.remarks).toContain("Answers the part of the article on “Store opening hours”.");
  });

  it("two questions in one message keep both parts, in the article's order", async () => {
    const result = await draft("how much is shipping and do you gift wrap?");
    expect(result.text).toContain("Gift wrapping and name stitching");
    expect(result.text).toContain("Standard shipping is $8");
    expect(result.text).not.toContain("free shipping");
    expect(result.text.indexOf("Gift wrapping")).toBeLessThan(result.text.indexOf("Standard shipping"));
  });

  it("a question about the subject as a whole, or one word shared by chance, gets the whole answer and every topic", () => {
    const boots = kb.get("single-item-query--boots-faq") as Article;
    const topics = (boots.answerParts ?? []).map((p) => p.topic);
    expect(topics.length).toBeGreaterThanOrEqual(3);
    // "tell" is in the sizes part's text ("tell me the style"), by chance.
    expect(focusedAnswer(boots, "tell me about your boots")).toEqual({
      text: boots.answer,
      topics: [],
      unmatched: topics,
    });
    expect(focusedAnswer(boots, "boots boots boots?")).toEqual({
      text: boots.answer,
      topics: [],
      unmatched: topics,
    });
    const plain = kb.get("product-defect--return-due-to-size") as Article;
    expect(focusedAnswer(plain, "return opening hours gift wrap")).toEqual({
      text: plain.answer,
      topics: [],
    });
  });

  it("every demo FAQ question lands on one or two parts of its article", async () => {
    const faqs = kb.articles.filter((a) => a.answerParts);
    expect(faqs).toHaveLength(8);
    let focused = 0;
    let total = 0;
    for (const article of faqs)
      for (const question of article.questions) {
        total++;
        const result = await draft(question);
        if (result.citations[0] === article.id && result.text.length < article.answer.length) focused++;
      }
    // A few ask about the subject in words no part uses ("how do I become a gold member"): whole answer.
    expect(focused / total).toBeGreaterThanOrEqual(0.9);
  });

  it("the build script writes parts as ### sections and refuses an FAQ without answer text", () => {
    const out = `${process.env.TMPDIR ?? "/tmp"}/quill-kb-${process.pid}`;
    const content = `${out}-content`;
    mkdirSync(content, { recursive: true });
    const guidelines = {
      "Storewide Query": {
        description: "FAQ questions",
        subflows: {
          "Timing FAQ": { actions: [{ type: "x", button: "N/A", text: "Read the FAQ", subtext: [] }] },
        },
      },
    };
    writeFileSync(
      `${content}/storewide-query.yaml`,
      `- subflow: Timing FAQ\n  summary: when things happen\n  aliases: [hours]\n  questions: [when do you open, what time, hours?]\n  answer: "Hi!"\n  parts:\n    - topic: Opening hours\n      text: "We open at nine in the morning."\n    - topic: Sale dates\n      text: "The sale starts in July every year."\n`,
    );
    try {
      expect(buildKb(guidelines, content, out)).toBe(1);
      const article = parseArticle("a.md", readFileSync(`${out}/storewide-query--timing-faq.md`, "utf8"));
      expect(article.answerParts?.map((p) => p.topic)).toEqual(["Opening hours", "Sale dates"]);
      writeFileSync(
        `${content}/storewide-query.yaml`,
        `- subflow: Timing FAQ\n  summary: when things happen\n  aliases: [hours]\n  questions: [when do you open, what time, hours?]\n  answer: "Hi!"\n`,
      );
      expect(() => buildKb(guidelines, content, out)).toThrow(/at least 20 characters, or parts/);
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(content, { recursive: true, force: true });
    }
  });
});
