import { sha256Hex } from "../crypto.ts";
import type { Logger } from "../log.ts";
import type { StoredVector } from "../store/llm.ts";
import { type Article, hitOf, type KnowledgeBase, NO_MATCH, type SearchHit } from "./kb.ts";

/**
 * Hybrid retrieval: the lexical index's candidates and the articles whose embeddings are
 * closest to the question, scored together. Article vectors are kept in the store by the
 * hash of the text they embed, so a restart loads them and an edited article alone is
 * embedded again. Until an index is ready, or when the endpoint fails, retrieval is lexical.
 */

/** Text to unit vectors (an embeddings endpoint: src/llm/embeddings.ts). */
export interface Embedder {
  /** Names the vector space: vectors of different models are never compared. */
  model: string;
  embed(texts: string[], options: { signal: AbortSignal }): Promise<Float32Array[]>;
}

export interface VectorCache {
  embeddings(model: string): Promise<StoredVector[]>;
  saveEmbeddings(model: string, rows: StoredVector[]): Promise<void>;
}

export interface Retriever {
  retrieve(kb: KnowledgeBase, query: string, limit: number): Promise<SearchHit[]>;
  /** Loads or embeds `kb`'s vectors; false when the endpoint failed (retrieval stays lexical). */
  warm(kb: KnowledgeBase): Promise<boolean>;
}

export interface RetrieverOptions {
  embedder?: Embedder | undefined;
  cache: VectorCache;
  log: Logger;
  timeoutMs: number;
  /** Share of the score that comes from the embeddings (0..1). */
  weight?: number;
  now?: () => number;
  /** Counts each retrieval by how it was done. */
  onRetrieval?: (kind: "hybrid" | "lexical" | "failed") => void;
}

/** Without an embedding endpoint: the lexical index alone. */
export const lexicalRetriever: Retriever = {
  retrieve: async (kb, query, limit) => kb.search(query, limit),
  warm: async () => false,
};

/** Candidates each side brings: the lexical reranker's depth. */
const CANDIDATES = 16;
/** Not measured on a real model here (no embedding endpoint on the build machine): `quill eval` measures it. */
const DEFAULT_WEIGHT = 0.4;
const QUERY_CACHE = 256;

/** What an article's vector stands for: the text a customer's question resembles, never the guidance. */
export const embeddingText = (a: Article) =>
  [a.title, a.summary, a.aliases.join("; "), a.questions.join("\n"), a.answer].filter(Boolean).join("\n");

/** Int8 components with one scale per vector: a quarter of the memory, cosines within ~1%. */
export function quantise(vector: Float32Array): { bytes: Int8Array; scale: number } {
  let max = 0;
  for (const v of vector) max = Math.max(max, Math.abs(v));
  const scale = max > 0 ? max / 127 : 1;
  return { bytes: Int8Array.from(vector, (v) => Math.round(v / scale)), scale };
}

const toBase64 = (bytes: Int8Array) => {
  let binary = "";
  const raw = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < raw.length; i += 8192) binary += String.fromCharCode(...raw.subarray(i, i + 8192));
  return btoa(binary);
};
const fromBase64 = (text: string) => {
  const binary = atob(text);
  const bytes = new Int8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = (binary.charCodeAt(i) << 24) >> 24;
  return bytes;
};

interface VectorIndex {
  /** Article id → its row in `vectors`. */
  rows?: Map<string, number>;
  vectors?: Int8Array;
  scales?: Float32Array;
  dimensions: number;
  building?: Promise<boolean> | undefined;
  failures: number;
  retryAt: number;
}

/** What a build needs from the retriever's options. */
interface BuildDeps {
  embedder: Embedder;
  cache: VectorCache;
  log: Logger;
  timeoutMs: number;
  now: () => number;
}

export function createRetriever(options: RetrieverOptions): Retriever {
  if (!options.embedder) return lexicalRetriever;
  const embedder = options.embedder;
  const deps: BuildDeps = { ...options, embedder, now: options.now ?? Date.now };
  const weight = options.weight ?? DEFAULT_WEIGHT;
  const indexes = new WeakMap<KnowledgeBase, VectorIndex>();
  const queries = new Map<string, Float32Array>();

  function indexOf(kb: KnowledgeBase): VectorIndex {
    let index = indexes.get(kb);
    if (!index) {
      index = { dimensions: 0, failures: 0, retryAt: 0 };
      indexes.set(kb, index);
    }
    return index;
  }

  function warm(kb: KnowledgeBase): Promise<boolean> {
    const index = indexOf(kb);
    if (index.vectors) return Promise.resolve(true);
    index.building ??= build(kb, index, deps);
    return index.building;
  }

  async function queryVector(query: string): Promise<Float32Array> {
    const cached = queries.get(query);
    if (cached) return cached;
    const [vector] = await embedder.embed([query], { signal: AbortSignal.timeout(options.timeoutMs) });
    if (queries.size >= QUERY_CACHE) queries.delete(queries.keys().next().value as string);
    queries.set(query, vector as Float32Array);
    return vector as Float32Array;
  }

  async function retrieve(kb: KnowledgeBase, query: string, limit: number): Promise<SearchHit[]> {
    const lexical = kb.search(query, Math.max(limit, CANDIDATES));
    const index = indexOf(kb);
    const lexicalOnly = (kind: "lexical" | "failed") => {
      options.onRetrieval?.(kind);
      return lexical.slice(0, limit);
    };
    if (!index.vectors) {
      // Built in the background: no draft waits for a whole knowledge base to be embedded.
      if (!index.building && deps.now() >= index.retryAt) void warm(kb);
      return lexicalOnly("lexical");
    }
    let q: Float32Array;
    try {
      q = await queryVector(query);
    } catch (error) {
      deps.log.warn(
        { model: embedder.model, err: String(error) },
        "question embedding failed: lexical retrieval",
      );
      return lexicalOnly("failed");
    }
    if (q.length !== index.dimensions) return lexicalOnly("failed");
    options.onRetrieval?.("hybrid");
    return fuse(kb, index, cosinesOf(q, index, kb.size), lexical, weight).slice(0, limit);
  }

  return { warm, retrieve };
}

