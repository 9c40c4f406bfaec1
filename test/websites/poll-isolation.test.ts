import { expect, it } from "vitest";
import { POLL_BACKOFF_MAX_CYCLES } from "../../src/drafting/poll-cycle.ts";
import type { Logger } from "../../src/log.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { setup } from "../drafting/harness.ts";

/**
 * A served website whose Crisp calls fail (here: unknown to Crisp, 404, as after the plugin
 * was uninstalled) does not end the poll cycle: it is logged, skipped for 1, 2, 4 … cycles
 * (capped), and the websites after it are still polled and get their draft jobs.
 */

const REAL = {
  CRISP_IDENTIFIER: DEMO_CREDENTIALS.identifier,
  CRISP_KEY: DEMO_CREDENTIALS.key,
  CRISP_WEBSITE_ID: DEMO_CREDENTIALS.websiteId,
  CRISP_WEBHOOK_SECRET: DEMO_CREDENTIALS.webhookSecret,
  PEOPLE_SYNC: "off",
};
const GONE = "9a9a9a9a-0000-4000-8000-00000000000a";
const B = "b0b0b0b0-0000-4000-8000-00000000000b";

it("a failing website is logged and backs off; the website after it still gets its draft job", async () => {
  const warnings: Array<Record<string, unknown>> = [];
  const log = {
    info: () => {},
    debug: () => {},
    error: () => {},
    warn: (fields: Record<string, unknown>, message: string) => warnings.push({ ...fields, message }),
  } as unknown as Logger;
  const { sandbox, services } = await setup(REAL, undefined, { log });
  sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
  // Served in this order: the primary, then GONE (unknown to Crisp), then B.
  await services.websites.set(GONE, { name: "Uninstalled" });
  await services.websites.set(B, { name: "Shop B" });
  expect(await services.websites.served()).toEqual([DEMO_CREDENTIALS.websiteId, GONE, B]);
  const said = sandbox.visitorSays({ websiteId: B, text: "Where is my parcel?" });

  const listCallsOf = (websiteId: string) =>
    sandbox.requests.filter(
      (r) => r.method === "GET" && r.path.includes(`/website/${websiteId}/conversations`),
    ).length;
  const first = await services.poll();
  expect(first.failed).toEqual([GONE]);
  const jobs = await services.store.listJobs({});
  expect(jobs.map((j) => [j.websiteId, j.sessionId])).toEqual([[B, said.sessionId]]);
  expect(warnings).toMatchObject([{ websiteId: GONE, failures: 1, skipCycles: 1 }]);
  expect(String(warnings[0]?.err)).toMatch(/404/);

  // Cycle by cycle: skipped 1, tried (fails), skipped 2, tried, skipped 4 … while B is polled each time.
  const tried: boolean[] = [];
  for (let cycle = 0; cycle < 10; cycle++) {
    const before = listCallsOf(GONE);
    const beforeB = listCallsOf(B);
    const result = await services.poll();
    tried.push(listCallsOf(GONE) > before);
    expect(result.failed.length + result.skipped.length).toBe(1);
    expect(listCallsOf(B)).toBeGreaterThan(beforeB);
  }
  expect(tried).toEqual([false, true, false, false, true, false, false, false, false, true]);
  expect(warnings.map((w) => w.skipCycles)).toEqual([1, 2, 4, 8]);
  expect(POLL_BACKOFF_MAX_CYCLES).toBeGreaterThanOrEqual(8);

  // Once Crisp knows it again (the plugin reinstalled), its next try polls it and the backoff ends.
  sandbox.state.addWebsite({ websiteId: GONE, name: "Back", domain: "gone.test" });
  let recovered = false;
  for (let cycle = 0; cycle < 9 && !recovered; cycle++) {
    const result = await services.poll();
    recovered = !result.failed.includes(GONE) && !result.skipped.includes(GONE);
  }
  expect(recovered).toBe(true);
  expect((await services.poll()).skipped).toEqual([]);
});
