import type { Article, KnowledgeBase, SearchHit } from "./kb.ts";
import { termOf, wordsOf } from "./text.ts";

/**
 * FAQs of one intent often answer the same questions about different things (the jacket
 * FAQ, the shirt FAQ): a word shared with the wrong one ("dryer") can outweigh the thing the
 * customer names ("jacket"). An article's subject is what its title has that no other title of
 * its intent has; a question naming another article's subject and not this one's is about the
 * other.
 */

const termsOf = (text: string) => new Set(wordsOf(text, false).map(termOf));

const cache = new WeakMap<KnowledgeBase, Map<string, Set<string>>>();

/** Each article's subject terms, by id (empty when its title shares every word with its kind). */
function subjectsOf(kb: KnowledgeBase): Map<string, Set<string>> {
  let subjects = cache.get(kb);
  if (subjects) return subjects;
  const byIntent = new Map<string, Article[]>();
  for (const article of kb.articles)
    byIntent.set(article.intent, [...(byIntent.get(article.intent) ?? []), article]);
  subjects = new Map();
  for (const group of byIntent.values()) {
    const titles = group.map((a) => termsOf(a.title));
    const count = new Map<string, number>();
    for (const terms of titles) for (const term of terms) count.set(term, (count.get(term) ?? 0) + 1);
    group.forEach((article, i) => {
      subjects?.set(article.id, new Set([...(titles[i] ?? [])].filter((term) => count.get(term) === 1)));
    });
  }
  cache.set(kb, subjects);
  return subjects;
}

/**
 * The hit the question is about: `hits[0]`, unless the question names another article of its
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
  const subjects = subjectsOf(kb);
  // FAQs only: a task article's title words ("pay", "reset", "delivery time") are verbs and
  // details a question uses in passing, not the thing it is about.
  const own = best.article.answerParts ? subjects.get(best.id) : undefined;
  if (!own || own.size === 0) return { hit: best };
  const asked = termsOf(query);
  if ([...own].some((term) => asked.has(term))) return { hit: best };
  const named = kb.articles.find(
    (a) =>
      a.id !== best.id &&
      a.intent === best.article.intent &&
      a.answerParts !== undefined &&
      [...(subjects.get(a.id) ?? [])].some((term) => asked.has(term)),
  );
  if (!named) return { hit: best };
  return { hit: hits.find((h) => h.id === named.id), named };
}
