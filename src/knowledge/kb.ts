import { JSON_SCHEMA, load } from "js-yaml";
import { type AnswerPart, answerParts } from "./answer.ts";
import { simpleFrontMatter } from "./frontmatter.ts";
import { buildIndex, type IndexField, type IndexHit } from "./search.ts";

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
  /** The customer-facing answer ("## Answer"), or the first paragraph before any section; may be empty. */
  answer: string;
  /** An FAQ's "### topic" parts of the answer, and the text before the first (answer.ts). */
  answerParts?: AnswerPart[];
  answerIntro?: string;
  /** Sections for the operator ("## Guidance", "## Steps for the agent", "## Notes", …). */
  guidance: string;
  url?: string;
}

/** An article found for a query, with how well it fits (`IndexHit`'s measures). */
export interface SearchHit extends KnowledgeSnippet, Omit<IndexHit, "doc"> {
  article: Article;
  /** Cosine of the question's embedding to the article's (hybrid retrieval only). */
  semantic?: number;
}

export interface KnowledgeBase {
  size: number;
  /** Every article, in file order (what an embedding index covers). */
  articles: readonly Article[];
  search(query: string, limit?: number): SearchHit[];
  get(id: string): Article | undefined;
}

/** The measures of an article found another way than by its words (embeddings, a citation). */
export const NO_MATCH: Omit<IndexHit, "doc"> = {
  score: 0,
  lexical: 0,
  questionMatch: 0,
  coverage: 0,
  matchedTerms: 0,
  guessedTerms: 0,
  titleMatch: false,
};

/** An article as a search result, with how well it fits. */
export const hitOf = (article: Article, quality: Omit<IndexHit, "doc">): SearchHit => ({
  id: article.id,
  title: article.title,
  text: article.answer,
  ...(article.guidance ? { guidance: article.guidance } : {}),
  ...(article.url ? { url: article.url } : {}),
  article,
  ...quality,
});

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
const FIRST_ATTRIBUTION = /^_source:.*_$/im;

/**
 * A section's text without attribution lines, trimmed. The usual one closes the file, so the
 * text is cut before it: a slice of the file, not a copy for the index's lifetime.
 */
function withoutAttribution(text: string): string {
  const line = FIRST_ATTRIBUTION.exec(text);
  if (!line) return text.trim();
  if (text.slice(line.index + line[0].length).trim() === "") return text.slice(0, line.index).trim();
  return text.replace(ATTRIBUTION, "").trim();
}

const listOf = (value: unknown): string[] =>
  Array.isArray(value)
    ? // Most lists are already trimmed strings: kept as they are rather than copied twice.
      value.every((v) => typeof v === "string" && v !== "" && v.trim() === v)
      ? value
      : value.filter((v): v is string => typeof v === "string" && v.trim() !== "").map((v) => v.trim())
    : typeof value === "string"
      ? value
          .split(",")
          .map((v) => v.trim())
          .filter(Boolean)
      : [];

export function parseArticle(name: string, content: string): Article {
  const match = FRONT_MATTER.exec(content);
  let meta: Record<string, unknown> | undefined = match ? simpleFrontMatter(match[1] ?? "") : {};
  if (meta === undefined)
    try {
      // js-yaml with the JSON schema: front matter needs strings and lists, and parses ~10× faster than with `yaml`.
      meta = (load(match?.[1] ?? "", { schema: JSON_SCHEMA }) ?? {}) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`knowledge base: ${name}: front matter is not valid YAML: ${(error as Error).message}`);
    }
  const body = match ? content.slice(match[0].length) : content;
  const id = typeof meta.id === "string" ? meta.id : name.replace(/\.md$/, "");

  // "## Heading" sections; the text before the first one is the introduction.
  const parts = body.split(/^##\s+(.+)$/m);
  const answers: string[] = [];
  const topics: AnswerPart[] = [];
  let intro = "";
  const guidance: string[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    const title = (parts[i] ?? "").trim();
    const text = withoutAttribution(parts[i + 1] ?? "");
    if (ANSWER_HEADING.test(title)) {
      const split = answerParts(text);
      if (split) {
        intro = split.intro;
        topics.push(...split.parts);
        // Read as a whole (prompts, search), the answer is its opening and every part in order.
        answers.push([split.intro, ...split.parts.map((p) => p.text)].filter(Boolean).join(" "));
      } else answers.push(text);
    }
    // A section named "Guidance" needs no label; others keep theirs ("Steps for the agent:").
    else if (GUIDANCE_HEADING.test(title))
      guidance.push(/^guidance$/i.test(title) ? text : `${title}:\n${text}`);
  }
  // The heading and the introduction only when the front matter and sections do not say.
  const firstParagraph = () => {
    const intro = (parts[0] ?? "").replace(/^#\s.*$/m, "").trim();
    return intro.split(/\n\s*\n/).find((p) => p.trim().length > 0) ?? "";
  };
  return {
    id,
    title: typeof meta.title === "string" ? meta.title : (/^#\s+(.+)$/m.exec(body)?.[1]?.trim() ?? id),
    intent: typeof meta.intent === "string" ? meta.intent : "general",
    keywords: listOf(meta.keywords).join(", "),
    summary: typeof meta.summary === "string" ? meta.summary.trim() : "",
    aliases: listOf(meta.aliases),
    questions: listOf(meta.questions),
    answer: (answers.length > 0 ? answers.join("\n\n") : firstParagraph()).trim(),
    guidance: guidance.join("\n\n").trim(),
    ...(topics.length > 1 ? { answerParts: topics, answerIntro: intro } : {}),
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

/** A title's trailing "(Section)" names where it belongs, not what it answers. */
const SECTION = /\s*\([^)]*\)\s*$/;

/** An article's fields as the index weighs them; title, aliases and questions read like a customer's question. */
const fieldsOf = (a: Article, t: SearchTuning): IndexField[] => {
  const section = SECTION.exec(a.title);
  // Slices of the title, not a copy without its section.
  const title = section ? [a.title.slice(0, section.index), section[0]] : [a.title, ""];
  return [
    {
      parts: title,
      ask: 1,
      weight: t.title,
      b: 0.5,
      topical: true,
    },
    {
      parts: [a.summary, ...a.aliases],
      ask: Number.POSITIVE_INFINITY,
      weight: t.aliases,
      b: 0.5,
      topical: true,
    },
    { parts: [a.keywords], ask: 0, weight: t.keywords, b: 0.5, topical: true },
    { parts: a.questions, ask: Number.POSITIVE_INFINITY, weight: t.questions, b: 0.75, topical: true },
    // Answers ask everyone for a name and an order id: not topical, so "username" stays rare.
    { parts: [a.answer], ask: 0, weight: t.answer, b: 0.75, topical: false },
  ];
};

export function createKnowledgeBase(
  files: Array<{ name: string; content: string }>,
  tuning: Partial<SearchTuning> = {},
): KnowledgeBase {
  const t = { ...DEFAULT_TUNING, ...tuning };
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
  const index = buildIndex(articles.length, (doc) => fieldsOf(articles[doc] as Article, t), {
    k1: t.k1,
    rerank: t.rerank,
    questionWeight: t.questionWeight,
  });
  return {
    size: articles.length,
    articles,
    get: (id) => byId.get(id),
    search: (query, limit = 3) =>
      index.search(query, limit).map(({ doc, ...quality }) => hitOf(articles[doc] as Article, quality)),
  };
}
