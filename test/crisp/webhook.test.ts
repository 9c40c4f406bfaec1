import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  deliveryKey,
  MAX_WEBHOOK_BYTES,
  parseWebhookEvent,
  signWebhook,
  verifyWebhook,
  visitorComposeKeyPrefix,
} from "../../src/crisp/webhook.ts";
import { safeEqual, useNativeCrypto } from "../../src/crypto.ts";
import { nodeCrypto } from "../../src/runtime/node-crypto.ts";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/crisp/${name}`, import.meta.url), "utf8");
const vector = JSON.parse(fixture("webhook.signature_vector.json")) as {
  secret: string;
  x_crisp_request_timestamp: string;
  raw_body: string;
  x_crisp_signature: string;
};
const vectorTime = Number(vector.x_crisp_request_timestamp);

function headers(map: Record<string, string>) {
  return (name: string) => map[name.toLowerCase()] ?? null;
}

function verify(overrides: Partial<Parameters<typeof verifyWebhook>[0]> = {}) {
  return verifyWebhook({
    rawBody: vector.raw_body,
    header: headers({
      "x-crisp-signature": vector.x_crisp_signature,
      "x-crisp-request-timestamp": vector.x_crisp_request_timestamp,
    }),
    urlKey: null,
    secret: vector.secret,
    toleranceSeconds: 300,
    now: vectorTime + 1_000,
    ...overrides,
  });
}

describe("web hook signatures", () => {
  it("Node's native HMAC (used by the Node runtime) signs exactly like Web Crypto", async () => {
    const web = await signWebhook(vector.secret, vector.x_crisp_request_timestamp, vector.raw_body);
    useNativeCrypto(nodeCrypto);
    try {
      expect(await signWebhook(vector.secret, vector.x_crisp_request_timestamp, vector.raw_body)).toBe(web);
      expect(web).toBe(vector.x_crisp_signature);
    } finally {
      useNativeCrypto(undefined);
    }
  });

  it("reproduces the known-good signature vector", async () => {
    expect(await signWebhook(vector.secret, vector.x_crisp_request_timestamp, vector.raw_body)).toBe(
      vector.x_crisp_signature,
    );
  });

  it("accepts a valid signature inside the replay window", async () => {
    expect(await verify()).toEqual({ ok: true, via: "signature" });
  });

  it("rejects a tampered body", async () => {
    const result = await verify({ rawBody: vector.raw_body.replace("reset it", "refund me") });
    expect(result).toMatchObject({ ok: false, status: 401, reason: "invalid signature" });
  });

  it("rejects a signature made with another secret", async () => {
    expect(await verify({ secret: "other_secret" })).toMatchObject({ ok: false, status: 401 });
  });

  it("rejects a stale or future timestamp, honouring the configured window", async () => {
    expect(await verify({ now: vectorTime + 301_000 })).toMatchObject({
      ok: false,
      status: 401,
      reason: /stale/,
    });
    expect(await verify({ now: vectorTime - 301_000 })).toMatchObject({ ok: false, status: 401 });
    expect(await verify({ now: vectorTime + 301_000, toleranceSeconds: 600 })).toMatchObject({ ok: true });
  });

  it("accepts a timestamp in seconds as well as milliseconds", async () => {
    const ts = String(Math.floor(vectorTime / 1000));
    const sig = await signWebhook(vector.secret, ts, vector.raw_body);
    const result = await verify({
      header: headers({ "x-crisp-signature": sig, "x-crisp-request-timestamp": ts }),
    });
    expect(result).toEqual({ ok: true, via: "signature" });
  });

  it("rejects a missing or malformed timestamp header", async () => {
    const noTs = await verify({ header: headers({ "x-crisp-signature": vector.x_crisp_signature }) });
    expect(noTs).toMatchObject({ ok: false, status: 401, reason: /missing/ });
    const bad = await verify({
      header: headers({
        "x-crisp-signature": vector.x_crisp_signature,
        "x-crisp-request-timestamp": "yesterday",
      }),
    });
    expect(bad).toMatchObject({ ok: false, status: 401, reason: /malformed/ });
  });

  it("accepts a signature computed over the re-serialised JSON (Node wrapper behaviour)", async () => {
    const pretty = JSON.stringify(JSON.parse(vector.raw_body), null, 2);
    const result = await verify({ rawBody: pretty });
    expect(result).toEqual({ ok: true, via: "signature" });
  });

  it("refuses bodies over 1 MB before computing anything", async () => {
    const big = JSON.stringify({ pad: "x".repeat(MAX_WEBHOOK_BYTES) });
    expect(await verify({ rawBody: big })).toMatchObject({ ok: false, status: 413 });
  });

  it("accepts unsigned website hooks only with the secret in the URL", async () => {
    const base = { header: headers({}) };
    expect(await verify({ ...base, urlKey: vector.secret })).toEqual({ ok: true, via: "url_key" });
    expect(await verify({ ...base, urlKey: "guess" })).toMatchObject({ ok: false, status: 401 });
    expect(await verify({ ...base, urlKey: null })).toMatchObject({
      ok: false,
      status: 401,
      reason: /unsigned/,
    });
  });

  it("refuses every hook when no secret is configured, even one signed with the empty key", async () => {
    // node:crypto (the Node runtime's HMAC) happily signs with an empty key, so a forger could too.
    useNativeCrypto(nodeCrypto);
    try {
      const forged = await signWebhook("", vector.x_crisp_request_timestamp, vector.raw_body);
      const signed = headers({
        "x-crisp-signature": forged,
        "x-crisp-request-timestamp": vector.x_crisp_request_timestamp,
      });
      const refused = { ok: false, status: 401, reason: "no web hook secret configured" };
      expect(await verify({ secret: "", header: signed })).toEqual(refused);
      expect(await verify({ secret: "", header: headers({}), urlKey: "" })).toEqual(refused);
    } finally {
      useNativeCrypto(undefined);
    }
  });

  it("compares in constant time without short-circuiting on length", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
    expect(safeEqual("", "")).toBe(true);
  });
});

describe("web hook parsing", () => {
  it("parses message:send into a typed event", () => {
    const result = parseWebhookEvent(fixture("webhook.message_send.json"));
    expect(result.ok).toBe(true);
    if (!result.ok || !result.event.known || result.event.event !== "message:send")
      throw new Error("bad parse");
    expect(result.event.data.from).toBe("user");
    expect(result.event.data.fingerprint).toBe(176400000123);
    expect(result.event.data.content).toBe("I forgot my password, how do I reset it?");
  });

  it.each([
    ["webhook.message_received.json", "message:received"],
    ["webhook.message_received_note.json", "message:received"],
    ["webhook.session_set_state.json", "session:set_state"],
    ["webhook.message_compose_send.json", "message:compose:send"],
  ])("parses %s", (file, event) => {
    const result = parseWebhookEvent(fixture(file));
    expect(result).toMatchObject({ ok: true, event: { known: true, event } });
  });

  it("accepts unknown events and marks them as such", () => {
    const body = JSON.stringify({
      website_id: "w",
      event: "people:profile:created",
      data: { x: 1 },
      timestamp: 1,
    });
    expect(parseWebhookEvent(body)).toMatchObject({
      ok: true,
      event: { known: false, event: "people:profile:created" },
    });
  });

  it.each([
    ["not json", "{", /not valid JSON/],
    ["missing event", JSON.stringify({ website_id: "w", data: {}, timestamp: 1 }), /event/],
    [
      "message without fingerprint",
      JSON.stringify({
        website_id: "w",
        event: "message:send",
        data: { website_id: "w", session_id: "s", type: "text", from: "user", content: "hi", timestamp: 1 },
        timestamp: 1,
      }),
      /fingerprint/,
    ],
    [
      "bad state",
      JSON.stringify({
        website_id: "w",
        event: "session:set_state",
        data: { website_id: "w", session_id: "s", state: "archived" },
        timestamp: 1,
      }),
      /state/,
    ],
    [
      "website mismatch",
      JSON.stringify({
        website_id: "w",
        event: "session:removed",
        data: { website_id: "other", session_id: "s" },
        timestamp: 1,
      }),
      /does not match/,
    ],
  ])("rejects %s with 400 and a reason", (_name, body, reason) => {
    expect(parseWebhookEvent(body)).toMatchObject({ ok: false, status: 400, reason });
  });

  it("keys message deliveries by fingerprint, so a retried delivery has the same key", () => {
    const a = parseWebhookEvent(fixture("webhook.message_send.json"));
    const retried = JSON.parse(fixture("webhook.message_send.json"));
    retried.timestamp += 5_000; // a redelivery may carry a new emission time
    const b = parseWebhookEvent(JSON.stringify(retried));
    if (!a.ok || !b.ok) throw new Error("bad parse");
    expect(deliveryKey(a.event)).toBe(deliveryKey(b.event));
    expect(deliveryKey(a.event)).toContain("176400000123");
  });

  it("keys a visitor's compose start and stop apart even in the same millisecond, under the conversation's typing prefix", () => {
    const start = JSON.parse(fixture("webhook.message_compose_send.json"));
    const stop = { ...start, data: { ...start.data, type: "stop" } };
    const [a, b] = [start, stop].map((body) => parseWebhookEvent(JSON.stringify(body)));
    if (!a?.ok || !b?.ok) throw new Error("bad parse");
    expect(deliveryKey(a.event)).not.toBe(deliveryKey(b.event));
    const prefix = visitorComposeKeyPrefix(start.website_id, start.data.session_id);
    expect(deliveryKey(a.event).startsWith(prefix)).toBe(true);
    expect(deliveryKey(b.event).startsWith(prefix)).toBe(true);
    // A retry of the same delivery keeps its key.
    expect(deliveryKey(a.event)).toBe(
      deliveryKey((parseWebhookEvent(JSON.stringify(start)) as typeof a).event),
    );
  });
});
