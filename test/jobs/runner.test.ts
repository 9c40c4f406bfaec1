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

  describe("offer: a job due now goes straight to a free slot", () => {
    /** A store of queued ids: `lease` takes any, `leaseOne` one by id; both count their calls. */
    function store(ids: string[]) {
      const queued = new Set(ids);
      const calls = { lease: 0, leaseOne: 0 };
      return {
        calls,
        queued,
        lease: async (limit: number) => {
          calls.lease++;
          const taken = [...queued].slice(0, limit);
          for (const id of taken) queued.delete(id);
          return taken;
        },
        leaseOne: async (id: string) => {
          calls.leaseOne++;
          return queued.delete(id) ? id : undefined;
        },
      };
    }
    const gate = () => {
      let open = () => {};
      const opened = new Promise<void>((r) => {
        open = r;
      });
      return { open, opened };
    };

    it("runs the offered job by its id, without a look for due jobs", async () => {
      const s = store([]);
      const ran: string[] = [];
      const runner = createJobRunner({
        ...s,
        run: async (job) => {
          ran.push(job);
        },
        concurrency: 2,
        idleMs: 60_000,
        clock: systemClock,
        log: silentLogger,
      });
      runner.start();
      await new Promise((r) => setTimeout(r, 10));
      const leasesBefore = s.calls.lease;
      s.queued.add("job-1");
      runner.offer("job-1");
      await new Promise((r) => setTimeout(r, 10));
      expect(ran).toEqual(["job-1"]);
      expect(s.calls.leaseOne).toBe(1);
      // Only the look after the job ended (a slot freed), none to find the offered job.
      expect(s.calls.lease - leasesBefore).toBe(1);
      await runner.stop();
    });

    it("with every slot busy, an offer only wakes the loop, which leases the job once a slot frees", async () => {
      const s = store(["busy"]);
      const release = gate();
      const ran: string[] = [];
      const runner = createJobRunner({
        ...s,
        run: async (job) => {
          ran.push(job);
          if (job === "busy") await release.opened;
        },
        concurrency: 1,
        idleMs: 60_000,
        clock: systemClock,
        log: silentLogger,
      });
      runner.start();
      await new Promise((r) => setTimeout(r, 10));
      s.queued.add("late");
      runner.offer("late");
      await new Promise((r) => setTimeout(r, 10));
      expect(s.calls.leaseOne).toBe(0);
      expect(ran).toEqual(["busy"]);
      release.open();
      await new Promise((r) => setTimeout(r, 20));
      expect(ran).toEqual(["busy", "late"]);
      await runner.stop();
    });

    it("an offered job another lease took first runs once", async () => {
      const s = store([]);
      const ran: string[] = [];
      const runner = createJobRunner({
        ...s,
        run: async (job) => {
          ran.push(job);
        },
        concurrency: 4,
        idleMs: 60_000,
        clock: systemClock,
        log: silentLogger,
      });
      runner.start();
      await new Promise((r) => setTimeout(r, 10));
      s.queued.add("job-1");
      runner.wake();
      runner.offer("job-1");
      await new Promise((r) => setTimeout(r, 20));
      expect(ran).toEqual(["job-1"]);
      await runner.stop();
    });

    it("a stop waits for an offer whose lease is on its way, and for the job it leased", async () => {
      const leased = gate();
      const finished: string[] = [];
      const runner = createJobRunner<string>({
        lease: async () => [],
        leaseOne: async (id) => {
          await leased.opened;
          return id;
        },
        run: async (job) => {
          await new Promise((r) => setTimeout(r, 10));
          finished.push(job);
        },
        concurrency: 2,
        idleMs: 60_000,
        clock: systemClock,
        log: silentLogger,
      });
      runner.start();
      await new Promise((r) => setTimeout(r, 10));
      runner.offer("job-1");
      const stopped = runner.stop(1_000);
      setTimeout(leased.open, 10);
      await stopped;
      // A job left leased by a stopped runner would wait out its whole lease before anyone ran it.
      expect(finished).toEqual(["job-1"]);
    });

    it("an offer whose lease fails is looked for again by the loop", async () => {
      const s = store([]);
      const ran: string[] = [];
      const runner = createJobRunner({
        ...s,
        leaseOne: async () => {
          throw new Error("database is locked");
        },
        run: async (job) => {
          ran.push(job);
        },
        concurrency: 2,
        idleMs: 60_000,
        clock: systemClock,
        log: silentLogger,
      });
      runner.start();
      await new Promise((r) => setTimeout(r, 10));
      s.queued.add("job-1");
      runner.offer("job-1");
      await new Promise((r) => setTimeout(r, 20));
      expect(ran).toEqual(["job-1"]);
      await runner.stop();
    });
  });
});
