import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { HELP_NOTE, parseCommand } from "../../src/drafting/commands.ts";
import { detectLanguage, detectTextLanguage } from "../../src/language/detect.ts";
import { languageLabel, parseLanguage, translationTarget } from "../../src/language/names.ts";

/** Real customer sentences, as people type them into a support chat. */
const SENTENCES: Record<string, string[]> = {
  fr: [
    "Bonjour, je n'ai toujours pas reçu ma commande, pouvez-vous m'aider ?",
    "Je voudrais annuler mon abonnement s'il vous plaît",
    "Où est mon remboursement ?",
    "Est-ce que je peux retourner mes chaussures ?",
    "J'ai oublié mon mot de passe",
  ],
  de: [
    "Hallo, meine Bestellung ist noch nicht angekommen. Können Sie mir helfen?",
    "Ich möchte mein Abonnement kündigen.",
    "Wo ist meine Rückerstattung?",
    "Kann ich meine Schuhe zurückschicken?",
    "Ich habe mein Passwort vergessen",
  ],
  es: [
    "Hola, todavía no he recibido mi pedido, ¿me pueden ayudar?",
    "Quiero cancelar mi suscripción, por favor.",
    "¿Dónde está mi reembolso?",
    "¿Puedo devolver mis zapatos?",
    "Me cobraron dos veces el mismo pedido",
  ],
  pt: [
    "Olá, ainda não recebi a minha encomenda, podem ajudar-me?",
    "Quero cancelar a minha assinatura, por favor.",
    "Onde está o meu reembolso?",
    "Oi, meu pedido ainda não chegou, vocês podem me ajudar?",
    "Não consigo entrar na minha conta",
  ],
  nl: [
    "Hallo, ik heb mijn bestelling nog steeds niet ontvangen, kunnen jullie me helpen?",
    "Ik wil mijn abonnement opzeggen alstublieft.",
    "Waar blijft mijn terugbetaling?",
    "Kan ik mijn schoenen terugsturen?",
    "Ik ben mijn wachtwoord vergeten",
  ],
  en: [
    "Hi, my order still hasn't arrived, can you help me?",
    "Can I return my shoes?",
    "I forgot my password",
    "Can I get a refund",
    "why was i charged twice",
  ],
};

describe("the customer's language", () => {
  it("is read from real sentences in French, German, Spanish, Portuguese, Dutch and English, whatever the locale says", () => {
    for (const [language, sentences] of Object.entries(SENTENCES)) {
      for (const text of sentences) {
        for (const locale of [undefined, "en-US", "fr-FR", `${language}-XX`]) {
          expect(detectLanguage([text], locale), `${text} (${locale})`).toEqual({
            language,
            source: "text",
          });
        }
      }
    }
  });

  it("falls back to the locale, then to English, for greetings, acknowledgements and numbers", () => {
    for (const text of [
      "hi",
      "ok",
      "merci",
      "bonjour",
      "Hallo",
      "thanks!",
      "ok merci beaucoup",
      "order 12345",
    ]) {
      expect(detectLanguage([text], "de-DE"), text).toEqual({ language: "de", source: "locale" });
      expect(detectLanguage([text], undefined), text).toEqual({ language: "en", source: "default" });
    }
    // Links, addresses and redaction placeholders are no words.
    expect(detectTextLanguage("https://shop.test/fr/commande/123 [email 1] 4111 1111")).toBeUndefined();
    // A locale quill has no name for still counts; nonsense does not.
    expect(detectLanguage(["ok"], "xh-ZA")).toEqual({ language: "xh", source: "locale" });
    expect(detectLanguage(["ok"], "???")).toEqual({ language: "en", source: "default" });
  });

  it("prefers the latest words, then everything the customer wrote", () => {
    const all = "Bonjour, je n'ai toujours pas reçu ma commande, pouvez-vous m'aider ?\nmerci";
    expect(detectLanguage(["merci", all], "en-US")).toEqual({ language: "fr", source: "text" });
    expect(detectLanguage(["Ich habe mein Passwort vergessen", all], "en")).toMatchObject({ language: "de" });
  });

  it("says English for the handbook's English customer questions with no locale (fewer than 1 in 100 otherwise)", () => {
    const dir = new URL("../../kb/", import.meta.url);
    const questions = readdirSync(dir)
      .filter((f) => f.endsWith(".md"))
      .flatMap((f) => readFileSync(new URL(f, dir), "utf8").split("\n"))
      .filter((line) => line.startsWith("  - "))
      .map((line) => line.slice(4));
    expect(questions.length).toBeGreaterThan(500);
    const other = questions.filter((q) => detectLanguage([q]).language !== "en");
    expect(other.length / questions.length).toBeLessThan(0.01);
  });

  it("names languages and reads them as operators write them", () => {
    expect(parseLanguage("de")).toBe("de");
    expect(parseLanguage("German")).toBe("de");
    expect(parseLanguage("deutsch")).toBe("de");
    expect(parseLanguage("FRANÇAIS")).toBe("fr");
    expect(parseLanguage("pt-BR")).toBe("pt");
    expect(parseLanguage("no")).toBe("nb");
    expect(parseLanguage("klingon")).toBeUndefined();
    expect(parseLanguage("")).toBeUndefined();
    expect(languageLabel("fr")).toBe("French (fr)");
    expect(translationTarget("translate the reply into German")).toBe("de");
    expect(translationTarget("reply in Spanish please")).toBe("es");
    expect(translationTarget("translate to français")).toBe("fr");
    // A two-letter word is no language code in free text, and an adjective is no target.
    expect(translationTarget("write it in the friendly tone")).toBeUndefined();
    expect(translationTarget("reply in it")).toBeUndefined();
    expect(translationTarget("mention the German warehouse")).toBeUndefined();
  });
});

