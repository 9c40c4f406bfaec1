import { isNode, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { sha256Hex } from "../crypto.ts";
import type { KnowledgeSnippet } from "../llm/types.ts";

/**
 * Prompt templates: markdown with front matter, versioned by content hash. The part
 * before `<!-- conversation -->` is the stable system prompt (instructions + knowledge,
 * first so provider prompt caching applies); the rest is the per-draft user message.
 *
 * Variables: {{website_name}}, {{language}}, {{knowledge}}, {{transcript}},
 * {{visitor.name}}, {{visitor.email}}, {{visitor.segments}}, {{visitor.data}},
 * {{instructions}}; `{{#name}}…{{/name}}` keeps a block only when the variable is set.
 */

export const CONVERSATION_MARKER = "<!-- conversation -->";

const frontMatterSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, "letters, digits, . _ - only"),
  description: z.string().default(""),
  temperature: z.number().min(0).max(2).default(0.3),
  max_tokens: z.number().int().min(50).max(8000).default(600),
  output: z.string().optional(),
});

export interface PromptTemplate {
  name: string;
  description: string;
  temperature: number;
  maxTokens: number;
  /** First 16 hex chars of SHA-256 over the whole file: changes with any edit. */
  version: string;
  /** The file as written, stored with the version. */
  source: string;
  system: string;
  conversation: string;
}

/** A prompt file that cannot be used, with the line and column of the fault (1-based, in the file). */
export class PromptError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly problem: string,
  ) {
    super(`${file}: invalid prompt\n  line ${line}, column ${column}: ${problem}`);
    this.name = "PromptError";
  }
}

/** Line and column (1-based) of a character offset. */
function positionOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

export async function parsePrompt(fileName: string, source: string): Promise<PromptTemplate> {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(source);
  const fail = (offset: number, problem: string): never => {
    const { line, column } = positionOf(source, offset);
    throw new PromptError(fileName, line, column, problem);
  };
  if (!match) return fail(0, "missing front matter (--- name: … ---)");
  // The front matter starts on the line after the opening ---: positions count from there.
  const start = source.indexOf("\n") + 1;
  const lineCounter = new LineCounter();
  const doc = parseDocument(match[1] ?? "", { lineCounter, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError) {
    return fail(
      start + yamlError.pos[0],
      `front matter is not valid YAML: ${yamlError.message.split("\n")[0]}`,
    );
  }
  const parsed = frontMatterSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const node = issue?.path.length ? doc.getIn(issue.path as Array<string | number>, true) : undefined;
    const at = isNode(node) && node.range ? node.range[0] : 0;
    return fail(start + at, `front matter ${issue?.path.join(".") || ""}: ${issue?.message}`);
  }
  const bodyStart = match[0].length;
  const body = source.slice(bodyStart);
  const split = body.indexOf(CONVERSATION_MARKER);
  if (split < 0) return fail(bodyStart, `missing the ${CONVERSATION_MARKER} line`);
  const conversation = body.slice(split + CONVERSATION_MARKER.length);
  if (!conversation.includes("{{transcript}}")) {
    return fail(bodyStart + split, "the conversation part must contain {{transcript}}");
  }
  return {
    name: parsed.data.name,
    description: parsed.data.description,
    temperature: parsed.data.temperature,
    maxTokens: parsed.data.max_tokens,
    version: (await sha256Hex(source)).slice(0, 16),
    source,
    system: body.slice(0, split).trim(),
    conversation: conversation.trim(),
  };
}

export interface PromptVariables {
  websiteName: string;
  language: string;
  knowledge: KnowledgeSnippet[];
  transcript: string;
  visitor: { name: string; email: string; segments: string[]; data: Record<string, unknown> };
  instructions?: string | undefined;
}

export function formatKnowledge(snippets: KnowledgeSnippet[]): string {
  if (snippets.length === 0) return "(no matching article)";
  // The answer may be quoted; the guidance is the team's internal reasoning and must not be.
  return snippets
    .map(
      (s) =>
        `[${s.id}] ${s.title}${s.url ? ` <${s.url}>` : ""}\nAnswer (may be quoted to the customer):\n${s.text.trim()}${
          s.guidance?.trim()
            ? `\nInternal guidance (for your reasoning only; never quote it or mention it to the customer):\n${s.guidance.trim()}`
            : ""
        }`,
    )
    .join("\n\n");
}

/** One pass per kind: inserted values are never scanned again, so text from the conversation cannot inject a placeholder. */
function fill(template: string, values: Record<string, string>): string {
  return template
    .replace(/\{\{#([\w.]+)\}\}([\s\S]*?)\{\{\/\1\}\}/g, (_, name: string, inner: string) =>
      values[name] ? inner : "",
    )
    .replace(/\{\{([\w.]+)\}\}/g, (whole, name: string) => values[name] ?? whole);
}

/**
 * Renders the stable system part and the per-draft conversation part, and `rules`: the
 * system part without the knowledge articles, which a draft must never repeat (quoting an
 * article is the point).
 */
export function renderPrompt(template: PromptTemplate, vars: PromptVariables) {
  const stable = {
    website_name: vars.websiteName,
    language: vars.language,
    knowledge: formatKnowledge(vars.knowledge),
  };
  const { system, rules } = stableParts(template, stable);
  const perDraft = {
    ...stable,
    transcript: vars.transcript,
    "visitor.name": vars.visitor.name || "unknown",
    "visitor.email": vars.visitor.email || "unknown",
    "visitor.segments": vars.visitor.segments.join(", ") || "none",
    "visitor.data": Object.keys(vars.visitor.data).length ? JSON.stringify(vars.visitor.data) : "none",
    instructions: vars.instructions?.trim() ?? "",
  };
  return { system, rules, conversation: fill(template.conversation, perDraft) };
}

/**
 * Drafts in flight on the same articles share one copy of the system part (several KB with
 * the articles' guidance) instead of each holding its own while the LLM answers.
 */
const rendered = new Map<string, { system: string; rules: string }>();
const RENDERED_MAX = 64;

function stableParts(
  template: PromptTemplate,
  stable: Record<"website_name" | "language" | "knowledge", string>,
) {
  // The template text itself, not its version: a template built in code may reuse a version.
  const key = [template.system, stable.website_name, stable.language, stable.knowledge].join("\0");
  let parts = rendered.get(key);
  if (parts) {
    // Most recently used last, so the oldest is the first to go.
    rendered.delete(key);
  } else {
    parts = {
      system: fill(template.system, stable),
      rules: fill(template.system, { ...stable, knowledge: "" }),
    };
    if (rendered.size >= RENDERED_MAX) rendered.delete(rendered.keys().next().value as string);
  }
  rendered.set(key, parts);
  return parts;
}

/**
 * Stable A/B assignment: a conversation always gets the same variant (FNV-1a hash of the
 * session id, finalised, over the summed weights), so its drafts are comparable across retries.
 */
export function pickVariant<T extends { weight: number }>(sessionId: string, variants: T[]): T | undefined {
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (variants.length === 0 || total <= 0) return undefined;
  let hash = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) {
    hash ^= sessionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // murmur3's finaliser, so ids differing in their last character spread over the range
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash = (hash ^ (hash >>> 16)) >>> 0;
  let point = (hash / 0x100000000) * total;
  for (const variant of variants) {
    point -= variant.weight;
    if (point < 0) return variant;
  }
  return variants.at(-1);
}
