import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { z } from "zod";
import { ConfigError } from "../config.ts";
import { openAiCredentials } from "../llm/openai.ts";
import type { EvalCase } from "./dataset.ts";

/**
 * An optional LLM judge: scores a draft 1–5 against the operator's real answer. Claude
 * models go to Anthropic, anything else to OpenAI (or LLM_BASE_URL).
 */

export interface Judge {
  score(c: EvalCase, draft: string): Promise<{ score: number; reason: string }>;
}

const verdictSchema = z.object({ score: z.number().int().min(1).max(5), reason: z.string() });

const INSTRUCTIONS = `You grade support reply drafts. Compare the DRAFT with the REFERENCE answer a human agent actually sent, given the CONVERSATION.
Score 1-5: 5 = as good as the reference (same facts, nothing invented), 4 = minor gaps, 3 = partly right, 2 = mostly wrong or unhelpful, 1 = wrong or harmful (invented policies, prices or links).
Answer with JSON only: {"score": <1-5>, "reason": "<one sentence>"}`;

const userMessage = (c: EvalCase, draft: string) =>
  `CONVERSATION:\n${c.transcript}\n\nREFERENCE:\n${c.expected}\n\nDRAFT:\n${draft}`;

function parseVerdict(text: string) {
  const json = text.trim().replace(/^```(?:json)?\s*|\s*```$/g, "");
  const parsed = verdictSchema.safeParse(JSON.parse(json));
  if (!parsed.success)
    throw new Error(`judge answer does not match {score 1-5, reason}: ${json.slice(0, 200)}`);
  return parsed.data;
}

export function createJudge(options: {
  model: string;
  openaiApiKey?: string | undefined;
  anthropicApiKey?: string | undefined;
  baseUrl?: string | undefined;
  /** baseUrl is an OpenAI-compatible server (LLM_PROVIDER=compatible): it gets this key, never OpenAI's. */
  compatible?: { apiKey: string | undefined } | undefined;
  timeoutMs: number;
  fetch?: typeof fetch;
}): Judge {
  const common = {
    timeout: options.timeoutMs,
    maxRetries: 2,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  if (options.model.startsWith("claude")) {
    if (!options.anthropicApiKey)
      throw new ConfigError([`ANTHROPIC_API_KEY: required for --judge ${options.model}`]);
    const client = new Anthropic({ apiKey: options.anthropicApiKey, ...common });
    return {
      async score(c, draft) {
        const message = await client.messages.create({
          model: options.model,
          max_tokens: 200,
          system: INSTRUCTIONS,
          messages: [{ role: "user", content: userMessage(c, draft) }],
        });
        const text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
        return parseVerdict(text);
      },
    };
  }
  if (!options.openaiApiKey && !options.compatible)
    throw new ConfigError([
      `OPENAI_API_KEY (or LLM_PROVIDER=compatible with LLM_BASE_URL): required for --judge ${options.model}`,
    ]);
  const client = new OpenAI({
    ...(options.compatible
      ? openAiCredentials("compatible", options.compatible.apiKey)
      : openAiCredentials("openai", options.openaiApiKey)),
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    ...common,
  });
  return {
    async score(c, draft) {
      const completion = await client.chat.completions.create({
        model: options.model,
        temperature: 0,
        response_format: { type: "json_object" },
        messages: [
          { role: "system", content: INSTRUCTIONS },
          { role: "user", content: userMessage(c, draft) },
        ],
      });
      return parseVerdict(completion.choices[0]?.message.content ?? "");
    },
  };
}
