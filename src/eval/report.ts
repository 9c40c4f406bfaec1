import type { EvalResult } from "./run.ts";

/** An eval run's summary per target, its table and CSV, and the regression gate. */

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
