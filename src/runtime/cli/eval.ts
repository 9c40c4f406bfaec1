import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import pino from "pino";
import { type Config, loadConfig } from "../../config.ts";
import { readFolder } from "../files.ts";
import { createLogger } from "../logger.ts";
import { openDatabase } from "./open.ts";
import { positiveInt, UsageError } from "./shared.ts";

/** `quill eval`: conversations replayed through prompt versions and providers, with reports and a gate. */

type Summary = ReturnType<typeof import("../../eval/report.ts").summarise>;
type Cases = ReturnType<typeof import("../../eval/dataset.ts").parseDataset>;
type EvalResult = NonNullable<ReturnType<typeof import("../../eval/run.ts").parseResultLine>>;

/** --baseline: the summary of an earlier run's summary.json. */
function readBaseline(path: string): Summary {
  let parsed: { summary?: unknown } | undefined;
  try {
    parsed = JSON.parse(readFileSync(resolve(path), "utf8"));
  } catch (error) {
    throw new UsageError(`--baseline: cannot read ${path} (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed?.summary))
    throw new UsageError(`--baseline: ${path} has no "summary" (use a summary.json of quill eval)`);
  return parsed.summary as Summary;
}

/** The cases: from the --dataset files, or from recorded drafts (--from-db). */
async function loadCases(
  opts: { datasets: string[]; limit?: string | undefined },
  config: Config,
): Promise<Cases> {
  const { DatasetError, casesFromDrafts, parseDataset } = await import("../../eval/dataset.ts");
  if (opts.datasets.length) {
    return opts.datasets.flatMap((file) => {
      if (!existsSync(resolve(file))) throw new DatasetError(`${file}: no such file`);
      return parseDataset(file, readFileSync(resolve(file), "utf8"));
    });
  }
  const database = openDatabase(config);
  const { createStore } = await import("../../store/store.ts");
  const cases = casesFromDrafts(
    await createStore(database.db).evalCandidates(positiveInt("--limit", opts.limit, 200)),
  );
  database.close();
  return cases;
}

/** One target per provider and prompt asked for: the prompt file read, the provider alone (no fallback). */
async function evalTargets(
  opts: { prompts: string[]; providers: string[] },
  config: Config,
  kb: Parameters<typeof import("../../llm/providers.ts").buildProviders>[1],
) {
  const { parsePrompt } = await import("../../drafting/prompt.ts");
  const { buildProviders } = await import("../../llm/providers.ts");
  const { llmProviders } = await import("../../config.ts");
  const promptNames = opts.prompts.length ? opts.prompts : ["default"];
  const providerNames = opts.providers.length ? opts.providers : [config.llm.provider];
  const targets = [];
  for (const providerName of providerNames) {
    if (!(llmProviders as readonly string[]).includes(providerName)) {
      throw new UsageError(
        `--provider: unknown provider "${providerName}", expected one of ${llmProviders.join(", ")}`,
      );
    }
    const llm = { ...config.llm, provider: providerName as Config["llm"]["provider"], fallback: [] };
    const [provider] = buildProviders({ ...config, llm }, kb);
    if (!provider) continue;
    for (const promptName of promptNames) {
      const file = resolve(config.drafting.promptsDir, `${promptName}.md`);
      if (!existsSync(file))
        throw new UsageError(`--prompt: no ${promptName}.md in ${config.drafting.promptsDir}`);
      const prompt = await parsePrompt(`${promptName}.md`, readFileSync(file, "utf8"));
      targets.push({
        label: `${promptName}@${prompt.version.slice(0, 8)}/${providerName}`,
        prompt,
        provider,
      });
    }
  }
  return targets;
}

/** The results a killed or finished run already wrote, kept when their case and target still run. */
async function readResumable(resultsFile: string, cases: Cases, labels: string[]): Promise<EvalResult[]> {
  const { parseResultLine, resumable } = await import("../../eval/run.ts");
  const text = existsSync(resultsFile) ? readFileSync(resultsFile, "utf8") : "";
  // A run killed mid-write leaves a partial last line: end it so appends start afresh, and redo it.
  if (text && !text.endsWith("\n")) appendFileSync(resultsFile, "\n");
  const recorded = text.split("\n").flatMap((line) => {
    const result = line ? parseResultLine(line) : undefined;
    return result ? [result] : [];
  });
  const previous = resumable(recorded, cases, labels);
  if (recorded.length)
    console.error(
      `resuming: ${previous.length} result(s) already in ${resultsFile}${recorded.length > previous.length ? `; ${recorded.length - previous.length} failed or no longer in the dataset, not kept` : ""}`,
    );
  return previous;
}

/** --judge: a model that scores each draft against the agent's answer, with the configured keys. */
async function judgeOf(model: string, config: Config) {
  const { createJudge } = await import("../../eval/judge.ts");
  return createJudge({
    model,
    openaiApiKey: config.llm.openaiApiKey,
    anthropicApiKey: config.llm.anthropicApiKey,
    baseUrl: config.llm.baseUrl,
    // LLM_BASE_URL is a compatible server with LLM_PROVIDER=compatible (else an OpenAI proxy).
    compatible: config.llm.provider === "compatible" ? { apiKey: config.llm.compatibleApiKey } : undefined,
    timeoutMs: config.llm.timeoutMs,
    retries: config.llm.retries,
  });
}

/** summary.json and results.csv in `out`, the table on stdout, then the regression gate: 1 when it fails. */
async function writeReports(
  out: string,
  cases: number,
  labels: string[],
  all: EvalResult[],
  gating: Parameters<typeof import("../../eval/report.ts").gate>[1],
): Promise<number> {
  const { formatTable, gate, summarise, toCsv } = await import("../../eval/report.ts");
  const summary = summarise(all, labels);
  writeFileSync(
    join(out, "summary.json"),
    `${JSON.stringify({ cases, targets: labels, summary, results: all }, null, 2)}\n`,
  );
  writeFileSync(join(out, "results.csv"), `${toCsv(all)}\n`);
  console.log(formatTable(summary));
  // Paths under the working directory print relative to it (shorter, and the same on every machine).
  const shown = (file: string) => (relative(".", file).startsWith("..") ? file : relative(".", file));
  console.log(`\nreports: ${shown(join(out, "summary.json"))}, ${shown(join(out, "results.csv"))}`);
  const problems = gate(summary, gating);
  if (problems.length) {
    console.error(`\nregression gate failed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }
  if (gating.baseline || gating.thresholds.length) console.log("regression gate passed");
  return 0;
}

type Gating = Parameters<typeof import("../../eval/report.ts").gate>[1];

/** --fail-under, --tolerance and --baseline, read before any case runs; a string is the usage message (exit 2). */
async function gatingOf(opts: {
  failUnder: string[];
  tolerance?: string | undefined;
  baseline?: string | undefined;
}): Promise<Gating | string> {
  const { parseThreshold } = await import("../../eval/report.ts");
  let thresholds: Gating["thresholds"];
  try {
    thresholds = opts.failUnder.map(parseThreshold);
  } catch (error) {
    return `quill eval: ${(error as Error).message}`;
  }
  const tolerance = opts.tolerance === undefined ? 0.02 : Number(opts.tolerance);
  if (!(tolerance >= 0)) throw new UsageError(`--tolerance: expected a number >= 0, got "${opts.tolerance}"`);
  const baseline = opts.baseline ? readBaseline(opts.baseline) : undefined;
  return { baseline, thresholds, tolerance };
}

type Retriever = Parameters<typeof import("../../eval/run.ts").runEval>[0]["retriever"];

/** With EMBEDDINGS set the run measures hybrid retrieval; vectors are cached in the database. */
async function evalRetriever(
  config: Config,
  kb: Parameters<typeof import("../../llm/providers.ts").buildProviders>[1],
): Promise<{ retriever: Retriever; close: () => void }> {
  if (!config.drafting.embeddings) return { retriever: undefined, close: () => {} };
  const { buildRetriever } = await import("../../llm/providers.ts");
  const { createStore } = await import("../../store/store.ts");
  const vectorDb = openDatabase(config);
  const retriever = buildRetriever(
    config,
    createStore(vectorDb.db),
    createLogger("warn", pino.destination(2)),
  );
  if (!(await retriever.warm(kb))) console.error("quill eval: embeddings unavailable, retrieval is lexical");
  return { retriever, close: () => vectorDb.close() };
}

/** Progress on stderr: one redrawn bar on a terminal, else a line per tenth (logs stay short). */
async function progressReporter(tty: boolean) {
  const { progressBar } = await import("../../eval/report.ts");
  let lastShown = -1;
  return (done: number, total: number) => {
    const step = Math.floor((done / Math.max(1, total)) * 10);
    if (tty) process.stderr.write(`\r${progressBar(done, total)}`);
    else if (step !== lastShown) {
      lastShown = step;
      process.stderr.write(`${progressBar(done, total)}\n`);
    }
  };
}

/** The flags of `quill eval`, as the dispatcher parsed them. */
export interface EvalOptions {
  datasets: string[];
  baseline?: string | undefined;
  failUnder: string[];
  tolerance?: string | undefined;
  fromDb: boolean;
  limit?: string | undefined;
  prompts: string[];
  providers: string[];
  concurrency?: string | undefined;
  out?: string | undefined;
  judge?: string | undefined;
  timeoutMs?: string | undefined;
}

export async function evalCommand(opts: EvalOptions): Promise<number> {
  const { resultKey, runEval } = await import("../../eval/run.ts");
  const { createKnowledgeBase } = await import("../../knowledge/kb.ts");
  const config = loadConfig(process.env);
  if (opts.datasets.length > 0 === opts.fromDb) {
    console.error("quill eval: give exactly one of --dataset FILE or --from-db");
    return 2;
  }
  const concurrency = positiveInt("--concurrency", opts.concurrency, 4);
  const timeoutMs = positiveInt("--timeout-ms", opts.timeoutMs, config.llm.deadlineMs);
  const kb = createKnowledgeBase(readFolder("KB_DIR", config.drafting.kbDir));
  const gating = await gatingOf(opts);
  if (typeof gating === "string") {
    console.error(gating);
    return 2;
  }

  const cases = await loadCases(opts, config);
  if (cases.length === 0) {
    console.error("quill eval: no cases (a case is a customer message followed by an agent answer)");
    return 1;
  }

  const targets = await evalTargets(opts, config, kb);
  const judge = opts.judge ? await judgeOf(opts.judge, config) : undefined;

  const out = resolve(opts.out ?? `reports/eval-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  mkdirSync(out, { recursive: true });
  const resultsFile = join(out, "results.jsonl");
  const labels = targets.map((t) => t.label);
  const previous = await readResumable(resultsFile, cases, labels);
  const { retriever, close } = await evalRetriever(config, kb);
  const tty = process.stderr.isTTY;
  const fresh = await runEval({
    cases,
    targets,
    kb,
    retriever,
    linkAllowlist: config.drafting.linkAllowlist,
    redactPii: config.drafting.piiRedaction,
    concurrency,
    timeoutMs,
    judge,
    done: new Set(previous.map((r) => resultKey(r.caseId, r.target))),
    onResult: (r) => appendFileSync(resultsFile, `${JSON.stringify(r)}\n`),
    onProgress: await progressReporter(tty),
  });
  close();
  if (tty) process.stderr.write("\n");
  const all = [...previous, ...fresh];
  return await writeReports(out, cases.length, labels, all, gating);
}
