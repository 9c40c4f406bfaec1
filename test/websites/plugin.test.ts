import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError, DEFAULT_DISCLOSURE } from "../../src/config.ts";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { websiteCommand } from "../../src/runtime/cli/website.ts";
import { markdownStamp, readMarkdown } from "../../src/runtime/files.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import type { ServiceInputs } from "../../src/services.ts";
import { createStore } from "../../src/store/store.ts";
import { signCrm } from "../../src/sync/signature.ts";
import { sha256Hex } from "../../src/websites.ts";
import { answer, PLUGIN_ENV, setup } from "../drafting/harness.ts";

/** Plugin mode: one quill, two websites, each with its own settings and nothing shared. */

const REAL = PLUGIN_ENV;
const B = "b0b0b0b0-0000-4000-8000-00000000000b";

async function twoWebsites() {
  const harness = await setup(REAL, async (req) =>
    answer({
      text: req.system.includes("at most two short sentences")
        ? "Short answer."
        : "Long answer about returns.",
    }),
  );
  const { sandbox, services } = harness;
  sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
  await services.websites.set(B, {
    name: "Shop B",
    replyMode: "auto",
    autoSendIntents: ["returns"],
    autoSendMinConfidence: 0,
    prompt: "concise",
    rules: "rules:\n  - name: b spam\n    when: { keywords: [casino] }\n    then: { skipDraft: true }\n",
    adminTokenHash: await sha256Hex("token-b"),
  });
  const draftIn = async (websiteId: string, text: string) => {
    const said = sandbox.visitorSays({ websiteId, text });
    await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp, websiteId);
    return { said, outcome: (await harness.runNext()).outcome };
  };
  const login = async (token: string) => {
    // The login form's cookie and signed field (login CSRF), as a browser would post them.
    const form = await services.app.request("/admin/login");
    const _csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? "";
    const res = await services.app.request("/admin/login", {
      method: "POST",
      body: new URLSearchParams({ token, _csrf }),
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        cookie: form.headers.get("set-cookie")?.split(";")[0] ?? "",
      },
    });
    const cookie = res.headers.get("set-cookie")?.split(";")[0] ?? "";
    return (path: string, init: RequestInit = {}) =>
      services.app.request(path, {
        ...init,
        headers: { cookie, ...(init.headers as Record<string, string>) },
      });
  };
  return { ...harness, draftIn, login };
}

