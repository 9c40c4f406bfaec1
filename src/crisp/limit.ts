/**
 * Per-key concurrency limit (one key per Crisp website), so a burst on one website
 * cannot exhaust its rate limit or starve the others.
 */
export interface KeyedLimiter {
  /** `first`: wait at the head of the queue (a message checked a moment ago as still wanted). */
  run<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal, first?: boolean): Promise<T>;
  active(key: string): number;
}

export function createKeyedLimiter(max: number): KeyedLimiter {
  const active = new Map<string, number>();
  const queues = new Map<string, Array<() => void>>();

  const acquire = (key: string, signal?: AbortSignal, first = false) =>
    new Promise<void>((resolve, reject) => {
      if ((active.get(key) ?? 0) < max) {
        active.set(key, (active.get(key) ?? 0) + 1);
        return resolve();
      }
      const queue = queues.get(key) ?? [];
      queues.set(key, queue);
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = queue.indexOf(grant);
        if (index >= 0) queue.splice(index, 1);
        reject(signal?.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (first) queue.unshift(grant);
      else queue.push(grant);
    });

  const release = (key: string) => {
    const next = queues.get(key)?.shift();
    // Hand the slot straight to the next waiter, so the count never dips and lets a newcomer jump the queue.
    if (next) return next();
    const count = (active.get(key) ?? 1) - 1;
    if (count <= 0) {
      active.delete(key);
      queues.delete(key);
    } else active.set(key, count);
  };

  return {
    async run(key, fn, signal, first) {
      await acquire(key, signal, first);
      try {
        return await fn();
      } finally {
        release(key);
      }
    },
    active: (key) => active.get(key) ?? 0,
  };
}
