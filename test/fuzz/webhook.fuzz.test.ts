import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { MAX_WEBHOOK_BYTES, signWebhook } from "../../src/crisp/webhook.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { buildServices } from "../../src/services.ts";
import { tally, webhookOutcome } from "./figures.ts";

/**
 * Fuzzes POST /webhooks/crisp of the app buildServices wires (real intake, in-memory SQLite)
 * with random bytes, random JSON and mutated fixture events under valid and broken
 * authentication. Each request's status is predicted by an independent oracle written from
 * the web hook contract (size, then authentication, then JSON, then the event's shape), so
 * the app must never 5xx, must answer 2xx exactly for authenticated well-formed events, and
 * a refused request must leave no inbox row and no job behind.
 */

const SECRET = "fuzz-webhook-secret";
const NOW = 1_764_000_000_000;
const TOLERANCE_MS = 300_000;
const clock: Clock = { now: () => NOW, sleep: async () => {} };

const fixtureNames = [
  "webhook.message_send.json",
  "webhook.message_received.json",
  "webhook.message_received_note.json",
  "webhook.message_compose_send.json",
  "webhook.session_set_state.json",
];
type Json = Record<string, unknown>;
const fixtures = fixtureNames.map(
  (name) => JSON.parse(readFileSync(new URL(`../fixtures/crisp/${name}`, import.meta.url), "utf8")) as Json,
);
const SERVED = (fixtures[0] as Json).website_id as string;

const database = openSqlite(":memory:");
database.migrate();
afterAll(() => database.close());
const services = await buildServices({
  config: loadConfig({
    DATABASE_PATH: ":memory:",
    CRISP_IDENTIFIER: "fuzz-identifier",
    CRISP_KEY: "fuzz-key",
    CRISP_WEBSITE_ID: SERVED,
    CRISP_WEBHOOK_SECRET: SECRET,
    // Website hooks (?key=) are accepted on this tier only; signed hooks on every tier.
    CRISP_TIER: "website",
    CRISP_API_URL: "http://crisp.invalid/v1",
    PEOPLE_SYNC: "off",
  }),
  db: database.db,
  clock,
  log: silentLogger,
  kbFiles: [],
  promptFiles: [
    {
      name: "default.md",
      content: readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8"),
    },
  ],
  fetch: async () => {
    throw new Error("the web hook intake must not call out");
  },
});

const countInbox = database.sqlite.prepare("select count(*) as n from inbox_events");
async function storedCounts() {
  const inbox = (countInbox.get() as { n: number }).n;
  const jobs = (await services.store.listJobs({ limit: 1_000_000 })).length;
  return { inbox, jobs };
}

// ---------------------------------------------------------------------------------------
// The oracle: what the contract says a body is, independent of the zod schemas in src.

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const has = (o: Json, key: string) => Object.hasOwn(o, key);
const isString = (v: unknown) => typeof v === "string";
const isNonEmpty = (v: unknown) => typeof v === "string" && v.length > 0;
const isNumber = (v: unknown) => typeof v === "number" && Number.isFinite(v);
const isInteger = (v: unknown) => Number.isSafeInteger(v);
const optional = (o: Json, key: string, ok: (v: unknown) => boolean) => !has(o, key) || ok(o[key]);
const nullable = (ok: (v: unknown) => boolean) => (v: unknown) => v === null || ok(v);

function sessionOk(d: Json, websiteId: unknown): boolean {
  return (
    isNonEmpty(d.website_id) &&
    isNonEmpty(d.session_id) &&
    optional(d, "inbox_id", nullable(isString)) &&
    d.website_id === websiteId
  );
}

const userOk = (u: unknown) =>
  isObject(u) &&
  optional(u, "user_id", isString) &&
  optional(u, "nickname", isString) &&
  optional(u, "type", isString) &&
  optional(u, "avatar", nullable(isString));

const messageOk = (d: Json) =>
  isNonEmpty(d.type) &&
  (d.from === "user" || d.from === "operator") &&
  optional(d, "origin", isString) &&
  has(d, "content") &&
  isInteger(d.fingerprint) &&
  isNumber(d.timestamp) &&
  optional(d, "user", userOk) &&
  optional(d, "automated", (v) => typeof v === "boolean") &&
  optional(d, "mentions", (v) => Array.isArray(v) && v.every(isString));

