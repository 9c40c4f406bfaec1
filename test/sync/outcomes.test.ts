import nock from "nock";
import { describe, expect, it } from "vitest";
import { signCrm } from "../../src/sync/signature.ts";
import { answer, setup } from "../drafting/harness.ts";

/** Draft outcomes echoed to the visitor's Crisp profile and to the team's CRM, as retried sync jobs. */

const CRM_URL = "https://crm.test/hooks/quill";
const SECRET = "crm-shared-secret";

/** Routes the CRM's URL to a scripted handler and everything else to the sandbox. */
function withCrm(statuses: number[]) {
  const received: Array<{ headers: Headers; body: string }> = [];
  let sandboxFetch: typeof fetch = fetch;
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    if (String(input).startsWith(CRM_URL)) {
      received.push({ headers: new Headers(init?.headers), body: String(init?.body) });
      return new Response("", { status: statuses.shift() ?? 200 });
    }
    return sandboxFetch(input, init);
  }) as typeof fetch;
  return { received, fetchImpl, route: (f: typeof fetch) => (sandboxFetch = f) };
}

async function drafted(env: Record<string, string>, extra = {}) {
  const harness = await setup(env, async () => answer({ intent: "returns", language: "en" }), extra);
  const said = harness.sandbox.visitorSays({ text: "Can I return shoes?", email: "ann@example.com" });
  await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
  expect((await harness.runNext()).outcome).toEqual({ status: "done", outcome: "note" });
  const peopleId = harness.sandbox.state.conversations.get(said.sessionId)?.people_id as string;
  return { ...harness, said, peopleId };
}

const syncJobs = async (services: Awaited<ReturnType<typeof setup>>["services"]) =>
  services.store.listJobs({ kind: "sync" });

describe("people events", () => {
  it("adds quill:draft_posted to the visitor's profile, and the last intent with PEOPLE_SYNC=profile", async () => {
    const { sandbox, services, runNext, peopleId } = await drafted({ PEOPLE_SYNC: "profile" });
    const [job] = await syncJobs(services);
    expect(job).toMatchObject({ status: "queued", trigger: "outcome" });
    expect((await runNext()).outcome).toEqual({
      status: "done",
      outcome: `people: quill:draft_posted on ${peopleId}`,
    });
    const [event] = sandbox.state.peopleEvents.get(peopleId) ?? [];
    expect(event).toMatchObject({
      text: "quill:draft_posted",
      data: { intent: "returns", mode: "note", language: "en" },
    });
    expect(sandbox.state.peopleData.get(peopleId)).toEqual({
      quill_last_intent: "returns",
      quill_language: "en",
    });

    // Feedback is echoed too, once even if recorded twice.
    const [draft] = await services.store.listDrafts({});
    const rejection = {
      draftId: draft?.id ?? "",
      websiteId: sandbox.website.website_id,
      sessionId: draft?.sessionId ?? "",
    };
    await services.store.insertFeedback({
      ...rejection,
      kind: "rejected",
      reason: "wrong",
      sourceKey: "cmd:1",
    });
    await services.store.insertFeedback({
      ...rejection,
      kind: "rejected",
      reason: "wrong",
      sourceKey: "cmd:1",
    });
    expect((await syncJobs(services)).filter((j) => j.status === "queued")).toHaveLength(1);
    const before = sandbox.requests.length;
    await runNext();
    expect(sandbox.state.peopleEvents.get(peopleId)?.[0]?.text).toBe("quill:draft_rejected");
    // The profile the draft recorded names the visitor: the event is the only Crisp call.
    expect(sandbox.requests.slice(before).map((r) => r.method)).toEqual(["POST"]);
  });

  it("in auto mode, a sent reply writes the last intent and language too", async () => {
    const harness = await setup(
      {
        PEOPLE_SYNC: "profile",
        REPLY_MODE: "auto",
        AUTO_SEND_INTENTS: "returns",
        AUTO_SEND_MIN_CONFIDENCE: "0",
      },
      async () => answer({ intent: "returns", language: "fr" }),
    );
    const said = harness.sandbox.visitorSays({ text: "Puis-je rendre ?", email: "zoe@example.com" });
    await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    expect((await harness.runNext()).outcome).toEqual({ status: "done", outcome: "reply" });
    const peopleId = harness.sandbox.state.conversations.get(said.sessionId)?.people_id as string;
    expect((await harness.runNext()).outcome).toEqual({
      status: "done",
      outcome: `people: quill:draft_sent on ${peopleId}`,
    });
    expect(harness.sandbox.state.peopleData.get(peopleId)).toEqual({
      quill_last_intent: "returns",
      quill_language: "fr",
    });
  });

  it("a Crisp failure is retried later and never touches the draft; PEOPLE_SYNC=off sends nothing", async () => {
    const { sandbox, services, peopleId } = await drafted({ CRISP_MAX_RETRIES: "0" });
    sandbox.faults.script.push({ method: "POST", path: "/people/events", fault: "500", times: 1 });
    const [job] = await syncJobs(services);
    const leased = await services.store.leaseJob(job?.id ?? "", "t", 60_000);
    if (!leased) throw new Error("no job");
    expect((await services.pipeline.run(leased, "t", new AbortController().signal)).status).toBe("retry");
    const after = await services.store.getJob(leased.id);
    expect(after).toMatchObject({ status: "queued", attempts: 1 });
    expect(after?.lastError).toMatch(/500/);
    expect((await services.store.listDrafts({}))[0]?.status).toBe("posted");
    const again = await services.store.leaseJob(leased.id, "t", 60_000);
    if (!again) throw new Error("no job");
    expect((await services.pipeline.run(again, "t", new AbortController().signal)).status).toBe("done");
    expect(sandbox.state.peopleEvents.get(peopleId)).toHaveLength(1);

    const off = await drafted({ PEOPLE_SYNC: "off" });
    expect(await syncJobs(off.services)).toEqual([]);
  });
});

