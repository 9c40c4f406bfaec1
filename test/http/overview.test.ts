import { readFileSync } from "node:fs";
import { describe, expect, it, onTestFinished } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { type ConfigError, loadConfig } from "../../src/config.ts";
import { deliveryKey, parseWebhookEvent } from "../../src/crisp/webhook.ts";
import { summarise } from "../../src/http/admin/outcomes.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { buildServices } from "../../src/services.ts";
import type { FeedbackKind, Store } from "../../src/store/store.ts";
import { setup } from "../drafting/harness.ts";
import { DAY, dashboardServices, loginAs, NOW, REAL, pageText as text, W2, W2_TOKEN } from "./dashboard.ts";

/**
 * The overview a support lead opens each morning: the outcome split computed from recorded
 * feedback, its empty state, website scoping, bad ranges, the drafts list's question, badge
 * and Crisp link, and decisions credited to the operator who made them.
 */

let seq = 0;
/** A posted draft `daysAgo` days before NOW, answering a customer message 4 s before it was posted. */
async function draft(
  store: Store,
  o: {
    daysAgo: number;
    websiteId?: string;
    intent?: string;
    question?: string;
    costUsd?: number;
    readyMs?: number;
    status?: "posted" | "sent" | "rejected" | "discarded";
    mode?: "note" | "reply";
  },
) {
  const n = ++seq;
  const created = NOW - o.daysAgo * DAY;
  const posted = created + 1_000;
  const websiteId = o.websiteId ?? "w1";
  const { job } = await store.enqueueJob({
    websiteId,
    sessionId: `s${n}`,
    fingerprint: n,
    messageAt: posted - (o.readyMs ?? 4_000),
    trigger: "webhook",
    runAfter: 0,
  });
  const row = await store.insertDraft({
    jobId: job.id,
    websiteId,
    sessionId: `s${n}`,
    customerFingerprint: n,
    text: `Draft number ${n} about your order.`,
    mode: o.mode ?? "note",
    status: o.status ?? "posted",
    intent: o.intent ?? "shipping",
    promptName: "default",
    promptVersion: "cafe0001beef",
    costUsd: o.costUsd ?? 0.01,
    context: {
      transcript: "",
      query: o.question ?? `Question ${n}: where is my parcel?`,
      language: "en",
      visitor: { name: "", email: "", segments: [], data: {} },
    },
    postedAt: posted,
  });
  await store.updateDraft(row.id, { createdAt: created });
  return row;
}

const decide = (
  store: Store,
  d: { id: string; websiteId: string; sessionId: string },
  kind: FeedbackKind,
  extra: { similarity?: number; operatorName?: string; delayMs?: number } = {},
) =>
  store.insertFeedback({
    draftId: d.id,
    websiteId: d.websiteId,
    sessionId: d.sessionId,
    kind,
    similarity: extra.similarity ?? null,
    operatorName: extra.operatorName ?? null,
    delayMs: extra.delayMs ?? null,
  });

