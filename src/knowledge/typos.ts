import { distance } from "fastest-levenshtein";

/**
 * Typo correction for the search index: a misspelt query word as the index's closest surface
 * word, the one in most documents on a tie.
 */

const sorted = (w: string) => [...w].sort().join("");
const sameLetters = (a: string, b: string) => a.length === b.length && sorted(a) === sorted(b);

/** `surfaceIds`' words by length, so a misspelling is compared with few words. */
export function createCorrector(surfaceIds: Map<string, number>, postingLengths: Int32Array) {
  const byLength = new Map<number, string[]>();
  for (const word of surfaceIds.keys()) {
    const list = byLength.get(word.length) ?? [];
    list.push(word);
    byLength.set(word.length, list);
  }
  const corrections = new Map<string, number>();

  const closest = (word: string): number => {
    const maxDistance = word.length < 8 ? 1 : 2;
    let best = -1;
    let bestDistance = maxDistance + 1;
    let bestDocs = 0;
    for (let len = word.length - maxDistance; len <= word.length + maxDistance; len++) {
      for (const candidate of byLength.get(len) ?? []) {
        // A swap of two letters ("chraged") is one slip, not two edits.
        const edits = distance(word, candidate);
        const d = edits === 2 && sameLetters(word, candidate) ? 1 : edits;
        if (d > maxDistance || d > bestDistance) continue;
        const id = surfaceIds.get(candidate) as number;
        const count = postingLengths[id] as number;
        if (d < bestDistance || count > bestDocs) {
          best = id;
          bestDistance = d;
          bestDocs = count;
        }
      }
    }
    return best;
  };

  return (word: string): number | undefined => {
    // Short words are too often other words one letter away ("mars", "mark"): left alone.
    if (word.length < 5 || /\d/.test(word)) return undefined;
    let best = corrections.get(word);
    if (best === undefined) {
      best = closest(word);
      if (corrections.size > 10_000) corrections.clear();
      corrections.set(word, best);
    }
    return best < 0 ? undefined : best;
  };
}
