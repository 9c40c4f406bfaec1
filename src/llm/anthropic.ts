import Anthropic from "@anthropic-ai/sdk";
import { fromSdkError, LlmError, registerSecrets } from "./errors.ts";
import { fetchWithBodyTimeout } from "./fetch.ts";
import { draftJsonSchema, parseDraftOutput, toDraftResult } from "./schema.ts";
import type { DraftOptions, DraftRequest, DraftResult, LlmProvider } from "./types.ts";

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
  fetch?: typeof fetch | undefined;
}

export const DRAFT_TOOL = "submit_draft";

export function createAnthropicProvider(options: AnthropicOptions): LlmProvider {
  // Its errors may echo the key back: scrubSecrets removes it from every LlmError.
  registerSecrets([options.apiKey]);
  const client = new Anthropic({
    apiKey: options.apiKey,
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
  const name = "anthropic";

  return {
    name,
    async draft(request: DraftRequest, { signal, timeLeftMs }: DraftOptions): Promise<DraftResult> {
      let message: Anthropic.Message;
      try {
        message = await clientFor(timeLeftMs).messages.create(
          {
            model: options.model,
            max_tokens: request.maxTokens,
            // No temperature: the messages API in SDK 1.x no longer takes sampling parameters.
            system: [{ type: "text", text: request.system, cache_control: { type: "ephemeral" } }],
            messages: [{ role: "user", content: request.conversation }],
            tools: [
              {
                name: DRAFT_TOOL,
                description: "Submit the draft reply and its assessment.",
                input_schema: draftJsonSchema as unknown as Anthropic.Tool.InputSchema,
              },
            ],
            tool_choice: { type: "tool", name: DRAFT_TOOL },
          },
          { signal },
        );
      } catch (error) {
        throw fromSdkError(name, error, Anthropic);
      }
      if (message.stop_reason === "refusal") throw new LlmError(name, "refusal", "refused");
      if (message.stop_reason === "max_tokens") {
        throw new LlmError(name, "malformed", "answer truncated (max tokens)");
      }
      const tool = (message.content ?? []).find(
        (block): block is Anthropic.ToolUseBlock => block.type === "tool_use" && block.name === DRAFT_TOOL,
      );
      if (!tool) {
        const said = (message.content ?? []).some((b) => b.type !== "text" || b.text.trim() !== "");
        throw said
          ? new LlmError(name, "malformed", `no ${DRAFT_TOOL} tool call`)
          : new LlmError(name, "empty", "empty answer");
      }
      const output = parseDraftOutput(name, tool.input);
      const usage = message.usage;
      const cacheRead = usage?.cache_read_input_tokens ?? 0;
      return toDraftResult(
        output,
        {
          provider: name,
          model: message.model || options.model,
          usage: {
            // Total input, as OpenAI's prompt_tokens counts it: cachedInputTokens is a part of it.
            inputTokens: (usage?.input_tokens ?? 0) + (usage?.cache_creation_input_tokens ?? 0) + cacheRead,
            outputTokens: usage?.output_tokens ?? 0,
            cachedInputTokens: cacheRead,
          },
        },
        request,
      );
    },
  };
}