describe("plugin mode", () => {
  it("applies each website's own settings to its own conversations only", async () => {
    const { sandbox, services, draftIn } = await twoWebsites();
    const a = await draftIn(DEMO_CREDENTIALS.websiteId, "Can I return shoes? casino");
    const b = await draftIn(B, "Can I return shoes?");
    expect(a.outcome).toEqual({ status: "done", outcome: "note" }); // A: note mode, B's rules do not apply
    expect(b.outcome).toEqual({ status: "done", outcome: "reply" }); // B: auto mode with its prompt
    expect(sandbox.messagesOf(b.said.sessionId).at(-1)?.content).toBe(
      `Short answer.\n\n${DEFAULT_DISCLOSURE}`,
    );
    const [draftB] = await services.store.listDrafts({ websiteId: B });
    expect(draftB?.promptName).toBe("concise");
    expect((await draftIn(B, "play casino now")).outcome).toEqual({
      status: "skipped",
      outcome: "triage: b spam",
    });
  });

  it("a website's dashboard token sees that website only", async () => {
    const { services, draftIn, login } = await twoWebsites();
    await draftIn(DEMO_CREDENTIALS.websiteId, "Where is my parcel?");
    await draftIn(B, "Can I return shoes?");
    const [draftA] = await services.store.listDrafts({ websiteId: DEMO_CREDENTIALS.websiteId });
    const [draftB] = await services.store.listDrafts({ websiteId: B });
    const asB = await login("token-b");
    const list = await (await asB("/admin/drafts")).text();
    expect(list).toContain(draftB?.id);
    expect(list).not.toContain(draftA?.id);
    expect((await asB(`/admin/drafts/${draftA?.id}`)).status).toBe(404);
    expect((await asB(`/admin/drafts/${draftB?.id}`)).status).toBe(200);
    expect((await asB("/admin/websites")).status).toBe(403);
    const page = await (await asB(`/admin/drafts?website=${DEMO_CREDENTIALS.websiteId}`)).text();
    expect(page).not.toContain(draftA?.id); // the filter cannot widen a scoped session

    const asRoot = await login("root-token-of-the-tests");
    const all = await (await asRoot("/admin/drafts")).text();
    expect(all).toContain(draftA?.id);
    expect(all).toContain(draftB?.id);
    expect(await (await asRoot("/admin/websites")).text()).toContain("Shop B");
    expect((await (await login("nope"))("/admin/drafts")).status).toBe(302);
  });

  it("a website's dashboard token sees none of another website's prompts, gaps, jobs or triage", async () => {
    const { services, draftIn, login } = await twoWebsites();
    const A = DEMO_CREDENTIALS.websiteId;
    await services.websites.set(A, {
      rules:
        "rules:\n  - name: zebra fans\n    when: { keywords: [zebra] }\n    then: { addSegments: [zebra-fans] }\n",
    });
    const a = await draftIn(A, "Where is my zebra costume?");
    await draftIn(B, "Can I return shoes?");
    const [draftA] = await services.store.listDrafts({ websiteId: A });
    await services.store.insertFeedback({
      draftId: draftA?.id ?? "",
      websiteId: A,
      sessionId: a.said.sessionId,
      kind: "rejected",
      reason: "wrong",
      sourceKey: "test:1",
    });
    // A job of A's that gave up, with its error.
    const { job } = await services.store.enqueueJob({
      websiteId: A,
      sessionId: "session_of_a_dead_job",
      fingerprint: 1,
      messageAt: Date.now(),
      trigger: "webhook",
      runAfter: Date.now(),
      maxAttempts: 1,
    });
    await services.store.leaseJob(job.id, "t", 60_000);
    await services.store.retryJob(job.id, "t", "crisp exploded for A", Date.now());

    const A_PROMPT = "You are a support assistant drafting replies";
    const pages = async (as: Awaited<ReturnType<typeof login>>) =>
      Promise.all(
        ["/admin/prompts", "/admin/gaps", "/admin/health", "/admin/triage"].map(async (p) =>
          (await as(p)).text(),
        ),
      );
    const [prompts, gaps, health, triage] = await pages(await login("root-token-of-the-tests"));
    // The root session sees A's data: the needles below are real.
    expect(prompts).toContain(A_PROMPT);
    expect(gaps).toContain("zebra costume");
    expect(health).toContain("crisp exploded for A");
    expect(triage).toContain("zebra-fans");

    const [promptsB, gapsB, healthB, triageB] = await pages(await login("token-b"));
    expect(promptsB).toContain("Answer first, in at most two short sentences"); // B's own prompt
    expect(promptsB).not.toContain(A_PROMPT);
    expect(promptsB).not.toContain(draftA?.promptVersion?.slice(0, 8));
    expect(gapsB).not.toContain("zebra");
    expect(healthB).not.toContain("crisp exploded for A");
    expect(healthB).not.toContain("session_of_a_dead_job");
    expect(triageB).not.toContain("zebra");
    expect(triageB).not.toContain(a.said.sessionId);
  });

  it("the dashboard saves a website's settings", async () => {
    const { services, login } = await twoWebsites();
    const asRoot = await login("root-token-of-the-tests");
    const csrf =
      /name="_csrf" value="([^"]+)"/.exec(await (await asRoot("/admin/websites")).text())?.[1] ?? "";
    const res = await asRoot("/admin/websites", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        _csrf: csrf,
        websiteId: B,
        name: "Shop B renamed",
        enabled: "true",
        prompt: "default",
        replyMode: "note",
        autoSendIntents: "returns, shipping",
        linkAllowlist: "b.test",
        crmUrl: "https://crm-b.test/hook",
        crmSecret: "a-long-crm-secret-of-b",
        adminToken: "token-of-website-b2",
      }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/admin/websites?id=${B}`);
    expect(await services.websites.get(B)).toMatchObject({
      name: "Shop B renamed",
      prompt: "default",
      replyMode: "note",
      autoSendIntents: ["returns", "shipping"],
      linkAllowlist: ["b.test"],
      crmUrl: "https://crm-b.test/hook",
      crmSecret: "a-long-crm-secret-of-b",
      adminTokenMac: expect.stringMatching(/^[\w-]{43}$/),
    });
    // Stored as an HMAC under the server secret: neither the token nor its bare SHA-256.
    const stored = JSON.stringify(await services.store.getWebsiteSettings(B));
    expect(stored).not.toContain("token-of-website-b2");
    expect(stored).not.toContain(await sha256Hex("token-of-website-b2"));
    // Fields left empty remove their override (B's rules), the new token opens B's dashboard.
    expect((await services.websites.get(B))?.rules).toBeUndefined();
    expect((await (await login("token-of-website-b2"))("/admin/drafts")).status).toBe(200);
    expect((await (await login("token-b"))("/admin/drafts")).status).toBe(302);
  });

  it("ignores web hooks of websites it does not serve, and polls every served website", async () => {
    const { services } = await twoWebsites();
    const raw = JSON.stringify({
      website_id: "not-ours",
      event: "message:send",
      data: {
        website_id: "not-ours",
        session_id: "session_x",
        type: "text",
        from: "user",
        origin: "chat",
        content: "hi",
        fingerprint: 7,
        timestamp: Date.now(),
      },
      timestamp: Date.now(),
    });
    const ts = String(Date.now());
    const res = await services.app.request("/webhooks/crisp", {
      method: "POST",
      body: raw,
      headers: {
        "content-type": "application/json",
        "x-crisp-request-timestamp": ts,
        "x-crisp-signature": await signWebhook(DEMO_CREDENTIALS.webhookSecret, ts, raw),
      },
    });
    expect(await res.json()).toMatchObject({ data: { action: "ignored: website not served" } });
    expect(await services.store.listJobs({})).toEqual([]);
    expect((await services.poll()).listCalls).toBe(2);
    await services.websites.update(B, { enabled: false });
    expect((await services.poll()).listCalls).toBe(1);
  });

  it("the dashboard refuses invalid settings and keeps what was typed", async () => {
    const { login } = await twoWebsites();
    const asRoot = await login("root-token-of-the-tests");
    const form = await (await asRoot("/admin/websites")).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form)?.[1] ?? "";
    const res = await asRoot("/admin/websites", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        _csrf: csrf,
        websiteId: B,
        name: "Renamed",
        rules: "rules:\n  - name: x\n    then: { nope: 1 }\n",
      }),
    });
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(page).toContain("rules: line 3, column 11: rules.0.then: Unrecognized key: &quot;nope&quot;");
    expect(page).toContain('value="Renamed"');
  });
});

describe("per-website knowledge base and provider", () => {
  const A = DEMO_CREDENTIALS.websiteId;
  const ask = async (harness: Awaited<ReturnType<typeof setup>>, websiteId: string) => {
    const said = harness.sandbox.visitorSays({ websiteId, text: "Can I return my zebra?" });
    await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp, websiteId);
    return (await harness.runNext()).outcome;
  };

  it("a website's kbDir feeds its drafts only, and is read again when a file changes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-kb-b-"));
    writeFileSync(join(dir, "zebras.md"), "# Zebra returns\n\nZebras can be returned within 90 days.\n");
    const harness = await setup(REAL, async () => answer(), { loadKb: readMarkdown, kbStamp: markdownStamp });
    harness.sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
    await harness.services.websites.set(B, { kbDir: dir });
    const knowledge = () =>
      harness.requests
        .at(-1)
        ?.knowledge.map((k) => k.text)
        .join("\n") ?? "";

    await ask(harness, B);
    expect(knowledge()).toContain("within 90 days");
    await ask(harness, A);
    expect(knowledge()).not.toContain("Zebra");

    // An edit shows at the next draft, without a restart.
    writeFileSync(join(dir, "zebras.md"), "# Zebra returns\n\nZebras can be returned within 14 days only.\n");
    await ask(harness, B);
    expect(knowledge()).toContain("within 14 days only");
    // A folder that went away: the default knowledge base stands in, drafting goes on.
    rmSync(dir, { recursive: true });
    expect(await ask(harness, B)).toEqual({ status: "done", outcome: "note" });
    expect(knowledge()).not.toContain("Zebra");
  });

  it.each([
    ["its own provider", { LLM_PROVIDER: "openai", OPENAI_API_KEY: "sk-test-openai-key-123456" }, "offline"],
    ["the default provider", { LLM_PROVIDER: "offline" }, undefined],
  ] as const)(
    "a website on the offline provider (%s) answers from its own folder, edits included",
    async (_, llmEnv, provider) => {
      const dir = mkdtempSync(join(tmpdir(), "quill-kb-b-"));
      const article = (days: string) =>
        writeFileSync(join(dir, "zebras.md"), `# Zebra returns\n\nZebras can be returned within ${days}.\n`);
      article("90 days");
      const env = { ...REAL, ...llmEnv };
      // No scripted LLM: the website's own chain (offline) drafts.
      const inputs = { llm: undefined, loadKb: readMarkdown, kbStamp: markdownStamp };
      const harness = await setup(env, undefined, inputs as unknown as Partial<ServiceInputs>);
      harness.sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
      await harness.services.websites.set(B, { ...(provider ? { provider } : {}), kbDir: dir });
      const latest = async () => (await harness.services.store.listDrafts({ websiteId: B }))[0];

      await ask(harness, B);
      expect(await latest()).toMatchObject({ provider: "offline" });
      expect((await latest())?.text).toContain("within 90 days");
      article("14 days only");
      await ask(harness, B);
      expect((await latest())?.text).toContain("within 14 days only");
    },
  );

  it("without folders to read (Workers), a kbDir is refused", async () => {
    const { services } = await setup(REAL);
    await expect(services.websites.set(B, { kbDir: "kb-b" })).rejects.toThrow(
      /kbDir: this runtime \(Cloudflare Workers\)/,
    );
  });

  it("a website's provider drafts its conversations, the others keep the default", async () => {
    const calls: Array<{ authorization: string | null }> = [];
    let sandboxFetch: typeof fetch = fetch;
    const fetchImpl = ((input: string | URL | Request, init?: RequestInit) => {
      if (String(input).startsWith("https://api.openai.com/")) {
        calls.push({ authorization: new Headers(init?.headers).get("authorization") });
        const content = JSON.stringify({
          reply: "Zebras can be returned within 90 days.",
          confidence: 0.9,
          intent: "returns",
          needs_human: false,
          needs_human_reason: null,
          language: "en",
          citations: [],
        });
        return Promise.resolve(
          Response.json({
            id: "chatcmpl-1",
            object: "chat.completion",
            created: 1,
            model: "gpt-4o-mini-2024-07-18",
            choices: [
              { index: 0, message: { role: "assistant", content, refusal: null }, finish_reason: "stop" },
            ],
            usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
          }),
        );
      }
      return sandboxFetch(input, init);
    }) as typeof fetch;
    const env = { ...REAL, LLM_PROVIDER: "offline", OPENAI_API_KEY: "sk-test-openai-key-123456" };
    // No scripted LLM: the real provider chains, with OpenAI answered by fetchImpl.
    const noScript = { fetch: fetchImpl, llm: undefined } as unknown as Partial<ServiceInputs>;
    const harness = await setup(env, undefined, noScript);
    sandboxFetch = harness.inProcess;
    harness.sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
    await harness.services.websites.set(B, { provider: "openai" });

    await ask(harness, A);
    expect(calls).toEqual([]);
    const [draftA] = await harness.services.store.listDrafts({ websiteId: A });
    expect(draftA?.provider ?? "none").not.toBe("openai");

    expect(await ask(harness, B)).toEqual({ status: "done", outcome: "note" });
    expect(calls).toEqual([{ authorization: "Bearer sk-test-openai-key-123456" }]);
    const [draftB] = await harness.services.store.listDrafts({ websiteId: B });
    expect(draftB).toMatchObject({ provider: "openai", text: "Zebras can be returned within 90 days." });
  });
});