/** Ten drafts with known decisions: 2 as-is, 1 light edit, 2 rewritten, 2 ignored, 1 rejected, 1 pending, 1 redraft. */
async function seedKnownSplit(store: Store) {
  const ada = { operatorName: "Ada" };
  const bob = { operatorName: "Bob" };
  await decide(store, await draft(store, { daysAgo: 1 }), "approved", { ...ada, delayMs: 10_000 });
  await decide(store, await draft(store, { daysAgo: 1 }), "sent_as_is", {
    ...ada,
    similarity: 0.97,
    delayMs: 20_000,
  });
  await decide(store, await draft(store, { daysAgo: 2, intent: "returns" }), "edited", {
    ...bob,
    similarity: 0.8,
    delayMs: 30_000,
  });
  // 0.55 is an edit by the reply heuristic, but kept less than 60% of the draft: rewritten.
  await decide(store, await draft(store, { daysAgo: 2, intent: "returns" }), "edited", {
    ...bob,
    similarity: 0.55,
    delayMs: 40_000,
  });
  await decide(store, await draft(store, { daysAgo: 2 }), "sent_edited", {
    ...ada,
    similarity: 0.3,
    delayMs: 50_000,
  });
  await decide(store, await draft(store, { daysAgo: 3 }), "ignored", {
    ...bob,
    similarity: 0.1,
    delayMs: 60_000,
  });
  await decide(store, await draft(store, { daysAgo: 3 }), "resolved_no_reply", { delayMs: 70_000 });
  const rejected = await draft(store, { daysAgo: 3, status: "rejected", readyMs: 30_000 });
  await decide(store, rejected, "rejected", { ...ada, delayMs: 600_000 });
  await draft(store, { daysAgo: 0 }); // awaiting a decision
  // A /redraft alone is no decision; the draft it replaced counts as drafted, not decided.
  await decide(store, await draft(store, { daysAgo: 0, status: "discarded" }), "redraft", { ...bob });
  // Outside the 7-day range: only the 30-day view counts it.
  await decide(store, await draft(store, { daysAgo: 20 }), "rejected", { ...bob });
}

const testid = (html: string, id: string) => new RegExp(`data-testid="${id}"[^>]*>([^<]*)<`).exec(html)?.[1];

