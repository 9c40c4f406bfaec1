import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { dailyAcceptance, groupStats, wordDiff } from "../../src/http/admin/stats.ts";
import { silentLogger } from "../../src/log.ts";
import { visitorEmailHash } from "../../src/privacy.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { buildServices, type ServiceInputs } from "../../src/services.ts";
import { percentile, wilson } from "../../src/stats.ts";
import type { Store } from "../../src/store/store.ts";
import { setup } from "../drafting/harness.ts";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

const REAL = {
  CRISP_IDENTIFIER: "id",
  CRISP_KEY: "key",
  CRISP_WEBSITE_ID: "w1",
  CRISP_WEBHOOK_SECRET: "hook-secret-of-the-tests",
  CRISP_API_URL: "http://crisp.invalid/v1",
};

async function services(env: Record<string, string>) {
  const database = openSqlite(":memory:");
  database.migrate();
  closers.push(database.close);
  const built = await buildServices({
    config: loadConfig({ DATABASE_PATH: ":memory:", PEOPLE_SYNC: "off", ...env }),
    db: database.db,
    clock: systemClock,
    log: silentLogger,
    kbFiles: [],
    promptFiles: [
      {
        name: "default.md",
        content: readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8"),
      },
    ],
  });
  const { store } = built;
  const { job } = await store.enqueueJob({
    websiteId: "w1",
    sessionId: "s1",
    fingerprint: 1,
    messageAt: 1,
    trigger: "webhook",
    runAfter: 0,
  });
  const draft = await store.insertDraft({
    jobId: job.id,
    websiteId: "w1",
    sessionId: "s1",
    customerFingerprint: 1,
    text: "Your parcel ships today from Lyon.",
    mode: "note",
    status: "posted",
    promptName: "default",
    promptVersion: built.template.version,
    latency: { llm: 800, total: 950 },
    postedAt: Date.now(),
  });
  await store.upsertPromptVersion({
    hash: built.template.version,
    name: "default",
    body: built.template.source,
  });
  await store.insertFeedback({
    draftId: draft.id,
    websiteId: "w1",
    sessionId: "s1",
    kind: "edited",
    finalText: "Your parcel ships tomorrow from Lyon.",
    similarity: 0.8,
    operatorName: "Grace",
  });
  return { ...built, draft };
}

let seq = 100;
/** Another draft of its own conversation in w1; `createdAt` is set after the insert. */
async function addDraft(
  store: Store,
  d: Partial<Parameters<Store["insertDraft"]>[0]> & { text: string; createdAt?: number },
) {
  const n = ++seq;
  const { createdAt, ...fields } = d;
  const sessionId = d.sessionId ?? `s${n}`;
  const { job } = await store.enqueueJob({
    websiteId: "w1",
    sessionId,
    fingerprint: n,
    messageAt: n,
    trigger: "webhook",
    runAfter: 0,
  });
  const draft = await store.insertDraft({
    jobId: job.id,
    websiteId: "w1",
    sessionId,
    customerFingerprint: n,
    mode: "note",
    status: "posted",
    ...fields,
  });
  if (createdAt !== undefined) await store.updateDraft(draft.id, { createdAt });
  return draft;
}

const context = (query: string) => ({
  transcript: `Customer: ${query}`,
  query,
  language: "en",
  visitor: { name: "", email: "", segments: [], data: {} },
});

/** GETs the login page like a browser: its cookie and the form's signed field, ready to post. */
async function loginForm(app: {
  request: (url: string, init?: RequestInit) => Response | Promise<Response>;
}) {
  const page = await app.request("/admin/login");
  const cookie = page.headers.get("set-cookie")?.split(";")[0] ?? "";
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
  const form = (token: string) => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    body: new URLSearchParams({ token, _csrf: csrf }).toString(),
  });
  return { cookie, csrf, form };
}

const request =
  (app: { request: (url: string, init?: RequestInit) => Response | Promise<Response> }, cookie?: string) =>
  (url: string, init: RequestInit = {}) =>
    app.request(url, {
      ...init,
      headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string>) },
    });

