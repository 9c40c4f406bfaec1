import { distance } from "fastest-levenshtein";
import { termOf, wordsOf } from "./text.ts";

/**
 * The search index: field-weighted BM25 (BM25F) over integer term ids, whose leaders are
 * reranked by how close the question is to each document's question-like texts (example
 * questions, aliases, title). Terms are ids so that building 10,000 articles allocates
 * arrays, not maps per document (bench/kb-search.ts).
 */

export interface IndexField {
  /** The field's texts; the first `ask` of them are also compared whole with the question. */
  parts: string[];
  ask: number;
  weight: number;
  /** BM25 length normalisation (0: none, 1: full). */
  b: number;
  /** Counts towards document frequency: an answer's boilerplate must not make words common. */
  topical: boolean;
}

export interface IndexHit {
  doc: number;
  /** Combined score, 0..1: lexical fit and question closeness. */
  score: number;
  /** This document's BM25F score as a share of the best one's (0..1). */
  lexical: number;
  /** Cosine similarity to the closest question-like text (0..1). */
  questionMatch: number;
  /** Share of the query's words (unknown ones included) the document contains (0..1). */
  coverage: number;
  matchedTerms: number;
  /** A query word is in the document's first field (its title). */
  titleMatch: boolean;
}

export interface IndexOptions {
  k1: number;
  /** How many BM25F leaders the question reranker looks at. */
  rerank: number;
  /** Weight of question closeness against the lexical score (0..1). */
  questionWeight: number;
}

const sorted = (w: string) => [...w].sort().join("");
const sameLetters = (a: string, b: string) => a.length === b.length && sorted(a) === sorted(b);

