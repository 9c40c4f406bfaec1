import { detectAll } from "tinyld/light";
import { ALIASES, fold, parseLanguage } from "./names.ts";

/**
 * The customer's language: detected from their own words when those are long enough to
 * tell, else the Crisp locale, else English. Trigrams come from tinyld's light profile (pure
 * JS, ~70 KB, no native code: the same on Node and Workers); a short list of each common
 * language's small words is the second opinion on short texts.
 */

export interface DetectedLanguage {
  /** ISO 639-1 code. */
  language: string;
  /** Where it came from: the customer's words, the Crisp locale, or the default. */
  source: "text" | "locale" | "default";
}

/** Scripts written without spaces: a few characters say as much as a sentence. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}]/gu;
/** Below this, a text is a greeting or an acknowledgement ("hi", "ok merci"): not enough to tell. */
const MIN_WORDS = 3;
const MIN_LETTERS = 12;
const MIN_UNSPACED = 4;
/** From this many words on, trigrams alone may decide. */
const SURE_WORDS = 6;
/** The leader must beat the runner-up by this factor, or the text is ambiguous (es/pt, da/nb). */
const LEAD = 1.25;

/** Links, addresses, order numbers and redaction placeholders say nothing of the language. */
function wordsOnly(text: string): string {
  return text
    .replace(/\bhttps?:\/\/\S+|\bwww\.\S+/gi, " ")
    .replace(/\S+@\S+/g, " ")
    .replace(/\[[a-z ]+\d+\]/gi, " ")
    .replace(/[\d#%$€£]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * The commonest short words of the languages customers write to support teams in most.
 * Trigram detectors mistake short English questions for Polish or Hungarian ("I forgot my
 * password"); these words are the second opinion that settles it.
 */
const FUNCTION_WORDS: Record<string, string> = {
  en: "i my me the a an is are was to of and for in on it you your can do does did how what why where when not no yet have has with this that get please hi hello thanks thank there from been still will would any after",
  fr: "je j le la les un une des du de et est pas ne mon ma mes vous votre vos pour sur avec que qui il elle au aux ce c n bonjour merci oui non ou comment pourquoi quand toujours suis ai",
  de: "ich mein meine meinen meiner der die das den dem ein eine einen und ist nicht sie wie was wo warum wann mit fur auf zu kann konnen hallo danke bitte noch habe mir mich wurde",
  es: "yo mi mis el la los las un una y es no que de por para con se como donde hola gracias puedo quiero esta del al me todavia he cuando",
  pt: "eu meu minha meus minhas o a os as um uma e nao que de do da dos das por para com se como onde ola obrigado obrigada posso quero esta ao no na me voce voces ainda fui pelo pela",
  it: "io il lo gli le un una e non che di del della per con mi mio mia come dove ciao grazie posso voglio sono ho ancora",
  nl: "ik mijn de het een en is niet wat waar hoe waarom met voor op van te kan kunnen u jullie hallo bedankt dank graag heb ben nog geen",
};
const FUNCTION_SETS = Object.fromEntries(
  Object.entries(FUNCTION_WORDS).map(([lang, words]) => [lang, new Set(words.split(" "))]),
);
/** How much the share of a language's function words counts against the trigram score (0..1). */
const WORD_WEIGHT = 1.5;

/** The language of one text, when the text is long and clear enough to say; otherwise undefined. */
export function detectTextLanguage(text: string, hint?: string): string | undefined {
  const clean = wordsOnly(text);
  const words = clean.match(/\p{L}{2,}/gu) ?? [];
  const letters = words.join("").length;
  const unspaced = clean.match(UNSPACED)?.length ?? 0;
  if (unspaced < MIN_UNSPACED && (words.length < MIN_WORDS || letters < MIN_LETTERS)) return undefined;
  const ranked = detectAll(clean).map((r) => ({ ...r, lang: ALIASES[r.lang] ?? r.lang }));
  const best = ranked[0]?.accuracy ?? 0;
  const tokens = (fold(clean).match(/\p{L}+/gu) ?? []).filter(Boolean);
  const scores = new Map<string, number>();
  for (const r of ranked) if (best > 0) scores.set(r.lang, r.accuracy / best);
  const hits = new Map<string, number>();
  for (const [lang, set] of Object.entries(FUNCTION_SETS)) {
    const count = tokens.filter((t) => set.has(t)).length;
    hits.set(lang, count);
    if (count > 0) scores.set(lang, (scores.get(lang) ?? 0) + (WORD_WEIGHT * count) / tokens.length);
  }
  const [top, second] = [...scores].sort((a, b) => b[1] - a[1]);
  if (!top || top[1] <= 0) return undefined;
  // The locale is one of the close candidates: the text agrees with it.
  const hinted = hint ? scores.get(hint) : undefined;
  if (hint && hinted !== undefined && hinted * LEAD >= top[1]) return hint;
  if (second && top[1] < second[1] * LEAD) return undefined;
  // A short text overrides the locale only with some of its language's own small words
  // ("update street address" reads as German to trigrams alone).
  if (words.length < SURE_WORDS && !hits.get(top[0])) return undefined;
  return top[0];
}

/**
 * The customer's language from their texts (most telling first: their latest words, then
 * everything they wrote), else the locale (`fr-FR` → fr), else English.
 */
export function detectLanguage(texts: string[], locale?: string | undefined): DetectedLanguage {
  const fromLocale = parseLanguage(locale);
  for (const text of texts) {
    const found = text.trim() ? detectTextLanguage(text, fromLocale) : undefined;
    if (found) return { language: found, source: "text" };
  }
  if (fromLocale) return { language: fromLocale, source: "locale" };
  // A locale quill has no name for still says what the visitor reads.
  const raw = locale?.split(/[-_]/)[0]?.toLowerCase();
  if (raw && /^[a-z]{2}$/.test(raw)) return { language: raw, source: "locale" };
  return { language: "en", source: "default" };
}
