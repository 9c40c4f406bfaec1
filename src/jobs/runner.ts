import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";

/**
 * Runs leased jobs with bounded concurrency. The store decides what is due (run_after,
 * expired leases); the runner only asks for as many jobs as it has free slots, so one
 * slow draft never blocks the others and a crashed process's leases simply expire.
 */
export interface JobRunnerOptions<J> {
  /** Lease up to `limit` due jobs. */
  lease: (limit: number) => Promise<J[]>;
  /** Run one job to completion; must not throw for expected failures (it records them). */
  run: (job: J, signal: AbortSignal) => Promise<void>;
  concurrency: number;
  /** How long to wait before looking again when nothing was due (a wake() cuts it short). */
  idleMs: number;
  clock: Clock;
  log: Logger;
}

export interface JobRunner {
  start(): void;
  /** Look for due jobs now (after a web hook enqueued one). */
  wake(): void;
  /** Stop leasing; abort running jobs after `graceMs` and wait for them to settle. */
  stop(graceMs?: number): Promise<void>;
  /** Lease and run until nothing is due (for `quill poll --once` and tests). */
  drain(): Promise<void>;
  inFlight(): number;
}

export function createJobRunner<J>(options: JobRunnerOptions<J>): JobRunner {
  const { clock, log } = options;
  const running = new Set<Promise<void>>();
  const controller = new AbortController();
  let stopped = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;

  const launch = (job: J) => {
    const task = options
      .run(job, controller.signal)
      .catch((error: unknown) => log.error({ err: error }, "job crashed"))
      .finally(() => {
        running.delete(task);
        wakeUp?.();
      });
    running.add(task);
  };

  const fill = async (): Promise<number> => {
    const free = options.concurrency - running.size;
    if (free <= 0) return 0;
    const jobs = await options.lease(free);
    for (const job of jobs) launch(job);
    return jobs.length;
  };

  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  const run = async () => {
    while (!stopped) {
      let leased = 0;
      try {
        leased = await fill();
      } catch (error) {
        log.error({ err: error }, "leasing jobs failed; retrying");
      }
      if (stopped) break;
      // Full, or nothing due: wait for a slot to free up, a wake(), or the idle timeout.
      if (leased === 0 || running.size >= options.concurrency) await idle(options.idleMs);
    }
  };

  return {
    start() {
      if (!loop) loop = run();
    },
    wake() {
      wakeUp?.();
    },
    async stop(graceMs = 10_000) {
      stopped = true;
      wakeUp?.();
      await loop;
      if (running.size > 0) {
        const grace = clock.sleep(graceMs).then(() => controller.abort(new Error("shutting down")));
        await Promise.race([Promise.allSettled([...running]), grace]);
        await Promise.allSettled([...running]);
      }
    },
    async drain() {
      for (;;) {
        const leased = await fill();
        if (leased === 0 && running.size === 0) return;
        if (running.size > 0) await Promise.race(running);
      }
    },
    inFlight: () => running.size,
  };
}
