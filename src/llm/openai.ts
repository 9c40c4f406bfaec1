import OpenAI from "openai";
import { fromSdkError, LlmError, registerSecrets } from "./errors.ts";
import { fetchWithBodyTimeout } from "./fetch.ts";
import { draftJsonSchema, JSON_SHAPE_HINT, parseDraftOutput, toDraftResult } from "./schema.ts";
import type { DraftOptions, DraftRequest, DraftResult, LlmProvider } from "./types.ts";

/**
 * OpenAI chat completions with strict structured output; with `name: "compatible"` the
 * same SDK talks to Ollama, vLLM or LM Studio (JSON mode plus the shape described at the
 * end of the system prompt, since their support for json_schema varies).
 */

export interface OpenAiOptions {
  name: "openai" | "compatible";
  /** Unset (compatible only): requests carry no Authorization header, as local servers need none. */
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  model: string;
  timeoutMs: number;
  retries: number;
  fetch?: typeof fetch | undefined;
}

/**
 * The SDK's credentials for one flavour. The SDK falls back to OPENAI_API_KEY, OPENAI_ORG_ID
 * and OPENAI_PROJECT_ID from the environment when given none, so the compatible flavour
 * names all of them: its server may be anyone's machine and must never see OpenAI's.
 */
export function openAiCredentials(name: "openai" | "compatible", apiKey: string | undefined) {
  if (name === "openai") return { apiKey: apiKey ?? "" };
  return {
    // The constructor insists on a key; the null header below keeps this one off the wire.
    apiKey: apiKey ?? "no-key",
    organization: null,
    project: null,
    adminAPIKey: null,
    ...(apiKey ? {} : { defaultHeaders: { Authorization: null } }),
  };
}

export function createOpenAiProvider(options: OpenAiOptions): LlmProvider {
  // Its errors may echo the key back: scrubSecrets removes it from every LlmError.
  registerSecrets([options.apiKey]);
  const client = new OpenAI({
    ...openAiCredentials(options.name, options.apiKey),
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    timeout: options.timeoutMs,
    maxRetries: options.retries,
    fetch: fetchWithBodyTimeout(options.timeoutMs, options.fetch),
  });
  // A client per draft whose fetch knows the deadline, so a long Retry-After fails over instead of sleeping.
  const clientFor = (timeLeftMs: number | undefined) =>
    timeLeftMs === undefined
      ? client
      : client.withOptions({
          fetch: fetchWithBodyTimeout(options.timeoutMs, options.fetch, Date.now() + timeLeftMs),
        });
  const name = options.name;
  const strict = name === "openai";

  return {
    name,
    async draft(request: DraftRequest, { signal, timeLeftMs }: DraftOptions): Promise<DraftResult> {
      let completion: OpenAI.Chat.Completions.ChatCompletion;
      try {
        completion = await clientFor(timeLeftMs).chat.completions.create(
          {
            model: options.model,
            temperature: request.temperature,
            ...(strict ? { max_completion_tokens: request.maxTokens } : { max_tokens: request.maxTokens }),
            messages: [
              {
                role: "system",
                content: strict ? request.system : `${request.system}\n\n${JSON_SHAPE_HINT}`,
              },
              { role: "user", content: request.conversation },
            ],
            response_format: strict
              ? { type: "json_schema", json_schema: { name: "draft", strict: true, schema: draftJsonSchema } }
              : { type: "json_object" },
          },
          { signal },
        );
      } catch (error) {
        throw fromSdkError(name, error, OpenAI);
      }
      const choice = completion.choices?.[0];
      if (!choice) throw new LlmError(name, "empty", "no choices in the answer");
      const { message } = choice;
      if (message?.refusal) throw new LlmError(name, "refusal", `refused: ${message.refusal}`);
      if (choice.finish_reason === "content_filter") {
        throw new LlmError(name, "refusal", "stopped by the content filter");
      }
      // A truncated answer is never used, even when what arrived happens to parse.
      if (choice.finish_reason === "length") {
        throw new LlmError(name, "malformed", "answer truncated (max tokens)");
      }
      const content = message?.content ?? "";
      if (!content.trim()) throw new LlmError(name, "empty", "empty answer");
      const output = parseDraftOutput(name, content);
      const usage = completion.usage;
      return toDraftResult(
        output,
        {
          provider: name,
          model: completion.model || options.model,
          usage: {
            inputTokens: usage?.prompt_tokens ?? 0,
            outputTokens: usage?.completion_tokens ?? 0,
            cachedInputTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
          },
        },
        request,
      );
    },
  };
}
