import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { createCrispClient } from "../../src/crisp/client.ts";
import type { CrispPeopleProfile } from "../../src/crisp/schemas.ts";
import {
  ADA,
  ALAN,
  type CaseId,
  CHARLES,
  clientSuite,
  data,
  EVENT,
  HISTORY_PAGE,
  JEAN,
  META_UPDATE,
  MISSING_FINGERPRINT,
  MISSING_SESSION,
  MISSING_WEBSITE,
  NOTE_FINGERPRINT,
  fixture as readFixture,
  recorded,
  VIP_SEGMENTS,
  WEBSITE,
} from "./client-suite.ts";

const API = "https://api.crisp.test";
const SESSION = ADA;
const fixture = (name: string) => readFixture(name) as Record<string, nock.DataMatcher>;
const ok = (payload: unknown, reason = "resolved") => ({ error: false, reason, data: payload });
const UPDATED = ok({}, "updated");

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

/** What Crisp answered to each request a case of the shared suite makes (all must be made). */
const conversationsPath = `/v1/website/${WEBSITE}/conversations`;
const peoplePath = `/v1/website/${WEBSITE}/people`;
const withCompose = (operator: Record<string, unknown>) =>
  ok({ ...recorded.conversation, compose: { ...recorded.conversation.compose, operator } });
const exchanges: Record<CaseId, () => void> = {
  auth: () => scope().get(conversationPath).reply(200, fixture("conversation.get.json")),
  list: () => {
    scope()
      .get(`${conversationsPath}/1`)
      .query({ order_date_updated: "1" })
      .reply(200, fixture("conversations.list.json"));
    scope()
      .get(`${conversationsPath}/1`)
      .query({ filter_not_resolved: "1", order_date_updated: "1" })
      .reply(200, ok(recorded.conversations.filter((c) => c.state !== "resolved")));
    scope()
      .get(`${conversationsPath}/1`)
      .query({ search_query: "Merci", search_type: "text" })
      .reply(200, ok(recorded.conversations.filter((c) => c.last_message === "Merci !")));
    scope().get(`${conversationsPath}/2`).query({ order_date_updated: "1" }).reply(200, ok([]));
  },
  create: () => {
    const { session_id } = data<{ session_id: string }>("conversation.create.response.json");
    scope()
      .post(`/v1/website/${WEBSITE}/conversation`, {})
      .reply(200, fixture("conversation.create.response.json"));
    scope()
      .get(`/v1/website/${WEBSITE}/conversation/${session_id}`)
      .reply(200, fixture("conversation.new.get.json"));
    scope().get(`/v1/website/${WEBSITE}/conversation/${session_id}/messages`).reply(200, ok([]));
  },
  state: () => {
    scope()
      .get(`${conversationPath}/state`)
      .reply(200, ok({ state: "pending" }));
    scope().patch(`${conversationPath}/state`, fixture("state.patch.request.json")).reply(200, UPDATED);
    scope()
      .get(`${conversationPath}/state`)
      .reply(200, ok({ state: "resolved" }));
  },
  routing: () => {
    scope()
      .get(`${conversationPath}/routing`)
      .reply(200, ok({ assigned: recorded.conversation.assigned }));
    scope()
      .patch(`${conversationPath}/routing`, {
        ...fixture("routing.patch.request.json"),
        assigned: { user_id: ALAN },
      })
      .reply(200, UPDATED);
    scope()
      .get(`${conversationPath}/routing`)
      .reply(200, ok({ assigned: { user_id: ALAN } }));
  },
  meta: () => {
    scope().get(`${conversationPath}/meta`).reply(200, ok(recorded.conversation.meta));
    scope().patch(`${conversationPath}/meta`, META_UPDATE).reply(200, UPDATED);
    scope()
      .get(`${conversationPath}/meta`)
      .reply(200, ok({ ...recorded.conversation.meta, ...META_UPDATE }));
  },
  read: () => {
    scope().get(conversationPath).reply(200, fixture("conversation.get.json"));
    scope().patch(`${conversationPath}/read`, fixture("read.patch.request.json")).reply(200, UPDATED);
    scope()
      .get(conversationPath)
      .reply(200, ok({ ...recorded.conversation, unread: { operator: 0, visitor: 0 } }));
  },
  "last-page": () =>
    scope().get(`${conversationPath}/messages`).times(2).reply(200, fixture("messages.list.json")),
  history: () => {
    const newest = recorded.history.slice(-HISTORY_PAGE);
    const messages = `/v1/website/${WEBSITE}/conversation/${JEAN}/messages`;
    scope().get(messages).times(2).reply(206, ok(newest));
    scope()
      .get(messages)
      .query({ timestamp_before: String(newest[0]?.timestamp) })
      .reply(206, ok(recorded.history.slice(-2 * HISTORY_PAGE, -HISTORY_PAGE)));
  },
  send: () => {
    const text = data<{ fingerprint: number }>("message.get.text.json");
    scope()
      .post(`${conversationPath}/message`, fixture("message.send.text.request.json"))
      .reply(200, ok({ fingerprint: text.fingerprint }, "dispatched"));
    scope()
      .post(`${conversationPath}/message`, {
        ...fixture("message.send.request.json"),
        fingerprint: NOTE_FINGERPRINT,
      })
      .reply(200, fixture("message.send.response.json"));
    scope()
      .get(`${conversationPath}/message/${text.fingerprint}`)
      .reply(200, fixture("message.get.text.json"));
    scope()
      .get(`${conversationPath}/message/${NOTE_FINGERPRINT}`)
      .reply(200, fixture("message.get.note.json"));
  },
  compose: () => {
    const start = fixture("compose.start.request.json");
    scope().patch(`${conversationPath}/compose`, start).reply(200, UPDATED);
    scope()
      .get(conversationPath)
      .reply(200, withCompose({ type: "start", excerpt: start.excerpt, timestamp: 1_764_000_010_000 }));
    scope().patch(`${conversationPath}/compose`, fixture("compose.stop.request.json")).reply(200, UPDATED);
    scope()
      .get(conversationPath)
      .reply(200, withCompose({ type: "stop", timestamp: 1_764_000_011_000 }));
  },
  operators: () =>
    scope().get(`/v1/website/${WEBSITE}/operators/list`).reply(200, fixture("operators.list.json")),
  "people-search": () => {
    const ada = data<CrispPeopleProfile[]>("people.profiles.list.json").filter(
      (p) => p.email === "ada@example.com",
    );
    const id = ada[0]?.people_id;
    scope().get(`${peoplePath}/profiles/1`).query({ search_text: "ada@example.com" }).reply(200, ok(ada));
    scope().patch(`${peoplePath}/profile/${id}`, { segments: VIP_SEGMENTS }).reply(200, UPDATED);
    scope()
      .get(`${peoplePath}/profile/${id}`)
      .reply(200, ok({ ...ada[0], segments: VIP_SEGMENTS }));
  },
  "people-create": () => {
    const { people_id: id } = data<{ people_id: string }>("people.profile.create.response.json");
    scope().post(`${peoplePath}/profile`, CHARLES).reply(200, fixture("people.profile.create.response.json"));
    scope().get(`${peoplePath}/profile/${id}`).reply(200, fixture("people.profile.get.json"));
    scope().post(`${peoplePath}/events/${id}`, EVENT).reply(200, ok({}, "added"));
    scope().get(`${peoplePath}/events/${id}/list/1`).reply(200, fixture("people.events.list.json"));
    scope()
      .patch(`${peoplePath}/data/${id}`, { data: { plan: "pro" } })
      .reply(200, UPDATED);
    scope()
      .patch(`${peoplePath}/data/${id}`, { data: { seats: 3 } })
      .reply(200, UPDATED);
    scope()
      .get(`${peoplePath}/data/${id}`)
      .reply(200, ok({ data: { plan: "pro", seats: 3 } }));
    scope()
      .put(`${peoplePath}/data/${id}`, { data: { seats: 4 } })
      .reply(200, UPDATED);
    scope()
      .get(`${peoplePath}/data/${id}`)
      .reply(200, ok({ data: { seats: 4 } }));
  },
  "not-found": () => {
    for (const path of [
      `/v1/website/${WEBSITE}/conversation/${MISSING_SESSION}`,
      `${conversationPath}/message/${MISSING_FINGERPRINT}`,
      `/v1/website/${MISSING_WEBSITE}`,
    ]) {
      scope().get(path).reply(404, fixture("error.404.json"));
    }
  },
  unauthorized: () => {
    nock(API)
      .matchHeader("authorization", `Basic ${btoa("id:wrong-key")}`)
      .get(conversationPath)
      .reply(401, fixture("error.401.json"));
    nock(API)
      .matchHeader("authorization", `Basic ${btoa("id:secret")}`)
      .matchHeader("x-crisp-tier", "user")
      .get(conversationPath)
      .reply(401, fixture("error.401.json"));
  },
};

