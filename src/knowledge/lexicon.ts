import { flagsOf, KEPT, SKIP, STARTS, wordsOf } from "./text.ts";
import { PHRASES_BY_FIRST, STOP_WORDS } from "./words.ts";

/**
 * What `wordsOf(text, false)` gives, as the ids `idOf` gives its words, for a build that reads
 * thousands of texts: each distinct word is looked up from its characters, not sliced out and
 * hashed as a new string per occurrence, and what the tokeniser decides about it (stop word,
 * number, phrase start) is decided once. Texts with letters beyond ASCII go through wordsOf.
 */

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

/** Every word of 40 letters or more: never kept, never in a phrase. */
const LONG = 0;
/** FNV-1a. */
const OFFSET = 0x811c9dc5 | 0;
const step = (hash: number, c: number) => Math.imul(hash ^ c, 16777619);

export class Lexicon {
  private readonly words: string[] = [""];
  private readonly flags: number[] = [SKIP];
  /** Each entry's hash. */
  private hashes = new Int32Array(1 << 11);
  /** Each entry's id, once it has been kept; -1 before. */
  private readonly entryIds: number[] = [-1];
  /** Open addressing over entries, by hash. */
  private table = new Int32Array(1 << 12).fill(-1);
  private readonly letters = new Uint16Array(40);
  private readonly phrases = new Map<number, Array<{ entries: number[]; to: string[] }>>();
  /** The text being read, as entries. */
  private sequence = new Int32Array(1024);
  private out = new Int32Array(1024);

  constructor(private readonly idOf: (word: string) => number) {
    for (const [first, list] of PHRASES_BY_FIRST)
      this.phrases.set(
        this.lookUp(first),
        list.map((p) => ({
          entries: p.words.map((w) => this.lookUp(w)),
          to: p.to.filter((w) => !STOP_WORDS.has(w)),
        })),
      );
  }

  /** The ids of a text's words, in `ids()[0 .. count)`; the array is reused by the next read. */
  read(text: string): number {
    const total = this.scan(text);
    let count = 0;
    if (total < 0) {
      for (const word of wordsOf(text, false)) count = this.push(count, this.idOf(word));
      return count;
    }
    const { sequence, flags, entryIds } = this;
    for (let i = 0; i < total; ) {
      const entry = sequence[i] as number;
      const flag = flags[entry] as number;
      if (flag & SKIP) {
        i++;
        continue;
      }
      const phrase = flag & STARTS ? this.phraseAt(entry, i, total) : undefined;
      if (phrase) {
        for (const w of phrase.to) count = this.push(count, this.idOf(w));
        i += phrase.entries.length;
        continue;
      }
      if (flag & KEPT) {
        let id = entryIds[entry] as number;
        if (id < 0) {
          id = this.idOf(this.words[entry] as string);
          entryIds[entry] = id;
        }
        count = this.push(count, id);
      }
      i++;
    }
    return count;
  }

  ids(): Int32Array {
    return this.out;
  }

  /** The phrase that starts with `entry` at `sequence[i]`, if one does. */
  private phraseAt(entry: number, i: number, total: number) {
    const sequence = this.sequence;
    return this.phrases.get(entry)?.find((p) => {
      for (let k = 0; k < p.entries.length; k++)
        if (i + k >= total || sequence[i + k] !== p.entries[k]) return false;
      return true;
    });
  }

  /** The text's words as entries into `sequence`; -1 when it needs wordsOf. */
  private scan(text: string): number {
    const letters = this.letters;
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
        if (count === this.sequence.length) {
          const next = new Int32Array(count * 2);
          next.set(this.sequence);
          this.sequence = next;
        }
        this.sequence[count++] = long ? LONG : this.entryOf(length, hash);
        length = 0;
        hash = OFFSET;
        long = false;
      }
    }
    return count;
  }

  private push(count: number, id: number): number {
    if (count === this.out.length) {
      const next = new Int32Array(count * 2);
      next.set(this.out);
      this.out = next;
    }
    this.out[count] = id;
    return count + 1;
  }

  /** The entry of the word in `letters[0 .. length)`, whose hash is `hash`. */
  private entryOf(length: number, hash: number): number {
    const { table, hashes, words, letters } = this;
    for (let slot = hash & (table.length - 1); ; slot = (slot + 1) & (table.length - 1)) {
      const entry = table[slot] as number;
      if (entry === -1) return this.add(String.fromCharCode(...letters.subarray(0, length)), hash);
      if (hashes[entry] !== hash) continue;
      const word = words[entry] as string;
      if (word.length !== length) continue;
      let k = 0;
      while (k < length && word.charCodeAt(k) === letters[k]) k++;
      if (k === length) return entry;
    }
  }

  private lookUp(word: string): number {
    let hash = OFFSET;
    for (let k = 0; k < word.length; k++) {
      this.letters[k] = word.charCodeAt(k);
      hash = step(hash, word.charCodeAt(k));
    }
    return this.entryOf(word.length, hash);
  }

  private add(word: string, hash: number): number {
    const entry = this.words.length;
    this.words.push(word);
    if (entry === this.hashes.length) {
      const next = new Int32Array(entry * 2);
      next.set(this.hashes);
      this.hashes = next;
    }
    this.hashes[entry] = hash;
    this.entryIds.push(-1);
    this.flags.push(flagsOf(word));
    if (this.words.length * 2 > this.table.length) {
      this.table = new Int32Array(this.table.length * 2).fill(-1);
      for (let e = 1; e < this.words.length; e++) this.insert(e);
    } else this.insert(entry);
    return entry;
  }

  private insert(entry: number): void {
    const table = this.table;
    let slot = (this.hashes[entry] as number) & (table.length - 1);
    while (table[slot] !== -1) slot = (slot + 1) & (table.length - 1);
    table[slot] = entry;
  }
}
