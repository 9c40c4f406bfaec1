import { percentile } from "../../stats.ts";
import type { Store } from "../../store/store.ts";

/**
 * What happened to drafts, in the support lead's words: sent as-is, lightly edited, rewritten,
 * ignored or rejected, from the decision the store recorded (feedback kind and similarity of
 * what was sent to the draft), and the overview's daily series and breakdowns built from it.
 */

export const OUTCOME_CLASSES = ["as_is", "light_edit", "rewritten", "ignored", "rejected"] as const;
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];

/** An edit that kept at least this much of the draft (word similarity) is a light edit. */
export const LIGHT_EDIT_MIN = 0.6;

export const OUTCOME_LABELS: Record<OutcomeClass, string> = {
  as_is: "sent as-is",
  light_edit: "lightly edited",
  rewritten: "rewritten",
  ignored: "ignored",
  rejected: "rejected",
};

/** Chart fills; the legend, tooltips and data tables name every class, so colour is never alone. */
export const OUTCOME_COLOURS: Record<OutcomeClass, string> = {
  as_is: "#1b7f45",
  light_edit: "#1558d6",
  rewritten: "#c27c0e",
  ignored: "#6b7280",
  rejected: "#c0392b",
};

/** A recorded feedback kind as an outcome class; undefined for no decision or a /redraft. */
export function classify(kind: string | null | undefined, similarity: number | null | undefined) {
  switch (kind) {
    case "approved":
    case "sent_as_is":
      return "as_is";
    case "sent_edited":
    case "edited":
      return typeof similarity === "number" && similarity >= LIGHT_EDIT_MIN ? "light_edit" : "rewritten";
    case "ignored":
    case "resolved_no_reply":
      return "ignored";
    case "rejected":
      return "rejected";
    default:
      return undefined;
  }
}

/** The drafts list's badge: an outcome class, or the draft's state when nobody decided. */
export function outcomeBadge(kind: string | null, similarity: number | null, status: string) {
  const cls = classify(kind, similarity);
  if (cls) return { cls: cls as string, label: OUTCOME_LABELS[cls] };
  if (kind === "redraft") return { cls: "other", label: "redrafted" };
  if (status === "sent") return { cls: "other", label: "auto-sent" };
  if (status === "posted") return { cls: "pending", label: "awaiting decision" };
  return { cls: "other", label: "no outcome" };
}

export type OverviewRow = Awaited<ReturnType<Store["overviewRows"]>>["rows"][number];
export type Split = Record<OutcomeClass, number>;
export interface Breakdown {
  key: string;
  label: string;
  decided: number;
  split: Split;
}

const emptySplit = (): Split => ({ as_is: 0, light_edit: 0, rewritten: 0, ignored: 0, rejected: 0 });
const DAY = 86_400_000;
export const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Every UTC day from `since` to `now`, oldest first. */
export function daysBetween(since: number, now: number): string[] {
  const days: string[] = [];
  for (let t = Math.floor(since / DAY) * DAY; t <= now; t += DAY) days.push(dayOf(t));
  return days;
}

function breakdown(
  rows: Array<{ row: OverviewRow; cls: OutcomeClass }>,
  keyOf: (row: OverviewRow) => { key: string; label: string },
): Breakdown[] {
  const groups = new Map<string, Breakdown>();
  for (const { row, cls } of rows) {
    const { key, label } = keyOf(row);
    const group = groups.get(key) ?? { key, label, decided: 0, split: emptySplit() };
    group.decided++;
    group.split[cls]++;
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.decided - a.decided || a.label.localeCompare(b.label));
}

/** The overview's numbers for the drafts created from `since` to `now`. */
export function summarise(rows: OverviewRow[], since: number, now: number) {
  const days = daysBetween(since, now);
  const index = new Map(days.map((d, i) => [d, i]));
  const zeros = () => days.map(() => 0);
  const draftsPerDay = zeros();
  const costPerDay = zeros();
  const splitPerDay = Object.fromEntries(OUTCOME_CLASSES.map((k) => [k, zeros()])) as Record<
    OutcomeClass,
    number[]
  >;
  const readyByDay = days.map(() => [] as number[]);
  const split = emptySplit();
  const decided: Array<{ row: OverviewRow; cls: OutcomeClass }> = [];
  const decisionMs: number[] = [];
  const readyMs: number[] = [];
  let pending = 0;
  let autoSent = 0;
  let cost = 0;
  for (const row of rows) {
    const i = index.get(dayOf(row.createdAt));
    if (i === undefined) continue;
    draftsPerDay[i] = (draftsPerDay[i] ?? 0) + 1;
    costPerDay[i] = (costPerDay[i] ?? 0) + row.costUsd;
    cost += row.costUsd;
    // From the customer's message to the posted draft: first drafts only (a redraft answers a command).
    if (row.jobKind === "draft" && row.postedAt !== null && row.messageAt && row.postedAt >= row.messageAt) {
      readyMs.push(row.postedAt - row.messageAt);
      readyByDay[i]?.push(row.postedAt - row.messageAt);
    }
    const cls = classify(row.decision?.kind, row.decision?.similarity);
    if (cls) {
      split[cls]++;
      splitPerDay[cls][i] = (splitPerDay[cls][i] ?? 0) + 1;
      decided.push({ row, cls });
      if (typeof row.decision?.delayMs === "number") decisionMs.push(row.decision.delayMs);
    } else if (!row.decision && row.status === "posted") pending++;
    else if (!row.decision && row.status === "sent" && row.mode === "reply") autoSent++;
  }
  const accepted = split.as_is + split.light_edit;
  return {
    days,
    drafts: rows.length,
    decided: decided.length,
    accepted,
    pending,
    autoSent,
    split,
    draftsPerDay,
    splitPerDay,
    cost,
    costPerDay,
    costPerAccepted: accepted ? cost / accepted : undefined,
    decision: { n: decisionMs.length, p50: percentile(decisionMs, 50), p95: percentile(decisionMs, 95) },
    ready: {
      n: readyMs.length,
      p50: percentile(readyMs, 50),
      p95: percentile(readyMs, 95),
      p50PerDay: readyByDay.map((values) => percentile(values, 50)),
      p95PerDay: readyByDay.map((values) => percentile(values, 95)),
    },
    byIntent: breakdown(decided, (r) => ({ key: r.intent ?? "", label: r.intent ?? "(no intent)" })),
    byPrompt: breakdown(decided, (r) => ({
      key: r.promptVersion ?? "",
      label: r.promptVersion ? `${r.promptName ?? "prompt"} ${r.promptVersion.slice(0, 8)}` : "(no prompt)",
    })),
    byOperator: breakdown(decided, (r) => {
      const name = r.decision?.operatorName ?? r.decision?.operatorId;
      return name ? { key: name, label: name } : { key: "", label: "(no operator recorded)" };
    }),
  };
}

export type Summary = ReturnType<typeof summarise>;
