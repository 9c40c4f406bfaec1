import { z } from "zod";
import { similarity } from "../drafting/commands.ts";
import { contextFromText } from "../drafting/context.ts";
import { agentFacing, checkDraft } from "../drafting/policy.ts";
import { DEFAULT_WEBSITE_NAME, requestFor } from "../drafting/prepare.ts";
import type { PromptTemplate } from "../drafting/prompt.ts";
import type { Retriever } from "../knowledge/hybrid.ts";
import type { KnowledgeBase } from "../knowledge/kb.ts";
import type { DraftResult, LlmProvider } from "../llm/types.ts";
import type { EvalCase } from "./dataset.ts";
import type { Judge } from "./judge.ts";

/**
 * Replays cases through prompt × provider targets with bounded concurrency, scoring each
 * draft against what the operator actually answered.
 */

export interface EvalTarget {
  label: string;
  prompt: PromptTemplate;
  provider: LlmProvider;
}

const optional = <T extends z.ZodType>(schema: T) => schema.optional();

/** One case × target: a line of results.jsonl, read back when a run resumes. */
const evalResultSchema = z.object({
  caseId: z.string(),
  target: z.string(),
  promptVersion: z.string(),
  provider: z.string(),
  model: z.string(),
  ok: z.boolean(),
  error: optional(z.string()),
  draft: z.string(),
  expected: z.string(),
  /** null when the case has no operator answer (labelled questions). */
  similarity: z.number().nullable(),
  lengthRatio: z.number().nullable(),
  expectedArticle: optional(z.string()),
  citations: z.array(z.string()),
  /** The draft cites the labelled article (or the second question's). */
  articleHit: optional(z.boolean()),
  /** The ids retrieval ranked first to third. */
  retrieved: optional(z.array(z.string())),
  /** Retrieval ranked the labelled article (or the second question's) first. */
  retrievalTop1: optional(z.boolean()),
  /** The labelled article is among the first three retrieved. */
  recallAt3: optional(z.boolean()),
  /** Share of the draft's citations that are the labelled articles (undefined without citations). */
  citationPrecision: optional(z.number()),
  /** Why the draft does not read as written to the customer (empty when it does). */
  agentFacing: optional(z.array(z.string())),
  /** Links and prices/promises the draft makes that neither the knowledge nor the allowlist supports. */
  invented: z.array(z.string()),
  needsHuman: z.boolean(),
  confidence: z.number(),
  latencyMs: z.number(),
  tokensIn: z.number(),
  tokensOut: z.number(),
  judgeScore: optional(z.number()),
  judgeReason: optional(z.string()),
});
export type EvalResult = z.infer<typeof evalResultSchema>;

export interface RunOptions {
  cases: EvalCase[];
  targets: EvalTarget[];
  kb: KnowledgeBase;
  /** How drafts retrieve (lexical by default), so a run measures the retrieval quill uses. */
  retriever?: Retriever | undefined;
  linkAllowlist: string[];
  /** PII_REDACTION: the model sees placeholders, as in production (default on). */
  redactPii?: boolean | undefined;
  concurrency: number;
  timeoutMs: number;
  judge?: Judge | undefined;
  /** Results already recorded (resume): skipped. */
  done?: Set<string>;
  /** Called with every finished result, in completion order (append it to the resume file). */
  onResult?: (result: EvalResult) => void | Promise<void>;
  onProgress?: (finished: number, total: number) => void;
  now?: () => number;
}

export const resultKey = (caseId: string, target: string) => `${caseId}|${target}`;

/**
 * The earlier results a resumed run keeps: successful ones for cases and targets of this
 * run (failures are retried, results of cases no longer in the dataset dropped), one per key.
 */
export function resumable(previous: EvalResult[], cases: EvalCase[], targets: string[]): EvalResult[] {
  const caseIds = new Set(cases.map((c) => c.id));
  const kept = new Map<string, EvalResult>();
  for (const r of previous) {
    if (r.ok && caseIds.has(r.caseId) && targets.includes(r.target))
      kept.set(resultKey(r.caseId, r.target), r);
  }
  return [...kept.values()];
}

