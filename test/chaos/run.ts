// @ts-expect-error a plain ESM build script, no declarations
import { buildQuill } from "../../scripts/build.mjs";
import { formatReport, runChaos } from "./harness.ts";

/** `npm run test:chaos [-- --conversations N --kills K --seed S]`: the long chaos run. */
const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a number`);
  return value;
};
const conversations = arg("conversations", 500);
await buildQuill();
const report = await runChaos({
  conversations,
  kills: arg("kills", 20),
  trafficMs: arg("traffic-seconds", Math.max(20, conversations / 4)) * 1000,
  followUpRate: 0.2,
  burstRate: 0.3,
  settleTimeoutMs: 120_000,
  seed: arg("seed", Date.now() % 100_000),
  progress: (line) => console.log(line),
});
console.log(formatReport(report));
const ok =
  report.duplicated.length === 0 &&
  report.missing.length === 0 &&
  report.unattributed.length === 0 &&
  report.contradictions.length === 0 &&
  report.leasedLeft === 0 &&
  report.queuedLeft === 0;
if (!ok) {
  const problems = [
    ...report.duplicated,
    ...report.missing.map((m) => `missing ${m}`),
    ...report.unattributed.map((m) => `unattributed ${m}`),
    ...report.contradictions,
  ];
  console.log(problems.slice(0, 20).join("\n"));
  console.log(`quill's log: ${report.logFile} (kept with CHAOS_KEEP=1)`);
}
console.log(`chaos_ok=${ok ? 1 : 0} duplicated=${report.duplicated.length} missing=${report.missing.length}`);
process.exit(ok ? 0 : 1);
