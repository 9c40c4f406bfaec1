import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../src/config.ts";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { websiteCommand } from "../../src/runtime/website-cli.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { createStore } from "../../src/store/store.ts";
import { sha256Hex } from "../../src/websites.ts";
import { answer, setup } from "../drafting/harness.ts";

/** Plugin mode: one quill, two websites, each with its own settings and nothing shared. */

const REAL = {
  CRISP_IDENTIFIER: DEMO_CREDENTIALS.identifier,
  CRISP_KEY: DEMO_CREDENTIALS.key,
  CRISP_WEBSITE_ID: DEMO_CREDENTIALS.websiteId,
  CRISP_WEBHOOK_SECRET: DEMO_CREDENTIALS.webhookSecret,
  ADMIN_TOKEN: "root-token",
  PEOPLE_SYNC: "off",
};
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
    expect(sandbox.messagesOf(b.said.sessionId).at(-1)?.content).toBe("Short answer.");
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

    const asRoot = await login("root-token");
    const all = await (await asRoot("/admin/drafts")).text();
    expect(all).toContain(draftA?.id);
    expect(all).toContain(draftB?.id);
    expect(await (await asRoot("/admin/websites")).text()).toContain("Shop B");
    expect((await (await login("nope"))("/admin/drafts")).status).toBe(302);
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
    const asRoot = await login("root-token");
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
        "adminToken=s3cret",
      ]),
    ).toBe(0);
    expect(await websiteCommand("show", [B])).toBe(0);
    const shown = JSON.parse(out.at(-1) ?? "{}");
    expect(shown).toMatchObject({
      name: "Shop B",
      replyMode: "auto",
      autoSendIntents: ["returns", "shipping"],
      adminToken: "(set)",
      enabled: true,
    });
    expect(JSON.stringify(shown)).not.toContain("s3cret");
    expect(await websiteCommand("set", [B, "replyMode="])).toBe(0);
    expect(await websiteCommand("list", [])).toBe(0);
    expect(out.at(-1)).toMatch(
      new RegExp(`^${B}  \\{"name":"Shop B",.*\\}  \\(own rules, dashboard token\\)$`),
    );
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
