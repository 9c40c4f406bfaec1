import type { Store } from "../../store/store.ts";

/**
 * Login throttling, kept in the store so every Node process and Workers isolate counts the
 * same failures. Two keys per attempt: the client (IP) and the target (the admin token, or
 * one website's token). A few failures are free; after that each one doubles the wait.
 */

export const LOGIN_LIMITS = {
  /** One client: 5 free failures, then 30 s, 60 s, … up to an hour. */
  client: { free: 5, baseMs: 30_000, maxMs: 3_600_000 },
  /** One target from every client: more room (a shared NAT, a team), shorter cap (lock-out). */
  target: { free: 10, baseMs: 30_000, maxMs: 900_000 },
  /** A count with no failure for a day starts again. */
  forgetAfterMs: 86_400_000,
} as const;

type Limit = { free: number; baseMs: number; maxMs: number };

export const waitAfter = (failures: number, limit: Limit) =>
  failures < limit.free ? 0 : Math.min(limit.maxMs, limit.baseMs * 2 ** (failures - limit.free));

export function createLoginThrottle(deps: { store: Store; now: () => number }) {
  const limitOf = (key: string) => (key.startsWith("ip:") ? LOGIN_LIMITS.client : LOGIN_LIMITS.target);
  return {
    /** Milliseconds until these keys may try again (0: now). */
    async wait(keys: string[]): Promise<number> {
      const now = deps.now();
      let wait = 0;
      for (const row of await deps.store.loginFailuresOf(keys)) {
        if (now - row.lastFailureAt > LOGIN_LIMITS.forgetAfterMs) continue;
        wait = Math.max(wait, row.lastFailureAt + waitAfter(row.failures, limitOf(row.key)) - now);
      }
      return wait;
    },
    async fail(keys: string[]): Promise<void> {
      await deps.store.recordLoginFailure(keys, LOGIN_LIMITS.forgetAfterMs);
    },
    succeed: (keys: string[]) => deps.store.clearLoginFailures(keys),
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
