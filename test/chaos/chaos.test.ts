import { expect, it } from "vitest";
import { formatReport, runChaos } from "./harness.ts";

/**
 * The short chaos run inside `npm test`; `npm run test:chaos` runs the long one
 * (500 conversations, 20 SIGKILLs). A failing run prints its seed: CHAOS_SEED replays it.
 */
it("answers every customer message exactly once through duplicates, faults, bursts and SIGKILLs", async () => {
  const report = await runChaos({
    conversations: 40,
    kills: 3,
    trafficMs: 7_000,
    followUpRate: 0.2,
    burstRate: 0.3,
    settleTimeoutMs: 45_000,
    seed: Number(process.env.CHAOS_SEED ?? Date.now() % 100_000),
  });
  console.log(formatReport(report));
  expect(report.kills).toBe(3);
  expect(report.duplicated).toEqual([]);
  expect(report.missing).toEqual([]);
  expect(report.unattributed).toEqual([]);
  expect(report.contradictions).toEqual([]);
  expect(report.customerMessages).toBeGreaterThan(40);
  expect(report.leasedLeft).toBe(0);
  expect(report.queuedLeft).toBe(0);
  // The faults and the bursts really happened, or the run proves nothing.
  expect(report.bursts).toBeGreaterThan(0);
  expect(report.supersededMessages).toBeGreaterThan(0);
  expect(report.crisp.rate429 + report.crisp.rate500 + report.crisp.lost).toBeGreaterThan(0);
  expect(report.llm.requests).toBeGreaterThan(report.llm.ok ?? 0);
}, 120_000);
