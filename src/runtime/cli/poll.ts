import { randomUUID } from "node:crypto";
import { withinLease } from "../node.ts";
import { withServices } from "./open.ts";

/** `quill poll --once`: one poll cycle, then every job it enqueued, run here. */

export async function pollOnceCommand(): Promise<number> {
  return await withServices(async (services, config) => {
    const result = await services.poll();
    const owner = `cli-${randomUUID().slice(0, 8)}`;
    let drafted = 0;
    for (;;) {
      const leaseMs = config.drafting.jobLeaseMs;
      const jobs = await services.store.leaseJobs({ owner, leaseMs, limit: 4 });
      if (jobs.length === 0) break;
      const signal = withinLease(new AbortController().signal, config);
      await Promise.all(jobs.map((job) => services.pipeline.run(job, owner, signal)));
      drafted += jobs.length;
    }
    console.log(
      `poll: ${result.listCalls} list call(s), ${result.changed} changed conversation(s), ${result.enqueued} new job(s), ${drafted} job(s) run`,
    );
    // The other websites were polled; a failed one still makes the command fail, for scripts.
    if (result.failed.length > 0) {
      console.error(`poll failed for website(s) ${result.failed.join(", ")} (see the log)`);
      return 1;
    }
    return 0;
  });
}