describe("CRM sync per website", () => {
  const A = DEMO_CREDENTIALS.websiteId;
  const C = "c0c0c0c0-0000-4000-8000-00000000000c";
  const SECRET_A = "secret-of-website-a";
  const SECRET_B = "secret-of-website-b";

  async function crmPerWebsite() {
    const received: Array<{ url: string; headers: Headers; body: string }> = [];
    let sandboxFetch: typeof fetch = fetch;
    const fetchImpl = ((input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (url.startsWith("https://crm-")) {
        received.push({ url, headers: new Headers(init?.headers), body: String(init?.body) });
        return Promise.resolve(new Response("", { status: 200 }));
      }
      return sandboxFetch(input, init);
    }) as typeof fetch;
    const env = { ...REAL, CRM_WEBHOOK_URL: "https://crm-a.test/hook", CRM_WEBHOOK_SECRET: SECRET_A };
    const harness = await setup(env, async () => answer(), { fetch: fetchImpl });
    sandboxFetch = harness.inProcess;
    const { sandbox, services } = harness;
    for (const websiteId of [B, C])
      sandbox.state.addWebsite({ websiteId, name: websiteId, domain: `${websiteId}.test` });
    await services.websites.set(B, { crmUrl: "https://crm-b.test/hook", crmSecret: SECRET_B });
    await services.websites.set(C, { name: "Shop C" });
    const draftIn = async (websiteId: string) => {
      const said = sandbox.visitorSays({
        websiteId,
        text: "Can I return shoes?",
        email: `ann@${websiteId}.test`,
      });
      await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp, websiteId);
      await harness.runNext();
    };
    const inbound = async (secret: string, body: Record<string, unknown>) => {
      const raw = JSON.stringify({ add_segments: ["crm"], ...body });
      const timestamp = String(Date.now());
      const res = await services.app.request("/crm/people", {
        method: "POST",
        headers: {
          "x-quill-timestamp": timestamp,
          "x-quill-signature": await signCrm(secret, timestamp, raw),
        },
        body: raw,
      });
      return [res.status, ((await res.json()) as { reason?: string }).reason];
    };
    return { ...harness, received, draftIn, inbound };
  }

  it("sends each website's outcome summaries to its own CRM, signed with its own secret", async () => {
    const { services, received, draftIn, runNext } = await crmPerWebsite();
    await draftIn(A);
    await draftIn(B);
    await draftIn(C);
    const jobs = await services.store.listJobs({ kind: "sync" });
    expect(jobs.map((j) => j.websiteId).sort()).toEqual([A, B].sort()); // C has no CRM: nothing to send
    await runNext();
    await runNext();
    expect(received.map((r) => r.url).sort()).toEqual(["https://crm-a.test/hook", "https://crm-b.test/hook"]);
    for (const { url, headers, body } of received) {
      const website = (JSON.parse(body) as { website_id: string }).website_id;
      expect(url).toBe(website === B ? "https://crm-b.test/hook" : "https://crm-a.test/hook");
      const timestamp = headers.get("x-quill-timestamp") ?? "";
      const secret = website === B ? SECRET_B : SECRET_A;
      expect(headers.get("x-quill-signature")).toBe(await signCrm(secret, timestamp, body));
    }
  });

  it("a website's secret updates that website's profiles only", async () => {
    const { sandbox, inbound } = await crmPerWebsite();
    for (const websiteId of [A, B, C]) sandbox.visitorSays({ websiteId, text: "hi", email: "bo@x.test" });
    const segmentsIn = (websiteId: string) =>
      [...sandbox.state.people.values()].find((p) => p.website_id === websiteId)?.segments;

    expect(await inbound(SECRET_A, { website_id: B, email: "bo@x.test" })).toEqual([401, "unauthenticated"]);
    expect(await inbound(SECRET_B, { email: "bo@x.test" })).toEqual([401, "unauthenticated"]); // A by default
    expect(await inbound(SECRET_B, { website_id: A, email: "bo@x.test" })).toEqual([401, "unauthenticated"]);
    // C has no CRM secret: the same answer as a bad signature, nothing to tell them apart.
    expect(await inbound(SECRET_A, { website_id: C, email: "bo@x.test" })).toEqual([401, "unauthenticated"]);
    expect([segmentsIn(A), segmentsIn(B), segmentsIn(C)]).toEqual([[], [], []]);

    expect((await inbound(SECRET_B, { website_id: B, email: "bo@x.test" }))[0]).toBe(200);
    expect((await inbound(SECRET_A, { email: "bo@x.test" }))[0]).toBe(200);
    expect([segmentsIn(A), segmentsIn(B), segmentsIn(C)]).toEqual([["crm"], ["crm"], []]);
  });

  it("attack: a website cannot aim its CRM hook at quill's network, in any spelling or form", async () => {
    const { services, login } = await twoWebsites();
    for (const crmUrl of [
      "http://169.254.169.254/latest/meta-data/iam/",
      "http://0xa9fea9fe/",
      "http://2130706433/",
      "http://0x7f.1/",
      "http://[::ffff:127.0.0.1]/",
      "http://[fd00:ec2::254]/",
      "http://[fe80::1]/",
      "http://100.100.100.200/",
      "http://metadata.google.internal/",
      "http://localhost:3000/admin",
    ])
      await expect(services.websites.set(B, { crmUrl, crmSecret: SECRET_B }), crmUrl).rejects.toThrow(
        /^crmUrl: .*(address|metadata service).* \(the server's OUTBOUND_ALLOW_PRIVATE=true allows private networks\)$/,
      );
    expect((await services.websites.get(B))?.crmUrl).toBeUndefined();

    // The dashboard form says why and keeps nothing.
    const asRoot = await login("root-token-of-the-tests");
    const csrf =
      /name="_csrf" value="([^"]+)"/.exec(await (await asRoot("/admin/websites")).text())?.[1] ?? "";
    const res = await asRoot("/admin/websites", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        _csrf: csrf,
        websiteId: B,
        crmUrl: "http://10.0.0.1/",
        crmSecret: SECRET_B,
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("crmUrl: 10.0.0.1 is a private (10.0.0.0/8) address");
    expect((await services.websites.get(B))?.crmUrl).toBeUndefined();
  });

  it("OUTBOUND_ALLOW_PRIVATE=true lets a self-hosted CRM on a private network be saved", async () => {
    const { services } = await setup({ ...REAL, OUTBOUND_ALLOW_PRIVATE: "true" });
    await services.websites.set(B, { crmUrl: "http://10.0.0.1:8080/hook", crmSecret: SECRET_B });
    expect((await services.websites.get(B))?.crmUrl).toBe("http://10.0.0.1:8080/hook");
  });

  it("a CRM URL needs a secret, and the secret is never shown", async () => {
    const { services, login } = await twoWebsites();
    await expect(services.websites.set(B, { crmUrl: "https://crm-b.test/hook" })).rejects.toThrow(
      /crmSecret: required with crmUrl/,
    );
    await services.websites.update(B, { crmUrl: "https://crm-b.test/hook", crmSecret: SECRET_B });
    const page = await (await (await login("root-token-of-the-tests"))(`/admin/websites?id=${B}`)).text();
    expect(page).toContain('value="https://crm-b.test/hook"');
    expect(page).not.toContain(SECRET_B);
  });
});

