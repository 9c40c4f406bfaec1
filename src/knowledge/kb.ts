import { distance } from "fastest-levenshtein";
import { parse as parseYaml } from "yaml";
import { termOf, termsOf, wordsOf } from "./text.ts";

/**
 * The knowledge base: markdown articles whose customer answer and operator guidance are
 * kept apart (kb/README.md), searched with a field-weighted BM25 whose best candidates are
 * reranked by how close the question is to each article's example questions.
 * Runtime-agnostic: the runtime reads the files and passes their contents in.
 */

/** What a draft may draw on: the answer may be quoted to the customer, the guidance never. */
export interface KnowledgeSnippet {
  id: string;
  title: string;
  /** The customer-facing answer. */
  text: string;
  /** Internal guidance for the operator (checks, policy branches): for reasoning, never quoted. */
  guidance?: string;
  url?: string;
  score: number;
}

export interface Article {
  id: string;
  title: string;
  intent: string;
  keywords: string;
  /** A short customer-facing phrase that fits "Is this about ___?". */
  summary: string;
  aliases: string[];
  /** Example customer questions the article answers. */
  questions: string[];
  /** The customer-facing answer ("## Answer"), or the body's first paragraph. */
  answer: string;
  /** Sections for the operator ("## Guidance", "## Steps for the agent", "## Notes", …). */
  guidance: string;
  body: string;
  url?: string;
}

export interface SearchHit extends KnowledgeSnippet {
  article: Article;
  /** Combined score, 0..1: lexical fit and question closeness. */
  score: number;
  /** This article's BM25F score as a share of the best one's (0..1). */
  lexical: number;
  /** Cosine similarity to the closest example question, title, summary or alias (0..1). */
  questionMatch: number;
  /** Share of the query's words (unknown ones included) the article contains (0..1). */
  coverage: number;
  matchedTerms: number;
  /** A query word appears in the article's title. */
  titleMatch: boolean;
}

export interface KnowledgeBase {
  size: number;
  search(query: string, limit?: number): SearchHit[];
  get(id: string): Article | undefined;
}

/** A search hit as the prompt and the policy see it. */
export const snippetOf = ({ id, title, text, guidance, score, url }: SearchHit): KnowledgeSnippet => ({
  id,
  title,
  text,
  score,
  ...(guidance ? { guidance } : {}),
  ...(url ? { url } : {}),
});

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;
const ANSWER_HEADING = /^(?:answer|reply|response|customer answer|for the customer)$/i;
const GUIDANCE_HEADING = /guidance|agent|internal|operator|staff|notes?$|steps|checks|for us/i;
/** Attribution lines ("_Source: …_") belong to the file, not to either part. */
const ATTRIBUTION = /^_source:.*_$/gim;

const listOf = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.filter((v): v is string => typeof v === "string" && v.trim() !== "").map((v) => v.trim())
    : typeof value === "string"
      ? value
          .split(",")
          .map((v) => v.trim())
          .filter(Boolean)
      : [];

