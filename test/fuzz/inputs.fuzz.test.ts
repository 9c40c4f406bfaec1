import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { DatasetError, parseDataset } from "../../src/eval/dataset.ts";
import { parseRules, RulesError } from "../../src/triage/rules.ts";
import { tally } from "./figures.ts";

/**
 * Property-based fuzzing of the files and settings quill reads: configuration, rules files
 * and eval datasets, random and mutated. Each loads or fails with its own typed error naming
 * the variable, position or file, never another exception. (The web hook endpoint and note
 * commands have their own suites, with independent oracles.)
 */

const figures = tally("inputs", {
  config: ["loaded", "ConfigError", "other error"],
  "rules files": ["loaded", "RulesError with a position", "other error"],
  "rules.example.yaml mutations": ["loaded", "RulesError with a position", "other error"],
  datasets: ["parsed", "DatasetError", "other error"],
});
afterAll(() => console.log(figures.line()));

describe("configuration", () => {
  const names = [
    "CRISP_TIER",
    "CRISP_TIMEOUT_MS",
    "LLM_PROVIDER",
    "LLM_FALLBACK",
    "LLM_TIMEOUT_MS",
    "DRAFT_DEADLINE_MS",
    "REPLY_MODE",
    "AUTO_SEND_MIN_CONFIDENCE",
    "QUIET_PERIOD_MS",
    "JOB_CONCURRENCY",
    "JOB_LEASE_SECONDS",
    "PORT",
    "LLM_PRICES",
    "PROMPT_VARIANTS",
    "PEOPLE_SYNC",
    "CRM_WEBHOOK_URL",
    "LLM_BASE_URL",
    "PII_REDACTION",
    "LOG_LEVEL",
    "CRISP_IDENTIFIER",
  ];
  it("either loads or throws a ConfigError whose every problem names a variable", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(...names),
          fc.oneof(
            fc.string({ maxLength: 40 }),
            fc.integer().map(String),
            fc.constantFrom("0", "-1", "1e9", "true", "openai", "auto", "http://x"),
          ),
        ),
        (env) => {
          try {
            loadConfig(env);
            figures.add("config", "loaded");
          } catch (error) {
            figures.add("config", error instanceof ConfigError ? "ConfigError" : "other error");
            expect(error).toBeInstanceOf(ConfigError);
            for (const problem of (error as ConfigError).problems)
              expect(problem).toMatch(/^[A-Z][A-Z0-9_]+: \S/);
          }
        },
      ),
      { numRuns: 3_000 },
    );
  });
});

/** Parses a rules file: it loads, or a RulesError points at positions inside the file; nothing else. */
function checkRules(target: "rules files" | "rules.example.yaml mutations", text: string) {
  try {
    parseRules(text, "fuzz.yaml");
    figures.add(target, "loaded");
  } catch (error) {
    figures.add(target, error instanceof RulesError ? "RulesError with a position" : "other error");
    expect(error).toBeInstanceOf(RulesError);
    const { problems, message } = error as RulesError;
    expect(problems.length).toBeGreaterThan(0);
    const lines = text.split(/\r\n|\r|\n/).length;
    for (const p of problems) {
      expect(p.line).toBeGreaterThanOrEqual(1);
      expect(p.line).toBeLessThanOrEqual(lines);
      expect(p.column).toBeGreaterThanOrEqual(1);
      expect(message).toContain(`line ${p.line}, column ${p.column}: `);
    }
  }
}

