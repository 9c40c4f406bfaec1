import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createKnowledgeBase } from "../../src/knowledge/kb.ts";
import { withoutKnownDetails } from "../../src/llm/known-details.ts";
import { createOfflineProvider } from "../../src/llm/offline.ts";

/** An offline draft does not ask the customer again for what they already wrote. */

const kbDir = new URL("../../kb/", import.meta.url);
const files = readdirSync(kbDir)
  .filter((n) => n.endsWith(".md") && n !== "README.md")
  .map((name) => ({ name, content: readFileSync(new URL(name, kbDir), "utf8") }));
const kb = createKnowledgeBase(files);
const answerOf = (id: string) => kb.get(id)?.answer ?? "";
const sentences = (text: string) => text.split(/(?<=[.?!])\s+/);

describe("a request for details the customer already gave", () => {
  it("drops the order ID and the wait from 'where is my order? 12 days, order #48213'", () => {
    const { text, dropped } = withoutKnownDetails(
      answerOf("shipping-issue--missing-item"),
      "Where is my order? I ordered 12 days ago, order #48213, and the tracking hasn't moved.",
    );
    expect(dropped).toEqual(["the order ID", "how long they have waited"]);
    expect(text).toContain(
      "Could you send me your full name or account ID, your username and the email address on your account?",
    );
    expect(text).not.toMatch(/order ID|how many days/);
  });

  it("keeps what is still missing, joined as a sentence, and the second request's own verb", () => {
    const { text } = withoutKnownDetails(
      answerOf("shipping-issue--manage-shipping"),
      "My name is Jane Doe, username janed, [email 1], order 77120. It is in transit. New address is 55 Elm St.",
    );
    expect(sentences(text)).toContain(
      "Please also let me know what you'd like changed: the new delivery address, or the item you meant to order.",
    );
    expect(text).not.toMatch(/full name|username|order ID|shipping status/);
    const payment = withoutKnownDetails(
      answerOf("order-issue--status-delivery-time"),
      "order 55123, Jane here, my name is Jane Doe",
    );
    expect(sentences(payment.text)).toContain(
      "Please tell me the delivery time you'd like (for example, evening instead of morning).",
    );
  });

  it("sees a name however the customer introduces themselves, and not in Title Case alone", () => {
    const answer = answerOf("purchase-dispute--bad-price-yesterday");
    for (const said of ["I'm Jane Doe", "Hi, this is Jane Doe", "My name is jane", "Account ID: AC-4410"])
      expect(withoutKnownDetails(answer, said).dropped, said).toContain("their name");
    expect(withoutKnownDetails(answer, "Order Was Wrong And Late").dropped).not.toContain("their name");
  });

  it("does not ask again for a promo code the customer typed", () => {
    const answer = answerOf("purchase-dispute--promo-code-invalid");
    for (const said of ["The promo code SPRING20 says it's invalid", "my code is save10 and it fails"])
      expect(withoutKnownDetails(answer, said).text, said).not.toContain("the code you're trying to use");
    expect(withoutKnownDetails(answer, "my promo code doesn't work").dropped).not.toContain("the code");
  });

  it("drops a remark about a detail it no longer asks for", () => {
    const { text } = withoutKnownDetails(
      answerOf("product-defect--initiate-refund"),
      "username janed, order #55123, [email 1], my name is Jane Doe",
    );
    expect(sentences(text)).toContain(
      "Please send me the reason for the refund and the amount you paid for the item.",
    );
  });

  it("leaves identity checks ('three of the following') and answers with nothing given untouched", () => {
    const address = answerOf("manage-account--manage-change-address");
    expect(withoutKnownDetails(address, "order #12345, [email 1]").text).toBe(address);
    const refund = answerOf("product-defect--initiate-refund");
    expect(withoutKnownDetails(refund, "hi, I want my money back")).toEqual({ text: refund, dropped: [] });
  });

  it("writes every demo article's requests as whole sentences, whatever is dropped", () => {
    const everything =
      "My name is Jane Doe, username janed, [email 1], order #77120, I'm a gold member. It's been 5 days and it's in transit.";
    for (const { name } of files) {
      const answer = answerOf(name.replace(/\.md$/, ""));
      const before = new Set(sentences(answer));
      const changed = sentences(withoutKnownDetails(answer, everything).text).filter((s) => !before.has(s));
      for (const sentence of changed) {
        expect(sentence, name).toMatch(/^[A-Z].*[.?!]$/);
        expect(sentence, name).not.toMatch(
          / {2}|\b(?:your|the|me) (?:I|and|or|along|as)\b|send me (?:how|what|which|whether)\b|, ,|\band\s*[.?!]$/,
        );
      }
    }
  });
});

describe("the offline drafter", () => {
  it("says in the note what it did not ask again", async () => {
    const offline = createOfflineProvider({ kb });
    const query = "Where is my order? I ordered 12 days ago, order #48213, and the tracking hasn't moved.";
    const result = await offline.draft(
      {
        system: "",
        conversation: `Customer: ${query}`,
        query,
        knowledge: [],
        temperature: 0,
        maxTokens: 500,
      },
      { signal: new AbortController().signal },
    );
    expect(result.citations).toEqual(["shipping-issue--missing-item"]);
    expect(result.text).not.toMatch(/order ID|how many days/);
    expect(result.remarks).toContain(
      "Does not ask again for what the customer already gave: the order ID, how long they have waited.",
    );
  });
});
