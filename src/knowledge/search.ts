import { distance } from "fastest-levenshtein";
import { createLexicon, termOf, wordsOf } from "./text.ts";

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
  /** Of those, the terms matched only as a misspelling's closest word ("weather" as "leather"). */
  guessedTerms: number;
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

/** `array` with room for `size` items, doubled when it grows; new slots hold `fill`. */
function room(array: Int32Array<ArrayBuffer>, size: number, fill = 0): Int32Array<ArrayBuffer> {
  if (size <= array.length) return array;
  const next = new Int32Array(Math.max(size, array.length * 2));
  if (fill !== 0) next.fill(fill, array.length);
  next.set(array);
  return next;
}

/**
 * The index over `n` documents; `fieldsOf(doc)` gives a document's fields when the build
 * reaches it, so they are garbage by the next one instead of all kept through the build.
 */
export function buildIndex(n: number, fieldsOf: (doc: number) => IndexField[], options: IndexOptions) {
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
  // the postings; BM25F's length normalisation needs the average lengths, applied afterwards.
  // Everything is in flat typed arrays, not arrays or objects per document: their memory is
  // outside the heap, so the collector has nothing to copy while the index grows.
  const lexicon = createLexicon(idOf);
  const first = n > 0 ? fieldsOf(0) : [];
  const fieldCount = first.length;
  if (fieldCount > 5) throw new Error("the search index packs at most 5 fields");
  /** Per document and field: its length in words, weight and length normalisation. */
  const lengths = new Float64Array(n * fieldCount);
  const fieldWeights = new Float64Array(n * fieldCount);
  const fieldB = new Float64Array(n * fieldCount);
  // Every (document, term) pair in document order.
  let entryTerm = new Int32Array(1 << 16);
  /** Each entry's raw counts per field, six bits each in one integer (at most 5 fields). */
  let entryPacked = new Int32Array(1 << 16);
  const docEntries = new Int32Array(n + 1);
  let entries = 0;
  // Per term.
  let postingLengths = new Int32Array(1024);
  let topicalDf = new Int32Array(1024);
  let counts = new Int32Array(1024 * fieldCount);
  let lastDoc = new Int32Array(1024).fill(-1);
  let lastTopical = new Int32Array(1024).fill(-1);
  let lastTitle = new Int32Array(1024).fill(-1);
  /** Which question-like part last saw a term: dedupes a part's ids without a Set per part. */
  let lastPart = new Int32Array(1024).fill(-1);
  const grow = (size: number) => {
    if (size <= lastDoc.length) return;
    const capacity = Math.max(size, lastDoc.length * 2);
    const c = new Int32Array(capacity * fieldCount);
    c.set(counts);
    counts = c;
    lastDoc = room(lastDoc, capacity, -1);
    lastTopical = room(lastTopical, capacity, -1);
    lastTitle = room(lastTitle, capacity, -1);
    lastPart = room(lastPart, capacity, -1);
    topicalDf = room(topicalDf, capacity);
    postingLengths = room(postingLengths, capacity);
  };
  /** The current document's terms. */
  let touched = new Int32Array(1024);
  /** Each document's title terms: titleIds[titleStart[doc] .. titleStart[doc + 1]). */
  let titleIds = new Int32Array(1 << 14);
  const titleStart = new Int32Array(n + 1);
  let titles = 0;
  /**
   * Question-like parts as their unique terms, back to back: part q is
   * askIds[askEnd[q - 1] .. askEnd[q]), and document doc's parts are docParts[doc] .. docParts[doc + 1].
   */
  let askIds = new Int32Array(1 << 16);
  let askEnd = new Int32Array(1 << 14);
  const docParts = new Int32Array(n + 1);
  let asks = 0;
  let parts = 0;
  let partNumber = 0;
  for (let doc = 0; doc < n; doc++) {
    const fields = doc === 0 ? first : fieldsOf(doc);
    let terms = 0;
    for (let f = 0; f < fieldCount; f++) {
      const field = fields[f] as IndexField;
      let length = 0;
      for (let p = 0; p < field.parts.length; p++) {
        // Articles are written by the team: no customer names to look for.
        const words = lexicon.read(field.parts[p] as string);
        const ids = lexicon.ids();
        const ask = p < field.ask;
        partNumber++;
        if (ask) askIds = room(askIds, asks + words);
        for (let w = 0; w < words; w++) {
          const id = ids[w] as number;
          if (id >= lastDoc.length) grow(id + 1);
          if (f === 0 && lastTitle[id] !== doc) {
            lastTitle[id] = doc;
            titleIds = room(titleIds, titles + 1);
            titleIds[titles++] = id;
          }
          if (ask && lastPart[id] !== partNumber) {
            lastPart[id] = partNumber;
            askIds[asks++] = id;
          }
          if (lastDoc[id] !== doc) {
            lastDoc[id] = doc;
            touched = room(touched, terms + 1);
            touched[terms++] = id;
          }
          counts[id * fieldCount + f] = (counts[id * fieldCount + f] as number) + 1;
          if (field.topical && lastTopical[id] !== doc) {
            lastTopical[id] = doc;
            topicalDf[id] = (topicalDf[id] as number) + 1;
          }
        }
        length += words;
        if (ask && words > 0) {
          askEnd = room(askEnd, parts + 1);
          askEnd[parts++] = asks;
        }
      }
      lengths[doc * fieldCount + f] = length;
      fieldWeights[doc * fieldCount + f] = field.weight;
      fieldB[doc * fieldCount + f] = field.b;
    }
    if (entries + terms > entryTerm.length) {
      entryTerm = room(entryTerm, entries + terms);
      entryPacked = room(entryPacked, entries + terms);
    }
    for (let t = 0; t < terms; t++) {
      const id = touched[t] as number;
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
    titleStart[doc + 1] = titles;
    docParts[doc + 1] = parts;
  }
  const vocabulary = termIds.size;
  const averages = new Float64Array(fieldCount);
  for (let f = 0; f < fieldCount; f++) {
    let sum = 0;
    for (let doc = 0; doc < n; doc++) sum += lengths[doc * fieldCount + f] as number;
    averages[f] = Math.max(1, sum / Math.max(1, n));
  }

  // BM25F's pseudo-frequency per posting: field weights over length-normalised counts,
  // each document's factor per field computed once.
  const factors = new Float64Array(fieldCount * n);
  for (let i = 0; i < n * fieldCount; i++) {
    const b = fieldB[i] as number;
    factors[i] =
      (fieldWeights[i] as number) /
      (1 - b + (b * (lengths[i] as number)) / (averages[i % fieldCount] as number));
  }
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
  const askNorms = new Float64Array(parts);
  for (let q = 0, start = 0; q < parts; q++) {
    const end = askEnd[q] as number;
    let sum = 0;
    for (let i = start; i < end; i++) sum += (idf[askIds[i] as number] as number) ** 2;
    askNorms[q] = Math.sqrt(sum);
    start = end;
  }

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
  const guessed = new Uint16Array(n);

  function search(query: string, limit: number): IndexHit[] {
    // Known terms of the query; a misspelt word counts as the word it is closest to.
    const weights = new Map<number, number>();
    const fixes = new Set<number>();
    const words = new Set(wordsOf(query));
    for (const word of words) {
      const id = surfaceIds.get(word) ?? termIds.get(termOf(word));
      // Two words for one thing ("pink, not burgundy" are both colours) count a little more.
      if (id !== undefined) {
        weights.set(id, Math.min(1.5, (weights.get(id) ?? 0) + (weights.has(id) ? 0.5 : 1)));
        // A word also typed right elsewhere in the query is no guess.
        fixes.delete(id);
      } else {
        const fixed = correct(word);
        if (fixed !== undefined && !weights.has(fixed)) {
          weights.set(fixed, 0.8);
          fixes.add(fixed);
        }
      }
    }
    if (weights.size === 0) return [];

    const touched: number[] = [];
    const k1 = options.k1;
    for (const [id, weight] of weights) {
      const termIdf = (idf[id] as number) * weight;
      const guess = fixes.has(id) ? 1 : 0;
      for (let i = postingStart[id] as number, end = postingStart[id + 1] as number; i < end; i++) {
        const doc = postingDocs[i] as number;
        const tf = postingTf[i] as number;
        if (matched[doc] === 0) touched.push(doc);
        matched[doc] = (matched[doc] as number) + 1;
        guessed[doc] = (guessed[doc] as number) + guess;
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
      for (let q = docParts[doc] as number, last = docParts[doc + 1] as number; q < last; q++) {
        let shared = 0;
        for (let i = q === 0 ? 0 : (askEnd[q - 1] as number), end = askEnd[q] as number; i < end; i++) {
          const weight = weights.get(askIds[i] as number);
          if (weight !== undefined) shared += (idf[askIds[i] as number] as number) ** 2 * weight;
        }
        const norm = askNorms[q] as number;
        if (norm > 0) closest = Math.max(closest, shared / (queryNorm * norm));
      }
      const questionMatch = Math.min(1, closest);
      const lexical = top > 0 ? (scores[doc] as number) / top : 0;
      let titleMatch = false;
      for (let i = titleStart[doc] as number, end = titleStart[doc + 1] as number; i < end; i++)
        if (weights.has(titleIds[i] as number)) titleMatch = true;
      return {
        doc,
        score: (1 - options.questionWeight) * lexical + options.questionWeight * questionMatch,
        lexical,
        questionMatch,
        coverage: (matched[doc] as number) / words.size,
        matchedTerms: matched[doc] as number,
        guessedTerms: guessed[doc] as number,
        titleMatch,
      };
    });
    for (const doc of touched) {
      scores[doc] = 0;
      matched[doc] = 0;
      guessed[doc] = 0;
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, limit);
  }

  return { search };
}
