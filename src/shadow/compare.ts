import { similarity } from "../drafting/commands.ts";
import { createRedactor } from "../drafting/redact.ts";
import { percentile } from "../stats.ts";
import type { ShadowPair } from "../store/store.ts";

/**
 * The Shadow page's numbers: on the drafts operators sent, how close the candidate and the
 * live draft came to what was sent, with feedback's own similarity, and what each cost.
 */

export interface ComparedPair {
  pair: ShadowPair;
  sentText: string;
  live: number;
  /** undefined when the candidate failed. */
  candidate: number | undefined;
}

export interface ShadowComparison {
  /** Shadow rows in the period, sent or not, and those that failed. */
  shadows: number;
  shadowFailures: number;
  /** Sent drafts with a shadow. */
  sent: number;
  /** Of those, the candidate failed. */
  failures: number;
  /** Sent drafts where both texts are there (RETENTION_DAYS blanks them). */
  compared: number;
  meanLive: number | undefined;
  meanCandidate: number | undefined;
  closer: number;
  same: number;
  further: number;
  costLive: number | undefined;
  costCandidate: number | undefined;
  latencyLive: { p50: number | undefined; p95: number | undefined };
  latencyCandidate: { p50: number | undefined; p95: number | undefined };
  /** The candidates seen (prompt / provider model), most used first. */
  candidates: string[];
  recent: ComparedPair[];
}

/**
 * The candidate drafted from the redacted context and kept its placeholders ("[email 1]"),
 * while the live draft was restored: both sides, and the sent text, are compared redacted.
 */
const comparable = (text: string) => createRedactor().redact(text);

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

export const candidateLabel = (s: ShadowPair["shadow"]) =>
  `${s.promptName ?? "?"} / ${s.provider}${s.model ? ` ${s.model}` : ""}`;

export function compareShadows(pairs: ShadowPair[], recentLimit = 25): ShadowComparison {
  const sent = pairs.filter((p) => p.sent);
  const compared: ComparedPair[] = [];
  for (const pair of sent) {
    const sentText = pair.sent?.finalText ?? "";
    if (!sentText || !pair.live.text) continue;
    const ok = !pair.shadow.error && pair.shadow.text !== "";
    const sentFair = comparable(sentText);
    compared.push({
      pair,
      sentText,
      live: similarity(comparable(pair.live.text), sentFair),
      candidate: ok ? similarity(comparable(pair.shadow.text), sentFair) : undefined,
    });
  }
  const both = compared.filter((c) => c.candidate !== undefined) as Array<
    ComparedPair & { candidate: number }
  >;
  const ok = sent.filter((p) => !p.shadow.error);
  const byCandidate = new Map<string, number>();
  for (const p of pairs)
    byCandidate.set(candidateLabel(p.shadow), (byCandidate.get(candidateLabel(p.shadow)) ?? 0) + 1);
  const liveMs = sent.map((p) => p.live.latency.llm).filter((n): n is number => typeof n === "number");
  const candidateMs = ok.map((p) => p.shadow.latencyMs);
  return {
    shadows: pairs.length,
    shadowFailures: pairs.filter((p) => p.shadow.error).length,
    sent: sent.length,
    failures: sent.length - ok.length,
    compared: both.length,
    meanLive: mean(both.map((c) => c.live)),
    meanCandidate: mean(both.map((c) => c.candidate)),
    closer: both.filter((c) => c.candidate > c.live).length,
    same: both.filter((c) => c.candidate === c.live).length,
    further: both.filter((c) => c.candidate < c.live).length,
    costLive: mean(sent.map((p) => p.live.costUsd)),
    costCandidate: mean(sent.map((p) => p.shadow.costUsd)),
    latencyLive: { p50: percentile(liveMs, 50), p95: percentile(liveMs, 95) },
    latencyCandidate: { p50: percentile(candidateMs, 50), p95: percentile(candidateMs, 95) },
    candidates: [...byCandidate].sort((a, b) => b[1] - a[1]).map(([label]) => label),
    recent: compared.slice(0, recentLimit),
  };
}
