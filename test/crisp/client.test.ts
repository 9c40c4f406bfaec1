import { readFileSync } from "node:fs";
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { createCrispClient } from "../../src/crisp/client.ts";
import { CrispError } from "../../src/crisp/errors.ts";

const API = "https://api.crisp.test";
const WEBSITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc";
const SESSION = "session_700c65e1-85e2-465a-b9ac-ecb5ec2c9881";
const fixture = (name: string): Record<string, nock.DataMatcher> =>
  JSON.parse(readFileSync(new URL(`../fixtures/crisp/${name}`, import.meta.url), "utf8"));

function fakeClock() {
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => 1_764_000_000_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  };
  return { clock, sleeps };
}

function client(overrides: Partial<Parameters<typeof createCrispClient>[0]> = {}) {
  const { clock, sleeps } = fakeClock();
  const crisp = createCrispClient({
    apiUrl: `${API}/v1`,
    identifier: "id",
    key: "secret",
    tier: "plugin",
    clock,
    random: () => 0.5,
    ...overrides,
  });
  return { crisp, sleeps };
}

const scope = () =>
  nock(API)
    .matchHeader("authorization", `Basic ${btoa("id:secret")}`)
    .matchHeader("x-crisp-tier", "plugin");
const conversationPath = `/v1/website/${WEBSITE}/conversation/${SESSION}`;

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe("Crisp client against recorded payloads", () => {
  it("sends Basic auth and the tier header, and unwraps the envelope", async () => {
    scope().get(conversationPath).reply(200, fixture("conversation.get.json"));
    const { crisp } = client();
    const conversation = await crisp.conversations.get(WEBSITE, SESSION);
    expect(conversation.session_id).toBe(SESSION);
    expect(conversation.meta?.email).toBe("ada@example.com");
    expect(conversation.state).toBe("pending");
    // unknown fields survive validation
    expect((conversation as Record<string, unknown>).verifications).toEqual([]);
  });

  it("lists conversations with filters encoded as 0/1 query parameters", async () => {
    scope()
      .get(`/v1/website/${WEBSITE}/conversations/2`)
      .query({ filter_not_resolved: "1", order_date_updated: "1", per_page: "50" })
      .reply(200, fixture("conversations.list.json"));
    const { crisp } = client();
    const list = await crisp.conversations.list(WEBSITE, 2, {
      filter_not_resolved: true,
      order_date_updated: true,
      per_page: 50,
    });
    expect(list.map((c) => c.state)).toEqual(["pending", "resolved"]);
  });

  it("parses every message type of a conversation, oldest first", async () => {
    scope().get(`${conversationPath}/messages`).reply(200, fixture("messages.list.json"));
    const { crisp } = client();
    const { messages, hasMore } = await crisp.messages.list(WEBSITE, SESSION);
    expect(hasMore).toBe(false);
    expect(messages.map((m) => m.type)).toEqual(["text", "text", "note", "file", "text"]);
    expect(messages[3]?.content).toMatchObject({ name: "screenshot.png" });
  });

  it("pages back with timestamp_before while Crisp answers 206, until it has 20 messages", async () => {
    const page = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        session_id: SESSION,
        website_id: WEBSITE,
        type: "text",
        from: "user",
        origin: "chat",
        content: `m${from + i}`,
        fingerprint: 1000 + from + i,
        timestamp: 1_000_000 + (from + i) * 1000,
      }));
    scope()
      .get(`${conversationPath}/messages`)
      .reply(206, { error: false, reason: "resolved", data: page(10, 10) });
    scope()
      .get(`${conversationPath}/messages`)
      .query({ timestamp_before: String(1_000_000 + 10 * 1000) })
      .reply(206, { error: false, reason: "resolved", data: page(0, 11) }); // overlaps by one
    const { crisp } = client();
    const { messages } = await crisp.messages.listLast(WEBSITE, SESSION, 20);
    expect(messages).toHaveLength(20);
    expect(messages[0]?.content).toBe("m0");
    expect(messages.at(-1)?.content).toBe("m19");
    expect(new Set(messages.map((m) => m.fingerprint)).size).toBe(20);
  });

  it("stops paging on a 200 even with fewer than 20 messages", async () => {
    scope().get(`${conversationPath}/messages`).reply(200, fixture("messages.list.json"));
    const { crisp } = client();
    const { messages } = await crisp.messages.listLast(WEBSITE, SESSION, 20);
    expect(messages).toHaveLength(5);
  });

  it("sends a private note exactly as Crisp expects and returns the fingerprint", async () => {
    const body = fixture("message.send.request.json");
    scope().post(`${conversationPath}/message`, body).reply(200, fixture("message.send.response.json"));
    const { crisp } = client();
    const result = await crisp.messages.send(WEBSITE, SESSION, body as never);
    expect(result.fingerprint).toBe(176400001777);
  });

  it("sends compose start and stop bodies", async () => {
    scope()
      .patch(`${conversationPath}/compose`, fixture("compose.start.request.json"))
      .reply(200, { error: false, reason: "updated", data: {} });
    scope()
      .patch(`${conversationPath}/compose`, fixture("compose.stop.request.json"))
      .reply(200, { error: false, reason: "updated", data: {} });
    const { crisp } = client();
    await crisp.compose.start(WEBSITE, SESSION, { excerpt: "Hi Ada, you can reset" });
    await crisp.compose.stop(WEBSITE, SESSION);
  });

  it("reads operators and people profiles", async () => {
    scope().get(`/v1/website/${WEBSITE}/operators/list`).reply(200, fixture("operators.list.json"));
    scope().get(`/v1/website/${WEBSITE}/people/profiles/1`).reply(200, fixture("people.profiles.list.json"));
    const { crisp } = client();
    const operators = await crisp.websites.listOperators(WEBSITE);
    expect(operators.map((o) => o.details.email)).toEqual(["grace@example.com", "alan@example.com"]);
    const profiles = await crisp.people.listProfiles(WEBSITE);
    expect(profiles.length).toBeGreaterThan(0);
    expect(profiles[0]?.people_id).toBeTruthy();
  });
});

