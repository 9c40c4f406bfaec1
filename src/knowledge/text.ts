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
    if (word.length === 1 && !SHORT_STARTS.has(word)) {
      i++;
      continue;
    }
    const special = SPECIAL.get(word) ?? 0;
    const phrase =
      special & PHRASE_START
        ? PHRASES_BY_FIRST.get(word)?.find((p) => matches(lower, i, p.words))
        : undefined;
    if (phrase) {
      for (const w of phrase.to) if (!STOP_WORDS.has(w)) out.push(w);
      i += phrase.words.length;
      continue;
    }
    if ((special & STOP) === 0 && word.length > 1 && word.length < 40 && !looksLikeANumber(word))
      out.push(word);
    i++;
  }
  return out;
}

/** Non-ASCII characters that only separate words (punctuation, spaces), by code; see fold(). */
const separators = new Map<number, boolean>();
const separates = (c: number) => {
  let yes = separators.get(c);
  if (yes === undefined) {
    yes = c !== 0xff07 && /^[\p{P}\p{Z}]$/u.test(String.fromCharCode(c));
    separators.set(c, yes);
  }
  return yes;
};

/** Entry flags: dropped without a look (one letter), starts a phrase, kept when alone. */
const SKIP = 1;
const STARTS = 2;
const KEPT = 4;
/** Every word of 40 letters or more: never kept, never in a phrase. */
const LONG = 0;

/**
 * What `wordsOf(text, false)` gives, as the ids `idOf` gives its words, for a build that reads
 * thousands of texts: each distinct word is looked up from its characters, not sliced out and
 * hashed as a new string per occurrence, and what the tokeniser decides about it (stop word,
 * number, phrase start) is decided once. Texts with letters beyond ASCII go through wordsOf.
 */
export function createLexicon(idOf: (word: string) => number) {
  const words: string[] = [""];
  const flags: number[] = [SKIP];
  /** Each entry's hash (FNV-1a). */
  let hashes = new Int32Array(1 << 11);
  /** Each entry's id, once it has been kept; -1 before. */
  const entryIds: number[] = [-1];
  let table = new Int32Array(1 << 12).fill(-1);
  const letters = new Uint16Array(40);

  const step = (hash: number, c: number) => Math.imul(hash ^ c, 16777619);
  const OFFSET = 0x811c9dc5 | 0;
  const insert = (entry: number) => {
    let slot = (hashes[entry] as number) & (table.length - 1);
    while (table[slot] !== -1) slot = (slot + 1) & (table.length - 1);
    table[slot] = entry;
  };
  const add = (word: string, hash: number) => {
    const entry = words.length;
    const special = SPECIAL.get(word) ?? 0;
    words.push(word);
    if (entry === hashes.length) {
      const next = new Int32Array(entry * 2);
      next.set(hashes);
      hashes = next;
    }
    hashes[entry] = hash;
    entryIds.push(-1);
    flags.push(
      word.length === 1 && !SHORT_STARTS.has(word)
        ? SKIP
        : (special & PHRASE_START ? STARTS : 0) |
            ((special & STOP) === 0 && word.length > 1 && word.length < 40 && !looksLikeANumber(word)
              ? KEPT
              : 0),
    );
    if (words.length * 2 > table.length) {
      table = new Int32Array(table.length * 2).fill(-1);
      for (let e = 1; e < words.length; e++) insert(e);
    } else insert(entry);
    return entry;
  };
  /** The entry of the word in `letters[0 .. length)`, whose hash is `hash`. */
  const entryOf = (length: number, hash: number) => {
    for (let slot = hash & (table.length - 1); ; slot = (slot + 1) & (table.length - 1)) {
      const entry = table[slot] as number;
      if (entry === -1) return add(String.fromCharCode(...letters.subarray(0, length)), hash);
      if (hashes[entry] !== hash) continue;
      const word = words[entry] as string;
      if (word.length !== length) continue;
      let k = 0;
      while (k < length && word.charCodeAt(k) === letters[k]) k++;
      if (k === length) return entry;
    }
  };
  const lookUp = (word: string) => {
    let hash = OFFSET;
    for (let k = 0; k < word.length; k++) {
      letters[k] = word.charCodeAt(k);
      hash = step(hash, letters[k] as number);
    }
    return entryOf(word.length, hash);
  };
  const phrases = new Map<number, Array<{ entries: number[]; to: string[] }>>();
  for (const [first, list] of PHRASES_BY_FIRST)
    phrases.set(
      lookUp(first),
      list.map((p) => ({ entries: p.words.map(lookUp), to: p.to.filter((w) => !STOP_WORDS.has(w)) })),
    );

  let sequence = new Int32Array(1024);
  let ids = new Int32Array(1024);
  /** The text's words as entries into `sequence`; -1 when it needs wordsOf. */
  const scan = (text: string): number => {
    let count = 0;
    let length = 0;
    let hash = OFFSET;
    let long = false;
    for (let i = 0; i <= text.length; i++) {
      let c = i < text.length ? text.charCodeAt(i) : 32;
      if (c >= 65 && c <= 90) c += 32;
      if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
        if (length < 40) letters[length] = c;
        else long = true;
        hash = step(hash, c);
        length++;
        continue;
      }
      // Apostrophes join a word's halves ("don't" is "dont").
      if (c === 39 || c === 96 || c === 0x2019) continue;
      if (c > 126 && !separates(c)) return -1;
      if (length > 0) {
        if (count === sequence.length) {
          const next = new Int32Array(count * 2);
          next.set(sequence);
          sequence = next;
        }
        sequence[count++] = long ? LONG : entryOf(length, hash);
        length = 0;
        hash = OFFSET;
        long = false;
      }
    }
    return count;
  };
  const push = (count: number, id: number) => {
    if (count === ids.length) {
      const next = new Int32Array(count * 2);
      next.set(ids);
      ids = next;
    }
    ids[count] = id;
    return count + 1;
  };

  return {
    /** The ids of a text's words, in `ids()[0 .. count)`; the array is reused by the next read. */
    read(text: string): number {
      const total = scan(text);
      let count = 0;
      if (total < 0) {
        for (const word of wordsOf(text, false)) count = push(count, idOf(word));
        return count;
      }
      for (let i = 0; i < total; ) {
        const entry = sequence[i] as number;
        const flag = flags[entry] as number;
        if (flag & SKIP) {
          i++;
          continue;
        }
        if (flag & STARTS) {
          const phrase = phrases.get(entry)?.find((p) => {
            for (let k = 0; k < p.entries.length; k++)
              if (i + k >= total || sequence[i + k] !== p.entries[k]) return false;
            return true;
          });
          if (phrase) {
            for (const w of phrase.to) count = push(count, idOf(w));
            i += phrase.entries.length;
            continue;
          }
        }
        if (flag & KEPT) {
          let id = entryIds[entry] as number;
          if (id < 0) {
            id = idOf(words[entry] as string);
            entryIds[entry] = id;
          }
          count = push(count, id);
        }
        i++;
      }
      return count;
    },
    ids: () => ids,
  };
}
