import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { parseCommand } from "../../src/drafting/commands.ts";
import { DatasetError, parseDataset } from "../../src/eval/dataset.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { buildServices } from "../../src/services.ts";
import { parseRules, RulesError } from "../../src/triage/rules.ts";
import { tally, webhookOutcome } from "./figures.ts";

/**
 * Property-based fuzzing of everything quill reads from outside: thousands of random and
 * mutated inputs. Nothing crashes, every refusal is a 4xx or a typed error with a reason,
 * and a refused web hook stores nothing.
 */

const figures = tally("inputs", {
  webhook: ["2xx", "4xx storing nothing", "4xx that stored", "5xx"],
  "note commands": ["command", "plain note"],
  config: ["loaded", "ConfigError", "other error"],
  "rules files": ["loaded", "RulesError with a position", "other error"],
  "rules.example.yaml mutations": ["loaded", "RulesError with a position", "other error"],
  datasets: ["parsed", "DatasetError", "other error"],
});
afterAll(() => console.log(figures.line()));

const SECRET = "fuzz-secret";
const WEBSITE = "42b1a8c6-5d3e-4f7a-9b2c-1e0d9f8a7b6c";
const database = openSqlite(":memory:");
database.migrate();
afterAll(() => database.close());
const services = await buildServices({
  config: loadConfig({
    DATABASE_PATH: ":memory:",
    CRISP_IDENTIFIER: "id",
    CRISP_KEY: "key",
    CRISP_WEBSITE_ID: WEBSITE,
    CRISP_WEBHOOK_SECRET: SECRET,
    CRISP_API_URL: "http://crisp.invalid/v1",
    PEOPLE_SYNC: "off",
  }),
  db: database.db,
  clock: systemClock,
  log: silentLogger,
  kbFiles: [],
  promptFiles: [{ name: "default.md", content: readFileSync("prompts/default.md", "utf8") }],
});
const stored = () =>
  database.sqlite
    .prepare("select (select count(*) from inbox_events) + (select count(*) from jobs) as n")
    .get() as { n: number };

const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/crisp/${name}`, "utf8"));
const validEvent = fixture("webhook.message_send.json") as Record<string, unknown>;

async function post(raw: string, sign: boolean, headers: Record<string, string> = {}) {
  const ts = String(Date.now());
  return services.app.request("/webhooks/crisp", {
    method: "POST",
    body: raw,
    headers: {
      "content-type": "application/json",
      "x-crisp-request-timestamp": ts,
      ...(sign ? { "x-crisp-signature": await signWebhook(SECRET, ts, raw) } : {}),
      ...headers,
    },
  });
}

/** A JSON value shaped by mutating a valid event: fields dropped, retyped, replaced. */
const mutatedEvent = fc
  .record({
    drop: fc.subarray(["website_id", "event", "data", "timestamp"]),
    dropData: fc.subarray([
      "session_id",
      "website_id",
      "type",
      "from",
      "content",
      "fingerprint",
      "timestamp",
      "origin",
    ]),
    replace: fc.dictionary(
      fc.constantFrom(
        "session_id",
        "type",
        "from",
        "content",
        "fingerprint",
        "timestamp",
        "website_id",
        "user",
      ),
      fc.oneof(
        fc.string(),
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.string()),
        fc.object(),
      ),
    ),
    event: fc.oneof(
      fc.constant(validEvent.event as string),
      fc.constantFrom("message:received", "session:set_state", "x"),
      fc.string(),
    ),
  })
  .map(({ drop, dropData, replace, event }) => {
    const data = { ...(validEvent.data as Record<string, unknown>), ...replace };
    for (const key of dropData) delete data[key];
    const body: Record<string, unknown> = { ...validEvent, event, data };
    for (const key of drop) delete body[key];
    return body;
  });

describe("POST /webhooks/crisp", () => {
  it("never fails with a 5xx; refusals are 4xx with a reason and store nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ raw: fc.string({ maxLength: 2_000 }), sign: fc.boolean() }),
          fc
            .uint8Array({ maxLength: 500 })
            .map((bytes) => ({ raw: new TextDecoder().decode(bytes), sign: true })),
          mutatedEvent.map((event) => ({ raw: JSON.stringify(event), sign: true })),
          fc.jsonValue().map((value) => ({ raw: JSON.stringify(value), sign: true })),
        ),
        async ({ raw, sign }) => {
          const before = stored().n;
          const response = await post(raw, sign);
          const storedNothing = stored().n === before;
          figures.add("webhook", webhookOutcome(response.status, storedNothing));
          expect(response.status).toBeLessThan(500);
          const body = (await response.json()) as { error: boolean; reason?: string };
          if (response.status >= 400) {
            expect(body.error).toBe(true);
            expect(body.reason).toMatch(/\S/);
            expect(storedNothing).toBe(true);
          }
        },
      ),
      { numRuns: 1_500 },
    );
  });

  it("rejects wrong signatures, stale timestamps and other content types without storing", async () => {
    await fc.assert(
      fc.asyncProperty(
        mutatedEvent,
        fc.string({ minLength: 1, maxLength: 80 }),
        fc.integer({ min: 301, max: 10_000_000 }),
        async (event, badSignature, age) => {
          const raw = JSON.stringify(event);
          const before = stored().n;
          const forged = await post(raw, false, { "x-crisp-signature": badSignature });
          const old = String(Date.now() - age * 1000);
          const stale = await post(raw, false, {
            "x-crisp-request-timestamp": old,
            "x-crisp-signature": await signWebhook(SECRET, old, raw),
          });
          const storedNothing = stored().n === before;
          for (const { status } of [forged, stale])
            figures.add("webhook", webhookOutcome(status, storedNothing));
          expect(forged.status).toBe(401);
          expect(stale.status).toBe(401);
          expect(storedNothing).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("note commands", () => {
  it("parse any text without throwing; only a known /command is one, with its trimmed argument", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), (text) => {
        const command = parseCommand(text);
        figures.add("note commands", command ? "command" : "plain note");
        if (command) {
          expect(text.trimStart().startsWith("/")).toBe(true);
          expect(["approve", "send", "redraft", "reject", "help"]).toContain(command.name);
          expect(command.arg).toBe(command.arg.trim());
        }
      }),
      { numRuns: 5_000 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom("send", "redraft", "reject", "SEND", "Reject"),
        fc.string({ maxLength: 200 }),
        (name, arg) => {
          const command = parseCommand(`/${name} ${arg}`);
          figures.add("note commands", command ? "command" : "plain note");
          // "/send" followed by letters is another word ("/sendfoo"), never this command.
          if (/^[a-z]/i.test(arg)) return;
          expect(command).toEqual({ name: name.toLowerCase(), arg: arg.trim() });
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

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
