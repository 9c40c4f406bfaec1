import { stemmer } from "stemmer";
import { NAME_CUES, PHRASES_BY_FIRST, STOP_WORDS, WORDS } from "./words.ts";

/**
 * Words as retrieval sees them: lower case, accents removed, customer vocabulary mapped to
 * one canonical word (synonyms), then stemmed, so "refunded", "reimbursement" and "money
 * back" meet "refund".
 */

/** Same letters regardless of accents or width ("Ｒｅｆｕｎｄ", "remboursé"), case kept, no apostrophes. */
function fold(text: string): { text: string; ascii: boolean } {
  // One scan tells plain ASCII text (most text) from text with apostrophes or other letters.
  let apostrophe = false;
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 39 || c === 96 || c === 0x2019) apostrophe = true;
    else if (c > 126 || (c < 32 && c !== 9 && c !== 10 && c !== 13)) ascii = false;
  }
  const plain = apostrophe ? text.replace(/['’`]/g, "") : text;
  // Normalisation is the costliest step, so only when needed.
  if (ascii) return { text: plain, ascii: true };
  // Only punctuation and spaces beyond ASCII (dashes, quotes, no-break spaces): they separate
  // words whatever their form, so the ASCII path reads the text the same. (A full-width
  // apostrophe is punctuation too, but folds to "'", which joins "don＇t".)
  if (!/[^\p{ASCII}\p{P}\p{Z}]|\uff07/u.test(plain))
    return { text: plain.replace(/[^\p{ASCII}]/gu, " "), ascii: true };
  return {
    text: plain
      .normalize("NFKC")
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/['’`＇]/g, ""),
    ascii: false,
  };
}

const isCapitalised = (word: string) => {
  const c = word.charCodeAt(0);
  return (c >= 65 && c <= 90) || (c > 127 && word[0] !== word[0]?.toLowerCase());
};

/** `words` at `at` equal `expected` (lower case). */
function matches(lower: string[], at: number, expected: string[]): boolean {
  for (let k = 0; k < expected.length; k++) if (lower[at + k] !== expected[k]) return false;
  return true;
}

/** Three digits or more: an order number or a phone, not a word. */
function looksLikeANumber(word: string): boolean {
  let digits = 0;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++digits >= 3) return true;
  }
  return false;
}

const CUE_STARTS = new Set(NAME_CUES.map((c) => c[0] as string));

/** Stop words and phrase starts in one map: one lookup per word in the tokeniser's loop. */
const STOP = 1;
const PHRASE_START = 2;
const SPECIAL = new Map<string, number>();
for (const word of STOP_WORDS) SPECIAL.set(word, STOP);
for (const word of PHRASES_BY_FIRST.keys()) SPECIAL.set(word, (SPECIAL.get(word) ?? 0) | PHRASE_START);
/** One-character words that start a phrase ("2 factor"): every other one is dropped unlooked. */
const SHORT_STARTS = new Set([...PHRASES_BY_FIRST.keys()].filter((w) => w.length === 1));

/** A lower-case word's flags: dropped without a look (one letter), starts a phrase, kept when alone. */
export const SKIP = 1;
export const STARTS = 2;
export const KEPT = 4;
/** What the tokeniser decides about a word wherever it stands (see wordsOf), as flags. */
export function flagsOf(word: string): number {
  if (word.length === 1 && !SHORT_STARTS.has(word)) return SKIP;
  const special = SPECIAL.get(word) ?? 0;
  return (
    (special & PHRASE_START ? STARTS : 0) |
    ((special & STOP) === 0 && word.length > 1 && word.length < 40 && !looksLikeANumber(word) ? KEPT : 0)
  );
}

/** The lower-case ASCII words of a text: a character scan, a third faster than a global match. */
function asciiWords(lower: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      words.push(lower.slice(start, i));
      start = -1;
    }
  }
  if (start >= 0) words.push(lower.slice(start));
  return words;
}
const NAME_CUE = /\b(?:im|i am|this is|its|it is|my name is|names|here)\b/;

const stems = new Map<string, string>();
function stem(word: string): string {
  let s = stems.get(word);
  if (s === undefined) {
    s = stemmer(word);
    // The cache is bounded: a flood of unique words (ids, junk) must not grow it forever.
    if (stems.size > 100_000) stems.clear();
    stems.set(word, s);
  }
  return s;
}

/** A word as the index stores it: canonical synonym, stemmed. */
export function termOf(word: string): string {
  return stem(WORDS[word] ?? word);
}

/** A text's distinct terms as retrieval compares them (no name detection: titles, topics, questions). */
export const termsOf = (text: string) => new Set(wordsOf(text, false).map(termOf));

/**
 * The surface words of a text, before synonyms and stemming (for typo correction).
 * `names: false` skips looking for introduced names (articles' answers have none).
 */
export function wordsOf(text: string, names = true): string[] {
  const folded = fold(text);
  const lowerText = folded.text.toLowerCase();
  const lower = folded.ascii ? asciiWords(lowerText) : (lowerText.match(/[\p{L}\p{N}]+/gu) ?? []);
  // Case is needed only to see a name; lower-casing a rare letter may split it differently.
  let raw: string[] | undefined;
  if (names && NAME_CUE.test(lowerText)) {
    raw = folded.text.match(folded.ascii ? /[A-Za-z0-9]+/g : /[\p{L}\p{N}]+/gu) ?? [];
    if (raw.length !== lower.length) raw = undefined;
  }
  const out: string[] = [];
  for (let i = 0; i < lower.length; ) {
    const word = lower[i] as string;
    if (raw) {
      // "this is Grace Liu" / "Marcus Bell here": skip the name.
      const cue = CUE_STARTS.has(word) ? NAME_CUES.find((c) => matches(lower, i, c)) : undefined;
      if (cue) {
        let j = i + cue.length;
        while (j < raw.length && j - i - cue.length < 3 && isCapitalised(raw[j] as string)) j++;
        if (j > i + cue.length) {
          i = j;
          continue;
        }
      }
      if (isCapitalised(raw[i] as string)) {
        let j = i;
        while (j < raw.length && j - i < 3 && isCapitalised(raw[j] as string)) j++;
        if (lower[j] === "here") {
          i = j + 1;
          continue;
        }
      }
    }
    const flags = flagsOf(word);
    if (flags & SKIP) {
      i++;
      continue;
    }
    const phrase =
      flags & STARTS ? PHRASES_BY_FIRST.get(word)?.find((p) => matches(lower, i, p.words)) : undefined;
    if (phrase) {
      for (const w of phrase.to) if (!STOP_WORDS.has(w)) out.push(w);
      i += phrase.words.length;
      continue;
    }
    if (flags & KEPT) out.push(word);
    i++;
  }
  return out;
}
