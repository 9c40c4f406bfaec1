import type { Clock } from "../clock.ts";
import type { CrispClient } from "../crisp/client.ts";

/**
 * Operators by email, per website, from Crisp's operators list: cached for `ttlMs`, and
 * refreshed early (at most once a minute) when a name is not found, so an operator added
 * in Crisp is routable without a restart. Concurrent lookups share one request.
 */
export function createOperatorDirectory(crisp: CrispClient, clock: Clock, ttlMs = 10 * 60_000) {
  const cache = new Map<string, { at: number; byEmail: Map<string, string>; ids: Set<string> }>();
  const inflight = new Map<string, Promise<void>>();

  const refresh = (websiteId: string) => {
    let pending = inflight.get(websiteId);
    if (!pending) {
      pending = crisp.websites
        .listOperators(websiteId)
        .then((operators) => {
          const byEmail = new Map<string, string>();
          const ids = new Set<string>();
          for (const { details } of operators) {
            ids.add(details.user_id);
            if (details.email) byEmail.set(details.email.toLowerCase(), details.user_id);
          }
          cache.set(websiteId, { at: clock.now(), byEmail, ids });
        })
        .finally(() => inflight.delete(websiteId));
      inflight.set(websiteId, pending);
    }
    return pending;
  };

  return {
    /** The Crisp user id of an operator named by email (or by user id); undefined when unknown. */
    async resolve(websiteId: string, who: string): Promise<string | undefined> {
      const key = who.trim().toLowerCase();
      const find = () => {
        const entry = cache.get(websiteId);
        return entry?.byEmail.get(key) ?? (entry?.ids.has(who) ? who : undefined);
      };
      const entry = cache.get(websiteId);
      if (!entry || clock.now() - entry.at > ttlMs) await refresh(websiteId);
      const found = find();
      if (found) return found;
      const age = clock.now() - (cache.get(websiteId)?.at ?? 0);
      if (age > 60_000) await refresh(websiteId);
      return find();
    },
  };
}

export type OperatorDirectory = ReturnType<typeof createOperatorDirectory>;