describe("Crisp client errors and retries", () => {
  it("turns 404 into a CrispError with status and reason, without retrying", async () => {
    scope().get(conversationPath).reply(404, fixture("error.404.json"));
    const { crisp, sleeps } = client();
    const error = await crisp.conversations.get(WEBSITE, SESSION).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrispError);
    expect(error).toMatchObject({ status: 404, reason: "not_found", method: "GET", retryable: false });
    expect((error as CrispError).path).toBe(`/website/${WEBSITE}/conversation/${SESSION}`);
    expect(sleeps).toEqual([]);
  });

  it("does not retry 401 (bad credentials or tier)", async () => {
    scope().get(conversationPath).reply(401, fixture("error.401.json"));
    const { crisp } = client();
    await expect(crisp.conversations.get(WEBSITE, SESSION)).rejects.toMatchObject({
      status: 401,
      reason: "invalid_session",
      retryable: false,
    });
  });

  it("honours Retry-After on 429, then succeeds", async () => {
    scope().get(conversationPath).reply(429, fixture("error.429.json"), { "Retry-After": "7" });
    scope().get(conversationPath).reply(200, fixture("conversation.get.json"));
    const { crisp, sleeps } = client();
    const conversation = await crisp.conversations.get(WEBSITE, SESSION);
    expect(conversation.session_id).toBe(SESSION);
    expect(sleeps).toEqual([7000]);
  });

  it("retries 5xx with growing jittered backoff and gives up after maxRetries", async () => {
    scope().get(conversationPath).times(3).reply(502, "<html>bad gateway</html>");
    const { crisp, sleeps } = client({ maxRetries: 2 });
    await expect(crisp.conversations.get(WEBSITE, SESSION)).rejects.toMatchObject({
      status: 502,
      reason: "http_error",
      retryable: true,
    });
    expect(sleeps).toEqual([250, 500]); // random()=0.5 × 500·2^attempt
  });

  it("hands a long Retry-After (quota) to the caller instead of sleeping through it", async () => {
    scope().get(conversationPath).reply(429, fixture("error.429.json"), { "Retry-After": "3600" });
    const { crisp, sleeps } = client();
    await expect(crisp.conversations.get(WEBSITE, SESSION)).rejects.toMatchObject({
      status: 429,
      retryable: true,
      retryAfterMs: 3_600_000,
    });
    expect(sleeps).toEqual([]);
  });

  it("never repeats a message send after a timeout: outcome unknown, exactly one request", async () => {
    let requests = 0;
    scope()
      .post(`${conversationPath}/message`)
      .times(3)
      .delay(500)
      .reply(() => {
        requests++;
        return [200, fixture("message.send.response.json")];
      });
    const { crisp } = client({ timeoutMs: 50 });
    await expect(
      crisp.messages.send(WEBSITE, SESSION, {
        type: "text",
        from: "operator",
        origin: "chat",
        content: "hi",
      }),
    ).rejects.toMatchObject({ reason: "outcome_unknown", retryable: false, status: 0 });
    await new Promise((r) => setTimeout(r, 600));
    expect(requests).toBe(1);
    nock.cleanAll();
  });

  it("retries a send on 429 (rejected before processing)", async () => {
    scope().post(`${conversationPath}/message`).reply(429, fixture("error.429.json"), { "Retry-After": "1" });
    scope().post(`${conversationPath}/message`).reply(200, fixture("message.send.response.json"));
    const { crisp, sleeps } = client();
    const sent = await crisp.messages.send(WEBSITE, SESSION, {
      type: "note",
      from: "operator",
      origin: "chat",
      content: "x",
    });
    expect(sent.fingerprint).toBe(176400001777);
    expect(sleeps).toEqual([1000]);
  });

  it.each([500, 504])(
    "never repeats a message send after a %i, fingerprint or not: outcome unknown, exactly one request",
    async (status) => {
      // The sandbox's "lost response" answers 504 after the message landed.
      for (const fingerprint of [undefined, 42]) {
        let requests = 0;
        scope()
          .post(`${conversationPath}/message`)
          .times(2)
          .reply(() => {
            requests++;
            return [status, { error: true, reason: "internal_error", data: {} }];
          });
        const { crisp, sleeps } = client();
        await expect(
          crisp.messages.send(WEBSITE, SESSION, {
            type: "note",
            from: "operator",
            origin: "chat",
            content: "x",
            ...(fingerprint === undefined ? {} : { fingerprint }),
          }),
        ).rejects.toMatchObject({ status, reason: "outcome_unknown", retryable: false });
        expect(requests).toBe(1);
        expect(sleeps).toEqual([]);
        nock.cleanAll();
      }
    },
  );

  it("retries an idempotent GET after a timeout", async () => {
    scope().get(conversationPath).delay(300).reply(200, fixture("conversation.get.json"));
    scope().get(conversationPath).reply(200, fixture("conversation.get.json"));
    const { crisp, sleeps } = client({ timeoutMs: 50 });
    const conversation = await crisp.conversations.get(WEBSITE, SESSION);
    expect(conversation.session_id).toBe(SESSION);
    expect(sleeps).toHaveLength(1);
  });

  it("stops at once when the caller aborts, without retrying", async () => {
    scope().get(conversationPath).delay(1_000).reply(200, fixture("conversation.get.json"));
    const { crisp, sleeps } = client();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await expect(
      crisp.conversations.get(WEBSITE, SESSION, { signal: controller.signal }),
    ).rejects.toMatchObject({
      reason: "aborted",
      retryable: false,
    });
    expect(sleeps).toEqual([]);
    nock.cleanAll();
  });

  it("rejects a response of the wrong shape as invalid_response", async () => {
    scope()
      .get(conversationPath)
      .reply(200, { error: false, reason: "resolved", data: { nope: true } });
    const { crisp } = client();
    await expect(crisp.conversations.get(WEBSITE, SESSION)).rejects.toMatchObject({
      reason: "invalid_response",
      retryable: false,
    });
  });

  it("treats an error envelope on a 200 as an error", async () => {
    scope().get(conversationPath).reply(200, { error: true, reason: "not_allowed", data: {} });
    const { crisp } = client();
    await expect(crisp.conversations.get(WEBSITE, SESSION)).rejects.toMatchObject({ reason: "not_allowed" });
  });
});