const knownEvents: Record<string, (d: Json) => boolean> = {
  "message:send": messageOk,
  "message:received": messageOk,
  "message:compose:send": (d) =>
    (d.type === "start" || d.type === "stop") &&
    optional(d, "excerpt", isString) &&
    optional(d, "timestamp", isNumber),
  "message:updated": (d) => isInteger(d.fingerprint) && has(d, "content"),
  "message:removed": (d) => isInteger(d.fingerprint),
  "session:set_state": (d) => ["pending", "unresolved", "resolved"].includes(d.state as string),
  "session:set_routing": (d) =>
    optional(d, "routing_id", nullable(isString)) && optional(d, "previous_routing_id", nullable(isString)),
  "session:removed": () => true,
};

/** true when the body is a web hook event the contract accepts (known events checked in full). */
/** Nesting depth of a parsed value (fuzzed bodies are shallow enough to recurse). */
const depthOf = (value: unknown): number =>
  typeof value === "object" && value !== null ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0;

function wellFormed(raw: string): boolean {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return false;
  }
  if (depthOf(body) > 64) return false;
  if (!isObject(body)) return false;
  if (!isNonEmpty(body.website_id) || !isNonEmpty(body.event) || !isNumber(body.timestamp)) return false;
  if (!has(body, "data")) return false;
  const event = body.event as string;
  if (!Object.hasOwn(knownEvents, event)) return true;
  const data = body.data;
  return (
    isObject(data) && sessionOk(data, body.website_id) && (knownEvents[event] as (d: Json) => boolean)(data)
  );
}

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

// ---------------------------------------------------------------------------------------
// Generators.

const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ minLength: 0, maxLength: 0 }),
  fc.integer(),
  fc.constantFrom(2 ** 53 + 2, -1, 0, 1.5, 1e300, -0, Number.MAX_SAFE_INTEGER),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.constantFrom("user", "operator", "note", "text", "start", "stop", "resolved", "pending", SERVED),
  fc.integer({ min: 1_000, max: 20_000 }).map((n) => "é🙂\u0000\u202e".repeat(n)),
);

const eventNames = fc.oneof(
  fc.constantFrom(
    "message:send",
    "message:received",
    "message:compose:send",
    "message:updated",
    "message:removed",
    "session:set_state",
    "session:set_routing",
    "session:removed",
    "session:request:initiated",
  ),
  // Names every plain object inherits must not pass for known events.
  fc.constantFrom("constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "toLocaleString"),
  fc.string({ maxLength: 30 }),
);

const topKeys = ["website_id", "event", "data", "timestamp", "__proto__", "extra"];
const dataKeys = [
  "website_id",
  "session_id",
  "inbox_id",
  "type",
  "from",
  "origin",
  "content",
  "fingerprint",
  "timestamp",
  "user",
  "automated",
  "mentions",
  "state",
  "excerpt",
  "routing_id",
  "__proto__",
];

type Mutation =
  | { op: "drop"; where: "top" | "data"; key: string }
  | { op: "set"; where: "top" | "data"; key: string; value: unknown }
  | { op: "event"; value: string }
  | { op: "replaceData"; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant("drop" as const),
    where: fc.constant("top" as const),
    key: fc.constantFrom(...topKeys),
  }),
  fc.record({
    op: fc.constant("drop" as const),
    where: fc.constant("data" as const),
    key: fc.constantFrom(...dataKeys),
  }),
  fc.record({
    op: fc.constant("set" as const),
    where: fc.constant("top" as const),
    key: fc.constantFrom(...topKeys),
    value: weirdValue,
  }),
  fc.record({
    op: fc.constant("set" as const),
    where: fc.constant("data" as const),
    key: fc.constantFrom(...dataKeys),
    value: weirdValue,
  }),
  fc.record({ op: fc.constant("event" as const), value: eventNames }),
  fc.record({ op: fc.constant("replaceData" as const), value: weirdValue }),
);

