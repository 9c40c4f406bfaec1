import Anthropic from "@anthropic-ai/sdk";
import { LlmError, toLlmError } from "./errors.ts";
import { draftJsonSchema, parseDraftOutput, toDraftResult } from "./schema.ts";
import type { DraftRequest, DraftResult, LlmProvider } from "./types.ts";

/**
 * Anthropic messages API: the draft comes back as the input of a forced `submit_draft`
 * tool call; the system prompt is marked for prompt caching.
 */

export interface AnthropicOptions {
  apiKey: string;
  baseUrl?: string | undefined;
  model: string;
  timeoutMs: number;
  retries: number;
  fetch?: typeof fetch;
}

export function createAnthropicProvider(options: AnthropicOptions): LlmProvider {
  const client = new Anthropic({
    apiKey: options.apiKey,
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    timeout: options.timeoutMs,
    maxRetries: options.retries,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  return {
    name: "anthropic",
    async draft(request: DraftRequest, { signal }): Promise<DraftResult> {
      let message: Anthropic.Message;
      try {
        message = await client.messages.create(
          {
            model: options.model,
            max_tokens: request.maxTokens,
            system: [{ type: "text", text: request.system, cache_control: { type: "ephemeral" } }],
            messages: [{ role: "user", content: request.conversation }],
            tools: [
              {
                name: "submit_draft",
                description: "Submit the draft reply and its assessment.",
                input_schema: draftJsonSchema as unknown as Anthropic.Tool.InputSchema,
              },
            ],
            tool_choice: { type: "tool", name: "submit_draft" },
          },
          { signal },
        );
      } catch (error) {
        throw toLlmError("anthropic", error);
      }
      if (message.stop_reason === "refusal") throw new LlmError("anthropic", "refusal", "refused");
      if (message.stop_reason === "max_tokens") {
        throw new LlmError("anthropic", "malformed", "answer truncated (max tokens)");
      }
      const tool = message.content.find((block) => block.type === "tool_use");
      if (tool?.type !== "tool_use")
        throw new LlmError("anthropic", "malformed", "no submit_draft tool call");
      const output = parseDraftOutput("anthropic", tool.input);
      const usage = message.usage;
      return toDraftResult(
        output,
        {
          provider: "anthropic",
          model: message.model || options.model,
          usage: {
            inputTokens:
              usage.input_tokens +
              (usage.cache_creation_input_tokens ?? 0) +
              (usage.cache_read_input_tokens ?? 0),
            outputTokens: usage.output_tokens,
            cachedInputTokens: usage.cache_read_input_tokens ?? 0,
          },
        },
        request,
      );
    },
  };
}
