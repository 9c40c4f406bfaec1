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

export function createRetriever(options: RetrieverOptions): Retriever {
  const { cache, log } = options;
  if (!options.embedder) return lexicalRetriever;
  const embedder = options.embedder;
  const model = embedder.model;
  const weight = options.weight ?? DEFAULT_WEIGHT;
  const now = options.now ?? Date.now;
  const indexes = new WeakMap<KnowledgeBase, VectorIndex>();
  const queries = new Map<string, Float32Array>();

  async function build(kb: KnowledgeBase, index: VectorIndex): Promise<boolean> {
    try {
      const hashes = await Promise.all(kb.articles.map((a) => sha256Hex(`${model}\n${embeddingText(a)}`)));
      const stored = new Map((await cache.embeddings(model)).map((r) => [r.hash, r]));
      const missing = kb.articles.map((_, i) => i).filter((i) => !stored.has(hashes[i] as string));
      // In slices, each saved as it arrives: a failure part way keeps what was embedded.
      for (let start = 0; start < missing.length; start += 64) {
        const slice = missing.slice(start, start + 64);
        const vectors = await embedder.embed(
          slice.map((i) => embeddingText(kb.articles[i] as Article)),
          { signal: AbortSignal.timeout(options.timeoutMs * 2) },
        );
        const rows = vectors.map((v, k): StoredVector => {
          const { bytes, scale } = quantise(v);
          return { hash: hashes[slice[k] as number] as string, vector: toBase64(bytes), scale };
        });
        await cache.saveEmbeddings(model, rows);
        for (const row of rows) stored.set(row.hash, row);
      }
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
      Object.assign(index, { rows, vectors, scales, dimensions, failures: 0 });
      log.info({ model: model, articles: kb.size, embedded: missing.length }, "embedding index ready");
      return true;
    } catch (error) {
      index.failures++;
      // Backs off from 30 s to 10 min, so a dead endpoint costs one attempt per window.
      index.retryAt = now() + Math.min(600_000, 30_000 * 2 ** (index.failures - 1));
      log.warn(
        { model: model, err: String(error), retryInMs: index.retryAt - now() },
        "embedding index failed: retrieval stays lexical",
      );
      return false;
    } finally {
      index.building = undefined;
    }
  }

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
    index.building ??= build(kb, index);
    return index.building;
  }

  async function queryVector(query: string): Promise<Float32Array> {
    const cached = queries.get(query);
    if (cached) return cached;
    const [vector] = await embedder.embed([query], {
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    if (queries.size >= QUERY_CACHE) queries.delete(queries.keys().next().value as string);
    queries.set(query, vector as Float32Array);
    return vector as Float32Array;
  }

  return {
    warm,
    async retrieve(kb, query, limit) {
      const lexical = kb.search(query, Math.max(limit, CANDIDATES));
      const index = indexOf(kb);
      if (!index.vectors || !index.scales || !index.rows) {
        // Built in the background: no draft waits for a whole knowledge base to be embedded.
        if (!index.building && now() >= index.retryAt) void warm(kb);
        options.onRetrieval?.("lexical");
        return lexical.slice(0, limit);
      }
      let q: Float32Array;
      try {
        q = await queryVector(query);
      } catch (error) {
        log.warn({ model, err: String(error) }, "question embedding failed: lexical retrieval");
        options.onRetrieval?.("failed");
        return lexical.slice(0, limit);
      }
      const { vectors, scales, dimensions, rows } = index;
      if (q.length !== dimensions) {
        options.onRetrieval?.("failed");
        return lexical.slice(0, limit);
      }
      const cosines = new Float32Array(kb.size);
      for (let doc = 0; doc < kb.size; doc++) {
        let dot = 0;
        const base = doc * dimensions;
        for (let i = 0; i < dimensions; i++) dot += (q[i] as number) * (vectors[base + i] as number);
        cosines[doc] = dot * (scales[doc] as number);
      }
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
      options.onRetrieval?.("hybrid");
      return [...candidates.values()]
        .map((hit) => {
          const semantic = cosines[rows.get(hit.id) as number] as number;
          return {
            ...hit,
            semantic,
            score: (1 - weight) * hit.score + weight * (Math.max(0, semantic) / best),
          };
        })
        .sort((a, b) => b.score - a.score)
        .slice(0, limit);
    },
  };
}