/** Own property, even for "__proto__", as a JSON body would carry it. */
function put(target: Json, key: string, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A fixture event with fresh ids (so it is not a duplicate), then mutated. */
const mutatedEvent: fc.Arbitrary<Json> = fc
  .record({
    base: fc.constantFrom(...fixtures),
    session: fc.uuid(),
    fingerprint: fc.integer({ min: 1, max: 2 ** 48 }),
    timestamp: fc.integer({ min: 1, max: 2 ** 45 }),
    mutations: fc.array(mutation, { maxLength: 4 }),
  })
  .map(({ base, session, fingerprint, timestamp, mutations }) => {
    const event = structuredClone(base);
    event.timestamp = timestamp;
    const data = event.data as Json;
    data.session_id = `session_${session}`;
    if ("fingerprint" in data) data.fingerprint = fingerprint;
    for (const m of mutations) {
      const target = (
        m.op !== "event" && m.op !== "replaceData" && m.where === "data" ? event.data : event
      ) as Json;
      if (m.op === "drop" && isObject(target)) delete target[m.key];
      else if (m.op === "set" && isObject(target)) put(target, m.key, m.value);
      else if (m.op === "event") event.event = m.value;
      else if (m.op === "replaceData") event.data = m.value;
    }
    return event;
  });

const serialised = (event: fc.Arbitrary<Json>) =>
  fc
    .tuple(event, fc.constantFrom<undefined | number | string>(undefined, undefined, 2, "\t"))
    .map(([value, indent]) => JSON.stringify(value, null, indent));

const rawBody: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: serialised(mutatedEvent), weight: 6 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 300 }), weight: 1 },
  { arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => new TextDecoder().decode(bytes)), weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), weight: 1 },
  {
    // Valid-looking envelopes around random data, and truncations of valid bodies.
    arbitrary: fc.oneof(
      fc
        .record({
          website_id: fc.constantFrom(SERVED, "other-website"),
          event: eventNames,
          data: fc.oneof(
            fc.jsonValue({ maxDepth: 2 }),
            // The fields intake reads from any event, with any type.
            fc.record(
              { session_id: weirdValue, fingerprint: weirdValue, website_id: weirdValue },
              { requiredKeys: [] },
            ),
          ),
          timestamp: fc.integer(),
        })
        .map((v) => JSON.stringify(v)),
      fc.tuple(serialised(mutatedEvent), fc.nat()).map(([raw, cut]) => raw.slice(0, cut % (raw.length + 1))),
    ),
    weight: 2,
  },
);

type Auth =
  | { kind: "signed"; offsetMs: number; seconds: boolean; upper: boolean; reserialise: boolean }
  | { kind: "url_key" }
  | { kind: "url_key_with_bad_signature"; signature: string }
  | { kind: "wrong_url_key"; key: string }
  | { kind: "none" }
  | { kind: "bad_signature"; signature: string }
  | { kind: "other_secret"; secret: string }
  | { kind: "stale"; offsetMs: number }
  | { kind: "missing_timestamp" }
  | { kind: "malformed_timestamp"; timestamp: string }
  | { kind: "signed_other_body" };

const headerText = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 70,
});
const hex64 = fc
  .array(fc.constantFrom(..."0123456789abcdef"), { minLength: 64, maxLength: 64 })
  .map((c) => c.join(""));

const auth: fc.Arbitrary<Auth> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("signed" as const),
      offsetMs: fc.integer({ min: -TOLERANCE_MS + 1_000, max: TOLERANCE_MS - 1_000 }),
      seconds: fc.boolean(),
      upper: fc.boolean(),
      reserialise: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "url_key" as const }) },
  fc.record({ kind: fc.constant("url_key_with_bad_signature" as const), signature: hex64 }),
  fc.record({
    kind: fc.constant("wrong_url_key" as const),
    key: fc.string({ minLength: 1, maxLength: 40 }).filter((k) => k !== SECRET),
  }),
  fc.constant({ kind: "none" as const }),
  fc.record({
    kind: fc.constant("bad_signature" as const),
    signature: fc.oneof(hex64, headerText.filter(Boolean)),
  }),
  fc.record({
    kind: fc.constant("other_secret" as const),
    secret: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s !== SECRET),
  }),
  fc.record({
    kind: fc.constant("stale" as const),
    offsetMs: fc.oneof(
      fc.integer({ min: TOLERANCE_MS + 1_000, max: 10 * 365 * 86_400_000 }),
      fc.integer({ min: -10 * 365 * 86_400_000, max: -TOLERANCE_MS - 1_000 }),
    ),
  }),
  fc.constant({ kind: "missing_timestamp" as const }),
  fc.record({
    kind: fc.constant("malformed_timestamp" as const),
    timestamp: headerText.filter((t) => t.length > 0 && !/^\d{9,14}$/.test(t)),
  }),
  fc.constant({ kind: "signed_other_body" as const }),
);

