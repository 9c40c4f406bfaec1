import { describe, expect, it } from "vitest";
import { createCrispClient } from "../../src/crisp/client.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { inProcessFetch } from "../helpers.ts";

/** What a careless or hostile client sends the sandbox's Crisp REST routes, and what it must get back. */

function setup() {
  const hooks: string[] = [];
  const sandbox = createSandbox({
    webhookUrls: ["http://quill.test/webhooks/crisp"],
    webhookRetryBaseMs: 1,
    fetch: async (_url, init) => {
      hooks.push(String(init?.body));
      return new Response("{}", { status: 200 });
    },
  });
  const website = sandbox.website.website_id;
  const { sessionId } = sandbox.visitorSays({ text: "Where is my parcel?" });
  const auth = `Basic ${btoa(`${DEMO_CREDENTIALS.identifier}:${DEMO_CREDENTIALS.key}`)}`;
  const call = (method: string, path: string, body?: string) =>
    sandbox.app.request(`/v1/website/${website}${path}`, {
      method,
      headers: { authorization: auth, "x-crisp-tier": "plugin", "content-type": "application/json" },
      ...(body === undefined ? {} : { body }),
    });
  /** Everything a request could have changed, read back through the API. */
  const snapshot = async () => {
    const reads = [
      `/conversation/${sessionId}`,
      `/conversation/${sessionId}/messages`,
      "/people/profiles/1",
      "/settings",
    ];
    const bodies = await Promise.all(reads.map(async (p) => (await call("GET", p)).text()));
    return { bodies, hooks: hooks.length };
  };
  return { sandbox, sessionId, website, call, snapshot };
}

describe("sandbox REST, malformed bodies", () => {
  const cases: Array<{
    what: string;
    method: string;
    path: (s: string) => string;
    body: string;
    field: string;
  }> = [
    {
      what: "a message whose content type is unknown",
      method: "POST",
      path: (s) => `/conversation/${s}/message`,
      body: JSON.stringify({ type: "hologram", from: "operator", origin: "chat", content: "hi" }),
      field: "type",
    },
    {
      what: "a message from nobody",
      method: "POST",
      path: (s) => `/conversation/${s}/message`,
      body: JSON.stringify({ type: "text", origin: "chat", content: "hi" }),
      field: "from",
    },
    {
      what: "a message with a fractional fingerprint",
      method: "POST",
      path: (s) => `/conversation/${s}/message`,
      body: JSON.stringify({
        type: "note",
        from: "operator",
        origin: "chat",
        content: "x",
        fingerprint: 1.5,
      }),
      field: "fingerprint",
    },
    {
      what: "an edit without content",
      method: "PATCH",
      path: (s) => `/conversation/${s}/message/1`,
      body: JSON.stringify({ text: "hi" }),
      field: "content",
    },
    {
      what: "a state Crisp does not have",
      method: "PATCH",
      path: (s) => `/conversation/${s}/state`,
      body: JSON.stringify({ state: "closed" }),
      field: "state",
    },
    {
      what: "an assignment to a number",
      method: "PATCH",
      path: (s) => `/conversation/${s}/routing`,
      body: JSON.stringify({ assigned: { user_id: 42 } }),
      field: "assigned.user_id",
    },
    {
      what: "segments as a string",
      method: "PATCH",
      path: (s) => `/conversation/${s}/meta`,
      body: JSON.stringify({ segments: "vip" }),
      field: "segments",
    },
    {
      what: "meta data as an array",
      method: "PATCH",
      path: (s) => `/conversation/${s}/meta`,
      body: JSON.stringify({ data: ["a"] }),
      field: "data",
    },
    {
      what: "a compose that is neither start nor stop",
      method: "PATCH",
      path: (s) => `/conversation/${s}/compose`,
      body: JSON.stringify({ type: "typing", from: "operator" }),
      field: "type",
    },
    {
      what: "a contact without an email address",
      method: "POST",
      path: () => "/people/profile",
      body: JSON.stringify({ email: "not-an-address", person: { nickname: "Eve" } }),
      field: "email",
    },
  ];

  for (const c of cases) {
    it(`answers ${c.what} with 400 invalid_data naming "${c.field}", and changes nothing`, async () => {
      const { call, sessionId, snapshot } = setup();
      const before = await snapshot();
      const res = await call(c.method, c.path(sessionId), c.body);
      expect(res.status).toBe(400);
      const body = (await res.json()) as {
        error: boolean;
        reason: string;
        data: { fields: string[]; message: string };
      };
      expect(body.error).toBe(true);
      expect(body.reason).toBe("invalid_data");
      expect(body.data.fields).toContain(c.field);
      expect(body.data.message).toContain(`${c.field}:`);
      expect(await snapshot()).toEqual(before);
    });
  }

  it("answers bodies that are not a JSON object with 400, for every write route", async () => {
    const { call, sessionId, snapshot } = setup();
    const before = await snapshot();
    const routes = [
      ["POST", `/conversation/${sessionId}/message`],
      ["PATCH", `/conversation/${sessionId}/state`],
      ["PATCH", `/conversation/${sessionId}/meta`],
      ["PATCH", `/conversation/${sessionId}/compose`],
      ["PATCH", "/settings"],
    ] as const;
    for (const [method, path] of routes) {
      for (const body of ["{not json", "[1,2]", '"text"', "null"]) {
        const res = await call(method, path, body);
        expect(res.status, `${method} ${path} ${body}`).toBe(400);
        const answer = (await res.json()) as { reason: string; data: { message: string } };
        expect(answer.reason).toBe("invalid_data");
        expect(answer.data.message).toMatch(/not a JSON object/);
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it("names a bad page number", async () => {
    const { call } = setup();
    const res = await call("GET", "/conversations/0");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { data: { fields: string[] } }).data.fields).toEqual(["page"]);
  });

  it("quill's Crisp client carries the field Crisp named into its error", async () => {
    const { sandbox, sessionId, website } = setup();
    const crisp = createCrispClient({
      apiUrl: "http://sandbox.test/v1",
      identifier: DEMO_CREDENTIALS.identifier,
      key: DEMO_CREDENTIALS.key,
      tier: "plugin",
      fetch: inProcessFetch(sandbox.app),
      clock: { now: () => Date.now(), sleep: async () => {} },
      timeoutMs: 300,
    });
    const failed = crisp.conversations.setState(website, sessionId, "closed" as "resolved");
    await expect(failed).rejects.toMatchObject({ status: 400, reason: "invalid_data" });
    await expect(failed).rejects.toThrow(/state: /);
  });
});
