import { z } from "zod";
import type { Clock } from "../../clock.ts";
import type { McpScope } from "../../config-schema.ts";
import type { CrispClient } from "../../crisp/client.ts";
import type { CrispConversation, CrispMessage } from "../../crisp/schemas.ts";
import { PAUSED_KEY } from "../../drafting/commands.ts";
import type { SiteOverrides } from "../../drafting/deps.ts";
import type { DraftPipeline } from "../../drafting/pipeline.ts";
import { createRedactor } from "../../drafting/redact.ts";
import type { Retriever } from "../../knowledge/hybrid.ts";
import type { KnowledgeBase } from "../../knowledge/kb.ts";
import type { Store } from "../../store/store.ts";
import type { OperatorDirectory } from "../../triage/operators.ts";
import type { McpPrincipal } from "../tokens.ts";

/**
 * The tools an AI agent gets. Each is bound to its token's website (the model names only a
 * conversation), needs one scope, and answers with structured content. Nothing here can
 * return the Crisp key: tools see quill's services, never its configuration.
 */

export interface ToolDeps {
  crisp: CrispClient;
  store: Store;
  kb: KnowledgeBase;
  retriever: Retriever;
  site: (websiteId: string) => Promise<SiteOverrides>;
  pipeline: Pick<DraftPipeline, "preview" | "checkReply">;
  operators: OperatorDirectory;
  /** Queues quill's own draft job for a customer message (exactly once per message). */
  enqueueDraft: (input: {
    websiteId: string;
    sessionId: string;
    fingerprint: number;
    messageAt: number;
  }) => Promise<{
    jobId: string;
  }>;
  autoSend?: { disclosure: string; maxInARow: number; maxPerHour: number } | undefined;
  clock: Clock;
  /** How long draft_reply waits for the queued job before answering "queued". */
  draftWaitMs?: number;
}

export class ToolRefusal extends Error {}

export interface ToolSpec<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  scope: McpScope;
  /** Ways an agent might ask for it, for find_operations. */
  intents: string[];
  input: I;
  output: O;
  /** Changes something in Crisp (for the client's confirmation prompts). */
  writes: boolean;
  run(args: z.infer<I>, who: McpPrincipal, deps: ToolDeps): Promise<z.infer<O>>;
}

export const sessionId = z
  .string()
  .regex(/^session_[0-9a-f-]{36}$/, "a Crisp session id: session_ followed by a UUID")
  .describe("The conversation's Crisp session id (session_…)");

export const message = z.object({
  from: z.enum(["user", "operator"]).describe("user: the customer; operator: your team or quill"),
  type: z.string(),
  text: z.string(),
  timestamp: z.number().describe("Milliseconds since the epoch"),
  byQuill: z.boolean().describe("Posted by quill (a draft note or an automated reply)"),
});

export const textOf = (m: CrispMessage) => (typeof m.content === "string" ? m.content : `[${m.type}]`);

/** PII is redacted unless the token has `pii`: agents rarely need an email to answer. */
export const redactorFor = (who: McpPrincipal) => {
  if (who.scopes.has("pii")) return (text: string) => text;
  const redactor = createRedactor();
  return (text: string) => redactor.redact(text);
};

export async function load(deps: ToolDeps, websiteId: string, session: string) {
  const [conversation, { messages }] = await Promise.all([
    deps.crisp.conversations.get(websiteId, session),
    deps.crisp.messages.listLast(websiteId, session, 20),
  ]);
  return { conversation, messages };
}

export const paused = async (deps: ToolDeps, websiteId: string, session: string, c: CrispConversation) =>
  c.meta?.data?.[PAUSED_KEY] === "off" ||
  (await deps.store.conversationState(websiteId, session))?.paused === true;
