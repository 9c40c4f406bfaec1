import { describe, expect, it } from "vitest";
import { similarity } from "../../src/drafting/commands.ts";
import { createStore, type FeedbackKind, type Store } from "../../src/store/store.ts";
import { manualClock } from "../store/contract.ts";
import { DAY, dashboardServices, loginAs, NOW, REAL, W2, W2_TOKEN } from "./dashboard.ts";

/** The Shadow page: candidate against live on the drafts operators sent, from recorded rows. */

let seq = 0;
/** A posted live draft with its shadow, and the operator's decision when given. */
async function pair(
  store: Store,
  o: {
    live: string;
    candidate: string;
    sent?: { kind: FeedbackKind; text: string };
    error?: string;
    websiteId?: string;
  },
) {
  const n = ++seq;
  const websiteId = o.websiteId ?? "w1";
  const sessionId = `s${n}`;
  const { job } = await store.enqueueJob({
    websiteId,
    sessionId,
    fingerprint: n,
    messageAt: NOW - 5_000,
    trigger: "webhook",
    runAfter: 0,
  });
  const draft = await store.insertDraft({
    jobId: job.id,
    websiteId,
    sessionId,
    customerFingerprint: n,
    text: o.live,
    mode: "note",
    status: "posted",
    promptName: "default",
    costUsd: 0.01,
    latency: { llm: 800 },
    context: {
      transcript: "",
      query: `Question ${n}: can I return it?`,
      language: "en",
      visitor: { name: "", email: "", segments: [], data: {} },
    },
  });
  await store.insertShadow({
    draftId: draft.id,
    websiteId,
    sessionId,
    promptName: "concise",
    provider: "anthropic",
    model: "claude-haiku-4-5",
    text: o.error ? "" : o.candidate,
    latencyMs: 400,
    costUsd: 0.002,
    error: o.error ?? null,
  });
  if (o.sent)
    await store.insertFeedback({
      draftId: draft.id,
      websiteId,
      sessionId,
      kind: o.sent.kind,
      finalText: o.sent.text,
      similarity: similarity(o.live, o.sent.text),
    });
  return draft;
}

const SENT = "You can return unworn shoes within 30 days from your orders page.";

/** Three sent drafts (the candidate closer on two), one rejected, one sent whose candidate failed. */
async function seed(store: Store) {
  await pair(store, {
    live: "Returns are possible.",
    candidate: "You can return unworn shoes within 30 days from the orders page.",
    sent: { kind: "sent_edited", text: SENT },
  });
  await pair(store, {
    live: "Please contact us.",
    candidate: "You can return shoes within 30 days from your orders page.",
    sent: { kind: "edited", text: SENT },
  });
  await pair(store, {
    live: SENT,
    candidate: "Returns take 30 days.",
    sent: { kind: "approved", text: SENT },
  });
  await pair(store, { live: "Nope.", candidate: "Nope either.", sent: { kind: "rejected", text: "" } });
  await pair(store, {
    live: SENT,
    candidate: "",
    error: "anthropic: timed out",
    sent: { kind: "sent_as_is", text: SENT },
  });
}

const testid = (html: string, id: string) =>
  new RegExp(`data-testid="${id}"[^>]*>([^<]*)<`).exec(html)?.[1]?.replace(/&amp;/g, "&");