describe("overview", () => {
  it("splits outcomes as-is / lightly edited / rewritten / ignored / rejected from recorded feedback", async () => {
    const { app, store } = await dashboardServices();
    await seedKnownSplit(store);

    const since = Math.floor(NOW / DAY) * DAY - 6 * DAY;
    const { rows, truncated } = await store.overviewRows({ since });
    expect(truncated).toBe(false);
    expect(rows).toHaveLength(10);
    const decided = rows.filter((r) => r.decision);
    expect(decided.map((r) => r.decision?.kind).sort()).toEqual(
      [
        "approved",
        "edited",
        "edited",
        "ignored",
        "rejected",
        "resolved_no_reply",
        "sent_as_is",
        "sent_edited",
      ].sort(),
    );
    const s = summarise(rows, since, NOW);
    expect(s.split).toEqual({ as_is: 2, light_edit: 1, rewritten: 2, ignored: 2, rejected: 1 });
    expect(s.pending).toBe(1);
    expect(s.days).toHaveLength(7);
    expect(s.splitPerDay.rewritten.slice(-3)).toEqual([2, 0, 0]);
    // Ready: 4 s for nine drafts, 30 s for one; decisions 10 s … 600 s.
    expect(s.ready).toMatchObject({ n: 10, p50: 4_000, p95: 30_000 });
    expect(s.decision).toMatchObject({ n: 8, p50: 40_000, p95: 600_000 });
    expect(s.costPerAccepted).toBeCloseTo(0.1 / 3, 6);
    expect(s.byOperator.map((o) => [o.label, o.decided])).toEqual([
      ["Ada", 4],
      ["Bob", 3],
      ["(no operator recorded)", 1],
    ]);

    const res = await app.request("/admin/?days=7");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(testid(html, "split-as_is")).toBe("2");
    expect(testid(html, "split-light_edit")).toBe("1");
    expect(testid(html, "split-rewritten")).toBe("2");
    expect(testid(html, "split-ignored")).toBe("2");
    expect(testid(html, "split-rejected")).toBe("1");
    expect(testid(html, "tile-drafts")).toBe("10");
    expect(testid(html, "tile-accepted")).toBe("3 (38%)");
    expect(testid(html, "tile-decision")).toBe("40 s / 10 min");
    expect(testid(html, "tile-ready")).toBe("4.0 s / 30 s");
    expect(testid(html, "tile-cost")).toBe("$0.100 ($0.033)");
    // A chart per section, with dates on its axis and a legend naming each outcome.
    expect(html).toContain('data-testid="chart-outcomes"');
    expect(html).toContain('data-testid="chart-ready"');
    expect(html).toContain(">Dec 10</text>");
    expect(html).toContain('<ul class="legend">');
    expect(html).toContain("2026-12-08 · rewritten: 2");
    const operators = text(html.slice(html.indexOf('data-testid="by-operator"')));
    expect(operators).toContain("Ada 4 2 (50%) 0 (0%) 1 (25%) 0 (0%) 1 (25%)");
    expect(operators).toContain("Bob 3 0 (0%) 1 (33%) 1 (33%) 1 (33%) 0 (0%)");
    const intents = text(html.slice(html.indexOf('data-testid="by-intent"')));
    expect(intents).toContain("returns 2");
    // The Overview tab is the current page.
    expect(html).toMatch(/<a href="\/admin\/" aria-current="page">Overview<\/a>/);
    expect(html).toMatch(/<a href="\/admin\/\?days=7" aria-current="page">7 days<\/a>/);

    // 30 days counts the older rejection too.
    const month = await (await app.request("/admin/")).text();
    expect(testid(month, "split-rejected")).toBe("2");
    expect(testid(month, "tile-drafts")).toBe("11");
  });

  it("tells a new user what to do when there is nothing yet", async () => {
    const { app } = await dashboardServices();
    const html = text(await (await app.request("/admin/")).text());
    expect(html).toContain("No drafts in the last 30 days");
    expect(html).toContain("Open the sandbox inbox");
    expect(html).toContain("Knowledge gaps this week None this week");
    const real = await dashboardServices(REAL);
    const login = await loginAs(real.app, REAL.ADMIN_TOKEN);
    const closed = text(await (await real.app.request("/admin/", { headers: { cookie: login } })).text());
    expect(closed).toContain("Check that Crisp's web hooks reach /webhooks/crisp");
  });

  it("answers a bad range with 400, never 500", async () => {
    const { app } = await dashboardServices();
    for (const days of ["14", "abc", "7.5", "-7", "1e3", "90;drop"]) {
      const res = await app.request(`/admin/?days=${encodeURIComponent(days)}`);
      expect(res.status).toBe(400);
      expect(await res.text()).toBe("days: expected 7, 30 or 90.");
    }
    expect((await app.request("/admin/?days=90")).status).toBe(200);
  });

  it("shows a website's session its own website only, whatever it asks for", async () => {
    const services = await dashboardServices(REAL);
    const { store, websites } = services;
    await websites.update(W2, { adminToken: W2_TOKEN });
    await decide(store, await draft(store, { daysAgo: 1 }), "rejected", { operatorName: "Ada" });
    await decide(store, await draft(store, { daysAgo: 1, websiteId: W2 }), "approved", {
      operatorName: "Wendy",
    });
    await decide(store, await draft(store, { daysAgo: 2, websiteId: W2 }), "approved", {
      operatorName: "Wendy",
    });

    const own = await loginAs(services.app, W2_TOKEN, W2);
    for (const path of ["/admin/", "/admin/?website=w1"]) {
      const html = await (await services.app.request(path, { headers: { cookie: own } })).text();
      expect(testid(html, "tile-drafts")).toBe("2");
      expect(testid(html, "split-as_is")).toBe("2");
      expect(testid(html, "split-rejected")).toBe("0");
      expect(html).not.toContain("Ada");
    }
    const admin = await loginAs(services.app, REAL.ADMIN_TOKEN);
    const all = await (await services.app.request("/admin/", { headers: { cookie: admin } })).text();
    expect(testid(all, "tile-drafts")).toBe("3");
    const w1 = await (
      await services.app.request("/admin/?website=w1", { headers: { cookie: admin } })
    ).text();
    expect(testid(w1, "tile-drafts")).toBe("1");
  });
});

