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
  /** Lease one job by id, if it is still queued (for `offer`). */
  leaseOne?: (id: string) => Promise<J | undefined>;
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
  /**
   * A job that is due now was just enqueued: with a free slot it is leased by id and started
   * at once, without a lease's look for due jobs; with none, as `wake`.
   */
  offer(id: string): void;
  /** Stop leasing; abort running jobs after `graceMs` and wait for them to settle. */
  stop(graceMs?: number): Promise<void>;
  /** Lease and run until nothing is due (for `quill poll --once` and tests). */
  drain(): Promise<void>;
  inFlight(): number;
}

/** Resolves after `ms`, or once the function handed to `arm` is called (then disarmed). */
function sleepUnlessWoken(ms: number, arm: (wake: (() => void) | undefined) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      arm(undefined);
      resolve();
    }
    arm(done);
  });
}

/**
 * Offers whose lease by id is on its way: each holds a slot until it returns, and a stop waits
 * for them. A job leased during a stop still runs (and is waited for) like the others.
 */
function trackOffers<J>(
  leaseOne: ((id: string) => Promise<J | undefined>) | undefined,
  launch: (job: J) => void,
  failed: (error: unknown) => void,
) {
  const pending = new Set<Promise<void>>();
  const take = leaseOne
    ? (id: string) => {
        const leasing: Promise<void> = leaseOne(id)
          .then((job) => {
            if (job) launch(job);
          }, failed)
          .finally(() => pending.delete(leasing));
        pending.add(leasing);
      }
    : undefined;
  return { pending, take };
}

/** Waits for the tasks; once `graceMs` has passed, aborts them through `controller` and waits for the rest. */
async function settleWithin(
  tasks: Set<Promise<void>>,
  graceMs: number,
  clock: Clock,
  controller: AbortController,
) {
  if (tasks.size === 0) return;
  const grace = clock.sleep(graceMs).then(() => controller.abort(new Error("shutting down")));
  await Promise.race([Promise.allSettled([...tasks]), grace]);
  await Promise.allSettled([...tasks]);
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

  const offers = trackOffers(options.leaseOne, launch, (error) => {
    log.error({ err: error }, "leasing an offered job failed; the loop looks again");
    wakeUp?.();
  });

  const free = () => options.concurrency - running.size - offers.pending.size;
  const fill = async (): Promise<number> => {
    if (free() <= 0) return 0;
    const jobs = await options.lease(free());
    for (const job of jobs) launch(job);
    return jobs.length;
  };

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
      if (leased === 0 || running.size >= options.concurrency)
        await sleepUnlessWoken(options.idleMs, (wake) => {
          wakeUp = wake;
        });
    }
  };

  return {
    start() {
      if (!loop) loop = run();
    },
    wake() {
      wakeUp?.();
    },
    offer(id) {
      if (stopped || !loop || !offers.take || free() <= 0) return wakeUp?.();
      offers.take(id);
    },
    async stop(graceMs = 10_000) {
      stopped = true;
      wakeUp?.();
      await loop;
      await Promise.allSettled([...offers.pending]);
      await settleWithin(running, graceMs, clock, controller);
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
