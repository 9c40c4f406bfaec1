import type { Article } from "./kb.ts";
import { termsOf } from "./text.ts";

/**
 * An FAQ article answers several questions ("### topic" parts under "## Answer"); a customer
 * asks one or two of them. Quoting every part buries the answer, so the offline drafter
 * keeps the article's opening line and the parts the question is about.
 */

export interface AnswerPart {
  /** What the part answers, as its "###" heading says ("Store opening hours"). */
  topic: string;
  text: string;
}

export interface FocusedAnswer {
  text: string;
  /** The topics kept, when the answer was narrowed to some of its parts. */
  topics: string[];
  /** Every part's topic when the question points at none of them (a general or another question). */
  unmatched?: string[];
}

const MAX_PARTS = 2;

export function focusedAnswer(article: Article, query: string): FocusedAnswer {
  const parts = article.answerParts ?? [];
  if (parts.length < 2) return { text: article.answer, topics: [] };
  // Every part is about the article's subject ("Jacket FAQ"): naming it points at none of them.
  const subject = termsOf(article.title);
  const remaining = new Set([...termsOf(query)].filter((term) => !subject.has(term)));
  const terms = parts.map((part) => ({ topic: termsOf(part.topic), text: termsOf(part.text) }));
  const kept = new Set<number>();
  // Greedy cover: the part that answers most of what is still unanswered, then the next, so
  // "how much is shipping and do you gift wrap?" keeps both parts.
  while (kept.size < MAX_PARTS) {
    const scores = terms.map((t, i) => {
      if (kept.has(i)) return 0;
      let score = 0;
      // The topic names what the part is about: a word there counts double one in its text.
      for (const term of remaining) score += t.topic.has(term) ? 2 : t.text.has(term) ? 1 : 0;
      return score;
    });
    const best = Math.max(...scores);
    // A word of its topic or two of its text: one shared word ("tell me…") is chance.
    if (best < 2) break;
    const i = scores.indexOf(best);
    kept.add(i);
    for (const term of [...(terms[i]?.topic ?? []), ...(terms[i]?.text ?? [])]) remaining.delete(term);
  }
  // Nothing points at one part: a general question about the subject, or one the FAQ does not answer.
  if (kept.size === 0) return { text: article.answer, topics: [], unmatched: parts.map((p) => p.topic) };
  if (kept.size === parts.length) return { text: article.answer, topics: [] };
  const chosen = parts.filter((_, i) => kept.has(i));
  return {
    text: [article.answerIntro ?? "", ...chosen.map((p) => p.text)].filter(Boolean).join(" "),
    topics: chosen.map((p) => p.topic),
  };
}

/** "## Answer" text split at "### topic" headings: the opening text, then the parts. */
export function answerParts(text: string): { intro: string; parts: AnswerPart[] } | undefined {
  const pieces = text.split(/^###\s+(.+)$/m);
  if (pieces.length < 3) return undefined;
  const parts: AnswerPart[] = [];
  for (let i = 1; i < pieces.length; i += 2) {
    const body = (pieces[i + 1] ?? "").replace(/\s+/g, " ").trim();
    if (body) parts.push({ topic: (pieces[i] ?? "").trim(), text: body });
  }
  return { intro: (pieces[0] ?? "").replace(/\s+/g, " ").trim(), parts };
}