describe("OPERATOR_LANGUAGE", () => {
  it("is an optional ISO 639-1 code; a bad value fails naming the variable", () => {
    expect(loadConfig({}).drafting.operatorLanguage).toBeUndefined();
    expect(loadConfig({ OPERATOR_LANGUAGE: "en" }).drafting.operatorLanguage).toBe("en");
    expect(loadConfig({ OPERATOR_LANGUAGE: " DE " }).drafting.operatorLanguage).toBe("de");
    expect(loadConfig({ OPERATOR_LANGUAGE: "en-GB" }).drafting.operatorLanguage).toBe("en");
    for (const bad of ["English", "xx", "eng", "e"]) {
      let error: unknown;
      try {
        loadConfig({ OPERATOR_LANGUAGE: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        `OPERATOR_LANGUAGE: expected an ISO 639-1 language code such as en, fr or de, got "${bad}"`,
      ]);
    }
  });
});

describe("rewrite commands", () => {
  it("are redrafts with a canonical instruction; /translate takes a name or an ISO code", () => {
    expect(parseCommand("/translate fr")).toEqual({
      name: "redraft",
      arg: "translate the reply into French",
      rewrite: { kind: "translate", language: "fr" },
    });
    expect(parseCommand("/translate German")).toEqual(parseCommand("/TRANSLATE de"));
    expect(parseCommand("/translate into German.")).toEqual(parseCommand("/translate de"));
    expect(parseCommand("/shorter")).toEqual({
      name: "redraft",
      arg: "make the reply shorter",
      rewrite: { kind: "shorter" },
    });
    expect(parseCommand("/friendlier")).toMatchObject({ name: "redraft", rewrite: { kind: "friendlier" } });
    expect(parseCommand("/formal")).toMatchObject({ name: "redraft", rewrite: { kind: "formal" } });
    // Not understood: the job answers with a note naming it.
    expect(parseCommand("/translate klingon")).toEqual({ name: "translate", arg: "klingon" });
    expect(parseCommand("/translate")).toEqual({ name: "translate", arg: "" });
    expect(parseCommand("/translated fr")).toBeUndefined();
    expect(HELP_NOTE).toContain("/translate <language>");
    expect(HELP_NOTE).toContain("/shorter · /friendlier · /formal");
  });
});