describe("admin dashboard", () => {
  it("needs a login with ADMIN_TOKEN, issues an HttpOnly SameSite cookie, and rejects a wrong token", async () => {
    const { app } = await services({ ...REAL, ADMIN_TOKEN: "let-me-in-admin-token" });
    const anonymous = await app.request("/admin/drafts");
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get("location")).toBe("/admin/login");

    const { form } = await loginForm(app);
    expect((await app.request("/admin/login", form("nope"))).status).toBe(401);
    const ok = await app.request("/admin/login", form("let-me-in-admin-token"));
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/quill_session=[^;]+;/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    const page = await app.request("/admin/drafts", { headers: { cookie: cookie.split(";")[0] ?? "" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Your parcel ships today from Lyon.");
    const forged = await app.request("/admin/drafts", { headers: { cookie: `${cookie.split(";")[0]}x` } });
    expect(forged.status).toBe(302);
  });

  it("refuses a login post without the token signed from the login form's cookie (login CSRF)", async () => {
    const { app } = await services({ ...REAL, ADMIN_TOKEN: "let-me-in-admin-token" });
    const page = await app.request("/admin/login");
    const set = page.headers.get("set-cookie") ?? "";
    expect(set).toMatch(/^quill_login=[^;]+;.*HttpOnly/);
    expect(set).toContain("SameSite=Strict");
    const { csrf, cookie, form } = await loginForm(app);
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      app.request("/admin/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams(body).toString(),
      });
    // A cross-site form has the right token but neither the cookie nor a field signed from it.
    const forged = [
      await post({ token: "let-me-in-admin-token" }),
      await post({ token: "let-me-in-admin-token", _csrf: csrf }),
      await post({ token: "let-me-in-admin-token", _csrf: "forged" }, { cookie }),
      await post({ token: "let-me-in-admin-token", _csrf: csrf }, { cookie: "quill_login=attacker-chosen" }),
    ];
    for (const res of forged) {
      expect(res.status).toBe(403);
      expect(res.headers.get("set-cookie")).not.toContain("quill_session");
      expect(await res.text()).toContain("The login form expired or came from another site");
    }
    expect((await app.request("/admin/login", form("let-me-in-admin-token"))).status).toBe(303);
  });

  it("is closed outside demo mode when no token is set, and open in demo mode", async () => {
    expect((await (await services(REAL)).app.request("/admin/drafts")).status).toBe(503);
    expect((await (await services({})).app.request("/admin/drafts")).status).toBe(200);
  });

  it("refuses a form post without the session's CSRF token", async () => {
    const { app, draft } = await services({});
    const get = request(app);
    const post = (body: Record<string, string>) =>
      get(`/admin/drafts/${draft.id}/reject`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(body).toString(),
      });
    expect((await post({ reason: "wrong" })).status).toBe(403);
    expect((await post({ reason: "wrong", _csrf: "forged" })).status).toBe(403);
    const html = await (await get(`/admin/drafts/${draft.id}`)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
    const accepted = await post({ reason: "wrong", _csrf: csrf });
    expect(accepted.status).toBe(303);
    expect(decodeURIComponent(accepted.headers.get("location") ?? "")).toContain("flash=rejected");
  });

  it("erases a visitor by email from the privacy page, only with the session's CSRF token and a confirmation", async () => {
    const { app, store, draft } = await services({});
    await store.linkVisitor("w1", "s1", { emailHash: await visitorEmailHash("grace@example.org") });
    const kept = await addDraft(store, { text: "Another visitor's draft" });
    const get = request(app);
    const html = await (await get("/admin/privacy")).text();
    expect(html).toContain('action="/admin/privacy/erase"');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
    const post = (body: Record<string, string>) =>
      get("/admin/privacy/erase", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(body).toString(),
      });
    expect((await post({ email: "grace@example.org", confirm: "yes", _csrf: "forged" })).status).toBe(403);
    const unconfirmed = await post({ email: "grace@example.org", _csrf: csrf });
    expect(unconfirmed.status).toBe(400);
    expect(await unconfirmed.text()).toContain("Tick the box");
    expect(await store.getDraft(draft.id)).toBeDefined();

    const done = await post({ email: " Grace@Example.org ", confirm: "yes", _csrf: csrf });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("Erased 1 conversation(s) of Grace@Example.org: 1 conversations");
    expect(await store.getDraft(draft.id)).toBeUndefined();
    expect(await store.feedbackForDraft(draft.id)).toEqual([]);
    expect(await store.listJobs({ sessionId: "s1" })).toEqual([]);
    expect(await store.getDraft(kept.id)).toBeDefined();
    const again = await post({ email: "grace@example.org", confirm: "yes", _csrf: csrf });
    expect(await again.text()).toContain("nothing to erase");
  });

  it("shows a draft with the operator's edit as a diff, costs and latencies; filters the list", async () => {
    const { app, draft } = await services({});
    const html = await (await app.request(`/admin/drafts/${draft.id}`)).text();
    expect(html).toContain("<del>today</del>");
    expect(html).toContain("<ins>tomorrow</ins>");
    expect(html).toContain("llm 800 ms · total 950 ms");
    expect(html).toContain("edited</strong> by Grace · similarity 0.80");
    const filtered = await (await app.request("/admin/drafts?outcome=approved")).text();
    expect(filtered).toContain("No drafts match.");
    const edited = await (await app.request("/admin/drafts?outcome=edited")).text();
    expect(edited).toContain("Your parcel ships today from Lyon.");
    const searched = await (await app.request("/admin/drafts?q=Lyon")).text();
    expect(searched).toContain("Your parcel ships today from Lyon.");
  });

  it("searches the draft and the customer's question, with % and _ taken literally", async () => {
    const { app, store } = await services({});
    await addDraft(store, { text: "A 50% discount for students." });
    await addDraft(store, { text: "We shipped 500 parcels and 50 boxes." });
    await addDraft(store, { text: "Yes, we do.", context: context("Do you ship to Iceland?") });
    const search = async (q: string) =>
      (await (await app.request(`/admin/drafts?q=${encodeURIComponent(q)}`)).text()).match(
        /<td class="text">.*?<\/a>/g,
      );
    expect(await search("50%")).toEqual([expect.stringContaining("A 50% discount for students.")]);
    expect(await search("0_b")).toBeNull();
    expect(await search("iceland")).toEqual([expect.stringContaining("Yes, we do.")]);
  });

  it("filters drafts by status, date and prompt version", async () => {
    const { app, store } = await services({});
    await addDraft(store, { text: "Rejected one.", status: "rejected" });
    await addDraft(store, { text: "From January.", createdAt: Date.parse("2026-01-15T10:00:00Z") });
    await addDraft(store, { text: "From version two.", promptVersion: "beef0002cafe" });
    const shown = async (query: string) =>
      [
        ...(await (await app.request(`/admin/drafts?${query}`)).text()).matchAll(
          /<td class="text"><a [^>]*>([^<]*)</g,
        ),
      ]
        .map((m) => m[1])
        .sort();
    expect(await shown("status=rejected")).toEqual(["Rejected one."]);
    expect(await shown("status=posted")).toEqual([
      "From January.",
      "From version two.",
      "Your parcel ships today from Lyon.",
    ]);
    expect(await shown("from=2026-01-15&to=2026-01-15")).toEqual(["From January."]);
    expect(await shown("to=2026-01-14")).toEqual([]);
    expect(await shown("from=2026-01-16")).not.toContain("From January.");
    expect(await shown("version=beef0002cafe")).toEqual(["From version two."]);
    expect(await shown("version=beef0002cafe&status=rejected")).toEqual([]);
  });

  it("compares A/B variants with counts and a 95% interval on acceptance", async () => {
    const { app, store } = await services({});
    const decide = async (variant: string, kind: Parameters<Store["insertFeedback"]>[0]["kind"] | null) => {
      const d = await addDraft(store, { text: `variant ${variant}`, variant });
      if (kind) await store.insertFeedback({ draftId: d.id, websiteId: "w1", sessionId: d.sessionId, kind });
    };
    for (const kind of ["approved", "approved", "sent_as_is", "rejected"] as const) await decide("a", kind);
    await decide("b", "edited");
    await decide("b", null);
    const html = await (await app.request("/admin/prompts")).text();
    const table = html.slice(html.indexOf("<h2>A/B variants</h2>"));
    expect(table).toContain('<th scope="col">Accepted (95% CI)</th>');
    // a: 4 drafts, 4 decided, 3 accepted; b: 2 drafts, 1 decided (edited), none accepted
    expect(table).toContain("<td>a</td><td>4</td><td>4</td><td>75.0% (30.1%–95.4%)</td>");
    expect(table).toContain("<td>b</td><td>2</td><td>1</td><td>0.0% (0.0%–79.3%)</td>");
  });

  it("summarises prompt versions and shows health", async () => {
    const { app, template } = await services({});
    const prompts = await (await app.request("/admin/prompts")).text();
    expect(prompts).toContain(`default ${template.version.slice(0, 8)}`);
    expect(prompts).toContain("<svg");
    // one decided draft, edited: 0% accepted, its similarity, p50 from the recorded total
    expect(prompts).toMatch(/<td>1<\/td><td>1<\/td><td>0\.0%/);
    expect(prompts).toContain("<td>0.80</td><td>950 ms / 950 ms</td>");
    const gaps = await (await app.request("/admin/gaps")).text();
    expect(gaps).toContain("Knowledge gaps");
    const health = await (await app.request("/admin/health")).text();
    expect(health).toMatch(/data-testid="jobs-queued">1</);
    expect(health).toContain("ok (breaker closed)");
  });

  it("lists the conversations where an operator turned quill off, until it is on again", async () => {
    const { app, store } = await services({});
    const health = async () => (await (await app.request("/admin/health")).text()).replace(/\s+/g, " ");
    expect(await health()).toContain("None. A /quill off note from an operator stops drafts");
    await store.setConversationPaused(
      "w1",
      "session_paused",
      true,
      "Ada",
      Date.parse("2026-12-01T09:30:00Z"),
    );
    await store.setConversationPaused("w1", "session_back", true, "Ada");
    await store.setConversationPaused("w1", "session_back", false, "Ada");
    const page = await health();
    expect(page).toContain("session_paused · off since 2026-12-01 09:30:00 by Ada · website w1");
    expect(page).not.toContain("session_back");
  });
});

