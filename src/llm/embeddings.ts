import OpenAI from "openai";
import type { Embedder } from "../knowledge/hybrid.ts";
import { fromSdkError, LlmError, registerSecrets } from "./errors.ts";
import { fetchWithBodyTimeout } from "./fetch.ts";
import { openAiCredentials } from "./openai.ts";

/**
 * Text embeddings for hybrid retrieval: OpenAI's /v1/embeddings, or the same endpoint of
 * an OpenAI-compatible server (Ollama, vLLM, LM Studio). Vectors come back unit length, so
 * a dot product is their cosine.
 */

export interface EmbedderOptions {
  name: "openai" | "compatible";
  /** Unset (compatible only): no Authorization header. */
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  model: string;
  timeoutMs: number;
  retries: number;
  fetch?: typeof fetch | undefined;
}

/** Inputs per request: well under OpenAI's 2,048 inputs and 300,000 tokens per call. */
const BATCH = 64;
/** An input's cut-off: the models read at most 8,192 tokens, about 4 characters each. */
const MAX_CHARS = 24_000;

export function unit(values: ArrayLike<number>): Float32Array {
  const vector = Float32Array.from(values);
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

export function createOpenAiEmbedder(options: EmbedderOptions): Embedder {
  // Its errors may echo the key back: scrubSecrets removes it from every LlmError.
  registerSecrets([options.apiKey]);
  const client = new OpenAI({
    ...openAiCredentials(options.name, options.apiKey),
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    timeout: options.timeoutMs,
    maxRetries: options.retries,
    fetch: fetchWithBodyTimeout(options.timeoutMs, options.fetch),
  });
  const name = `${options.name} embeddings`;
  return {
    model: `${options.name}:${options.model}`,
    async embed(texts, { signal }) {
      const out: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += BATCH) {
        const input = texts.slice(start, start + BATCH).map((t) => t.slice(0, MAX_CHARS) || " ");
        let answer: OpenAI.Embeddings.CreateEmbeddingResponse;
        try {
          answer = await client.embeddings.create(
            { model: options.model, input, encoding_format: "float" },
            { signal },
          );
        } catch (error) {
          throw fromSdkError(name, error, OpenAI);
        }
        const data = [...(answer.data ?? [])].sort((a, b) => a.index - b.index);
        if (data.length !== input.length || data.some((d) => !Array.isArray(d.embedding)))
          throw new LlmError(name, "malformed", `${data.length} embeddings for ${input.length} inputs`);
        const dimensions = data[0]?.embedding.length ?? 0;
        if (dimensions === 0 || data.some((d) => d.embedding.length !== dimensions))
          throw new LlmError(name, "malformed", "embeddings of different lengths");
        for (const d of data) out.push(unit(d.embedding));
      }
      return out;
    },
  };
}