const authenticates = (a: Auth) => a.kind === "signed" || a.kind === "url_key";

const contentType = fc.constantFrom<string | undefined>(
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/octet-stream",
  undefined,
);

async function requestFor(raw: string, a: Auth, type: string | undefined) {
  const headers: Record<string, string> = type === undefined ? {} : { "content-type": type };
  let path = "/webhooks/crisp";
  const sign = async (secret: string, ts: string, body: string) => {
    headers["x-crisp-request-timestamp"] = ts;
    headers["x-crisp-signature"] = await signWebhook(secret, ts, body);
  };
  switch (a.kind) {
    case "signed": {
      const at = NOW + a.offsetMs;
      const ts = a.seconds ? String(Math.round(at / 1000)) : String(at);
      let signedBody = raw;
      if (a.reserialise) {
        try {
          signedBody = JSON.stringify(JSON.parse(raw));
        } catch {}
      }
      await sign(SECRET, ts, signedBody);
      if (a.upper) headers["x-crisp-signature"] = (headers["x-crisp-signature"] as string).toUpperCase();
      break;
    }
    case "url_key":
      path += `?key=${encodeURIComponent(SECRET)}`;
      break;
    case "url_key_with_bad_signature":
      path += `?key=${encodeURIComponent(SECRET)}`;
      headers["x-crisp-request-timestamp"] = String(NOW);
      headers["x-crisp-signature"] = a.signature;
      break;
    case "wrong_url_key":
      path += `?key=${encodeURIComponent(a.key)}`;
      break;
    case "none":
      break;
    case "bad_signature":
      headers["x-crisp-request-timestamp"] = String(NOW);
      headers["x-crisp-signature"] = a.signature;
      break;
    case "other_secret":
      await sign(a.secret, String(NOW), raw);
      break;
    case "stale":
      await sign(SECRET, String(NOW + a.offsetMs), raw);
      break;
    case "missing_timestamp":
      await sign(SECRET, String(NOW), raw);
      delete headers["x-crisp-request-timestamp"];
      break;
    case "malformed_timestamp":
      await sign(SECRET, a.timestamp, raw);
      break;
    case "signed_other_body":
      await sign(SECRET, String(NOW), `${raw} x`);
      break;
  }
  return services.app.request(path, { method: "POST", body: raw, headers });
}

function expectedStatus(raw: string, a: Auth): number {
  if (utf8Length(raw) > MAX_WEBHOOK_BYTES) return 413;
  if (!authenticates(a)) return 401;
  return wellFormed(raw) ? 200 : 400;
}

/** How each delivery ended, printed as one line at the end (shrinking runs included). */
const figures = tally("webhook", { deliveries: ["2xx", "4xx storing nothing", "4xx that stored", "5xx"] });
afterAll(() => console.log(figures.line()));

