import { describe, expect, it } from "vitest";
import { detectLanguage } from "../../src/language/detect.ts";

/** tinyld (the language detector) loads and answers inside workerd as it does on Node. */
describe("language detection on Workers", () => {
  it("reads the customer's language, falling back to the locale for short texts", () => {
    expect(detectLanguage(["Hallo, meine Bestellung ist noch nicht angekommen."], "en-US")).toEqual({
      language: "de",
      source: "text",
    });
    expect(detectLanguage(["Quero cancelar a minha assinatura, por favor."])).toEqual({
      language: "pt",
      source: "text",
    });
    expect(detectLanguage(["ok"], "nl-NL")).toEqual({ language: "nl", source: "locale" });
  });
});