/** Embeds what the store does not hold yet and loads every article's vector into `index`. */
async function build(kb: KnowledgeBase, index: VectorIndex, deps: BuildDeps): Promise<boolean> {
  const { embedder, cache, log } = deps;
  const model = embedder.model;
  try {
    const hashes = await Promise.all(kb.articles.map((a) => sha256Hex(`${model}\n${embeddingText(a)}`)));
    const stored = new Map((await cache.embeddings(model)).map((r) => [r.hash, r]));
    const missing = kb.articles.map((_, i) => i).filter((i) => !stored.has(hashes[i] as string));
    // In slices, each saved as it arrives: a failure part way keeps what was embedded.
    for (let start = 0; start < missing.length; start += 64) {
      const slice = missing.slice(start, start + 64);
      const vectors = await embedder.embed(
        slice.map((i) => embeddingText(kb.articles[i] as Article)),
        { signal: AbortSignal.timeout(deps.timeoutMs * 2) },
      );
      const rows = vectors.map((v, k): StoredVector => {
        const { bytes, scale } = quantise(v);
        return { hash: hashes[slice[k] as number] as string, vector: toBase64(bytes), scale };
      });
      await cache.saveEmbeddings(model, rows);
      for (const row of rows) stored.set(row.hash, row);
    }
    Object.assign(index, load(kb, hashes, stored), { failures: 0 });
    log.info({ model, articles: kb.size, embedded: missing.length }, "embedding index ready");
    return true;
  } catch (error) {
    index.failures++;
    // Backs off from 30 s to 10 min, so a dead endpoint costs one attempt per window.
    index.retryAt = deps.now() + Math.min(600_000, 30_000 * 2 ** (index.failures - 1));
    log.warn(
      { model, err: String(error), retryInMs: index.retryAt - deps.now() },
      "embedding index failed: retrieval stays lexical",
    );
    return false;
  } finally {
    index.building = undefined;
  }
}

/** The articles' stored vectors side by side, in article order. */
function load(kb: KnowledgeBase, hashes: string[], stored: Map<string, StoredVector>) {
  const first = stored.get(hashes[0] as string);
  const dimensions = first ? fromBase64(first.vector).length : 0;
  const vectors = new Int8Array(dimensions * kb.size);
  const scales = new Float32Array(kb.size);
  hashes.forEach((hash, i) => {
    const row = stored.get(hash) as StoredVector;
    const bytes = fromBase64(row.vector);
    // A model whose vectors changed length under the same name: this article is left out.
    if (bytes.length !== dimensions) return;
    vectors.set(bytes, i * dimensions);
    scales[i] = row.scale;
  });
  const rows = new Map(kb.articles.map((a, i) => [a.id, i]));
  return { rows, vectors, scales, dimensions };
}

function cosinesOf(
  q: Float32Array,
  { vectors, scales, dimensions }: VectorIndex,
  size: number,
): Float32Array {
  const cosines = new Float32Array(size);
  if (!vectors || !scales) return cosines;
  for (let doc = 0; doc < size; doc++) {
    let dot = 0;
    const base = doc * dimensions;
    for (let i = 0; i < dimensions; i++) dot += (q[i] as number) * (vectors[base + i] as number);
    cosines[doc] = dot * (scales[doc] as number);
  }
  return cosines;
}

/** The lexical candidates and the closest few by embedding, each scored on both. */
function fuse(
  kb: KnowledgeBase,
  index: VectorIndex,
  cosines: Float32Array,
  lexical: SearchHit[],
  weight: number,
): SearchHit[] {
  // The closest few, best first (a bounded insertion list, not a sort of every article).
  const closest: number[] = [];
  for (let doc = 0; doc < kb.size; doc++) {
    const c = cosines[doc] as number;
    if (closest.length === CANDIDATES && c <= (cosines[closest[CANDIDATES - 1] as number] as number))
      continue;
    let at = closest.length;
    while (at > 0 && (cosines[closest[at - 1] as number] as number) < c) at--;
    closest.splice(at, 0, doc);
    if (closest.length > CANDIDATES) closest.pop();
  }
  const best = Math.max(1e-6, cosines[closest[0] as number] as number);
  const candidates = new Map<string, SearchHit>(lexical.map((h) => [h.id, h]));
  for (const doc of closest) {
    const article = kb.articles[doc] as Article;
    if (!candidates.has(article.id)) candidates.set(article.id, hitOf(article, NO_MATCH));
  }
  const rows = index.rows as Map<string, number>;
  return [...candidates.values()]
    .map((hit) => {
      const semantic = cosines[rows.get(hit.id) as number] as number;
      return { ...hit, semantic, score: (1 - weight) * hit.score + weight * (Math.max(0, semantic) / best) };
    })
    .sort((a, b) => b.score - a.score);
}
