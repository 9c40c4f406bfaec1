import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
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
  it("holds one article per handbook subflow, each with the ABCD attribution", () => {
    expect(kb.size).toBe(55);
    const article = kb.get("product-defect--return-due-to-size");
    expect(article?.title).toBe("Return Due to Size (Product Defect)");
    expect(article?.answer).toContain(
      "Guest members: Ask for the purchase date, return possible within the last 30 days",
    );
    expect(article?.body).toContain("ASAPP Research, MIT licence");
  });

  it("parses front matter and falls back to the file name and first paragraph", () => {
    const plain = parseArticle(
      "opening-hours.md",
      "# Opening hours\n\nWe answer chats 9:00–18:00 CET, Monday to Friday.\n",
    );
    expect(plain).toMatchObject({ id: "opening-hours", title: "Opening hours", intent: "general" });
    expect(plain.answer).toBe("We answer chats 9:00–18:00 CET, Monday to Friday.");
  });

  it("refuses two articles with the same id", () => {
    const doc = { name: "a.md", content: "---\nid: same\n---\n# A\n\ntext" };
    expect(() => createKnowledgeBase([doc, { ...doc, name: "b.md" }])).toThrow(/duplicate article id "same"/);
  });
});

describe("offline drafter", () => {
  it("answers from the best article, cites it and says where the answer comes from", async () => {
    const result = await draft("Hi, I need to return some jeans, I got the wrong size");
    expect(result.citations).toEqual(["product-defect--return-due-to-size"]);
    expect(result.intent).toBe("product_defect");
    expect(result.needsHuman).toBe(false);
    expect(result.text).toContain("Gold members get unlimited returns");
    expect(result.text).toContain("Return Due to Size (Product Defect)");
    expect(result.provider).toBe("offline");
    expect(result.confidence).toBeGreaterThan(0.4);
  });

  it("hands over to a human when nothing in the knowledge base matches", async () => {
    const result = await draft("Can you recommend a good pizza place near the Eiffel tower?");
    expect(result.needsHuman).toBe(true);
    expect(result.citations).toEqual([]);
    expect(result.needsHumanReason).toMatch(/no knowledge base article/);
    expect(result.confidence).toBeLessThan(0.2);
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