clientSuite("nock serving recorded Crisp payloads", {
  async start(id) {
    exchanges[id]();
    return {
      crisp: client().crisp,
      as: ({ key = "secret", tier = "plugin" }) => client({ key, tier }).crisp,
    };
  },
});

describe("Crisp client errors and retries", () => {
  it("keeps the fields of a payload its schemas do not name", async () => {
    scope().get(conversationPath).reply(200, fixture("conversation.get.json"));
    const { crisp } = client();
    const conversation = await crisp.conversations.get(WEBSITE, SESSION);
    expect((conversation as Record<string, unknown>).verifications).toEqual([]);
    expect((conversation as Record<string, unknown>).topic).toBe("Password reset");
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

  it("a message send waiting for a slot goes ahead of queued reads", async () => {
    const order: string[] = [];
    const fetchImpl: typeof fetch = async (input) => {
      const url = String(input);
      order.push(url.endsWith("/message") ? "send" : "get");
      await new Promise((r) => setTimeout(r, 5));
      if (url.endsWith("/message"))
        return Response.json({ error: false, reason: "dispatched", data: { fingerprint: 1 } });
      return Response.json({ error: false, reason: "resolved", data: { website_id: WEBSITE } });
    };
    const { crisp } = client({ concurrency: 1, fetch: fetchImpl });
    const reads = Array.from({ length: 3 }, () => crisp.websites.get(WEBSITE));
    const send = crisp.messages.send(WEBSITE, SESSION, {
      type: "note",
      from: "operator",
      origin: "chat",
      content: "draft",
    });
    await Promise.all([...reads, send]);
    // The first read already held the slot; the send then jumped the two still waiting.
    expect(order).toEqual(["get", "send", "get", "get"]);
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