describe("Crisp client concurrency", () => {
  it("limits in-flight requests per website without blocking other websites", async () => {
    let inFlight = 0;
    let peak = 0;
    const other = "other-website";
    const fetchImpl: typeof fetch = async (input) => {
      const url = String(input);
      if (url.includes(other)) {
        return new Response(
          JSON.stringify({ error: false, reason: "resolved", data: { website_id: other } }),
        );
      }
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return new Response(
        JSON.stringify({ error: false, reason: "resolved", data: { website_id: WEBSITE } }),
      );
    };
    const { crisp } = client({ concurrency: 2, fetch: fetchImpl });
    const busy = Array.from({ length: 6 }, () => crisp.websites.get(WEBSITE));
    await crisp.websites.get(other);
    const busyWhenOtherDone = inFlight;
    await Promise.all(busy);
    expect(peak).toBe(2);
    // the other website's request finished while this website's queue was still busy
    expect(busyWhenOtherDone).toBe(2);
  });

  it("a request waiting out its backoff leaves its slot to others, and beforeRetry can stop the retry", async () => {
    const order: string[] = [];
    let releaseSleep: () => void = () => {};
    const fetchImpl: typeof fetch = async (input) => {
      const url = String(input);
      order.push(url.endsWith("/message") ? "send" : "get");
      if (url.endsWith("/message"))
        return Response.json({ error: true, reason: "rate_limited", data: {} }, { status: 429 });
      return Response.json({ error: false, reason: "resolved", data: { website_id: WEBSITE } });
    };
    const crisp = createCrispClient({
      apiUrl: `${API}/v1`,
      identifier: "id",
      key: "secret",
      tier: "plugin",
      concurrency: 1,
      fetch: fetchImpl,
      clock: {
        now: () => Date.now(),
        sleep: () => new Promise<void>((resolve) => (releaseSleep = resolve)),
      },
    });
    let checks = 0;
    const send = crisp.messages.send(
      WEBSITE,
      SESSION,
      { type: "note", from: "operator", origin: "chat", content: "draft" },
      {
        beforeRetry: async () => {
          checks++;
          throw new Error("no longer wanted");
        },
      },
    );
    const sent = expect(send).rejects.toThrow("no longer wanted");
    // With one slot, a GET issued while the send sleeps in its backoff still runs at once.
    await new Promise((r) => setTimeout(r, 10));
    await crisp.websites.get(WEBSITE);
    releaseSleep();
    await sent;
    expect(order).toEqual(["send", "get"]);
    expect(checks).toBe(1);
  });
});