describe("CRM web hooks", () => {
  it("posts a signed outcome summary, retries a failing CRM with backoff, and records the outcome", async () => {
    const crm = withCrm([503, 200]);
    const env = { PEOPLE_SYNC: "off", CRM_WEBHOOK_URL: CRM_URL, CRM_WEBHOOK_SECRET: SECRET };
    const harness = await setup(env, async () => answer(), { fetch: crm.fetchImpl });
    crm.route(harness.inProcess);
    const said = harness.sandbox.visitorSays({ text: "Can I return shoes?" });
    await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    await harness.runNext();
    const [job] = await syncJobs(harness.services);
    const run = async () => {
      const leased = await harness.services.store.leaseJob(job?.id ?? "", "t", 60_000);
      if (!leased) throw new Error("no job");
      return harness.services.pipeline.run(leased, "t", new AbortController().signal);
    };
    expect(await run()).toEqual({ status: "retry", error: `crm: ${CRM_URL} answered 503` });
    const retried = await harness.services.store.getJob(job?.id ?? "");
    expect(retried?.runAfter).toBeGreaterThan(Date.now() + 1_000); // backoff, not a hot loop
    expect(await run()).toEqual({ status: "done", outcome: "crm: 200" });

    expect(crm.received).toHaveLength(2);
    const { headers, body } = crm.received[1] as { headers: Headers; body: string };
    const timestamp = headers.get("x-quill-timestamp") ?? "";
    expect(headers.get("x-quill-signature")).toBe(await signCrm(SECRET, timestamp, body));
    expect(headers.get("x-quill-delivery")).toBe(job?.id);
    expect(JSON.parse(body)).toMatchObject({
      type: "quill.outcome",
      outcome: "draft_posted",
      session_id: said.sessionId,
      draft: { intent: "returns", mode: "note", text: answer().text },
      feedback: null,
    });
  });

  /** A draft in a harness whose CRM is `url`; `run` leases and runs its CRM sync job. */
  async function crmJob(
    env: Record<string, string>,
    extra: Parameters<typeof setup>[2] = {},
    before?: (harness: Awaited<ReturnType<typeof setup>>) => Promise<void>,
  ) {
    const harness = await setup(
      { PEOPLE_SYNC: "off", CRM_WEBHOOK_SECRET: SECRET, ...env },
      async () => answer(),
      extra,
    );
    await before?.(harness);
    const said = harness.sandbox.visitorSays({ text: "Can I return shoes?" });
    await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    await harness.runNext();
    const [job] = await syncJobs(harness.services);
    const run = async () => {
      const leased = await harness.services.store.leaseJob(job?.id ?? "", "t", 60_000);
      if (!leased) throw new Error("no job");
      return harness.services.pipeline.run(leased, "t", new AbortController().signal);
    };
    return { ...harness, job, run };
  }

  it("attack: a CRM name resolving to the metadata service fails the job at once, nothing sent", async () => {
    let sent = 0;
    const { run, job, services } = await crmJob(
      { CRM_WEBHOOK_URL: "https://crm.evil.test/hook" },
      {
        resolveHost: async () => ["169.254.169.254"],
        outboundFetch: (async () => {
          sent++;
          return new Response("");
        }) as typeof fetch,
      },
    );
    const outcome = await run();
    expect(outcome).toEqual({
      status: "failed",
      error:
        "crm: refused https://crm.evil.test/hook: crm.evil.test resolves to 169.254.169.254, a link-local / cloud metadata (169.254.0.0/16) address",
    });
    expect(await services.store.getJob(job?.id ?? "")).toMatchObject({ status: "failed", attempts: 1 });
    expect(sent).toBe(0);
  });

  it("attack: a crmUrl stored before the rule (127.0.0.1 as 0x7f.1) is refused at send time", async () => {
    let sent = 0;
    const { run } = await crmJob(
      { CRM_WEBHOOK_URL: CRM_URL },
      {
        outboundFetch: (async () => {
          sent++;
          return new Response("");
        }) as typeof fetch,
      },
      // Written straight to the store, as an older quill (or a hand-edited row) would have.
      ({ services, sandbox }) =>
        services.store.setWebsiteSettings(sandbox.website.website_id, {
          crmUrl: "http://0x7f.1:8080/admin",
          crmSecret: "crm-secret-of-old-row-1",
        }),
    );
    expect(await run()).toEqual({
      status: "failed",
      error: "crm: refused http://0x7f.1:8080/admin: 127.0.0.1:8080 is a loopback (127.0.0.0/8) address",
    });
    expect(sent).toBe(0);
  });

  it("attack: a CRM answering 302 to 127.0.0.1 is a failed delivery, retried, never followed", async () => {
    const crm = nock("https://crm.test")
      .post("/hooks/quill")
      .times(2)
      .reply(302, "", { location: "http://127.0.0.1:9/internal" });
    const internal = nock("http://127.0.0.1:9").post("/internal").reply(200);
    const { run, job, services } = await crmJob(
      { CRM_WEBHOOK_URL: CRM_URL },
      { outboundFetch: globalThis.fetch, resolveHost: async () => ["93.184.216.34"] },
    );
    const reason = `${CRM_URL} answered 302 to http://127.0.0.1:9/internal: redirects are never followed`;
    expect(await run()).toEqual({ status: "retry", error: reason });
    expect(await services.store.getJob(job?.id ?? "")).toMatchObject({ status: "queued", lastError: reason });
    expect(await run()).toEqual({ status: "retry", error: reason });
    expect(crm.isDone()).toBe(true);
    expect(internal.isDone()).toBe(false);
    nock.cleanAll();
  });

  it("refuses a private CRM_WEBHOOK_URL at start, naming the variable; OUTBOUND_ALLOW_PRIVATE allows it", async () => {
    for (const url of [
      "http://127.0.0.1:9000/crm",
      "http://2130706433/",
      "http://[::ffff:10.0.0.1]/",
      "http://localhost/",
    ])
      await expect(setup({ CRM_WEBHOOK_URL: url, CRM_WEBHOOK_SECRET: SECRET })).rejects.toThrow(
        /CRM_WEBHOOK_URL: .* \(set OUTBOUND_ALLOW_PRIVATE=true for a CRM on a private network\)/,
      );
    let sent = "";
    const { run } = await crmJob(
      { CRM_WEBHOOK_URL: "http://10.0.0.7:8080/crm", OUTBOUND_ALLOW_PRIVATE: "true" },
      {
        resolveHost: async () => {
          throw new Error("not asked when private addresses are allowed");
        },
        outboundFetch: (async (url: string) => {
          sent = url;
          return new Response("");
        }) as typeof fetch,
      },
    );
    expect(await run()).toEqual({ status: "done", outcome: "crm: 200" });
    expect(sent).toBe("http://10.0.0.7:8080/crm");
  });

  it("requires a secret with the URL", async () => {
    await expect(setup({ CRM_WEBHOOK_URL: CRM_URL })).rejects.toThrow(/CRM_WEBHOOK_SECRET: required/);
  });
});

