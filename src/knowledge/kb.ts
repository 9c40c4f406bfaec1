import MiniSearch from "minisearch";
import { parse as parseYaml } from "yaml";
import type { KnowledgeSnippet } from "../llm/types.ts";

/**
 * The knowledge base: markdown articles with front matter (id, title, intent, keywords),
 * indexed for full-text search. Runtime-agnostic: the runtime reads the files (Node fs,
 * or bundled text on Workers) and passes their contents in.
 */

export interface Article {
  id: string;
  title: string;
  intent: string;
  keywords: string;
  /** The customer-facing part ("## Answer"), or the body's first paragraph. */
  answer: string;
  body: string;
  url?: string;
}

export interface KnowledgeBase {
  size: number;
  search(query: string, limit?: number): Array<KnowledgeSnippet & { article: Article } & MatchQuality>;
  get(id: string): Article | undefined;
}

export interface MatchQuality {
  /** Share of the query's known words the article matched (0..1). */
  coverage: number;
  matchedTerms: number;
  /** A query word appears in the article's title. */
  titleMatch: boolean;
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

/** Words that carry no meaning for retrieval (English, plus chat filler). */
const STOP_WORDS = new Set(
  "a an and are as at be but by can could do does for from have hi hello how i i'm if in is it its me my of on or our please so that the their them there they this to was we what when where which who why will with would you your yours hey thanks thank im ive dont".split(
    " ",
  ),
);

export function parseArticle(name: string, content: string): Article {
  const match = FRONT_MATTER.exec(content);
  const meta = (match ? parseYaml(match[1] ?? "") : {}) as Record<string, unknown>;
  const body = match ? content.slice(match[0].length) : content;
  const id = typeof meta.id === "string" ? meta.id : name.replace(/\.md$/, "");
  const heading = /^#\s+(.+)$/m.exec(body)?.[1];
  const answerSection = /^##\s+Answer\s*\n([\s\S]*?)(?=^##\s|^_Source|(?![\s\S]))/m.exec(body)?.[1];
  const firstParagraph = body
    .replace(/^#.*$/gm, "")
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .find((p) => p.length > 0);
  return {
    id,
    title: typeof meta.title === "string" ? meta.title : (heading ?? id),
    intent: typeof meta.intent === "string" ? meta.intent : "general",
    keywords: typeof meta.keywords === "string" ? meta.keywords : "",
    answer: (answerSection ?? firstParagraph ?? "").trim(),
    body: body.trim(),
    ...(typeof meta.url === "string" ? { url: meta.url } : {}),
  };
}

const tokenize = (text: string) =>
  text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 1 && !STOP_WORDS.has(t));

export function createKnowledgeBase(files: Array<{ name: string; content: string }>): KnowledgeBase {
  const articles = new Map<string, Article>();
  for (const file of files) {
    if (!file.name.endsWith(".md") || /^readme\.md$/i.test(file.name)) continue;
    const article = parseArticle(file.name, file.content);
    if (articles.has(article.id))
      throw new Error(`knowledge base: duplicate article id "${article.id}" (${file.name})`);
    articles.set(article.id, article);
  }
  const index = new MiniSearch<Article>({
    // The agent steps in the body are not indexed: they share most of their words across
    // articles, which made matches worse and search slower (bench/kb-search.ts).
    fields: ["title", "keywords", "answer"],
    storeFields: ["id"],
    tokenize,
    searchOptions: {
      boost: { title: 3, keywords: 2, answer: 1.5 },
      prefix: (term) => term.length > 3,
      fuzzy: (term) => (term.length > 5 ? 0.2 : false),
      combineWith: "OR",
    },
  });
  index.addAll([...articles.values()]);
  // How many articles use each word: unknown words (names, order numbers) say nothing about
  // fit, and words found in most articles say little while costing the most to score.
  const documentFrequency = new Map<string, number>();
  for (const a of articles.values()) {
    for (const term of new Set(tokenize(`${a.title} ${a.keywords} ${a.answer}`))) {
      documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
    }
  }
  const commonAbove = Math.max(50, articles.size * 0.1);

  return {
    size: articles.size,
    get: (id) => articles.get(id),
    search(query, limit = 3) {
      const known = [...new Set(tokenize(query))].filter((t) => documentFrequency.has(t));
      if (known.length === 0) return [];
      // Score with the most distinctive words only: the common ones have the longest
      // posting lists and add little (when all are common, the two rarest stand in).
      const byRarity = [...known].sort(
        (a, b) => (documentFrequency.get(a) ?? 0) - (documentFrequency.get(b) ?? 0),
      );
      const distinctive = byRarity.filter((t) => (documentFrequency.get(t) ?? 0) <= commonAbove).slice(0, 6);
      const terms = distinctive.length > 0 ? distinctive : byRarity.slice(0, 2);
      return index
        .search(terms.join(" "))
        .slice(0, limit)
        .flatMap((hit) => {
          const article = articles.get(String(hit.id));
          if (!article) return [];
          // Share of the query's meaningful words the article matched: a bounded, explainable score.
          const coverage = Math.min(1, hit.queryTerms.length / Math.max(terms.length, 3));
          const titleMatch = Object.values(hit.match).some((fields) => fields.includes("title"));
          return [
            {
              id: article.id,
              title: article.title,
              text: article.answer || article.body.slice(0, 1200),
              score: hit.score,
              coverage,
              matchedTerms: hit.queryTerms.length,
              titleMatch,
              article,
              ...(article.url ? { url: article.url } : {}),
            },
          ];
        });
    },
  };
}