describe("one website without the plugin tier", () => {
  it("refuses to serve a second website, naming CRISP_TIER", async () => {
    const { services } = await setup({ ...REAL, CRISP_TIER: "user" });
    await expect(services.websites.set(B, { name: "Shop B" })).rejects.toThrow(
      /CRISP_TIER=user serves one website .*set CRISP_TIER=plugin to also serve b0b0/,
    );
    // Settings of the one website, and a disabled second one, are fine.
    await services.websites.set(DEMO_CREDENTIALS.websiteId, { replyMode: "auto" });
    await services.websites.set(B, { enabled: false });
    expect(await services.websites.served()).toEqual([DEMO_CREDENTIALS.websiteId]);
  });

  it("will not start when the database already has a second website", async () => {
    const database = openSqlite(":memory:");
    database.migrate();
    await createStore(database.db).setWebsiteSettings(B, { name: "Shop B", enabled: true });
    const start = setup({ ...REAL, CRISP_TIER: "user" }, undefined, { db: database.db });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(/CRISP_TIER=user serves one website .*also serve b0b0/);
    const plugin = await setup(REAL, undefined, { db: database.db });
    expect(await plugin.services.websites.served()).toEqual([DEMO_CREDENTIALS.websiteId, B]);
    database.close();
  });
});

