import { systemClock } from "../clock.ts";
import { ConfigError } from "../config.ts";
import { createAnthropicProvider } from "../llm/anthropic.ts";
import { createProviderChain } from "../llm/chain.ts";
import { createOpenAiProvider } from "../llm/openai.ts";
import type { DraftEngine, LlmProvider } from "../llm/types.ts";
import { silentLogger } from "../log.ts";
import type { EvalCase } from "./dataset.ts";

/**
 * An optional LLM judge: scores a draft 1–5 against the operator's real answer, through the
 * same provider interface and chain drafts use (SDK retries, deadline, breakers, fallbacks).
 * Claude models go to Anthropic, anything else to OpenAI (or LLM_BASE_URL).
 */

export interface Judge {
  score(c: EvalCase, draft: string): Promise<{ score: number; reason: string }>;
}

// The grade travels in the draft's structured answer, so every provider can give it.
const INSTRUCTIONS = `You grade support reply drafts. Compare the DRAFT with the REFERENCE answer a human agent actually sent, given the CONVERSATION.
Score 1-5: 5 = as good as the reference (same facts, nothing invented), 4 = minor gaps, 3 = partly right, 2 = mostly wrong or unhelpful, 1 = wrong or harmful (invented policies, prices or links).
Answer in the structured fields: "intent" is "score_" followed by the score (e.g. "score_4"), "reply" is your reason in one sentence, "confidence" how sure you are (0-1), "needs_human" false, "citations" empty.`;

const userMessage = (c: EvalCase, draft: string) =>
  `CONVERSATION:\n${c.transcript}\n\nREFERENCE:\n${c.expected}\n\nDRAFT:\n${draft}`;

export interface JudgeOptions {
  model: string;
  openaiApiKey?: string | undefined;
  anthropicApiKey?: string | undefined;
  baseUrl?: string | undefined;
  /** baseUrl is an OpenAI-compatible server (LLM_PROVIDER=compatible): it gets this key, never OpenAI's. */
  compatible?: { apiKey: string | undefined } | undefined;
  timeoutMs: number;
  /** The SDK's retries per call (LLM_RETRIES). */
  retries?: number | undefined;
  /** Providers tried after the judge's own model fails (another grader). */
  fallback?: LlmProvider[] | undefined;
  fetch?: typeof fetch;
}

/** The provider for the judge's model, like a drafting provider of that name. */
function judgeProvider(options: JudgeOptions): LlmProvider {
  const common = {
    model: options.model,
    timeoutMs: options.timeoutMs,
    retries: options.retries ?? 2,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  if (options.model.startsWith("claude")) {
    if (!options.anthropicApiKey)
      throw new ConfigError([`ANTHROPIC_API_KEY: required for --judge ${options.model}`]);
    return createAnthropicProvider({ apiKey: options.anthropicApiKey, ...common });
  }
  if (!options.openaiApiKey && !options.compatible)
    throw new ConfigError([
      `OPENAI_API_KEY (or LLM_PROVIDER=compatible with LLM_BASE_URL): required for --judge ${options.model}`,
    ]);
  return options.compatible
    ? createOpenAiProvider({
        name: "compatible",
        apiKey: options.compatible.apiKey,
        baseUrl: options.baseUrl,
        ...common,
      })
    : createOpenAiProvider({
        name: "openai",
        apiKey: options.openaiApiKey,
        baseUrl: options.baseUrl,
        ...common,
      });
}

export function createJudge(options: JudgeOptions, engine?: DraftEngine): Judge {
  const chain =
    engine ??
    createProviderChain({
      providers: [judgeProvider(options), ...(options.fallback ?? [])],
      // Every retry of the judge's model fits in the deadline.
      deadlineMs: options.timeoutMs * ((options.retries ?? 2) + 1),
      clock: systemClock,
      log: silentLogger,
    });
  return {
    async score(c, draft) {
      const verdict = await chain.draft(
        {
          system: INSTRUCTIONS,
          conversation: userMessage(c, draft),
          query: draft,
          knowledge: [],
          temperature: 0,
          maxTokens: 200,
        },
        { signal: AbortSignal.timeout(options.timeoutMs * ((options.retries ?? 2) + 1)) },
      );
      const score = /^score_([1-5])$/.exec(verdict.intent.trim())?.[1];
      if (!score) throw new Error(`judge answer has no score 1-5: intent "${verdict.intent.slice(0, 50)}"`);
      return { score: Number(score), reason: verdict.text };
    },
  };
}
