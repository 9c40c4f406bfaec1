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

export interface EvalResult {
  caseId: string;
  target: string;
  promptVersion: string;
  provider: string;
  model: string;
  ok: boolean;
  error?: string;
  draft: string;
  expected: string;
  /** null when the case has no operator answer (labelled questions). */
  similarity: number | null;
  lengthRatio: number | null;
  expectedArticle?: string | undefined;
  citations: string[];
  /** The draft cites the labelled article (or the second question's). */
  articleHit?: boolean | undefined;
  /** The ids retrieval ranked first to third. */
  retrieved?: string[] | undefined;
  /** Retrieval ranked the labelled article (or the second question's) first. */
  retrievalTop1?: boolean | undefined;
  /** The labelled article is among the first three retrieved. */
  recallAt3?: boolean | undefined;
  /** Share of the draft's citations that are the labelled articles (undefined without citations). */
  citationPrecision?: number | undefined;
  /** Why the draft does not read as written to the customer (empty when it does). */
  agentFacing?: string[] | undefined;
  /** Links and prices/promises the draft makes that neither the knowledge nor the allowlist supports. */
  invented: string[];
  needsHuman: boolean;
  confidence: number;
  latencyMs: number;
  tokensIn: number;
  tokensOut: number;
  judgeScore?: number | undefined;
  judgeReason?: string | undefined;
}

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
      latencyMs: now() - started,
      tokensIn: 0,
      tokensOut: 0,
    };
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

