import fc from "fast-check";

// A failing property prints its seed and shrunk counterexample; FUZZ_SEED=<seed> replays that run.
if (process.env.FUZZ_SEED) fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED) });

/**
 * Tallies how each fuzzed input ended, for the one line a suite prints when it is done.
 * Outcomes are declared up front so a zero ("0 other error") is printed, not omitted.
 */
export function tally<const T extends Record<string, readonly string[]>>(suite: string, outcomes: T) {
  const counts = new Map<string, number>();
  const key = (target: string, outcome: string) => `${target}\u0000${outcome}`;
  const get = <K extends keyof T & string>(target: K, outcome: T[K][number]) =>
    counts.get(key(target, outcome)) ?? 0;
  return {
    get,
    add<K extends keyof T & string>(target: K, outcome: T[K][number]) {
      counts.set(key(target, outcome), get(target, outcome) + 1);
    },
    /** e.g. "fuzz inputs: 2000 inputs; config 1000 (600 loaded, 400 ConfigError, 0 other error); …" */
    line(): string {
      let total = 0;
      const parts = Object.entries(outcomes).map(([target, names]) => {
        const n = names.map((o) => counts.get(key(target, o)) ?? 0);
        const inputs = n.reduce((a, b) => a + b, 0);
        total += inputs;
        return `${target} ${inputs} (${names.map((o, i) => `${n[i]} ${o}`).join(", ")})`;
      });
      return `fuzz ${suite}: ${total} inputs; ${parts.join("; ")}`;
    },
  };
}

/** How a web hook delivery ended, in the outcomes both web hook suites tally. */
export const webhookOutcome = (status: number, storedNothing: boolean) =>
  status >= 500 ? "5xx" : status < 400 ? "2xx" : storedNothing ? "4xx storing nothing" : "4xx that stored";
