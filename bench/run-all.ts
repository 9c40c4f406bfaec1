import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./lib.ts";

/**
 * `npm run bench`: runs every benchmark in its own process, reads the `name=value` figures
 * it prints (the last line is its headline), and writes bench/results.md: figure, target,
 * measured, and a verdict from every figure the target names.
 */

interface Bench {
  file: string;
  title: string;
  target: string;
  /** The figures the target is about, each with its bound; none: the benchmark is reported only. */
  checks: Record<string, (value: number) => boolean>;
  node?: string[];
  env?: Record<string, string>;
}

const benches: Bench[] = [
  {
    file: "draft-overhead.ts",
    title: "Draft overhead, 200 conversations in flight",
    target: "p50 ≤ 1.02, p99 ≤ 1.05",
    checks: { overhead_ratio_p50: (v) => v <= 1.02, overhead_ratio_p99: (v) => v <= 1.05 },
  },
  {
    file: "draft-overhead.ts",
    title:
      "Draft overhead, 200 conversations in flight, quill as `npm run start:small` runs it (--optimize-for-size)",
    target: "none (reported)",
    checks: {},
    env: { BENCH_QUILL_NODE_FLAGS: "--optimize-for-size" },
  },
  {
    file: "draft-ready.ts",
    title:
      "Draft ready after the customer's message, beyond the LLM (ms): visitor types, sends, stops; quiet period 3 s",
    target: "p50 ≤ 300",
    checks: { draft_ready_overhead_ms_p50: (v) => v <= 300 },
  },
  {
    file: "typing.ts",
    title: "Typing indicator after the web hook, p99",
    target: "≤ 2 round trips",
    checks: { typing_round_trips_p99: (v) => v <= 2 },
  },
  {
    file: "intake.ts",
    title: "Web hook intake throughput vs a bare Hono route; p99 at 5,000 req/s",
    target: "≥ 0.7, p99 ≤ 15 ms at 5,000 req/s",
    checks: { intake_throughput_ratio: (v) => v >= 0.7, intake_p99_ms_at_5000: (v) => v <= 15 },
  },
  {
    file: "poll-cost.ts",
    title: "Crisp calls per poll cycle, 1,000 open / 10 changed",
    target: "1 list call + changed only (naive: 1,001)",
    checks: { poll_calls_per_cycle: (v) => v <= 11 },
  },
  {
    file: "memory.ts",
    title: "quill's RSS with 1,000 drafts in flight (MB), as `npm start` runs it",
    target: "< 150",
    checks: { rss_mb: (v) => v < 150 },
    env: { BENCH_QUILL_NODE_FLAGS: "--expose-gc" },
  },
  {
    file: "memory.ts",
    title:
      "quill's RSS with 1,000 drafts in flight (MB), as `npm run start:small` runs it (--optimize-for-size)",
    target: "< 150",
    checks: { rss_mb: (v) => v < 150 },
    env: { BENCH_QUILL_NODE_FLAGS: "--expose-gc --optimize-for-size" },
  },
  {
    file: "kb-search.ts",
    title: "Offline retrieval over 10,000 articles: search p99 (ms), index build (ms)",
    target: "p99 < 5, build < 1,000",
    checks: { kb_search_ms_p99: (v) => v < 5, index_build_ms: (v) => v < 1_000 },
    node: ["--expose-gc"],
  },
  {
    file: "throughput.ts",
    title: "Drafts/s with an instant LLM ÷ bare inserts/s on SQLite",
    target: "none (reported)",
    checks: {},
  },
];

/** Every `name=value` pair a benchmark printed, by name. */
function figures(lines: string[]): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of lines) {
    for (const match of line.matchAll(/([a-z0-9_]+)=(-?[\d.]+)/g)) {
      if (match[1] && match[2]) found.set(match[1], Number(match[2]));
    }
  }
  return found;
}

const rows: string[] = [];
const started = Date.now();
for (const bench of benches) {
  process.stderr.write(`bench ${bench.file} … `);
  const t = Date.now();
  const entry = ["--import", "tsx", join("bench", bench.file)];
  const result = spawnSync(process.execPath, [...(bench.node ?? []), ...entry], {
    cwd: root,
    env: { ...process.env, ...bench.env },
    encoding: "utf8",
    timeout: 180_000,
  });
  const lines = (result.stdout ?? "").trim().split("\n").filter(Boolean);
  const last = lines.at(-1) ?? "";
  const detail = lines.slice(0, -1).join("; ");
  const found = figures(lines);
  const checked = Object.entries(bench.checks).map(([name, ok]) => ({ name, value: found.get(name), ok }));
  const verdict =
    result.status !== 0 || checked.some((c) => c.value === undefined || !Number.isFinite(c.value))
      ? "error"
      : checked.length === 0
        ? "reported"
        : checked.every((c) => c.ok(c.value as number))
          ? "met"
          : "missed";
  process.stderr.write(`${verdict} (${Math.round((Date.now() - t) / 1000)} s)\n`);
  if (result.status !== 0) process.stderr.write(`${result.stderr?.split("\n").slice(-15).join("\n")}\n`);
  const measured = checked.length ? checked.map((c) => `${c.name}=${c.value}`).join(" ") : last;
  rows.push(
    `| ${bench.title} | ${bench.target} | \`${measured || "(no output)"}\`${detail ? `<br><small>${detail}</small>` : ""} | ${verdict} |`,
  );
  console.log(last);
}
const table = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, in ${Math.round((Date.now() - started) / 1000)} s.`,
  "",
  "| benchmark | target | measured | |",
  "| --- | --- | --- | --- |",
  ...rows,
  "",
].join("\n");
writeFileSync(
  join(root, "bench/results.md"),
  `# Benchmark results\n\nWritten by \`npm run bench\`.\n\n${table}`,
);
process.stderr.write("wrote bench/results.md\n");
