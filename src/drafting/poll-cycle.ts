import type { CrispClient } from "../crisp/client.ts";
import { describeError } from "../jobs/errors.ts";
import type { Logger } from "../log.ts";
import type { PollResume, Store } from "../store/store.ts";
import type { WebsiteDirectory } from "../websites.ts";
import { isVisibleToCustomer } from "./eligibility.ts";
import type { Intake } from "./intake.ts";

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

/**
 * One poll cycle for a website: walk conversations not resolved, newest update first,
 * until one is older than the watermark; conversations whose latest visible message is
 * the customer's get a job. Unchanged conversations cost nothing beyond the list call.
 * A walk cut short by maxPages leaves a resume cursor that later cycles walk on from.
 */
export async function pollOnce(deps: {
  store: Store;
  crisp: CrispClient;
  intake: Intake;
  websiteId: string;
  perPage?: number;
  maxPages?: number;
  signal?: AbortSignal;
}): Promise<{ listCalls: number; changed: number; enqueued: number }> {
  const perPage = deps.perPage ?? 50;
  const maxPages = deps.maxPages ?? 40;
  const state = await deps.store.getPollState(deps.websiteId);
  const watermark = state?.watermark ?? 0;
  const resume = state?.resume ?? null;
  let listCalls = 0;
  let changed = 0;
  let enqueued = 0;

  /** Up to maxPages pages from `first`, down to `stopAt`: complete when it got there or to the end. */
  async function walk(first: number, stopAt: number): Promise<{ complete: boolean; newest: number }> {
    let newest = stopAt;
    for (let page = first; page < first + maxPages; page++) {
      const conversations = await deps.crisp.conversations.list(
        deps.websiteId,
        page,
        { filter_not_resolved: true, order_date_updated: true, per_page: perPage },
        { signal: deps.signal },
      );
      listCalls++;
      for (const c of conversations) {
        const updatedAt = c.updated_at ?? 0;
        if (updatedAt <= stopAt) return { complete: true, newest };
        changed++;
        newest = Math.max(newest, updatedAt);
        let preview = c.preview_message;
        if (!preview?.fingerprint || !preview.from) {
          // Older API answers lack the preview: read the last page of messages instead.
          const { messages } = await deps.crisp.messages.list(
            deps.websiteId,
            c.session_id,
            {},
            { signal: deps.signal },
          );
          const last = messages.filter(isVisibleToCustomer).at(-1);
          preview = last ? { from: last.from, fingerprint: last.fingerprint, type: last.type } : undefined;
        }
        if (preview?.from !== "user" || preview.fingerprint === undefined) continue;
        const { created } = await deps.intake.enqueueForMessage({
          websiteId: deps.websiteId,
          sessionId: c.session_id,
          fingerprint: preview.fingerprint,
          messageAt: updatedAt,
          trigger: "poll",
        });
        if (created) enqueued++;
      }
      if (conversations.length < perPage) return { complete: true, newest };
    }
    return { complete: false, newest };
  }

  // The head walk always advances the watermark; what it could not reach below maxPages
  // is left to the resume cursor. Each continuation re-reads its last page, as resolved
  // conversations shift later ones up a page (re-enqueueing one is a no-op).
  const overlap = maxPages > 1 ? 1 : 0;
  const head = await walk(1, watermark);
  let next: PollResume | null = null;
  if (!head.complete) {
    next = { page: maxPages + 1 - overlap, watermark: Math.min(watermark, resume?.watermark ?? watermark) };
  } else if (resume) {
    const tail = await walk(resume.page, resume.watermark);
    if (!tail.complete) next = { page: resume.page + maxPages - overlap, watermark: resume.watermark };
  }
  const moved = next?.page !== resume?.page || next?.watermark !== resume?.watermark;
  if (head.newest > watermark || moved) await deps.store.setPollState(deps.websiteId, head.newest, next);
  return { listCalls, changed, enqueued };
}
