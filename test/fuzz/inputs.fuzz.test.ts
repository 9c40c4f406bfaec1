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

/**
 * Property-based fuzzing of everything quill reads from outside: thousands of random and
 * mutated inputs. Nothing crashes, every refusal is a 4xx or a typed error with a reason,
 * and a refused web hook stores nothing.
 */

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
          fc
            .string({ maxLength: 2_000 })
            .map((raw) => ({ raw, sign: fc.sample(fc.boolean(), 1)[0] ?? false })),
          fc
            .uint8Array({ maxLength: 500 })
            .map((bytes) => ({ raw: new TextDecoder().decode(bytes), sign: true })),
          mutatedEvent.map((event) => ({ raw: JSON.stringify(event), sign: true })),
          fc.jsonValue().map((value) => ({ raw: JSON.stringify(value), sign: true })),
        ),
        async ({ raw, sign }) => {
          const before = stored().n;
          const response = await post(raw, sign);
          expect(response.status).toBeLessThan(500);
          const body = (await response.json()) as { error: boolean; reason?: string };
          if (response.status >= 400) {
            expect(body.error).toBe(true);
            expect(body.reason).toMatch(/\S/);
            expect(stored().n).toBe(before);
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
          expect((await post(raw, false, { "x-crisp-signature": badSignature })).status).toBe(401);
          const old = String(Date.now() - age * 1000);
          const stale = await post(raw, false, {
            "x-crisp-request-timestamp": old,
            "x-crisp-signature": await signWebhook(SECRET, old, raw),
          });
          expect(stale.status).toBe(401);
          expect(stored().n).toBe(before);
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
          } catch (error) {
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
      fc.property(rulesLike, (text) => {
        try {
          parseRules(text, "fuzz.yaml");
        } catch (error) {
          expect(error).toBeInstanceOf(RulesError);
          for (const p of (error as RulesError).problems) expect(p.line).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 2_000 },
    );
  });

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
          } catch (error) {
            expect(error).toBeInstanceOf(DatasetError);
            expect((error as Error).message).toMatch(/^fuzz\.jsonl: /);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