async function checkDelivery(raw: string, a: Auth, type: string | undefined) {
  const before = await storedCounts();
  const response = await requestFor(raw, a, type);
  const expected = expectedStatus(raw, a);
  const text = await response.text();
  expect({ status: response.status, body: text.slice(0, 300) }).toMatchObject({ status: expected });
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { error?: unknown; reason?: unknown; data?: { action?: string } };
  expect(typeof body.reason).toBe("string");
  expect((body.reason as string).trim()).not.toBe("");
  const after = await storedCounts();
  const storedNothing = after.inbox === before.inbox && after.jobs === before.jobs;
  figures.add("deliveries", webhookOutcome(response.status, storedNothing));
  if (expected !== 200) {
    expect(body.error).toBe(true);
    expect(after).toEqual(before);
    return;
  }
  expect(body.error).toBe(false);
  const websiteId = (JSON.parse(raw) as Json).website_id;
  if (websiteId !== SERVED) {
    // Another website's hook is acknowledged and dropped.
    expect(body.data?.action).toMatch(/not served/);
    expect(after).toEqual(before);
    return;
  }
  const recorded = after.inbox === before.inbox + 1;
  if (body.reason === "accepted") {
    // An event quill acts on is recorded once; one it ignores is not recorded at all.
    if (!recorded) {
      expect(body.data?.action).toBe("ignored");
      expect(after).toEqual(before);
    }
    expect(after.jobs - before.jobs).toBeLessThanOrEqual(1);
  } else {
    expect(body.reason).toBe("duplicate");
    expect(after).toEqual(before);
  }
  // A redelivery is acknowledged and stores nothing more: a duplicate of a recorded event, an
  // ignored event ignored again.
  const again = await requestFor(raw, a, type);
  expect(again.status).toBe(200);
  const replay = (await again.json()) as { reason: string; data?: { action?: string } };
  if (recorded || body.reason === "duplicate") expect(replay.reason).toBe("duplicate");
  else expect(replay).toMatchObject({ reason: "accepted", data: { action: "ignored" } });
  expect(await storedCounts()).toEqual(after);
}

describe("fuzz: POST /webhooks/crisp", () => {
  it("the oracle agrees with the fixtures: each is accepted when signed, refused when not", async () => {
    for (const fixture of fixtures) {
      const raw = JSON.stringify({ ...fixture, timestamp: NOW + fixtures.indexOf(fixture) });
      expect(wellFormed(raw)).toBe(true);
      await checkDelivery(raw, { kind: "none" }, "application/json");
      await checkDelivery(
        raw,
        { kind: "signed", offsetMs: 0, seconds: false, upper: false, reserialise: false },
        "application/json",
      );
    }
  });

  it("answers exactly as the contract says for random and mutated bodies under any authentication", async () => {
    await fc.assert(
      fc.asyncProperty(rawBody, auth, contentType, async (raw, a, type) => {
        await checkDelivery(raw, a, type);
      }),
      {
        numRuns: 2_000,
        examples: [
          // Found by this suite: an event named after an Object.prototype member was a 500.
          [
            `{"website_id":"${SERVED}","event":"constructor","data":{},"timestamp":0}`,
            { kind: "url_key" },
            undefined,
          ],
          // Found by this suite: a known event's extra field, or an unknown event's fields, of
          // the wrong type reached the inbox insert and failed it (500).
          [
            JSON.stringify({
              website_id: SERVED,
              event: "session:set_state",
              data: { website_id: SERVED, session_id: "s1", state: "resolved", fingerprint: false },
              timestamp: 1,
            }),
            { kind: "url_key" },
            "application/json",
          ],
          [
            `{"website_id":"${SERVED}","event":"session:other","data":{"session_id":{}},"timestamp":2}`,
            { kind: "url_key" },
            "application/json",
          ],
        ],
      },
    );
  }, 60_000);

  it("well-formed events are accepted whatever the content type; bodies over the limit get 413", async () => {
    const huge = fc.record({
      extra: fc.integer({ min: -3_000, max: 3_000 }),
      char: fc.constantFrom("a", "é", "🙂", "\u0000"),
      auth,
      type: contentType,
      session: fc.uuid(),
    });
    await fc.assert(
      fc.asyncProperty(huge, async ({ extra, char, auth: a, type, session }) => {
        const event = structuredClone(fixtures[0] as Json);
        (event.data as Json).session_id = `session_${session}`;
        const skeleton = JSON.stringify({ ...event, data: { ...(event.data as Json), content: "" } });
        const perChar = utf8Length(JSON.stringify(char)) - 2;
        const count = Math.max(0, Math.floor((MAX_WEBHOOK_BYTES - utf8Length(skeleton) + extra) / perChar));
        (event.data as Json).content = char.repeat(count);
        await checkDelivery(JSON.stringify(event), a, type);
      }),
      { numRuns: 25 },
    );
  });
});
