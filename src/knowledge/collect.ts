import { Lexicon } from "./lexicon.ts";
import type { IndexField } from "./search.ts";
import { termOf } from "./text.ts";

/**
 * The index build's one pass over the documents: each text tokenised once, raw counts per
 * field kept per (document, term) entry. Everything is in flat typed arrays, not arrays or
 * objects per document: their memory is outside the heap, so the collector has nothing to
 * copy while the index grows.
 */

/** `array` with room for `size` items, doubled when it grows; new slots hold `fill`. */
export function room(array: Int32Array<ArrayBuffer>, size: number, fill = 0): Int32Array<ArrayBuffer> {
  if (size <= array.length) return array;
  const next = new Int32Array(Math.max(size, array.length * 2));
  if (fill !== 0) next.fill(fill, array.length);
  next.set(array);
  return next;
}

/** Words to term ids: a surface word's id is its canonical stemmed term's. */
export class Vocabulary {
  readonly termIds = new Map<string, number>();
  readonly surfaceIds = new Map<string, number>();

  idOf(word: string): number {
    let id = this.surfaceIds.get(word);
    if (id === undefined) {
      const term = termOf(word);
      id = this.termIds.get(term);
      if (id === undefined) {
        id = this.termIds.size;
        this.termIds.set(term, id);
      }
      this.surfaceIds.set(word, id);
    }
    return id;
  }
}

export class Collector {
  /** Per document and field: its length in words, weight and length normalisation. */
  readonly lengths: Float64Array;
  readonly fieldWeights: Float64Array;
  readonly fieldB: Float64Array;
  /** Every (document, term) pair in document order. */
  entryTerm = new Int32Array(1 << 16);
  /** Each entry's raw counts per field, six bits each in one integer (at most 5 fields). */
  entryPacked = new Int32Array(1 << 16);
  readonly docEntries: Int32Array;
  entries = 0;
  // Per term.
  postingLengths = new Int32Array(1024);
  topicalDf = new Int32Array(1024);
  private counts: Int32Array;
  private lastDoc = new Int32Array(1024).fill(-1);
  private lastTopical = new Int32Array(1024).fill(-1);
  private lastTitle = new Int32Array(1024).fill(-1);
  /** Which question-like part last saw a term: dedupes a part's ids without a Set per part. */
  private lastPart = new Int32Array(1024).fill(-1);
  /** The current document's terms. */
  private touched = new Int32Array(1024);
  private terms = 0;
  /** Each document's title terms: titleIds[titleStart[doc] .. titleStart[doc + 1]). */
  titleIds = new Int32Array(1 << 14);
  readonly titleStart: Int32Array;
  private titles = 0;
  /**
   * Question-like parts as their unique terms, back to back: part q is
   * askIds[askEnd[q - 1] .. askEnd[q]), and document doc's parts are docParts[doc] .. docParts[doc + 1].
   */
  askIds = new Int32Array(1 << 16);
  askEnd = new Int32Array(1 << 14);
  readonly docParts: Int32Array;
  private asks = 0;
  parts = 0;
  private partNumber = 0;
  private readonly lexicon: Lexicon;

  constructor(
    readonly n: number,
    readonly fieldCount: number,
    readonly vocabulary: Vocabulary,
  ) {
    if (fieldCount > 5) throw new Error("the search index packs at most 5 fields");
    this.lengths = new Float64Array(n * fieldCount);
    this.fieldWeights = new Float64Array(n * fieldCount);
    this.fieldB = new Float64Array(n * fieldCount);
    this.docEntries = new Int32Array(n + 1);
    this.titleStart = new Int32Array(n + 1);
    this.docParts = new Int32Array(n + 1);
    this.counts = new Int32Array(1024 * fieldCount);
    this.lexicon = new Lexicon((word) => vocabulary.idOf(word));
  }