/** A case whose draft failed: scored as the worst, with the error. */
function failed(
  c: EvalCase,
  base: Pick<EvalResult, "caseId" | "target" | "promptVersion" | "provider" | "expected">,
  error: unknown,
  latencyMs: number,
): EvalResult {
  return {
    ...base,
    model: "",
    ok: false,
    error: error instanceof Error ? error.message : String(error),
    draft: "",
    similarity: c.expected ? 0 : null,
    lengthRatio: null,
    citations: [],
    ...(c.expectedArticle ? { articleHit: false } : {}),
    invented: [],
    needsHuman: true,
    confidence: 0,
    latencyMs,
    tokensIn: 0,
    tokensOut: 0,
  };
}

/** One result line of a resume file; a line that is not one (a partial write) is undefined. */
export function parseResultLine(line: string): EvalResult | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = evalResultSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

async function runOne(c: EvalCase, target: EvalTarget, options: RunOptions): Promise<EvalResult> {
  const now = options.now ?? Date.now;
  // The same step a job takes from its context to the model's request, redaction included.
  const context = contextFromText(c, { redactPii: options.redactPii ?? true });
  const { hits, knowledge, request } = await requestFor({
    template: target.prompt,
    kb: options.kb,
    retriever: options.retriever,
    websiteName: DEFAULT_WEBSITE_NAME,
    context,
  });
  const labels = [c.expectedArticle, c.alsoArticle].filter((a): a is string => Boolean(a));
  const retrieval = c.expectedArticle
    ? {
        retrieved: hits.map((h) => h.id),
        retrievalTop1: labels.includes(hits[0]?.id ?? ""),
        recallAt3: hits.some((h) => h.id === c.expectedArticle),
      }
    : {};
  const started = now();
  const base = {
    caseId: c.id,
    target: target.label,
    promptVersion: target.prompt.version,
    provider: target.provider.name,
    expected: c.expected,
    ...(c.expectedArticle ? { expectedArticle: c.expectedArticle } : {}),
    ...retrieval,
  };
  let result: DraftResult;
  try {
    const drafted = await target.provider.draft(request, { signal: AbortSignal.timeout(options.timeoutMs) });
    // Scored as the operator would see it: placeholders restored.
    result = { ...drafted, text: context.restore(drafted.text) };
  } catch (error) {
    return failed(c, base, error, now() - started);
  }
  const latencyMs = now() - started;
  const invented = checkDraft({ draft: result, knowledge, protectedTexts: [] }, options.linkAllowlist).filter(
    (flag) => flag.startsWith("link") || flag.startsWith("unsupported promise"),
  );
  const verdict = options.judge
    ? await options.judge
        .score(c, result.text)
        .catch((e: Error) => ({ score: undefined, reason: `judge failed: ${e.message}` }))
    : undefined;
  return {
    ...base,
    model: result.model,
    ok: true,
    draft: result.text,
    similarity: c.expected ? similarity(result.text, c.expected) : null,
    lengthRatio: c.expected ? Math.round((result.text.length / c.expected.length) * 100) / 100 : null,
    citations: result.citations,
    ...(c.expectedArticle
      ? {
          articleHit: labels.some((id) => result.citations.includes(id)),
          citationPrecision: result.citations.length
            ? result.citations.filter((id) => labels.includes(id)).length / result.citations.length
            : undefined,
        }
      : {}),
    agentFacing: agentFacing(result.text),
    invented,
    needsHuman: result.needsHuman,
    confidence: result.confidence,
    latencyMs,
    tokensIn: result.usage.inputTokens,
    tokensOut: result.usage.outputTokens,
    judgeScore: verdict?.score,
    judgeReason: verdict?.reason,
  };
}

export async function runEval(options: RunOptions): Promise<EvalResult[]> {
  const work = options.cases.flatMap((c) =>
    options.targets.filter((t) => !options.done?.has(resultKey(c.id, t.label))).map((t) => ({ c, t })),
  );
  const total = work.length;
  const results: EvalResult[] = [];
  let next = 0;
  let finished = 0;
  options.onProgress?.(0, total);
  const worker = async () => {
    while (next < work.length) {
      const item = work[next++];
      if (!item) break;
      const result = await runOne(item.c, item.t, options);
      results.push(result);
      await options.onResult?.(result);
      options.onProgress?.(++finished, total);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, total)) }, worker));
  return results;
}