describe("POST /crm/people", () => {
  async function inbound() {
    const harness = await setup({ CRM_WEBHOOK_SECRET: SECRET });
    harness.sandbox.visitorSays({ text: "hi", email: "bo@example.com" });
    const post = async (body: unknown, opts: { secret?: string; timestamp?: number } = {}) => {
      const raw = JSON.stringify(body);
      const timestamp = String(opts.timestamp ?? Date.now());
      return harness.services.app.request("/crm/people", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-quill-timestamp": timestamp,
          "x-quill-signature": await signCrm(opts.secret ?? SECRET, timestamp, raw),
        },
        body: raw,
      });
    };
    return { ...harness, post };
  }

  it("updates a visitor's segments and data from the CRM", async () => {
    const { sandbox, post } = await inbound();
    const response = await post({
      email: "BO@example.com",
      add_segments: ["customer", "gold"],
      data: { plan: "pro", seats: 12 },
    });
    expect(response.status).toBe(200);
    const { people_id } = (await response.json()) as { people_id: string };
    expect(sandbox.state.people.get(people_id)?.segments).toEqual(["customer", "gold"]);
    expect(sandbox.state.peopleData.get(people_id)).toEqual({ plan: "pro", seats: 12 });
    await post({ people_id, remove_segments: ["gold"] });
    expect(sandbox.state.people.get(people_id)?.segments).toEqual(["customer"]);
  });

  it("refuses bad signatures, stale timestamps, invalid bodies, unknown visitors and other websites", async () => {
    const { post } = await inbound();
    const reason = async (r: Response) => [r.status, ((await r.json()) as { reason: string }).reason];
    expect(
      await reason(await post({ email: "bo@example.com", data: { a: 1 } }, { secret: "wrong" })),
    ).toEqual([401, "unauthenticated"]);
    expect(
      await reason(
        await post({ email: "bo@example.com", data: { a: 1 } }, { timestamp: Date.now() - 3_600_000 }),
      ),
    ).toEqual([401, "unauthenticated"]);
    expect(await reason(await post({ email: "bo@example.com" }))).toEqual([
      400,
      "body: nothing to update (add_segments, remove_segments or data)",
    ]);
    expect(await reason(await post({ data: { a: 1 } }))).toEqual([
      400,
      "body: people_id or email is required",
    ]);
    expect(await reason(await post({ email: "nobody@example.com", data: { a: 1 } }))).toEqual([
      404,
      "no Crisp profile with email nobody@example.com",
    ]);
    expect(
      await reason(await post({ website_id: "someone-else", email: "bo@example.com", data: { a: 1 } })),
    ).toEqual([401, "unauthenticated"]);
  });

  /** One signed request, kept so the attacker can send it again, changed or not. */
  async function captured(body: Record<string, unknown>) {
    const harness = await setup({ CRM_WEBHOOK_SECRET: SECRET, CRISP_MAX_RETRIES: "0" });
    harness.sandbox.visitorSays({ text: "hi", email: "bo@example.com" });
    const raw = JSON.stringify(body);
    const timestamp = String(Date.now());
    const signature = await signCrm(SECRET, timestamp, raw);
    const send = (over: { raw?: string; timestamp?: string; signature?: string } = {}) =>
      harness.services.app.request("/crm/people", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-quill-timestamp": over.timestamp ?? timestamp,
          "x-quill-signature": over.signature ?? signature,
        },
        body: over.raw ?? raw,
      });
    const profile = () =>
      [...harness.sandbox.state.people.values()].find((p) => p.email === "bo@example.com");
    return { ...harness, raw, timestamp, signature, send, profile };
  }

  it("attack: a replayed request answers 409 and changes nothing; changed copies are unauthenticated", async () => {
    const { send, raw, timestamp, signature, profile, sandbox } = await captured({
      email: "bo@example.com",
      add_segments: ["vip"],
    });
    expect((await send()).status).toBe(200);
    const peopleId = profile()?.people_id as string;
    sandbox.state.people.set(peopleId, { ...(profile() as object), segments: [] } as never); // an operator removes it

    const replay = await send();
    expect(replay.status).toBe(409);
    expect(await replay.json()).toEqual({
      error: true,
      reason: "replayed request: this signature was used already",
    });
    // Header whitespace is not part of the value: still the same request.
    expect((await send({ signature: ` ${signature} ` })).status).toBe(409);
    // The attacker's next tries: the same request spelled differently. None is a new request.
    const tries = [
      { signature: signature.toUpperCase() },
      { signature: signature.replace("v1=", "V1=") },
      { raw: raw.replace('"email"', '"EMAIL"') },
      { raw: raw.replace("bo@example.com", "BO@example.com") },
      { raw: JSON.stringify(JSON.parse(raw), null, 1) },
      { raw: `${raw}\n` },
      { raw: raw.replace("}", ',"website_id":"someone-else"}') },
      { timestamp: `0${timestamp}` },
      { timestamp: `${timestamp}.0` },
      { timestamp: String(Number(timestamp) + 1) },
    ];
    for (const change of tries) {
      const res = await send(change);
      expect(res.status, JSON.stringify(change)).toBe(401);
      expect(await res.json()).toEqual({ error: true, reason: "unauthenticated" });
    }
    expect(sandbox.state.people.get(peopleId)?.segments).toEqual([]);
  });

  it("attack: two copies racing each other apply once", async () => {
    const { send } = await captured({ email: "bo@example.com", data: { plan: "pro" } });
    const statuses = (await Promise.all([send(), send(), send()])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409, 409]);
  });

  it("a request Crisp failed (502) may be sent again: nothing was applied", async () => {
    const { send, sandbox, profile } = await captured({ email: "bo@example.com", data: { plan: "pro" } });
    sandbox.faults.script.push({ method: "PATCH", path: "/people/data", fault: "500", times: 1 });
    expect((await send()).status).toBe(502);
    expect((await send()).status).toBe(200);
    expect(sandbox.state.peopleData.get(profile()?.people_id as string)).toEqual({ plan: "pro" });
    expect((await send()).status).toBe(409);
  });

  it("answers every unauthenticated request with the same 401, whatever is wrong", async () => {
    const harness = await setup({ CRM_WEBHOOK_SECRET: SECRET, CRISP_TIER: "plugin" });
    const withoutSecret = "c0c0c0c0-0000-4000-8000-00000000000c";
    await harness.services.websites.set(withoutSecret, { name: "no CRM" });
    const request = async (body: Record<string, unknown>, headers: Record<string, string>) => {
      const res = await harness.services.app.request("/crm/people", {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      });
      return [res.status, [...res.headers].sort().join("|"), await res.text()];
    };
    const update = { email: "bo@example.com", data: { a: 1 } };
    const now = String(Date.now());
    const sign = (body: unknown, secret = SECRET, ts = now) => signCrm(secret, ts, JSON.stringify(body));
    const answers = [
      await request(update, { "x-quill-timestamp": now, "x-quill-signature": "v1=00" }), // bad signature
      await request(update, {
        "x-quill-timestamp": now,
        "x-quill-signature": await sign(update, "not-the-secret"),
      }),
      await request(update, { "x-quill-signature": await sign(update) }), // no timestamp
      await request(update, {
        "x-quill-timestamp": "1",
        "x-quill-signature": await sign(update, SECRET, "1"),
      }), // stale
      await request(update, {
        "x-quill-timestamp": "soon",
        "x-quill-signature": await sign(update, SECRET, "soon"),
      }),
      // Unknown website, and a served website without a CRM secret, signed with the secret of the default one.
      await request(
        { ...update, website_id: "unknown-website" },
        {
          "x-quill-timestamp": now,
          "x-quill-signature": await sign({ ...update, website_id: "unknown-website" }),
        },
      ),
      await request(
        { ...update, website_id: withoutSecret },
        {
          "x-quill-timestamp": now,
          "x-quill-signature": await sign({ ...update, website_id: withoutSecret }),
        },
      ),
    ];
    expect(answers[0]).toEqual([401, expect.any(String), '{"error":true,"reason":"unauthenticated"}']);
    for (const answer of answers) expect(answer).toEqual(answers[0]);
  });
});