  add(doc: number, fields: IndexField[]): void {
    this.terms = 0;
    for (let f = 0; f < this.fieldCount; f++) {
      const field = fields[f] as IndexField;
      let length = 0;
      for (let p = 0; p < field.parts.length; p++)
        // Articles are written by the team: no customer names to look for.
        length += this.addPart(doc, f, field, field.parts[p] as string, p < field.ask);
      const at = doc * this.fieldCount + f;
      this.lengths[at] = length;
      this.fieldWeights[at] = field.weight;
      this.fieldB[at] = field.b;
    }
    this.close(doc);
  }

  /** Counts one text of field `f`; its length in words. */
  private addPart(doc: number, f: number, field: IndexField, text: string, ask: boolean): number {
    const words = this.lexicon.read(text);
    const ids = this.lexicon.ids();
    this.partNumber++;
    // Room for every word first, so the arrays below stay the same through the loop.
    let maxId = -1;
    for (let w = 0; w < words; w++) maxId = Math.max(maxId, ids[w] as number);
    if (maxId >= this.lastDoc.length) this.grow(maxId + 1);
    if (ask) this.askIds = room(this.askIds, this.asks + words);
    if (f === 0) this.titleIds = room(this.titleIds, this.titles + words);
    this.touched = room(this.touched, this.terms + words);
    const { lastDoc, lastTitle, lastPart, lastTopical, counts, topicalDf, titleIds, askIds, touched } = this;
    const fieldCount = this.fieldCount;
    const partNumber = this.partNumber;
    for (let w = 0; w < words; w++) {
      const id = ids[w] as number;
      if (f === 0 && lastTitle[id] !== doc) {
        lastTitle[id] = doc;
        titleIds[this.titles++] = id;
      }
      if (ask && lastPart[id] !== partNumber) {
        lastPart[id] = partNumber;
        askIds[this.asks++] = id;
      }
      if (lastDoc[id] !== doc) {
        lastDoc[id] = doc;
        touched[this.terms++] = id;
      }
      counts[id * fieldCount + f] = (counts[id * fieldCount + f] as number) + 1;
      if (field.topical && lastTopical[id] !== doc) {
        lastTopical[id] = doc;
        topicalDf[id] = (topicalDf[id] as number) + 1;
      }
    }
    if (ask && words > 0) {
      this.askEnd = room(this.askEnd, this.parts + 1);
      this.askEnd[this.parts++] = this.asks;
    }
    return words;
  }

  /** The document's terms become entries, their counts packed. */
  private close(doc: number): void {
    const { terms, fieldCount, counts, touched } = this;
    if (this.entries + terms > this.entryTerm.length) {
      this.entryTerm = room(this.entryTerm, this.entries + terms);
      this.entryPacked = room(this.entryPacked, this.entries + terms);
    }
    for (let t = 0; t < terms; t++) {
      const id = touched[t] as number;
      // Six bits per field's count in one number: saturated BM25 hardly moves past 63.
      let packed = 0;
      for (let f = 0; f < fieldCount; f++) {
        packed |= Math.min(63, counts[id * fieldCount + f] as number) << (6 * f);
        counts[id * fieldCount + f] = 0;
      }
      this.entryTerm[this.entries] = id;
      this.entryPacked[this.entries] = packed;
      this.entries++;
      this.postingLengths[id] = (this.postingLengths[id] as number) + 1;
    }
    this.docEntries[doc + 1] = this.entries;
    this.titleStart[doc + 1] = this.titles;
    this.docParts[doc + 1] = this.parts;
  }

  private grow(size: number): void {
    const capacity = Math.max(size, this.lastDoc.length * 2);
    const counts = new Int32Array(capacity * this.fieldCount);
    counts.set(this.counts);
    this.counts = counts;
    this.lastDoc = room(this.lastDoc, capacity, -1);
    this.lastTopical = room(this.lastTopical, capacity, -1);
    this.lastTitle = room(this.lastTitle, capacity, -1);
    this.lastPart = room(this.lastPart, capacity, -1);
    this.topicalDf = room(this.topicalDf, capacity);
    this.postingLengths = room(this.postingLengths, capacity);
  }
}
