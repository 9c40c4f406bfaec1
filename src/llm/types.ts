import { z } from "zod";
import type { KnowledgeSnippet, SearchHit } from "../knowledge/kb.ts";

export type { KnowledgeSnippet };

/**
 * The contract between the drafting pipeline and every provider (openai, anthropic,
 * compatible, offline). Providers never post anything: they return a validated
 * DraftResult or throw an LlmError.
 */

export interface DraftRequest {
  /** Stable part (instructions + knowledge), sent first so provider prompt caching applies. */
  system: string;
  /** The conversation and any operator instructions, sent last. */
  conversation: string;
  /** The customer's latest words (after redaction), for retrieval by the offline drafter. */
  query: string;
  /** Knowledge snippets already placed in `system`, so providers can cite them by id. */
  knowledge: KnowledgeSnippet[];
  /** The retrieved articles behind `knowledge` (the website's own knowledge base), for the offline drafter. */
  hits?: SearchHit[];
  temperature: number;
  maxTokens: number;
  /** BCP 47 hint for the reply language, when known. */
  language?: string;
  /** An operator's /redraft instructions (also in `conversation`), for drafters without a model. */
  instructions?: string;
}

export interface DraftUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
}

export interface DraftResult {
  text: string;
  /** 0..1, the model's own estimate; policy never trusts it alone. */
  confidence: number;
  intent: string;
  needsHuman: boolean;
  needsHumanReason?: string;
  language?: string;
  /** Knowledge snippet ids the draft relies on. */
  citations: string[];
  /** Remarks for the operator (shown in the note, never sent), e.g. an instruction not followed. */
  remarks?: string[];
  usage: DraftUsage;
  model: string;
  provider: string;
}

export interface DraftOptions {
  signal: AbortSignal;
  /** What is left of the draft's deadline: a provider never sleeps past it for a Retry-After. */
  timeLeftMs?: number | undefined;
}

export interface LlmProvider {
  readonly name: string;
  draft(request: DraftRequest, options: DraftOptions): Promise<DraftResult>;
}

/** The structured answer every LLM must produce (JSON schema / tool input). */
export const draftOutputSchema = z.object({
  reply: z.string().min(1),
  confidence: z.number().min(0).max(1),
  intent: z.string().min(1).max(64),
  needs_human: z.boolean(),
  needs_human_reason: z.string().optional().nullable(),
  language: z.string().optional().nullable(),
  citations: z.array(z.string()).default([]),
});
export type DraftOutput = z.infer<typeof draftOutputSchema>;

/** One provider call made while drafting (recorded in llm_calls). */
export interface LlmAttempt {
  provider: string;
  model?: string | undefined;
  /** "ok", an error kind (timeout, rate_limited, …) or "breaker_open". */
  status: string;
  latencyMs: number;
  usage?: DraftUsage | undefined;
  error?: string | undefined;
}

/** What the pipeline drafts with: a provider chain (fallbacks, breakers, one deadline). */
export interface DraftEngine {
  /** The providers it tries, in order, when known (a chain's): the offline drafter alone cannot rewrite. */
  readonly providers?: readonly string[] | undefined;
  draft(request: DraftRequest, options: DraftOptions): Promise<DraftResult & { attempts: LlmAttempt[] }>;
}
