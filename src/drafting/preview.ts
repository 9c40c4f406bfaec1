import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import { hitOf, NO_MATCH, snippetOf } from "../knowledge/kb.ts";
import type { PipelineDeps } from "./deps.ts";
import { aloneFlags, decide } from "./policy.ts";
import { prepareDraft } from "./prepare.ts";
import { checkedAgainst } from "./review.ts";

/** Drafting without posting: `quill draft` without --post, and the checks an agent's reply must pass. */

interface Conversation {
  websiteId: string;
  sessionId: string;
  conversation: CrispConversation;
  messages: CrispMessage[];
}

/**
 * Drafts exactly as a job would (prompt variant, website overrides, redaction) and posts
 * nothing. The text has the real values restored.
 */
export async function previewDraft(deps: PipelineDeps, input: Conversation, signal: AbortSignal) {
  const { site, context, request, knowledge, rendered } = await prepareDraft(deps, input);
  const result = await (site.llm ?? deps.llm).draft(request, { signal });
  // What policy would say of it, checked (as a job does) on the redacted text.
  const decision = decide(
    {
      draft: result,
      knowledge,
      ...checkedAgainst(deps, rendered.rules, input.messages, context.query),
    },
    site.policy ?? deps.policy,
  );
  return { ...result, text: context.restore(result.text), knowledge, decision };
}

/**
 * The output checks a reply written elsewhere (an AI agent's, through MCP) must pass before
 * it reaches the customer: the same as an auto-sent draft's, against the articles retrieved
 * for the conversation and those the reply cites.
 */
export async function checkReply(
  deps: PipelineDeps,
  input: Conversation,
  reply: { text: string; citations: string[] },
): Promise<string[]> {
  const { site, context, knowledge, rendered } = await prepareDraft(deps, input);
  const kb = site.kb ?? deps.kb;
  const cited = reply.citations
    .filter((id) => !knowledge.some((k) => k.id === id))
    .flatMap((id) => {
      const article = kb.get(id);
      return article ? [snippetOf(hitOf(article, NO_MATCH))] : [];
    });
  return aloneFlags(
    {
      draft: {
        text: reply.text,
        confidence: 1,
        intent: "general",
        needsHuman: false,
        citations: reply.citations,
      },
      knowledge: [...knowledge, ...cited],
      // The reply is checked, not the customer's message: that never blocks an agent's answer.
      ...checkedAgainst(deps, rendered.rules, input.messages, context.query),
    },
    (site.policy ?? deps.policy).linkAllowlist,
  );
}
