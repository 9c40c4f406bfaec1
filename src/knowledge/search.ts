import { Collector, Vocabulary } from "./collect.ts";
import { termOf, wordsOf } from "./text.ts";
import { createCorrector } from "./typos.ts";

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

/** The finished index: postings as compressed rows, and what the reranker compares. */
interface Index {
  n: number;
  vocabulary: Vocabulary;
  /** Term `id`'s documents, ascending: postingDocs[postingStart[id] .. postingStart[id + 1]). */
  postingStart: Int32Array;
  postingDocs: Int32Array;
  /** BM25F's pseudo-frequency per posting. */
  postingTf: Float64Array;
  idf: Float64Array;
  askIds: Int32Array;
  askEnd: Int32Array;
  /** The norm of each question-like part, for the cosine. */
  askNorms: Float64Array;
  docParts: Int32Array;
  titleIds: Int32Array;
  titleStart: Int32Array;
  correct: (word: string) => number | undefined;
}

/**
 * The index over `n` documents; `fieldsOf(doc)` gives a document's fields when the build
 * reaches it, so they are garbage by the next one instead of all kept through the build.
 */
export function buildIndex(n: number, fieldsOf: (doc: number) => IndexField[], options: IndexOptions) {
  const vocabulary = new Vocabulary();
  const first = n > 0 ? fieldsOf(0) : [];
  const collector = new Collector(n, first.length, vocabulary);
  for (let doc = 0; doc < n; doc++) collector.add(doc, doc === 0 ? first : fieldsOf(doc));
  return { search: createSearch(finish(collector), options) };
}

/** BM25F's length normalisation needs the average lengths: applied once every document is read. */
function finish(c: Collector): Index {
  const { n, fieldCount, lengths } = c;
  const averages = new Float64Array(fieldCount);
  for (let f = 0; f < fieldCount; f++) {
    let sum = 0;
    for (let doc = 0; doc < n; doc++) sum += lengths[doc * fieldCount + f] as number;
    averages[f] = Math.max(1, sum / Math.max(1, n));
  }
  const vocabulary = c.vocabulary.termIds.size;
  const postings = postingsOf(c, vocabulary, averages);
  const idf = new Float64Array(vocabulary);
  for (let id = 0; id < vocabulary; id++) {
    const df = c.topicalDf[id] || (c.postingLengths[id] as number);
    idf[id] = Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }
  const askNorms = new Float64Array(c.parts);
  for (let q = 0, start = 0; q < c.parts; q++) {
    const end = c.askEnd[q] as number;
    let sum = 0;
    for (let i = start; i < end; i++) sum += (idf[c.askIds[i] as number] as number) ** 2;
    askNorms[q] = Math.sqrt(sum);
    start = end;
  }
  return {
    n,
    vocabulary: c.vocabulary,
    ...postings,
    idf,
    askIds: c.askIds,
    askEnd: c.askEnd,
    askNorms,
    docParts: c.docParts,
    titleIds: c.titleIds,
    titleStart: c.titleStart,
    correct: createCorrector(c.vocabulary.surfaceIds, c.postingLengths),
  };
}

/** Field weights over length-normalised counts, each document's factor per field computed once. */
function postingsOf(c: Collector, vocabulary: number, averages: Float64Array) {
  const { n, fieldCount, lengths, fieldWeights, fieldB, docEntries, entryTerm, entryPacked } = c;
  const factors = new Float64Array(fieldCount * n);
  for (let i = 0; i < n * fieldCount; i++) {
    const b = fieldB[i] as number;
    factors[i] =
      (fieldWeights[i] as number) /
      (1 - b + (b * (lengths[i] as number)) / (averages[i % fieldCount] as number));
  }
  const postingStart = new Int32Array(vocabulary + 1);
  for (let id = 0; id < vocabulary; id++)
    postingStart[id + 1] = (postingStart[id] as number) + (c.postingLengths[id] as number);
  const postingDocs = new Int32Array(c.entries);
  const postingTf = new Float64Array(c.entries);
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
  return { postingStart, postingDocs, postingTf };
}

/** Known terms of the query with their weights; a misspelt word counts as the word it is closest to. */
function queryTerms(index: Index, words: Set<string>) {
  const weights = new Map<number, number>();
  const fixes = new Set<number>();
  const { surfaceIds, termIds } = index.vocabulary;
  for (const word of words) {
    const id = surfaceIds.get(word) ?? termIds.get(termOf(word));
    // Two words for one thing ("pink, not burgundy" are both colours) count a little more.
    if (id !== undefined) {
      weights.set(id, Math.min(1.5, (weights.get(id) ?? 0) + (weights.has(id) ? 0.5 : 1)));
      // A word also typed right elsewhere in the query is no guess.
      fixes.delete(id);
    } else {
      const fixed = index.correct(word);
      if (fixed !== undefined && !weights.has(fixed)) {
        weights.set(fixed, 0.8);
        fixes.add(fixed);
      }
    }
  }
  return { weights, fixes };
}

/**
 * The query side over a finished index. The hot loop reads the index's arrays as constants of
 * this one closure, which V8 compiles to a faster loop than the same one over parameters (bench/kb-search.ts).
 */
function createSearch(index: Index, options: IndexOptions) {
  const { n, idf, postingStart, postingDocs, postingTf, titleIds, titleStart } = index;
  const scores = new Float64Array(n);
  const matched = new Uint16Array(n);
  const guessed = new Uint16Array(n);
  const k1 = options.k1;
  return (query: string, limit: number): IndexHit[] => {
    const words = new Set(wordsOf(query));
    const { weights, fixes } = queryTerms(index, words);
    if (weights.size === 0) return [];
    const touched: number[] = [];
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
    const leaders = leadersOf(scores, touched, options.rerank);
    const top = scores[leaders[0] as number] as number;
    let queryNorm = 0;
    for (const [id, weight] of weights) queryNorm += ((idf[id] as number) * weight) ** 2;
    queryNorm = Math.sqrt(queryNorm);
    const hits = leaders.map((doc): IndexHit => {
      const questionMatch = Math.min(1, closeness(index, doc, weights, queryNorm));
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
  };
}

/** The BM25F leaders, best first (a bounded insertion list: the reranked few). */
function leadersOf(scores: Float64Array, touched: number[], keep: number): number[] {
  const leaders: number[] = [];
  for (const doc of touched) {
    const s = scores[doc] as number;
    if (leaders.length === keep && s <= (scores[leaders[keep - 1] as number] as number)) continue;
    let at = leaders.length;
    while (at > 0 && (scores[leaders[at - 1] as number] as number) < s) at--;
    leaders.splice(at, 0, doc);
    if (leaders.length > keep) leaders.pop();
  }
  return leaders;
}

/** Cosine of the query with the document's closest question-like part. */
function closeness(index: Index, doc: number, weights: Map<number, number>, queryNorm: number): number {
  const { askIds, askEnd, askNorms, idf, docParts } = index;
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
  return closest;
}