describe("shadow page", () => {
  it("compares candidate and live on the sent drafts, from recorded feedback", async () => {
    const services = await dashboardServices(REAL);
    await seed(services.store);
    const cookie = await loginAs(services.app, REAL.ADMIN_TOKEN);
    const res = await services.app.request("/admin/shadow", { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('href="/admin/shadow" aria-current="page"');
    // four sent drafts have a shadow; one candidate failed, so three are compared
    expect(testid(html, "tile-compared")).toBe("3");
    expect(testid(html, "tile-closer")).toBe("2 / 0 / 1");
    expect(testid(html, "tile-failures")).toBe("1 of 4");
    const live = [similarity("Returns are possible.", SENT), similarity("Please contact us.", SENT), 1];
    const candidate = [
      similarity("You can return unworn shoes within 30 days from the orders page.", SENT),
      similarity("You can return shoes within 30 days from your orders page.", SENT),
      similarity("Returns take 30 days.", SENT),
    ];
    const mean = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2);
    expect(testid(html, "tile-similarity")).toBe(`${mean(live)} / ${mean(candidate)}`);
    expect(testid(html, "tile-cost")).toBe("$0.010 / $0.00200");
    expect(testid(html, "tile-latency-live")).toBe("800 ms / 800 ms");
    expect(testid(html, "tile-latency-candidate")).toBe("400 ms / 400 ms");
    expect(testid(html, "summary")).toContain("5 shadow drafts in the last 30 days");
    expect(testid(html, "summary")).toContain("concise / anthropic claude-haiku-4-5");
    // the pairs table: question, both texts, what was sent, both similarities
    expect(html).toContain("Question 1: can I return it?");
    expect(html).toContain("failed: anthropic: timed out");
    expect(html).not.toContain("Nope either.");
  });

  it("shows a website session its own shadows only, and the admin a website's on request", async () => {
    const services = await dashboardServices(REAL);
    await services.websites.update(W2, { adminToken: W2_TOKEN });
    await seed(services.store);
    await pair(services.store, {
      websiteId: W2,
      live: "W2 live",
      candidate: "W2 candidate text",
      sent: { kind: "approved", text: "W2 live" },
    });
    const own = await loginAs(services.app, W2_TOKEN, W2);
    for (const path of ["/admin/shadow", "/admin/shadow?website=w1"]) {
      const html = await (await services.app.request(path, { headers: { cookie: own } })).text();
      expect(testid(html, "tile-compared")).toBe("1");
      expect(html).toContain("W2 candidate text");
      expect(html).not.toContain("Question 1:");
    }
    const admin = await loginAs(services.app, REAL.ADMIN_TOKEN);
    const w1 = await (
      await services.app.request("/admin/shadow?website=w1", { headers: { cookie: admin } })
    ).text();
    expect(testid(w1, "tile-compared")).toBe("3");
    expect(w1).not.toContain("W2 candidate text");
    const all = await (await services.app.request("/admin/shadow", { headers: { cookie: admin } })).text();
    expect(testid(all, "tile-compared")).toBe("4");
  });

  it("explains how to turn shadow mode on when nothing was shadowed, and refuses a bad range", async () => {
    const services = await dashboardServices(REAL);
    const cookie = await loginAs(services.app, REAL.ADMIN_TOKEN);
    const html = await (await services.app.request("/admin/shadow", { headers: { cookie } })).text();
    expect(html).toContain('data-testid="empty"');
    expect(html).toContain("SHADOW_PROMPT");
    expect(html).toContain("SHADOW_PROVIDER");
    expect((await services.app.request("/admin/shadow?days=3", { headers: { cookie } })).status).toBe(400);
    expect((await services.app.request("/admin/shadow")).status).not.toBe(200);
  });

  it("leaves shadows of older drafts out of a shorter range", async () => {
    const services = await dashboardServices(REAL);
    await pair(services.store, { live: "a", candidate: "b", sent: { kind: "approved", text: "a" } });
    // a shadow recorded ten days ago
    const earlier = createStore(services.database.db, { clock: manualClock(NOW - 10 * DAY).clock });
    await pair(earlier, { live: "c", candidate: "d", sent: { kind: "approved", text: "c" } });
    const cookie = await loginAs(services.app, REAL.ADMIN_TOKEN);
    const week = await (await services.app.request("/admin/shadow?days=7", { headers: { cookie } })).text();
    expect(testid(week, "tile-compared")).toBe("1");
    const month = await (await services.app.request("/admin/shadow?days=30", { headers: { cookie } })).text();
    expect(testid(month, "tile-compared")).toBe("2");
  });

  it("the Websites page saves and shows a website's shadow prompt and provider, and refuses an unknown one", async () => {
    const services = await dashboardServices(REAL);
    const cookie = await loginAs(services.app, REAL.ADMIN_TOKEN);
    const post = async (fields: Record<string, string>) => {
      const html = await (await services.app.request("/admin/websites", { headers: { cookie } })).text();
      const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
      return services.app.request("/admin/websites", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie },
        body: new URLSearchParams({ ...fields, _csrf: csrf }).toString(),
      });
    };
    expect((await post({ websiteId: W2, shadowPrompt: "default", shadowProvider: "offline" })).status).toBe(
      303,
    );
    expect(await services.websites.get(W2)).toMatchObject({
      shadowPrompt: "default",
      shadowProvider: "offline",
    });
    const list = await (await services.app.request("/admin/websites", { headers: { cookie } })).text();
    expect(list).toContain("default / offline");
    const refused = await post({ websiteId: W2, shadowProvider: "anthropic" });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("shadowProvider: anthropic has no credentials");
  });
});