describe("health page in plugin mode", () => {
  it("shows the breakers of a website's own provider chain, labelled by website", async () => {
    const B = "b0b0b0b0-0000-4000-8000-00000000000b";
    // B drafts with the compatible provider, whose endpoint (here a 404 of the sandbox) is down.
    const { sandbox, services, enqueue, runNext } = await setup(
      { LLM_PROVIDER: "offline", LLM_BASE_URL: "http://sandbox.test/no-llm/v1", LLM_RETRIES: "0" },
      undefined,
      // Overrides the harness's scripted engine with none: drafts go through the real provider chains.
      { llm: undefined } as unknown as Partial<ServiceInputs>,
    );
    sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
    await services.websites.set(B, { provider: "compatible" });
    // Shown before B's first draft, and a website with no provider of its own adds nothing.
    const before = await (await services.app.request("/admin/health")).text();
    expect(before).toContain(`<dt>compatible (website ${B})</dt><dd>ok (breaker closed)</dd>`);
    expect(before.match(/\(website /g)).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      const said = sandbox.visitorSays({ websiteId: B, text: `Can I return shoes? (${i})` });
      await enqueue(said.sessionId, said.fingerprint, said.message.timestamp, B);
      await runNext();
    }
    const health = await (await services.app.request("/admin/health")).text();
    expect(health).toContain("<dt>offline</dt><dd>ok (breaker closed)</dd>");
    expect(health).toContain(`<dt>compatible (website ${B})</dt><dd>breaker open</dd>`);
    // A website-scoped session sees only the chains that website drafts with.
    expect(await services.breakerStates(B)).toEqual({
      offline: "closed",
      [`compatible (website ${B})`]: "open",
    });
    expect(await services.breakerStates(services.websiteId)).toEqual({ offline: "closed" });
  });
});

