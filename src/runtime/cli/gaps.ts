import { withStore } from "./open.ts";
import { positiveInt } from "./shared.ts";

/** `quill gaps`: questions the knowledge base answered badly, grouped. */

export async function gapsCommand(opts: { days?: string | undefined }) {
  const { findGaps } = await import("../../knowledge/gaps.ts");
  const days = positiveInt("--days", opts.days, 30);
  return await withStore(async (store) => {
    const groups = findGaps(await store.gapCandidates({ since: Date.now() - days * 86_400_000 }));
    if (groups.length === 0) {
      console.log(`No knowledge gaps in the last ${days} days.`);
      return 0;
    }
    for (const g of groups) {
      const why = Object.entries(g.reasons)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(", ");
      console.log(`${g.count} × ${g.topic.join(", ")}  (${why})`);
      for (const q of g.questions) console.log(`    - ${q}`);
    }
    return 0;
  });
}