export function parseArticle(name: string, content: string): Article {
  const match = FRONT_MATTER.exec(content);
  let meta: Record<string, unknown> = {};
  try {
    meta = (match ? parseYaml(match[1] ?? "") : {}) ?? {};
  } catch (error) {
    throw new Error(`knowledge base: ${name}: front matter is not valid YAML: ${(error as Error).message}`);
  }
  const body = match ? content.slice(match[0].length) : content;
  const id = typeof meta.id === "string" ? meta.id : name.replace(/\.md$/, "");
  const heading = /^#\s+(.+)$/m.exec(body)?.[1]?.trim();

  // "## Heading" sections; the text before the first one is the introduction.
  const parts = body.replace(ATTRIBUTION, "").split(/^##\s+(.+)$/m);
  const intro = (parts[0] ?? "").replace(/^#\s.*$/m, "").trim();
  const answers: string[] = [];
  const guidance: string[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    const title = (parts[i] ?? "").trim();
    const text = (parts[i + 1] ?? "").trim();
    if (ANSWER_HEADING.test(title)) answers.push(text);
    // A section named "Guidance" needs no label; others keep theirs ("Steps for the agent:").
    else if (GUIDANCE_HEADING.test(title))
      guidance.push(/^guidance$/i.test(title) ? text : `${title}:\n${text}`);
  }
  const firstParagraph = intro.split(/\n\s*\n/).find((p) => p.trim().length > 0) ?? "";
  return {
    id,
    title: typeof meta.title === "string" ? meta.title : (heading ?? id),
    intent: typeof meta.intent === "string" ? meta.intent : "general",
    keywords: listOf(meta.keywords).join(", "),
    summary: typeof meta.summary === "string" ? meta.summary.trim() : "",
    aliases: listOf(meta.aliases),
    questions: listOf(meta.questions),
    answer: (answers.length > 0 ? answers.join("\n\n") : firstParagraph).trim(),
    guidance: guidance.join("\n\n").trim(),
    body: body.trim(),
    ...(typeof meta.url === "string" ? { url: meta.url } : {}),
  };
}

/** How retrieval weighs its evidence; the defaults are tuned on eval/kb-tune.jsonl. */
export interface SearchTuning {
  /** BM25F field weights: what a customer asks is most like titles, aliases and example questions. */
  title: number;
  aliases: number;
  keywords: number;
  questions: number;
  answer: number;
  /** Weight of question closeness against the lexical score (0..1). */
  questionWeight: number;
  /** How many BM25F leaders the question reranker looks at. */
  rerank: number;
  k1: number;
}

export const DEFAULT_TUNING: SearchTuning = {
  title: 3,
  aliases: 2.5,
  keywords: 1.5,
  questions: 1,
  answer: 0.5,
  questionWeight: 0.4,
  rerank: 16,
  k1: 1.2,
};

const fieldsOf = (t: SearchTuning) =>
  [
    { get: (a: Article) => a.title, weight: t.title, b: 0.5 },
    { get: (a: Article) => `${a.summary} ${a.aliases.join(" ")}`, weight: t.aliases, b: 0.5 },
    { get: (a: Article) => a.keywords, weight: t.keywords, b: 0.5 },
    { get: (a: Article) => a.questions.join(" "), weight: t.questions, b: 0.75 },
    { get: (a: Article) => a.answer, weight: t.answer, b: 0.75 },
  ] as const;

const sorted = (w: string) => [...w].sort().join("");
const sameLetters = (a: string, b: string) => a.length === b.length && sorted(a) === sorted(b);

interface Posting {
  docs: number[];
  /** Field-weighted, length-normalised term frequency (BM25F's pseudo-frequency). */
  tf: number[];
}

export function createKnowledgeBase(
  files: Array<{ name: string; content: string }>,
  tuning: Partial<SearchTuning> = {},
): KnowledgeBase {
  const t = { ...DEFAULT_TUNING, ...tuning };
  const FIELDS = fieldsOf(t);
  const K1 = t.k1;
  const RERANK = t.rerank;
  const QUESTION_WEIGHT = t.questionWeight;
  const articles: Article[] = [];
  const byId = new Map<string, Article>();
  for (const file of files) {
    if (!file.name.endsWith(".md") || /^readme\.md$/i.test(file.name)) continue;
    const article = parseArticle(file.name, file.content);
    if (byId.has(article.id))
      throw new Error(`knowledge base: duplicate article id "${article.id}" (${file.name})`);
    byId.set(article.id, article);
    articles.push(article);
  }
  const n = articles.length;

  // Surface words (for typo correction) and terms, per field of each article.
  const surface = new Map<string, string>();
  const fieldTerms = articles.map((a) =>
    FIELDS.map((f) => {
      const words = wordsOf(f.get(a));
      return words.map((w) => {
        const term = termOf(w);
        if (!surface.has(w)) surface.set(w, term);
        return term;
      });
    }),
  );
  const averages = FIELDS.map((_, f) => {
    let total = 0;
    for (const fields of fieldTerms) total += fields[f]?.length ?? 0;
    return Math.max(1, total / Math.max(1, n));
  });

  const postings = new Map<string, Posting>();
  const titleTerms: Array<Set<string>> = [];
  fieldTerms.forEach((fields, doc) => {
    const tf = new Map<string, number>();
    fields.forEach((terms, f) => {
      const field = FIELDS[f] as (typeof FIELDS)[number];
      const norm = 1 - field.b + field.b * (terms.length / (averages[f] ?? 1));
      for (const term of terms) tf.set(term, (tf.get(term) ?? 0) + field.weight / norm);
    });
    for (const [term, value] of tf) {
      let posting = postings.get(term);
      if (!posting) {
        posting = { docs: [], tf: [] };
        postings.set(term, posting);
      }
      posting.docs.push(doc);
      posting.tf.push(value);
    }
    titleTerms.push(new Set(fields[0]));
  });
  // Document frequency over the topical fields (title to questions): answers ask everyone
  // for a name and an order id, which must not make "username" a common word.
  const topicalDocs = new Map<string, number>();
  for (const fields of fieldTerms)
    for (const term of new Set(fields.slice(0, 4).flat()))
      topicalDocs.set(term, (topicalDocs.get(term) ?? 0) + 1);
  const idf = new Map<string, number>();
  for (const [term, posting] of postings) {
    const df = topicalDocs.get(term) ?? posting.docs.length;
    idf.set(term, Math.log(1 + (n - df + 0.5) / (df + 0.5)));
  }

  // Each article's example questions (and title, summary, aliases) as idf-weighted term sets.
  const questionSets = articles.map((a) =>
    [a.title.replace(/\s*\([^)]*\)\s*$/, ""), a.summary, ...a.aliases, ...a.questions]
      .filter(Boolean)
      .map((q) => {
        const terms = [...new Set(termsOf(q))].filter((t) => idf.has(t));
        let norm = 0;
        for (const t of terms) norm += (idf.get(t) ?? 0) ** 2;
        return { terms: new Set(terms), norm: Math.sqrt(norm) };
      })
      .filter((q) => q.norm > 0),
  );

  // Typo correction: surface words by length, so a misspelling is compared with few words.
  const byLength = new Map<number, string[]>();
  for (const word of surface.keys()) {
    const list = byLength.get(word.length) ?? [];
    list.push(word);
    byLength.set(word.length, list);
  }
  const corrections = new Map<string, string | null>();
  const correct = (word: string): string | undefined => {
    if (word.length < 4 || /\d/.test(word)) return undefined;
    const cached = corrections.get(word);
    if (cached !== undefined) return cached ?? undefined;
    const maxDistance = word.length <= 5 ? 1 : 2;
    let best: string | undefined;
    let bestDistance = maxDistance + 1;
    let bestDocs = 0;
    for (let len = word.length - maxDistance; len <= word.length + maxDistance; len++) {
      for (const candidate of byLength.get(len) ?? []) {
        // A swap of two letters ("chraged") is one slip, not two edits.
        const d = distance(word, candidate) - (sameLetters(word, candidate) ? 0.5 : 0);
        if (d > maxDistance || d > bestDistance) continue;
        const term = surface.get(candidate) as string;
        const docs = postings.get(term)?.docs.length ?? 0;
        if (d < bestDistance || docs > bestDocs) {
          best = term;
          bestDistance = d;
          bestDocs = docs;
        }
      }
    }
    if (corrections.size > 10_000) corrections.clear();
    corrections.set(word, best ?? null);
    return best;
  };

  const scores = new Float64Array(n);
  const matched = new Uint16Array(n);

  return {
    size: n,
    get: (id) => byId.get(id),
    search(query, limit = 3) {
      // Known terms of the query; a misspelt word counts as the word it is closest to.
      const weights = new Map<string, number>();
      const words = new Set(wordsOf(query));
      for (const word of words) {
        const term = termOf(word);
        // Two words for one thing ("pink, not burgundy" are both colours) count a little more.
        if (postings.has(term))
          weights.set(term, Math.min(1.5, (weights.get(term) ?? 0) + (weights.has(term) ? 0.5 : 1)));
        else {
          const fixed = correct(word);
          if (fixed && !weights.has(fixed)) weights.set(fixed, 0.8);
        }
      }
      if (weights.size === 0) return [];

      const touched: number[] = [];
      for (const [term, weight] of weights) {
        const posting = postings.get(term) as Posting;
        const termIdf = (idf.get(term) ?? 0) * weight;
        for (let i = 0; i < posting.docs.length; i++) {
          const doc = posting.docs[i] as number;
          const tf = posting.tf[i] as number;
          if (matched[doc] === 0) touched.push(doc);
          matched[doc] = (matched[doc] ?? 0) + 1;
          scores[doc] = (scores[doc] ?? 0) + (termIdf * tf * (K1 + 1)) / (tf + K1);
        }
      }
      // The BM25F leaders, best first (a bounded insertion list: RERANK is small).
      const leaders: number[] = [];
      for (const doc of touched) {
        const s = scores[doc] as number;
        if (leaders.length === RERANK && s <= (scores[leaders[RERANK - 1] as number] as number)) continue;
        let at = leaders.length;
        while (at > 0 && (scores[leaders[at - 1] as number] as number) < s) at--;
        leaders.splice(at, 0, doc);
        if (leaders.length > RERANK) leaders.pop();
      }
      const top = scores[leaders[0] as number] as number;

      let queryNorm = 0;
      for (const [term, weight] of weights) queryNorm += ((idf.get(term) ?? 0) * weight) ** 2;
      queryNorm = Math.sqrt(queryNorm);
      const hits = leaders.map((doc) => {
        let closest = 0;
        for (const q of questionSets[doc] ?? []) {
          let shared = 0;
          for (const [term, weight] of weights)
            if (q.terms.has(term)) shared += (idf.get(term) ?? 0) ** 2 * weight;
          const cosine = shared / (queryNorm * q.norm);
          if (cosine > closest) closest = cosine;
        }
        const lexical = top > 0 ? (scores[doc] as number) / top : 0;
        const article = articles[doc] as Article;
        let titleMatch = false;
        for (const term of weights.keys()) if (titleTerms[doc]?.has(term)) titleMatch = true;
        return {
          id: article.id,
          title: article.title,
          text: article.answer || article.body.slice(0, 1200),
          ...(article.guidance ? { guidance: article.guidance } : {}),
          ...(article.url ? { url: article.url } : {}),
          article,
          score: (1 - QUESTION_WEIGHT) * lexical + QUESTION_WEIGHT * Math.min(1, closest),
          lexical,
          questionMatch: Math.min(1, closest),
          coverage: (matched[doc] as number) / words.size,
          matchedTerms: matched[doc] as number,
          titleMatch,
        };
      });
      for (const doc of touched) {
        scores[doc] = 0;
        matched[doc] = 0;
      }
      return hits.sort((a, b) => b.score - a.score).slice(0, limit);
    },
  };
}