/** Logs in through the form, as a browser does; returns the session cookie. */
describe("drafts list", () => {
  it("shows the customer's question, a labelled outcome badge and the conversation in Crisp", async () => {
    const services = await dashboardServices(REAL);
    const { store } = services;
    const answered = await draft(store, { daysAgo: 1, question: "Can I change my delivery address?" });
    await decide(store, answered, "edited", { similarity: 0.8 });
    const old = await draft(store, { daysAgo: 200 });
    // RETENTION_DAYS blanks an old draft's texts: the list says so instead of showing nothing.
    await store.updateDraft(old.id, { text: "", context: null, transcript: null });
    const cookie = await loginAs(services.app, REAL.ADMIN_TOKEN);
    const html = await (await services.app.request("/admin/drafts", { headers: { cookie } })).text();
    expect(html).toContain('<td class="question">Can I change my delivery address?</td>');
    expect(html).toContain('<span class="badge outcome-light_edit">lightly edited</span>');
    expect(html).toContain('<span class="badge outcome-pending">awaiting decision</span>');
    expect(html).toContain("(not kept: older than the retention period)");
    expect(html).toContain(`href="https://app.crisp.chat/website/w1/inbox/${answered.sessionId}/"`);
    // The draft page: the question, the link, and the draft beside what was sent.
    const page = await (
      await services.app.request(`/admin/drafts/${answered.id}`, { headers: { cookie } })
    ).text();
    expect(page).toContain("Can I change my delivery address?");
    expect(page).toContain(`href="https://app.crisp.chat/website/w1/inbox/${answered.sessionId}/"`);
  });

  it("answers a browser's unknown dashboard address and the site root with HTML, not JSON", async () => {
    const { app } = await dashboardServices();
    const html = { accept: "text/html,application/xhtml+xml" };
    const root = await app.request("/", { headers: html });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/admin/");
    expect((await app.request("/")).status).toBe(404);
    const missing = await app.request("/admin/nope", { headers: html });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("text/html");
    expect(await missing.text()).toContain("Page not found");
    const elsewhere = await app.request("/nope", { headers: html });
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.text()).toContain('href="/admin/"');
    expect(await (await app.request("/nope")).json()).toEqual({ error: true, reason: "route_not_found" });
  });
});