describe("quill website", () => {
  const out: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    out.length = 0;
  });
  it("sets, shows and lists per-website settings, and refuses bad ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-web-"));
    vi.stubEnv("DATABASE_PATH", join(dir, "q.db"));
    vi.spyOn(console, "log").mockImplementation((l: string) => void out.push(l));
    vi.spyOn(console, "error").mockImplementation((l: string) => void out.push(l));
    const rules = join(dir, "rules.yaml");
    writeFileSync(
      rules,
      "rules:\n  - name: vip\n    when: { segments: vip }\n    then: { forceNote: true }\n",
    );
    expect(
      await websiteCommand("set", [
        B,
        "name=Shop B",
        "replyMode=auto",
        "autoSendIntents=returns, shipping",
        `rules=@${rules}`,
        "adminToken=s3cret-token-of-b",
      ]),
    ).toBe(0);
    expect(await websiteCommand("show", [B], { json: true })).toBe(0);
    const shown = JSON.parse(out.at(-1) ?? "{}");
    expect(shown).toMatchObject({
      name: "Shop B",
      replyMode: "auto",
      autoSendIntents: ["returns", "shipping"],
      adminToken: "(set)",
      enabled: true,
    });
    expect(JSON.stringify(shown)).not.toContain("s3cret-token-of-b");
    expect(
      await websiteCommand("set", [B, "crmUrl=https://crm-b.test/hook", "crmSecret=crm-secret-of-b-1234"]),
    ).toBe(0);
    expect(await websiteCommand("show", [B], { json: true })).toBe(0);
    expect(JSON.parse(out.at(-1) ?? "{}")).toMatchObject({
      crmUrl: "https://crm-b.test/hook",
      crmSecret: "(set)",
    });
    // Without --json: one aligned line per setting, secrets as "(set)", rules summarised.
    expect(await websiteCommand("show", [B])).toBe(0);
    const lines = (out.at(-2) ?? "").split("\n");
    expect(lines[0]).toMatch(/^SETTING +VALUE$/);
    expect(lines).toContain("replyMode              auto");
    expect(lines).toContain("autoSendIntents        returns,shipping");
    expect(lines).toContain("rules                  own rules, 4 line(s) (--json prints them)");
    expect(lines).toContain("crmSecret              (set)");
    expect(lines).toContain("kbDir                  -");
    expect(lines.map((l) => l.indexOf(l.split(/ {2,}/)[1] ?? ""))).toEqual(lines.map(() => 23));
    expect(await websiteCommand("list", [])).toBe(0);
    expect(out.at(-1)).toContain("CRM secret");
    expect(out.join("\n")).not.toContain("crm-secret-of-b-1234");
    expect(await websiteCommand("set", [B, "replyMode="])).toBe(0);
    expect(await websiteCommand("list", [])).toBe(0);
    const [header, row] = (out.at(-1) ?? "").split("\n");
    expect(header).toMatch(/^WEBSITE +NAME +ENABLED +REPLY MODE +PROMPT +PROVIDER +ALSO$/);
    expect(row?.split(/ {2,}/)).toEqual([
      B,
      "Shop B",
      "true",
      "-",
      "-",
      "-",
      "auto-send returns,shipping, own rules, CRM https://crm-b.test/hook, CRM secret, dashboard token",
    ]);
    // Columns line up: every cell of the row starts where its header does.
    expect(row?.indexOf("Shop B")).toBe(header?.indexOf("NAME"));
    expect(row?.indexOf("true")).toBe(header?.indexOf("ENABLED"));
    expect(row?.indexOf("auto-send")).toBe(header?.indexOf("ALSO"));
    expect(await websiteCommand("list", [], { json: true })).toBe(0);
    expect(JSON.parse(out.at(-1) ?? "[]")).toEqual([
      { websiteId: B, settings: expect.objectContaining({ name: "Shop B", crmSecret: "(set)" }) },
    ]);
    expect(await websiteCommand("set", [B, "replyMode=sometimes"])).toBe(1);
    expect(out.at(-1)).toMatch(/replyMode: /);
    expect(await websiteCommand("set", [B, "colour=blue"])).toBe(1);
    expect(await websiteCommand("set", [B, "prompt=nonexistent"])).toBe(1);
    expect(out.at(-1)).toMatch(/prompt: no prompt file nonexistent\.md/);
    vi.stubEnv("CRISP_TIER", "user");
    expect(await websiteCommand("set", [B, "name=Shop B2"])).toBe(1);
    expect(out.at(-1)).toMatch(/CRISP_TIER=user serves one website/);
    vi.unstubAllEnvs();
  });
});
