import type { KnowledgeBase, SearchHit } from "../knowledge/kb.ts";
import type { DraftRequest, DraftResult, LlmProvider } from "./types.ts";

/**
 * The offline drafter: no model, just the knowledge base. A clear winner is answered with
 * that article's customer answer; two close articles get one clarifying question; a weak
 * match hands over to a human. Operator instructions it cannot follow are said so plainly.
 */

export const OFFLINE_MODEL = "kb-search";

export interface OfflineOptions {
  kb: KnowledgeBase;
}

const usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

/**
 * Bands of the combined search score, calibrated on eval/kb-tune.jsonl (eval/README.md has
 * accuracy per band): below WEAK the best article is usually wrong; a runner-up within
 * TIE of the leader is a coin toss between two articles.
 */
export const WEAK = 0.42;
export const TIE = 0.9;

export type MatchBand = "clear" | "tie" | "weak" | "none";

export function matchBand(best: SearchHit | undefined, second: SearchHit | undefined): MatchBand {
  if (!best) return "none";
  if (best.score < WEAK) return "weak";
  if (second && second.score >= best.score * TIE && best.article.summary && second.article.summary)
    return "tie";
  return "clear";
}

/** Confidence per band and fit, so that "0.8" is right about 8 times in 10 on the tuning set. */
function confidenceOf(band: MatchBand, best: SearchHit, second: SearchHit | undefined): number {
  const margin = second ? Math.max(0, (best.score - second.score) / best.score) : 1;
  const value =
    band === "clear"
      ? 0.55 + 0.3 * Math.min(1, margin / 0.4) + 0.1 * Math.min(1, (best.score - WEAK) / 0.4)
      : band === "tie"
        ? 0.5
        : 0.2;
  return Math.round(Math.min(0.95, value) * 100) / 100;
}

const SENTENCE = /[^.!?]+[.!?]+(?:\s+|$)|[^.!?]+$/g;
const firstSentences = (text: string, count: number) =>
  (text.replace(/\s+/g, " ").match(SENTENCE) ?? [text])
    .slice(0, count)
    .join("")
    .trim();

const LANGUAGE_ASK =
  /translat|\blanguage\b|\b(?:english|french|german|spanish|italian|portuguese|dutch|polish|swedish|danish|norwegian|finnish|czech|greek|turkish|arabic|hebrew|hindi|chinese|japanese|korean|russian|ukrainian|fran[cç]ais|deutsch|espa[nñ]ol|italiano|portugu[eê]s|nederlands)\b/i;

/** What the offline drafter makes of an operator's /redraft instructions. */
export function followInstructions(
  text: string,
  instructions: string | undefined,
): { text: string; remarks: string[] } {
  const asked = instructions?.trim();
  if (!asked) return { text, remarks: [] };
  const remarks: string[] = [];
  let out = text;
  const parts = asked
    .split(/[,;]|\band\b/i)
    .map((p) => p.trim())
    .filter(Boolean);
  const unfollowed: string[] = [];
  for (const part of parts) {
    if (/\b(?:short(?:er)?|brief(?:er)?|concise|less|one sentence|tl;?dr|trim|cut)\b/i.test(part)) {
      const count = /\bone sentence\b/i.test(part) ? 1 : 2;
      const shorter = firstSentences(out, count);
      if (shorter.length < out.length) {
        out = shorter;
        remarks.push(`Shortened to the first ${count === 1 ? "sentence" : "two sentences"} of the answer.`);
      } else remarks.push("The answer is already this short.");
    } else unfollowed.push(part);
  }
  if (unfollowed.length > 0) {
    const language = unfollowed.some((p) => LANGUAGE_ASK.test(p));
    remarks.push(
      `The offline drafter cannot ${language ? "translate or " : ""}follow “${unfollowed.join(", ")}”: it only answers from the knowledge base. An LLM provider (LLM_PROVIDER) is needed for that, or write the reply yourself with /send <text>.`,
    );
  }
  return { text: out, remarks };
}

export function createOfflineProvider(options: OfflineOptions): LlmProvider {
  return {
    name: "offline",
    async draft(request: DraftRequest, { signal }): Promise<DraftResult> {
      signal.throwIfAborted();
      const [best, second] = options.kb.search(request.query, 2);
      const band = matchBand(best, second);
      if (!best || band === "weak" || band === "none") {
        return {
          text: "Thanks for your message! A member of our team will look into this and get back to you shortly.",
          confidence: 0.1,
          intent: "unknown",
          needsHuman: true,
          needsHumanReason: best
            ? `no knowledge base article matches well (best: "${best.title}", score ${best.score.toFixed(2)})`
            : "no knowledge base article matches this question",
          citations: [],
          usage,
          model: OFFLINE_MODEL,
          provider: "offline",
        };
      }
      const base = {
        confidence: confidenceOf(band, best, second),
        intent: best.article.intent,
        needsHuman: false,
        usage,
        model: OFFLINE_MODEL,
        provider: "offline",
      };
      if (band === "tie" && second) {
        // Guessing between two close articles is how wrong answers reach customers: ask instead.
        return {
          ...base,
          text: `Thanks for getting in touch! Just to make sure I help with the right thing: is this about ${best.article.summary}, or ${second.article.summary}?`,
          citations: [best.id, second.id],
          remarks: [
            `Two articles fit about equally (“${best.title}” and “${second.title}”), so the draft asks the customer which one it is.`,
          ],
        };
      }
      const answer = best.article.answer || best.text;
      const followed = followInstructions(answer, request.instructions);
      return {
        ...base,
        text: best.url ? `${followed.text}\n\nMore in our help article: ${best.url}` : followed.text,
        citations: [best.id],
        ...(followed.remarks.length > 0 ? { remarks: followed.remarks } : {}),
      };
    },
  };
}