describe("named dashboard users (ADMIN_USERS)", () => {
  const ALICE = "alice-token-of-the-overview-tests";

  it("credits a dashboard approval to the user who logged in, and a note command to its author", async () => {
    const { sandbox, services, enqueue, runNext } = await setup({
      PEOPLE_SYNC: "off",
      ADMIN_USERS: `alice:${ALICE},bob:bob-token-0123456789ab`,
    });
    const { store, app } = services;
    const first = sandbox.visitorSays({ text: "Where is my parcel?" });
    await enqueue(first.sessionId, first.fingerprint, first.message.timestamp);
    await runNext();
    const [posted] = await store.listDrafts({ sessionId: first.sessionId });
    if (!posted) throw new Error("no draft");

    // Demo mode with ADMIN_USERS set is not open: a login is needed.
    expect((await app.request("/admin/")).status).toBe(302);
    const cookie = await loginAs(app, ALICE);
    const page = await (await app.request(`/admin/drafts/${posted.id}`, { headers: { cookie } })).text();
    expect(page).toContain("Your decision is credited to alice.");
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
    const approve = await app.request(`/admin/drafts/${posted.id}/approve`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(approve.status).toBe(303);
    await runNext();
    expect(await store.feedbackForDraft(posted.id)).toEqual([
      expect.objectContaining({ kind: "approved", operatorName: "alice", operatorId: "dashboard:alice" }),
    ]);
    const shown = await (await app.request(`/admin/drafts/${posted.id}`, { headers: { cookie } })).text();
    expect(text(shown)).toContain("approved by alice");

    // A note command is credited to the note's author, as Crisp names them.
    const second = sandbox.visitorSays({ text: "Do you ship to Iceland?" });
    await enqueue(second.sessionId, second.fingerprint, second.message.timestamp);
    await runNext();
    const note = sandbox.operatorSays({
      sessionId: second.sessionId,
      text: "/reject not our policy",
      type: "note",
      nickname: "Bea",
    });
    const parsed = parseWebhookEvent(
      JSON.stringify({
        website_id: sandbox.website.website_id,
        event: "message:received",
        data: { ...note.message, website_id: sandbox.website.website_id, session_id: second.sessionId },
        timestamp: Date.now(),
      }),
    );
    if (!parsed.ok) throw new Error(parsed.reason);
    await services.intake.webhook(parsed.event, deliveryKey(parsed.event));
    await runNext();
    const [rejected] = await store.listDrafts({ sessionId: second.sessionId });
    expect(await store.feedbackForDraft(rejected?.id ?? "")).toEqual([
      expect.objectContaining({ kind: "rejected", operatorName: "Bea", reason: "not our policy" }),
    ]);
    const overview = text(await (await app.request("/admin/", { headers: { cookie } })).text());
    expect(overview).toContain("Logged in as alice");
    expect(overview).toMatch(/alice 1 1 \(100%\)/);
    expect(overview).toMatch(/Bea 1 0 \(0%\)/);
  });

  it("ends a user's sessions when their token changes or they leave ADMIN_USERS; refuses weak or shared tokens", async () => {
    const database = openSqlite(":memory:");
    database.migrate();
    onTestFinished(() => database.close());
    const start = async (users: string) =>
      buildServices({
        config: loadConfig({
          DATABASE_PATH: ":memory:",
          ...REAL,
          ADMIN_USERS: users,
          SESSION_SECRET: "session-secret-of-the-overview-tests-0123",
        }),
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
    const first = await start(`alice:${ALICE}`);
    const cookie = await loginAs(first.app, ALICE);
    expect((await first.app.request("/admin/", { headers: { cookie } })).status).toBe(200);
    // An empty token field never matches, even with ADMIN_TOKEN unset.
    const { ADMIN_TOKEN: _unset, ...withoutAdminToken } = REAL;
    const noAdmin = await buildServices({
      config: loadConfig({ DATABASE_PATH: ":memory:", ...withoutAdminToken, ADMIN_USERS: `alice:${ALICE}` }),
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
    const form = await noAdmin.app.request("/admin/login");
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? "";
    const empty = await noAdmin.app.request("/admin/login", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        cookie: form.headers.get("set-cookie")?.split(";")[0] ?? "",
      },
      body: new URLSearchParams({ token: "", _csrf: csrf }).toString(),
    });
    expect(empty.status).toBe(401);

    const rotated = await start(`alice:${ALICE}-rotated`);
    expect((await rotated.app.request("/admin/", { headers: { cookie } })).status).toBe(302);
    const again = await loginAs(rotated.app, `${ALICE}-rotated`);
    const gone = await start(`bob:bob-token-0123456789ab`);
    expect((await gone.app.request("/admin/", { headers: { cookie: again } })).status).toBe(302);

    const problems = (users: string) => {
      try {
        loadConfig({ ...REAL, ADMIN_USERS: users });
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems("alice:short")).toEqual([
      expect.stringMatching(/^ADMIN_USERS: entry 1 \(alice\): token at least 16 characters/),
    ]);
    expect(problems(`alice:${ALICE},bob:${ALICE}`)).toEqual([
      expect.stringContaining("give each person their own"),
    ]);
    expect(problems(`alice:${REAL.ADMIN_TOKEN}`)).toEqual([
      expect.stringContaining("give each person their own"),
    ]);
    expect(problems(`alice:${ALICE},Alice:another-token-0123456`)).toEqual([
      expect.stringContaining("used twice"),
    ]);
    expect(problems(`no token here`)).toEqual([expect.stringContaining("expected name:token")]);
    // A problem never quotes a token.
    expect(problems(`alice:${ALICE},bob:${ALICE}`).join(" ")).not.toContain(ALICE);
  });
});