export function buildIndex(docs: IndexField[][], options: IndexOptions) {
  const n = docs.length;
  const termIds = new Map<string, number>();
  const surfaceIds = new Map<string, number>();
  const idOf = (word: string) => {
    let id = surfaceIds.get(word);
    if (id === undefined) {
      const term = termOf(word);
      id = termIds.get(term);
      if (id === undefined) {
        id = termIds.size;
        termIds.set(term, id);
      }
      surfaceIds.set(word, id);
    }
    return id;
  };

  // One pass over the documents: each text tokenised once, raw counts per field kept in
  // the postings (few large arrays, not objects per document, so the collector has little
  // to copy); BM25F's length normalisation needs the average lengths, applied afterwards.
  const fieldCount = docs[0]?.length ?? 0;
  if (fieldCount > 5) throw new Error("the search index packs at most 5 fields");
  const lengths = Array.from({ length: fieldCount }, () => new Float64Array(n));
  // Every (document, term) pair in document order, in flat typed arrays: their memory is
  // outside the heap, so the collector never copies them while the index grows.
  let entryTerm = new Int32Array(1 << 16);
  /** Each entry's raw counts per field, six bits each in one integer (at most 5 fields). */
  let entryPacked = new Int32Array(1 << 16);
  const docEntries = new Int32Array(n + 1);
  let entries = 0;
  let postingLengths = new Int32Array(1024);
  let topicalDf = new Int32Array(1024);
  let counts = new Int32Array(1024 * fieldCount);
  let lastDoc = new Int32Array(1024).fill(-1);
  let lastTopical = new Int32Array(1024).fill(-1);
  /** Which question-like part last saw a term: dedupes a part's ids without a Set per part. */
  let lastPart = new Int32Array(1024).fill(-1);
  const grow = (size: number) => {
    if (size <= lastDoc.length) return;
    const capacity = Math.max(size, lastDoc.length * 2);
    const c = new Int32Array(capacity * fieldCount);
    c.set(counts);
    counts = c;
    const widen = (old: Int32Array, fill: number) => {
      const next = new Int32Array(capacity).fill(fill);
      next.set(old);
      return next;
    };
    lastDoc = widen(lastDoc, -1);
    lastTopical = widen(lastTopical, -1);
    lastPart = widen(lastPart, -1);
    topicalDf = widen(topicalDf, 0);
    postingLengths = widen(postingLengths, 0);
  };
  /** Per document: its title's ids, and its question-like parts as unique ids with their ends. */
  const titles: Int32Array[] = [];
  const askIds: Int32Array[] = [];
  const askEnds: Uint16Array[] = [];
  let partNumber = 0;
  docs.forEach((fields, doc) => {
    const touched: number[] = [];
    const asks: number[] = [];
    const ends: number[] = [];
    const title: number[] = [];
    fields.forEach((field, f) => {
      let length = 0;
      field.parts.forEach((part, p) => {
        // Articles are written by the team: no customer names to look for.
        const words = wordsOf(part, false);
        const ask = p < field.ask;
        partNumber++;
        for (const word of words) {
          const id = idOf(word);
          if (id >= lastDoc.length) grow(id + 1);
          if (f === 0) title.push(id);
          if (ask && lastPart[id] !== partNumber) {
            lastPart[id] = partNumber;
            asks.push(id);
          }
          if (lastDoc[id] !== doc) {
            lastDoc[id] = doc;
            touched.push(id);
          }
          counts[id * fieldCount + f] = (counts[id * fieldCount + f] as number) + 1;
          if (field.topical && lastTopical[id] !== doc) {
            lastTopical[id] = doc;
            topicalDf[id] = (topicalDf[id] as number) + 1;
          }
        }
        length += words.length;
        if (ask && words.length > 0) ends.push(asks.length);
      });
      (lengths[f] as Float64Array)[doc] = length;
    });
    if (entries + touched.length > entryTerm.length) {
      const capacity = Math.max(entries + touched.length, entryTerm.length * 2);
      const term = new Int32Array(capacity);
      term.set(entryTerm);
      entryTerm = term;
      const packed = new Int32Array(capacity);
      packed.set(entryPacked);
      entryPacked = packed;
    }
    for (const id of touched) {
      // Six bits per field's count in one number: saturated BM25 hardly moves past 63.
      let packed = 0;
      for (let f = 0; f < fieldCount; f++) {
        packed |= Math.min(63, counts[id * fieldCount + f] as number) << (6 * f);
        counts[id * fieldCount + f] = 0;
      }
      entryTerm[entries] = id;
      entryPacked[entries] = packed;
      entries++;
      postingLengths[id] = (postingLengths[id] as number) + 1;
    }
    docEntries[doc + 1] = entries;
    titles.push(Int32Array.from(new Set(title)));
    askIds.push(Int32Array.from(asks));
    askEnds.push(Uint16Array.from(ends));
  });
  const vocabulary = termIds.size;
  const averages = lengths.map((l) => Math.max(1, l.reduce((a, b) => a + b, 0) / Math.max(1, n)));

  // BM25F's pseudo-frequency per posting: field weights over length-normalised counts,
  // each document's factor per field computed once.
  const factors = new Float64Array(fieldCount * n);
  docs.forEach((fields, doc) => {
    fields.forEach((field, f) => {
      const length = (lengths[f] as Float64Array)[doc] as number;
      factors[doc * fieldCount + f] =
        field.weight / (1 - field.b + (field.b * length) / (averages[f] as number));
    });
  });
  // Postings as one array per measure (compressed rows): term `id`'s documents, ascending,
  // are postingDocs[postingStart[id] .. postingStart[id + 1]).
  const postingStart = new Int32Array(vocabulary + 1);
  for (let id = 0; id < vocabulary; id++)
    postingStart[id + 1] = (postingStart[id] as number) + (postingLengths[id] as number);
  const postingDocs = new Int32Array(entries);
  const postingTf = new Float64Array(entries);
  const fill = postingStart.slice(0, vocabulary);
  for (let doc = 0; doc < n; doc++) {
    const base = doc * fieldCount;
    for (let e = docEntries[doc] as number, end = docEntries[doc + 1] as number; e < end; e++) {
      const id = entryTerm[e] as number;
      let value = 0;
      for (let f = 0, packed = entryPacked[e] as number; packed !== 0; f++, packed >>>= 6)
        value += (packed & 63) * (factors[base + f] as number);
      const at = fill[id] as number;
      fill[id] = at + 1;
      postingDocs[at] = doc;
      postingTf[at] = value;
    }
  }
  const idf = new Float64Array(vocabulary);
  for (let id = 0; id < vocabulary; id++) {
    const df = topicalDf[id] || (postingLengths[id] as number);
    idf[id] = Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }
  // The norm of each question-like part, for the cosine.
  const askNorms = askIds.map((ids, doc) => {
    const ends = askEnds[doc] as Uint16Array;
    const norms = new Float64Array(ends.length);
    let start = 0;
    ends.forEach((end, q) => {
      let sum = 0;
      for (let i = start; i < end; i++) sum += (idf[ids[i] as number] as number) ** 2;
      norms[q] = Math.sqrt(sum);
      start = end;
    });
    return norms;
  });

  // Typo correction: surface words by length, so a misspelling is compared with few words.
  const byLength = new Map<number, string[]>();
  for (const word of surfaceIds.keys()) {
    const list = byLength.get(word.length) ?? [];
    list.push(word);
    byLength.set(word.length, list);
  }
  const corrections = new Map<string, number>();
  const correct = (word: string): number | undefined => {
    // Short words are too often other words one letter away ("mars", "mark"): left alone.
    if (word.length < 5 || /\d/.test(word)) return undefined;
    const cached = corrections.get(word);
    if (cached !== undefined) return cached < 0 ? undefined : cached;
    const maxDistance = word.length < 8 ? 1 : 2;
    let best = -1;
    let bestDistance = maxDistance + 1;
    let bestDocs = 0;
    for (let len = word.length - maxDistance; len <= word.length + maxDistance; len++) {
      for (const candidate of byLength.get(len) ?? []) {
        // A swap of two letters ("chraged") is one slip, not two edits.
        const edits = distance(word, candidate);
        const d = edits === 2 && sameLetters(word, candidate) ? 1 : edits;
        if (d > maxDistance || d > bestDistance) continue;
        const id = surfaceIds.get(candidate) as number;
        const count = postingLengths[id] as number;
        if (d < bestDistance || count > bestDocs) {
          best = id;
          bestDistance = d;
          bestDocs = count;
        }
      }
    }
    if (corrections.size > 10_000) corrections.clear();
    corrections.set(word, best);
    return best < 0 ? undefined : best;
  };

  const scores = new Float64Array(n);
  const matched = new Uint16Array(n);

  function search(query: string, limit: number): IndexHit[] {
    // Known terms of the query; a misspelt word counts as the word it is closest to.
    const weights = new Map<number, number>();
    const words = new Set(wordsOf(query));
    for (const word of words) {
      const id = surfaceIds.get(word) ?? termIds.get(termOf(word));
      // Two words for one thing ("pink, not burgundy" are both colours) count a little more.
      if (id !== undefined)
        weights.set(id, Math.min(1.5, (weights.get(id) ?? 0) + (weights.has(id) ? 0.5 : 1)));
      else {
        const fixed = correct(word);
        if (fixed !== undefined && !weights.has(fixed)) weights.set(fixed, 0.8);
      }
    }
    if (weights.size === 0) return [];

    const touched: number[] = [];
    const k1 = options.k1;
    for (const [id, weight] of weights) {
      const termIdf = (idf[id] as number) * weight;
      for (let i = postingStart[id] as number, end = postingStart[id + 1] as number; i < end; i++) {
        const doc = postingDocs[i] as number;
        const tf = postingTf[i] as number;
        if (matched[doc] === 0) touched.push(doc);
        matched[doc] = (matched[doc] as number) + 1;
        scores[doc] = (scores[doc] as number) + (termIdf * tf * (k1 + 1)) / (tf + k1);
      }
    }
    // The BM25F leaders, best first (a bounded insertion list: the reranked few).
    const leaders: number[] = [];
    const keep = options.rerank;
    for (const doc of touched) {
      const s = scores[doc] as number;
      if (leaders.length === keep && s <= (scores[leaders[keep - 1] as number] as number)) continue;
      let at = leaders.length;
      while (at > 0 && (scores[leaders[at - 1] as number] as number) < s) at--;
      leaders.splice(at, 0, doc);
      if (leaders.length > keep) leaders.pop();
    }
    const top = scores[leaders[0] as number] as number;

    let queryNorm = 0;
    for (const [id, weight] of weights) queryNorm += ((idf[id] as number) * weight) ** 2;
    queryNorm = Math.sqrt(queryNorm);
    const hits = leaders.map((doc): IndexHit => {
      let closest = 0;
      const ids = askIds[doc] as Int32Array;
      const norms = askNorms[doc] as Float64Array;
      let start = 0;
      (askEnds[doc] as Uint16Array).forEach((end, q) => {
        let shared = 0;
        for (let i = start; i < end; i++) {
          const weight = weights.get(ids[i] as number);
          if (weight !== undefined) shared += (idf[ids[i] as number] as number) ** 2 * weight;
        }
        const norm = norms[q] as number;
        if (norm > 0) closest = Math.max(closest, shared / (queryNorm * norm));
        start = end;
      });
      const questionMatch = Math.min(1, closest);
      const lexical = top > 0 ? (scores[doc] as number) / top : 0;
      let titleMatch = false;
      for (const id of titles[doc] as Int32Array) if (weights.has(id)) titleMatch = true;
      return {
        doc,
        score: (1 - options.questionWeight) * lexical + options.questionWeight * questionMatch,
        lexical,
        questionMatch,
        coverage: (matched[doc] as number) / words.size,
        matchedTerms: matched[doc] as number,
        titleMatch,
      };
    });
    for (const doc of touched) {
      scores[doc] = 0;
      matched[doc] = 0;
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, limit);
  }

  return { search };
}
