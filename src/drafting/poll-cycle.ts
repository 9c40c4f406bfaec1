import type { CrispClient } from "../crisp/client.ts";
import { describeError } from "../jobs/errors.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import type { WebsiteDirectory } from "../websites.ts";
import { type Intake, pollOnce } from "./intake.ts";

/** A failing website is skipped for at most this many poll cycles between tries. */
export const POLL_BACKOFF_MAX_CYCLES = 32;

/**
 * One poll cycle over every served website. A website whose Crisp calls fail (401/403/404:
 * plugin uninstalled, or Crisp down for it) is logged and skipped for 1, 2, 4 … up to
 * POLL_BACKOFF_MAX_CYCLES cycles, and the websites after it are still polled. The backoff
 * lives in memory: a restart (or a fresh Workers isolate) tries all again.
 */
export function createPollCycle(deps: {
  store: Store;
  crisp: CrispClient;
  intake: Intake;
  websites: WebsiteDirectory;
  log: Logger;
}) {
  const { log } = deps;
  let cycle = 0;
  const backoffs = new Map<string, { failures: number; nextCycle: number }>();
  return async (signal?: AbortSignal) => {
    cycle++;
    const total = { listCalls: 0, changed: 0, enqueued: 0, failed: [] as string[], skipped: [] as string[] };
    for (const id of await deps.websites.served()) {
      const backoff = backoffs.get(id);
      if (backoff && cycle < backoff.nextCycle) {
        total.skipped.push(id);
        continue;
      }
      try {
        const result = await pollOnce({
          store: deps.store,
          crisp: deps.crisp,
          intake: deps.intake,
          websiteId: id,
          ...(signal ? { signal } : {}),
        });
        total.listCalls += result.listCalls;
        total.changed += result.changed;
        total.enqueued += result.enqueued;
        if (backoff) log.info({ websiteId: id, failures: backoff.failures }, "website polled again");
        backoffs.delete(id);
      } catch (error) {
        if (signal?.aborted) throw error;
        const failures = (backoff?.failures ?? 0) + 1;
        const skipCycles = Math.min(2 ** (failures - 1), POLL_BACKOFF_MAX_CYCLES);
        backoffs.set(id, { failures, nextCycle: cycle + skipCycles + 1 });
        total.failed.push(id);
        log.warn(
          { websiteId: id, failures, skipCycles, err: describeError(error) },
          "poll of a website failed; skipping it for a few cycles",
        );
      }
    }
    return total;
  };
}
