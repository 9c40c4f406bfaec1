import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { createJobRunner } from "../../src/jobs/runner.ts";
import { silentLogger } from "../../src/log.ts";

function queue(n: number) {
  const jobs = Array.from({ length: n }, (_, i) => i);
  return {
    remaining: () => jobs.length,
    lease: async (limit: number) => jobs.splice(0, limit),
  };
}

describe("job runner", () => {
  it("never runs more jobs at once than its concurrency", async () => {
    const q = queue(10);
    let active = 0;
    let peak = 0;
    const runner = createJobRunner({
      lease: q.lease,
      run: async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
      },
      concurrency: 3,
      idleMs: 1_000,
      clock: systemClock,
      log: silentLogger,
    });
    await runner.drain();
    expect(q.remaining()).toBe(0);
    expect(peak).toBe(3);
  });

  it("keeps running after a job crashes", async () => {
    const q = queue(3);
    const done: number[] = [];
    const runner = createJobRunner({
      lease: q.lease,
      run: async (job) => {
        if (job === 1) throw new Error("boom");
        done.push(job);
      },
      concurrency: 1,
      idleMs: 1_000,
      clock: systemClock,
      log: silentLogger,
    });
    await runner.drain();
    expect(done).toEqual([0, 2]);
  });

  it("picks up work as soon as it is woken, not at the next idle tick", async () => {
    const jobs: number[] = [];
    const ran: number[] = [];
    const runner = createJobRunner({
      lease: async (limit) => jobs.splice(0, limit),
      run: async (job) => {
        ran.push(job);
      },
      concurrency: 2,
      idleMs: 60_000,
      clock: systemClock,
      log: silentLogger,
    });
    runner.start();
    await new Promise((r) => setTimeout(r, 20));
    jobs.push(7);
    runner.wake();
    await new Promise((r) => setTimeout(r, 50));
    expect(ran).toEqual([7]);
    await runner.stop();
  });

  it("aborts running jobs after the grace period on stop", async () => {
    let aborted = false;
    const jobs = [1];
    const runner = createJobRunner({
      lease: async (limit) => jobs.splice(0, limit),
      run: (_job, signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => {
            aborted = true;
            resolve();
          });
        }),
      concurrency: 1,
      idleMs: 60_000,
      clock: systemClock,
      log: silentLogger,
    });
    runner.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(runner.inFlight()).toBe(1);
    await runner.stop(30);
    expect(aborted).toBe(true);
    expect(runner.inFlight()).toBe(0);
  });
});
