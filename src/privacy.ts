import { sha256Hex } from "./crypto.ts";
import type { Logger } from "./log.ts";
import type { RetentionCounts, SessionRef, Store, VisitorQuery, VisitorRows } from "./store/store.ts";

/**
 * Data protection (issue 14): retention of conversation data, and a visitor's right to see
 * (export) and remove (erase) what quill holds about them. Runtime-agnostic: the Node loop,
 * the Workers cron, the CLI and the dashboard all call these.
 */

const DAY_MS = 86_400_000;

/**
 * How a visitor's email is kept: a SHA-256 of the normalised address, so a copy of the
 * database does not list who wrote in. Unkeyed on purpose: a rotated SESSION_SECRET must
 * not make a person's conversations unfindable for an erase request.
 */
export const visitorEmailHash = (email: string) =>
  sha256Hex(`quill-visitor-email:${email.trim().toLowerCase()}`);

/** At most this many batches per run (a batch is `limit` rows per table), so a cron invocation stays short. */
const MAX_BATCHES = 40;

/**
 * Removes or blanks conversation data older than `days` (RETENTION_DAYS), a batch at a time
 * until nothing is left or MAX_BATCHES ran (the next run carries on). Between batches the
 * event loop breathes: on Node each batch is its own group commit.
 */
export async function pruneOldData(
  store: Store,
  options: { days: number; now: number; limit?: number; log?: Logger | undefined },
): Promise<RetentionCounts & { done: boolean }> {
  const limit = options.limit ?? 500;
  const cutoff = options.now - options.days * DAY_MS;
  const total: RetentionCounts = {
    inboxEvents: 0,
    llmCalls: 0,
    drafts: 0,
    feedback: 0,
    jobs: 0,
    mcpCalls: 0,
    shadowDrafts: 0,
  };
  let done = false;
  for (let batch = 0; batch < MAX_BATCHES && !done; batch++) {
    const counts = await store.pruneBefore(cutoff, limit);
    await store.durable();
    for (const key of Object.keys(total) as Array<keyof RetentionCounts>) total[key] += counts[key];
    done = Object.values(counts).every((n) => n < limit);
    if (!done) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  if (Object.values(total).some((n) => n > 0))
    options.log?.info({ ...total, days: options.days, done }, "retention: old conversation data removed");
  return { ...total, done };
}

/** Who a privacy request is about: exactly one of email, people id or session id. */
export interface VisitorSelector {
  email?: string | undefined;
  peopleId?: string | undefined;
  sessionId?: string | undefined;
  websiteId?: string | undefined;
}

export async function visitorQuery(who: VisitorSelector): Promise<VisitorQuery> {
  const email = who.email?.trim();
  return {
    websiteId: who.websiteId,
    peopleId: who.peopleId?.trim() || undefined,
    sessionId: who.sessionId?.trim() || undefined,
    ...(email ? { email, emailHash: await visitorEmailHash(email) } : {}),
  };
}

/** Every row quill holds about one visitor, with the conversations they were found in. */
export async function exportVisitor(
  store: Store,
  who: VisitorSelector,
): Promise<{ sessions: SessionRef[]; rows: VisitorRows }> {
  const sessions = await store.visitorSessions(await visitorQuery(who));
  return { sessions, rows: await store.visitorRows(sessions) };
}

/** Deletes every row of one visitor's conversations; returns the conversations and the rows per table. */
export async function eraseVisitor(
  store: Store,
  who: VisitorSelector,
): Promise<{ sessions: SessionRef[]; counts: Record<keyof VisitorRows, number> }> {
  const sessions = await store.visitorSessions(await visitorQuery(who));
  return { sessions, counts: await store.eraseVisitor(sessions) };
}