/** Edits of a real rules file: characters YAML cares about inserted or replaced, spans deleted, lines dropped, swapped, doubled. */
const example = readFileSync("rules.example.yaml", "utf8");
const yamlChar = fc.oneof(
  fc.constantFrom(
    ":",
    "-",
    " ",
    "  ",
    "\t",
    "\n",
    "#",
    "{",
    "}",
    "[",
    "]",
    ",",
    '"',
    "'",
    "&a",
    "*a",
    "!",
    "|",
    ">",
    "?",
    "%",
    "@",
    "`",
  ),
  fc.string({ unit: "binary", minLength: 1, maxLength: 3 }),
);
const edit = fc.oneof(
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: yamlChar }),
  fc.record({ op: fc.constant("replace" as const), at: fc.nat(), text: yamlChar }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant("dropLine" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("swapLines" as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ op: fc.constant("doubleLine" as const), line: fc.nat() }),
);
type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;
function applyEdit(text: string, e: Edit): string {
  if (e.op === "insert" || e.op === "replace" || e.op === "delete") {
    const at = e.at % (text.length + 1);
    const cut = e.op === "insert" ? 0 : e.op === "replace" ? 1 : e.length;
    return text.slice(0, at) + (e.op === "delete" ? "" : e.text) + text.slice(at + cut);
  }
  const lines = text.split("\n");
  const i = e.line % lines.length;
  if (e.op === "dropLine") lines.splice(i, 1);
  else if (e.op === "doubleLine") lines.splice(i, 0, lines[i] ?? "");
  else {
    const j = e.other % lines.length;
    [lines[i], lines[j]] = [lines[j] ?? "", lines[i] ?? ""];
  }
  return lines.join("\n");
}
const mutatedExample = fc
  .array(edit, { minLength: 1, maxLength: 6 })
  .map((edits) => edits.reduce(applyEdit, example));

describe("rules files and eval datasets", () => {
  const rulesLike = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc
      .array(
        fc.record({
          name: fc.oneof(fc.string(), fc.integer()),
          when: fc.dictionary(
            fc.constantFrom(
              "intent",
              "language",
              "segments",
              "keywords",
              "businessHours",
              "emailDomain",
              "data",
              "meta",
              "bogus",
            ),
            fc.jsonValue(),
          ),
          // biome-ignore lint/suspicious/noThenProperty: the rules file calls its actions "then"
          then: fc.dictionary(
            fc.constantFrom(
              "assign",
              "addSegments",
              "setData",
              "setState",
              "skipDraft",
              "forceNote",
              "bogus",
            ),
            fc.jsonValue(),
          ),
        }),
        { maxLength: 4 },
      )
      .map((rules) => JSON.stringify({ rules })),
  );
  it("a rules file parses or is refused with a RulesError pointing at a line", () => {
    fc.assert(
      fc.property(rulesLike, (text) => checkRules("rules files", text)),
      { numRuns: 2_000 },
    );
  }, 60_000);

  it("rules.example.yaml, mutated, loads or is refused with a RulesError pointing inside the file", () => {
    checkRules("rules.example.yaml mutations", example);
    expect(figures.get("rules.example.yaml mutations", "loaded")).toBe(1);
    fc.assert(
      fc.property(mutatedExample, (text) => checkRules("rules.example.yaml mutations", text)),
      { numRuns: 1_500 },
    );
    // Both outcomes happened, or the mutations prove nothing.
    expect(figures.get("rules.example.yaml mutations", "loaded")).toBeGreaterThan(50);
    expect(figures.get("rules.example.yaml mutations", "RulesError with a position")).toBeGreaterThan(50);
  }, 60_000);

  it("a dataset parses or is refused with a DatasetError naming the file", () => {
    const line = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({
          id: fc.oneof(fc.string(), fc.integer()),
          question: fc.oneof(fc.string(), fc.integer()),
          article: fc.string(),
        })
        .map((v) => JSON.stringify(v)),
      fc
        .record({
          id: fc.string(),
          messages: fc.array(
            fc.record({
              from: fc.constantFrom("customer", "agent", "bot"),
              text: fc.oneof(fc.string(), fc.integer()),
            }),
            { maxLength: 4 },
          ),
        })
        .map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(line, { maxLength: 6 }).map((l) => l.join("\n")),
          fc.jsonValue().map((v) => JSON.stringify([v])),
        ),
        (text) => {
          try {
            parseDataset("fuzz.jsonl", text);
            figures.add("datasets", "parsed");
          } catch (error) {
            figures.add("datasets", error instanceof DatasetError ? "DatasetError" : "other error");
            expect(error).toBeInstanceOf(DatasetError);
            expect((error as Error).message).toMatch(/^fuzz\.jsonl: /);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
