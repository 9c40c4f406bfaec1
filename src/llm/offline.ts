import type { KnowledgeBase } from "../knowledge/kb.ts";
import type { DraftRequest, DraftResult, LlmProvider } from "./types.ts";

/**
 * The offline drafter: no model, just the knowledge base. It answers with the best
 * article's answer and cites it, or hands over to a human when nothing matches well.
 * Its drafts say plainly that they come from the knowledge base.
 */

export const OFFLINE_MODEL = "kb-search";

export interface OfflineOptions {
  kb: KnowledgeBase;
}

const usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

export function createOfflineProvider(options: OfflineOptions): LlmProvider {
  return {
    name: "offline",
    async draft(request: DraftRequest, { signal }): Promise<DraftResult> {
      signal.throwIfAborted();
      const [best, second] = options.kb.search(request.query, 2);
      // Good enough: two of the customer's words match, or one matches the article's title.
      if (!best || (best.matchedTerms < 2 && !best.titleMatch)) {
        return {
          text: "Thanks for your message! A member of our team will look into this and get back to you shortly.",
          confidence: 0.1,
          intent: "unknown",
          needsHuman: true,
          needsHumanReason: best
            ? `no knowledge base article matches well (best: "${best.title}", ${best.matchedTerms} word)`
            : "no knowledge base article matches this question",
          citations: [],
          usage,
          model: OFFLINE_MODEL,
          provider: "offline",
        };
      }
      // A clear winner is worth more confidence than a near tie between two articles.
      const margin = second ? Math.min(1, (best.score - second.score) / best.score) : 1;
      const fit = best.coverage * 0.5 + (best.titleMatch ? 0.25 : 0) + margin * 0.25;
      const confidence = Math.round(Math.min(0.85, 0.2 + fit) * 100) / 100;
      const answer = best.article.answer || best.text;
      return {
        text: `${answer}\n\n(From our help article “${best.title}”.)`,
        confidence,
        intent: best.article.intent,
        needsHuman: false,
        citations: [best.id],
        usage,
        model: OFFLINE_MODEL,
        provider: "offline",
      };
    },
  };
}
