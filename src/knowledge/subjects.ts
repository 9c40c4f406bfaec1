import type { Article, KnowledgeBase, SearchHit } from "./kb.ts";
import { termsOf } from "./text.ts";

/**
 * FAQs of one intent often answer the same questions about different things (the jacket
 * FAQ, the shirt FAQ): a word shared with the wrong one ("dryer") can outweigh the thing the
 * customer names ("jacket"). An article's subject is what its title has that no other title of
 * its intent has; a question naming another article's subject and not this one's is about the
 * other.
 */

/** An FAQ and what it is about. */
interface Faq {
  article: Article;
  subject: Set<string>;
}

const cache = new WeakMap<KnowledgeBase, Map<string, Faq[]>>();

/** Each intent's FAQs with their subject terms (empty when a title shares every word with its kind). */
function faqsByIntent(kb: KnowledgeBase): Map<string, Faq[]> {
  const cached = cache.get(kb);
  if (cached) return cached;
  const byIntent = new Map<string, Article[]>();
  for (const article of kb.articles) {
    const group = byIntent.get(article.intent);
    if (group) group.push(article);
    else byIntent.set(article.intent, [article]);
  }
  const faqs = new Map<string, Faq[]>();
  for (const [intent, group] of byIntent) {
    const titles = group.map((a) => termsOf(a.title));
    const count = new Map<string, number>();
    for (const terms of titles) for (const term of terms) count.set(term, (count.get(term) ?? 0) + 1);
    // FAQs only: a task article's title words ("pay", "reset", "delivery time") are verbs and
    // details a question uses in passing, not the thing it is about.
    const own = group.flatMap((article, i) =>
      article.answerParts
        ? [{ article, subject: new Set([...(titles[i] ?? [])].filter((term) => count.get(term) === 1)) }]
        : [],
    );
    if (own.length > 0) faqs.set(intent, own);
  }
  cache.set(kb, faqs);
  return faqs;
}

/**
 * The hit the question is about: `hits[0]`, unless the question names another FAQ of its
 * intent by subject and not its own; then that article's hit if retrieved, else undefined
 * (the best match is about something else). `named` says which article it names.
 */
export function aboutSubject(
  kb: KnowledgeBase,
  query: string,
  hits: SearchHit[],
): { hit: SearchHit | undefined; named?: Article } {
  const best = hits[0];
  if (!best) return { hit: undefined };
  const group = faqsByIntent(kb).get(best.article.intent) ?? [];
  const own = group.find((f) => f.article.id === best.id)?.subject;
  if (!own || own.size === 0) return { hit: best };
  const asked = termsOf(query);
  const names = (subject: Set<string>) => [...subject].some((term) => asked.has(term));
  if (names(own)) return { hit: best };
  const named = group.find((f) => f.article.id !== best.id && names(f.subject))?.article;
  if (!named) return { hit: best };
  return { hit: hits.find((h) => h.id === named.id), named };
}
