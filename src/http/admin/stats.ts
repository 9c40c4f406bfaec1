/**
 * Prompt statistics from recorded outcomes: acceptance with a Wilson interval, edits,
 * similarity, latency percentiles and cost per draft, and a daily acceptance series.
 */

import { percentile, wilson } from "../../stats.ts";

export interface OutcomeRow {
  promptName: string | null;
  promptVersion: string | null;
  variant: string | null;
  status: string;
  createdAt: number;
  costUsd: number;
  latency: Record<string, number>;
  outcome: string | null;
  similarity: number | null;
}

const ACCEPTED = new Set(["approved", "sent_as_is"]);
const EDITED = new Set(["sent_edited", "edited"]);

export interface GroupStats {
  key: string;
  name: string;
  drafts: number;
  decided: number;
  accepted: number;
  edited: number;
  acceptance: number | undefined;
  interval: { low: number; high: number } | undefined;
  meanSimilarity: number | undefined;
  p50Ms: number | undefined;
  p95Ms: number | undefined;
  costPerDraft: number;
  firstAt: number;
  lastAt: number;
}

export function groupStats(rows: OutcomeRow[], keyOf: (row: OutcomeRow) => string): GroupStats[] {
  const groups = new Map<string, OutcomeRow[]>();
  for (const row of rows) {
    const key = keyOf(row);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups].map(([key, list]) => {
    const decided = list.filter((r) => r.outcome !== null && r.outcome !== "redraft");
    const accepted = decided.filter((r) => r.outcome !== null && ACCEPTED.has(r.outcome)).length;
    const edited = decided.filter((r) => r.outcome !== null && EDITED.has(r.outcome)).length;
    const similarities = list.map((r) => r.similarity).filter((s): s is number => typeof s === "number");
    const totals = list.map((r) => r.latency.total).filter((t): t is number => typeof t === "number");
    return {
      key,
      name: list[0]?.promptName ?? "unknown",
      drafts: list.length,
      decided: decided.length,
      accepted,
      edited,
      acceptance: decided.length ? accepted / decided.length : undefined,
      interval: wilson(accepted, decided.length),
      meanSimilarity: similarities.length
        ? similarities.reduce((a, b) => a + b, 0) / similarities.length
        : undefined,
      p50Ms: percentile(totals, 50),
      p95Ms: percentile(totals, 95),
      costPerDraft: list.reduce((a, r) => a + r.costUsd, 0) / list.length,
      firstAt: Math.min(...list.map((r) => r.createdAt)),
      lastAt: Math.max(...list.map((r) => r.createdAt)),
    };
  });
}

/** Acceptance per UTC day for each group, oldest first (days without decisions are skipped). */
export function dailyAcceptance(rows: OutcomeRow[], keyOf: (row: OutcomeRow) => string) {
  const byKey = new Map<string, Map<string, { accepted: number; decided: number }>>();
  for (const row of rows) {
    if (row.outcome === null || row.outcome === "redraft") continue;
    const day = new Date(row.createdAt).toISOString().slice(0, 10);
    const days = byKey.get(keyOf(row)) ?? new Map();
    const cell = days.get(day) ?? { accepted: 0, decided: 0 };
    cell.decided++;
    if (ACCEPTED.has(row.outcome)) cell.accepted++;
    days.set(day, cell);
    byKey.set(keyOf(row), days);
  }
  return [...byKey].map(([key, days]) => ({
    key,
    points: [...days]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([day, c]) => ({ day, rate: c.accepted / c.decided, n: c.decided })),
  }));
}

/** Word-level diff (LCS) of the draft and what the operator finally sent. */
export function wordDiff(before: string, after: string): Array<{ op: "same" | "del" | "ins"; text: string }> {
  const a = before.split(/(\s+)/).filter(Boolean);
  const b = after.split(/(\s+)/).filter(Boolean);
  if (a.length * b.length > 4_000_000)
    return [
      { op: "del", text: before },
      { op: "ins", text: after },
    ];
  const dp: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = dp[i] as number[];
      row[j] =
        a[i] === b[j]
          ? ((dp[i + 1] as number[])[j + 1] ?? 0) + 1
          : Math.max((dp[i + 1] as number[])[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const out: Array<{ op: "same" | "del" | "ins"; text: string }> = [];
  const push = (op: "same" | "del" | "ins", text: string) => {
    const last = out.at(-1);
    if (last?.op === op) last.text += text;
    else out.push({ op, text });
  };
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      push("same", a[i] as string);
      i++;
      j++;
    } else if (((dp[i + 1] as number[])[j] ?? 0) >= ((dp[i] as number[])[j + 1] ?? 0)) {
      push("del", a[i++] as string);
    } else {
      push("ins", b[j++] as string);
    }
  }
  while (i < a.length) push("del", a[i++] as string);
  while (j < b.length) push("ins", b[j++] as string);
  return out;
}