describe("prompt statistics", () => {
  it("computes Wilson intervals, percentiles and grouped acceptance", () => {
    expect(wilson(0, 0)).toBeUndefined();
    const ci = wilson(8, 10);
    expect(ci?.low).toBeCloseTo(0.49, 2);
    expect(ci?.high).toBeCloseTo(0.943, 2);
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 95)).toBe(5);
    const row = (outcome: string | null, day: string, version = "v1") => ({
      promptName: "default",
      promptVersion: version,
      variant: null,
      status: "posted",
      createdAt: Date.parse(`${day}T12:00:00Z`),
      costUsd: 0.001,
      latency: { total: 1000 },
      outcome,
      similarity: outcome === "edited" ? 0.6 : null,
    });
    const rows = [
      row("approved", "2026-11-01"),
      row("edited", "2026-11-01"),
      row(null, "2026-11-02"),
      row("sent_as_is", "2026-11-02"),
    ];
    const [stats] = groupStats(rows, (r) => r.promptVersion ?? "");
    expect(stats).toMatchObject({
      drafts: 4,
      decided: 3,
      accepted: 2,
      edited: 1,
      meanSimilarity: 0.6,
      p50Ms: 1000,
    });
    expect(dailyAcceptance(rows, (r) => r.promptVersion ?? "")[0]?.points).toEqual([
      { day: "2026-11-01", rate: 0.5, n: 2 },
      { day: "2026-11-02", rate: 1, n: 1 },
    ]);
  });

  it("diffs words", () => {
    expect(wordDiff("ships today", "ships tomorrow")).toEqual([
      { op: "same", text: "ships " },
      { op: "del", text: "today" },
      { op: "ins", text: "tomorrow" },
    ]);
  });
});
