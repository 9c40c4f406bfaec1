import { LlmError } from "./errors.ts";
import { type DraftOutput, type DraftRequest, draftOutputSchema } from "./types.ts";

/** JSON schema of the draft answer, for OpenAI structured output and the Anthropic tool. */
export const draftJsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["reply", "confidence", "intent", "needs_human", "needs_human_reason", "language", "citations"],
  properties: {
    reply: { type: "string", description: "The reply to the customer, ready to send." },
    confidence: {
      type: "number",
      description: "0 to 1: how sure you are the reply is correct and complete.",
    },
    intent: { type: "string", description: "snake_case label of what the customer wants." },
    needs_human: { type: "boolean", description: "true when a person must handle this." },
    needs_human_reason: { type: ["string", "null"], description: "Why a human is needed, or null." },
    language: { type: ["string", "null"], description: "ISO 639-1 code of the reply's language." },
    citations: { type: "array", items: { type: "string" }, description: "Ids of the articles used." },
  },
} as const;

export const JSON_SHAPE_HINT = `Answer with one JSON object only, no prose around it: {"reply": string, "confidence": number 0-1, "intent": string, "needs_human": boolean, "needs_human_reason": string|null, "language": string|null, "citations": string[]}`;

/** Validates a model's answer; anything short of a complete, valid object is an error, never posted. */
export function parseDraftOutput(provider: string, raw: unknown): DraftOutput {
  let value = raw;
  if (typeof raw === "string") {
    const trimmed = raw.trim().replace(/^```(?:json)?\s*|\s*```$/g, "");
    if (!trimmed) throw new LlmError(provider, "empty", "empty answer");
    try {
      value = JSON.parse(trimmed);
    } catch {
      throw new LlmError(provider, "malformed", "answer is not valid JSON");
    }
  }
  const parsed = draftOutputSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LlmError(
      provider,
      "malformed",
      `answer does not match the schema: ${issue?.path.join(".")} ${issue?.message}`,
    );
  }
  if (!parsed.data.reply.trim()) throw new LlmError(provider, "empty", "empty reply");
  return parsed.data;
}

export function toDraftResult(
  output: DraftOutput,
  meta: {
    provider: string;
    model: string;
    usage: { inputTokens: number; outputTokens: number; cachedInputTokens: number };
  },
  request: DraftRequest,
) {
  return {
    text: output.reply.trim(),
    confidence: output.confidence,
    intent: output.intent,
    needsHuman: output.needs_human,
    ...(output.needs_human_reason ? { needsHumanReason: output.needs_human_reason } : {}),
    ...(output.language
      ? { language: output.language }
      : request.language
        ? { language: request.language }
        : {}),
    // Only ids of snippets actually given to the model count as citations.
    citations: output.citations.filter((id) => request.knowledge.some((k) => k.id === id)),
    usage: meta.usage,
    model: meta.model,
    provider: meta.provider,
  };
}
