import type { DraftContextRecord } from "../store/schema.ts";

/**
 * Knowledge gaps: customer questions the knowledge base did not answer well (drafts
 * rejected, rewritten or handed over with no article), grouped by the words they share so
 * staff see which articles to write first.
 */

export interface GapRow {
  id: string;
  createdAt: number;
  context: DraftContextRecord | null;
  intent: string | null;
  needsHuman: boolean;
  outcome: string | null;
  similarity: number | null;
}

export interface GapGroup {
  /** The words most of the group's questions share. */
  topic: string[];
  count: number;
  questions: string[];
  reasons: Record<string, number>;
  intents: string[];
  lastAt: number;
  draftIds: string[];
}

const STOP = new Set(
  "a an and are as at be but by can could do does for from have hi hello how i i'm if in is it its me my of on or our please so that the their them there they this to was we what when where which who why will with would you your hey thanks thank im ive dont not no yes ok okay get got need want".split(
    " ",
  ),
);

const words = (text: string) =>
  new Set(
    text
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .split(/[^\p{L}\p{N}]+/u)
      .filter(
        (w) => w.length > 2 && !STOP.has(w) && !/^\d+$/.test(w) && !/^(email|phone|card|iban)$/.test(w),
      ),
  );

const jaccard = (a: Set<string>, b: Set<string>) => {
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 0 : shared / union;
};

function reasonOf(row: GapRow): string {
  if (row.outcome === "rejected") return "rejected";
  if (row.outcome === "ignored") return "ignored";
  if (row.outcome === "edited" || row.outcome === "sent_edited") return "rewritten";
  return "no article";
}

export function findGaps(rows: GapRow[], threshold = 0.25): GapGroup[] {
  const groups: Array<{ centroid: Map<string, number>; rows: GapRow[]; sets: Set<string>[] }> = [];
  for (const row of rows) {
    const question = row.context?.query.trim();
    if (!question) continue;
    const set = words(question);
    if (set.size === 0) continue;
    let best: (typeof groups)[number] | undefined;
    let bestScore = 0;
    for (const group of groups) {
      const score = Math.max(...group.sets.map((s) => jaccard(s, set)));
      if (score > bestScore) {
        bestScore = score;
        best = group;
      }
    }
    if (best && bestScore >= threshold) {
      best.rows.push(row);
      best.sets.push(set);
      for (const w of set) best.centroid.set(w, (best.centroid.get(w) ?? 0) + 1);
    } else {
      groups.push({ centroid: new Map([...set].map((w) => [w, 1])), rows: [row], sets: [set] });
    }
  }
  return groups
    .map((g) => {
      const reasons: Record<string, number> = {};
      for (const row of g.rows) reasons[reasonOf(row)] = (reasons[reasonOf(row)] ?? 0) + 1;
      return {
        topic: [...g.centroid]
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .slice(0, 4)
          .map(([w]) => w),
        count: g.rows.length,
        questions: [...new Set(g.rows.map((r) => r.context?.query.trim() ?? ""))].slice(0, 5),
        reasons,
        intents: [...new Set(g.rows.map((r) => r.intent).filter((i): i is string => Boolean(i)))],
        lastAt: Math.max(...g.rows.map((r) => r.createdAt)),
        draftIds: g.rows.map((r) => r.id),
      };
    })
    .sort((a, b) => b.count - a.count || b.lastAt - a.lastAt);
}
