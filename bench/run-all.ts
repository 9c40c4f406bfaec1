import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { root } from "./lib.ts";

/**
 * `npm run bench`: runs every benchmark in its own process, takes the figure each prints
 * as its last line, and writes bench/results.md (figure, target, measured, verdict).
 */

interface Bench {
  file: string;
  title: string;
  target: string;
  /** Whether the measured figure meets the target. */
  ok: (value: number) => boolean;
  node?: string[];
  /** Run as bundled JavaScript instead of through tsx. */
  bundle?: boolean;
}

const benches: Bench[] = [
  {
    file: "draft-overhead.ts",
    title: "Draft overhead, 200 conversations in flight (p99 / p50 line above)",
    target: "p50 ≤ 1.02, p99 ≤ 1.05",
    ok: (v) => v <= 1.02,
  },
  {
    file: "typing.ts",
    title: "Typing indicator after the web hook, p99",
    target: "≤ 2 round trips",
    ok: (v) => v <= 2,
  },
  {
    file: "intake.ts",
    title: "Web hook intake throughput vs a bare Hono route",
    target: "≥ 0.7, p99 ≤ 15 ms at 5,000 req/s",
    ok: (v) => v >= 0.7,
  },
  {
    file: "poll-cost.ts",
    title: "Crisp calls per poll cycle, 1,000 open / 10 changed",
    target: "1 list call + changed only (naive: 1,001)",
    ok: (v) => v <= 11,
  },
  {
    file: "memory.ts",
    title: "RSS with 1,000 drafts in flight (MB), bundled, --optimize-for-size",
    target: "< 150",
    ok: (v) => v < 150,
    // As a memory-bound host runs it: bundled JavaScript (`npm start`, no TypeScript loader) with
    // --optimize-for-size, as `npm run start:small` runs it (about 20% more CPU per draft; ~215 MB without).
    node: ["--expose-gc", "--optimize-for-size"],
    bundle: true,
  },
  {
    file: "kb-search.ts",
    title: "Offline retrieval over 10,000 articles, p99 (ms)",
    target: "< 5",
    ok: (v) => v < 5,
    node: ["--expose-gc"],
  },
  {
    file: "throughput.ts",
    title: "Drafts/s with an instant LLM ÷ bare inserts/s on the same SQLite",
    target: "reported",
    ok: () => true,
  },
];

const rows: string[] = [];
const started = Date.now();
for (const bench of benches) {
  process.stderr.write(`bench ${bench.file} … `);
  const t = Date.now();
  let entry = ["--import", "tsx", join("bench", bench.file)];
  if (bench.bundle) {
    const out = join("bench", `${bench.file.replace(/\.ts$/, "")}.bundle.mjs`);
    buildSync({
      entryPoints: [join(root, "bench", bench.file)],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      packages: "external",
      outfile: join(root, out),
      logLevel: "warning",
    });
    entry = [out];
  }
  const result = spawnSync(process.execPath, [...(bench.node ?? []), ...entry], {
    cwd: root,
    encoding: "utf8",
    timeout: 180_000,
  });
  const lines = (result.stdout ?? "").trim().split("\n").filter(Boolean);
  const last = lines.at(-1) ?? "";
  const detail = lines.slice(0, -1).join("; ");
  const value = Number(last.split("=")[1]);
  const verdict =
    result.status !== 0 || !Number.isFinite(value) ? "error" : bench.ok(value) ? "met" : "missed";
  process.stderr.write(`${verdict} (${Math.round((Date.now() - t) / 1000)} s)\n`);
  if (result.status !== 0) process.stderr.write(`${result.stderr?.split("\n").slice(-15).join("\n")}\n`);
  rows.push(
    `| ${bench.title} | ${bench.target} | \`${last || "(no output)"}\`${detail ? `<br><small>${detail}</small>` : ""} | ${verdict} |`,
  );
  console.log(last);
}
const table = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, in ${Math.round((Date.now() - started) / 1000)} s.`,
  "",
  "| benchmark | target | measured (last line of its output) | |",
  "| --- | --- | --- | --- |",
  ...rows,
  "",
].join("\n");
writeFileSync(
  join(root, "bench/results.md"),
  `# Benchmark results\n\nWritten by \`npm run bench\`.\n\n${table}`,
);
process.stderr.write("wrote bench/results.md\n");