export interface TargetSummary {
  target: string;
  cases: number;
  failures: number;
  meanSimilarity: number | undefined;
  medianLengthRatio: number | undefined;
  /** Share of labelled questions whose draft cites the right article. */
  articleHitRate: number | undefined;
  /** Retrieval alone, on labelled questions: the right article first, and among the first three. */
  retrievalTop1: number | undefined;
  recallAt3: number | undefined;
  /** Share of citations that name a labelled article, over drafts that cite anything. */
  citationPrecision: number | undefined;
  /** Share of drafts with no agent-facing phrasing ("the customer", tool names, staff instructions). */
  customerVoiceRate: number;
  /** Labelled questions by the draft's confidence: how often a draft in each band cited the right article. */
  calibration: Array<{ band: string; cases: number; accuracy: number | undefined }>;
  inventedRate: number;
  needsHumanRate: number;
  meanLatencyMs: number;
  tokensIn: number;
  tokensOut: number;
  meanJudge: number | undefined;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
const median = (xs: number[]) => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

const share = <T>(xs: T[], test: (x: T) => boolean) =>
  xs.length ? xs.filter(test).length / xs.length : undefined;
/** Confidence bands for calibration: a well-calibrated drafter is right ~70% of the time in 0.6–0.8. */
const CONFIDENCE_BANDS: Array<[number, number]> = [
  [0, 0.3],
  [0.3, 0.6],
  [0.6, 0.8],
  [0.8, 1.01],
];

const bandLabel = (low: number, high: number) => `${low.toFixed(1)}–${Math.min(1, high).toFixed(1)}`;

export function summarise(results: EvalResult[], targets: string[]): TargetSummary[] {
  return targets.map((target) => {
    const all = results.filter((r) => r.target === target);
    const ok = all.filter((r) => r.ok);
    const judged = ok.map((r) => r.judgeScore).filter((s): s is number => typeof s === "number");
    const numbers = (xs: Array<number | null>) => xs.filter((x): x is number => typeof x === "number");
    const labelled = all.filter((r) => r.articleHit !== undefined);
    return {
      target,
      cases: all.length,
      failures: all.length - ok.length,
      meanSimilarity: mean(numbers(ok.map((r) => r.similarity))),
      medianLengthRatio: median(numbers(ok.map((r) => r.lengthRatio))),
      articleHitRate: share(labelled, (r) => r.articleHit === true),
      retrievalTop1: share(labelled, (r) => r.retrievalTop1 === true),
      recallAt3: share(labelled, (r) => r.recallAt3 === true),
      citationPrecision: mean(numbers(labelled.map((r) => r.citationPrecision ?? null))),
      customerVoiceRate: share(ok, (r) => (r.agentFacing ?? []).length === 0) ?? 1,
      calibration: CONFIDENCE_BANDS.map(([low, high]) => {
        const inBand = labelled.filter((r) => r.ok && r.confidence >= low && r.confidence < high);
        return {
          band: bandLabel(low, high),
          cases: inBand.length,
          accuracy: share(inBand, (r) => r.articleHit === true),
        };
      }),
      inventedRate: ok.length ? ok.filter((r) => r.invented.length > 0).length / ok.length : 0,
      needsHumanRate: ok.length ? ok.filter((r) => r.needsHuman).length / ok.length : 0,
      meanLatencyMs: mean(ok.map((r) => r.latencyMs)) ?? 0,
      tokensIn: ok.reduce((a, r) => a + r.tokensIn, 0),
      tokensOut: ok.reduce((a, r) => a + r.tokensOut, 0),
      meanJudge: judged.length ? mean(judged) : undefined,
    };
  });
}

const pct = (x: number | undefined) => (x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);

/** Targets side by side, one column each. */
export function formatTable(summaries: TargetSummary[]): string {
  const rows: Array<[string, (s: TargetSummary) => string]> = [
    ["cases", (s) => String(s.cases)],
    ["failures", (s) => String(s.failures)],
    ["mean similarity", (s) => (s.meanSimilarity === undefined ? "—" : s.meanSimilarity.toFixed(3))],
    [
      "median length ratio",
      (s) => (s.medianLengthRatio === undefined ? "—" : s.medianLengthRatio.toFixed(2)),
    ],
    ["article hit rate", (s) => pct(s.articleHitRate)],
    ["retrieval top-1", (s) => pct(s.retrievalTop1)],
    ["retrieval recall@3", (s) => pct(s.recallAt3)],
    ["citation precision", (s) => pct(s.citationPrecision)],
    ["customer voice", (s) => pct(s.customerVoiceRate)],
    ...CONFIDENCE_BANDS.map(([low, high]) => bandLabel(low, high)).map(
      (band): [string, (s: TargetSummary) => string] => [
        `right at conf ${band}`,
        (s) => {
          const b = s.calibration.find((c) => c.band === band);
          return b?.cases ? `${pct(b.accuracy)} of ${b.cases}` : "—";
        },
      ],
    ),
    ["invented links/prices", (s) => pct(s.inventedRate)],
    ["needs human", (s) => pct(s.needsHumanRate)],
    ["mean latency", (s) => `${Math.round(s.meanLatencyMs)} ms`],
    ["tokens in / out", (s) => `${s.tokensIn} / ${s.tokensOut}`],
    ["judge (1-5)", (s) => (s.meanJudge === undefined ? "—" : s.meanJudge.toFixed(2))],
  ];
  const header = ["", ...summaries.map((s) => s.target)];
  const body = rows.map(([name, get]) => [name, ...summaries.map(get)]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

const csvCell = (value: unknown) => {
  const text = value === undefined || value === null ? "" : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

export function toCsv(results: EvalResult[]): string {
  const columns: Array<keyof EvalResult> = [
    "caseId",
    "target",
    "promptVersion",
    "provider",
    "model",
    "ok",
    "similarity",
    "lengthRatio",
    "invented",
    "expectedArticle",
    "articleHit",
    "retrievalTop1",
    "recallAt3",
    "citationPrecision",
    "retrieved",
    "citations",
    "agentFacing",
    "needsHuman",
    "confidence",
    "latencyMs",
    "tokensIn",
    "tokensOut",
    "judgeScore",
    "error",
    "draft",
    "expected",
  ];
  return [
    columns.join(","),
    ...results.map((r) =>
      columns.map((c) => csvCell(Array.isArray(r[c]) ? (r[c] as string[]).join("; ") : r[c])).join(","),
    ),
  ].join("\n");
}

/** A one-line progress bar for stderr. */
export function progressBar(done: number, total: number, width = 30): string {
  const ratio = total ? done / total : 1;
  const filled = Math.round(ratio * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} (${Math.round(ratio * 100)}%)`;
}

/** Metrics the regression gate knows, and which direction is better. */
export const GATE_METRICS = {
  meanSimilarity: "higher",
  articleHitRate: "higher",
  retrievalTop1: "higher",
  recallAt3: "higher",
  customerVoiceRate: "higher",
  meanJudge: "higher",
  inventedRate: "lower",
  failures: "lower",
} as const satisfies Partial<Record<keyof TargetSummary, "higher" | "lower">>;
export type GateMetric = keyof typeof GATE_METRICS;

/** "meanSimilarity=0.2" → ["meanSimilarity", 0.2]; unknown names are an error naming the options. */
export function parseThreshold(raw: string): [GateMetric, number] {
  const match = /^([A-Za-z]+)=(-?\d+(?:\.\d+)?)$/.exec(raw.trim());
  const name = match?.[1] as GateMetric | undefined;
  if (!match || !name || !(name in GATE_METRICS)) {
    throw new Error(
      `--fail-under: expected <metric>=<number> with metric one of ${Object.keys(GATE_METRICS).join(", ")}, got "${raw}"`,
    );
  }
  return [name, Number(match[2])];
}

/** The target label without the prompt version, so a baseline matches an edited prompt. */
export const targetKey = (label: string) => label.replace(/@[0-9a-f]+\//, "/");

/**
 * Regression gate: floors from --fail-under (for "lower is better" metrics, ceilings),
 * and, with a baseline, no metric worse than the baseline's by more than the tolerance.
 */
export function gate(
  current: TargetSummary[],
  options: {
    baseline?: TargetSummary[] | undefined;
    thresholds: Array<[GateMetric, number]>;
    tolerance: number;
  },
): string[] {
  const problems: string[] = [];
  if (current.length === 0 && (options.baseline || options.thresholds.length))
    problems.push("no target to gate: no prompt × provider was run");
  for (const summary of current) {
    for (const [metric, limit] of options.thresholds) {
      const value = summary[metric];
      if (value === undefined) continue;
      const bad = GATE_METRICS[metric] === "higher" ? value < limit : value > limit;
      if (bad)
        problems.push(
          `${summary.target}: ${metric} ${value.toFixed(3)} is ${GATE_METRICS[metric] === "higher" ? "under" : "over"} ${limit}`,
        );
    }
    if (!options.baseline) continue;
    const base = options.baseline.find((b) => targetKey(b.target) === targetKey(summary.target));
    // A target the baseline does not know would pass without being compared.
    if (!base) {
      problems.push(
        `no baseline for target ${summary.target} (the baseline has ${options.baseline.map((b) => targetKey(b.target)).join(", ") || "none"})`,
      );
      continue;
    }
    for (const [metric, direction] of Object.entries(GATE_METRICS) as Array<
      [GateMetric, "higher" | "lower"]
    >) {
      const now = summary[metric];
      const before = base[metric];
      if (now === undefined || before === undefined || before === null) continue;
      const worse = direction === "higher" ? before - now : now - before;
      if (worse > options.tolerance) {
        problems.push(`${summary.target}: ${metric} ${now.toFixed(3)} vs baseline ${before.toFixed(3)}`);
      }
    }
  }
  return problems;
}
