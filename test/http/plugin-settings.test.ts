import { describe, expect, it } from "vitest";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { PLUGIN_ENV, setup } from "../drafting/harness.ts";

/**
 * The plugin's Settings URL: Crisp opens it with ?website_id=…&token=…; nothing is shown or
 * saved unless the token is that website's subscription token (read from the sandbox's
 * plugins/subscription route), and every save needs the form's CSRF value and cookie.
 */

const A = DEMO_CREDENTIALS.websiteId;
const B = "b0b0b0b0-0000-4000-8000-00000000000b";
const ENV = PLUGIN_ENV;

async function settingsPage(env: Record<string, string> = ENV) {
  const harness = await setup(env);
  const { sandbox, services } = harness;
  sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
  const tokenOf = (id: string) => sandbox.state.websites.get(id)?.plugin_token ?? "";
  const open = (query: string) => services.app.request(`/plugin/settings${query}`);
  /** Opens the page as Crisp links to it and returns what its form would post, with its cookie. */
  const openForm = async (websiteId: string, token = tokenOf(websiteId)) => {
    const res = await open(`?website_id=${websiteId}&token=${token}`);
    const html = await res.text();
    const hidden = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
    return {
      res,
      html,
      cookie: res.headers.get("set-cookie")?.split(";")[0] ?? "",
      fields: { website_id: hidden("website_id"), token: hidden("token"), _csrf: hidden("_csrf") },
    };
  };
  const save = (fields: Record<string, string>, cookie: string) =>
    services.app.request("/plugin/settings", {
      method: "POST",
      body: new URLSearchParams(fields),
      headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    });
  return { ...harness, tokenOf, open, openForm, save };
}

describe("plugin settings page (Marketplace Settings URL)", () => {
  it("shows the website's settings for its subscription token, with the dashboard's security headers", async () => {
    const { openForm, services } = await settingsPage();
    await services.websites.set(A, {
      enabled: false,
      name: "Acme & Co",
      replyMode: "auto",
      autoSendIntents: ["returns", "shipping"],
      autoSendMinConfidence: 0.85,
      linkAllowlist: ["acme.example"],
    });
    const { res, html, cookie, fields } = await openForm(A);
    expect(res.status).toBe(200);
    expect(html).toContain(`Website <code>${A}</code>`);
    expect(html).toMatch(/<option value="false" selected="">off/);
    expect(html).not.toMatch(/<option value="true" selected/);
    expect(html).toMatch(/<option value="auto" selected="">auto/);
    expect(html).toContain('name="name" maxlength="200" value="Acme &amp; Co"');
    expect(html).toContain('name="autoSendIntents" value="returns, shipping"');
    expect(html).toContain('name="autoSendMinConfidence" inputmode="decimal" value="0.85"');
    expect(html).toContain('name="linkAllowlist" value="acme.example"');
    expect(fields._csrf).toMatch(/^[\w-]{20,}$/);
    expect(cookie).toMatch(/^quill_plugin_csrf=/);
    expect(res.headers.get("set-cookie")).toMatch(/HttpOnly/i);
    expect(res.headers.get("set-cookie")).toMatch(/SameSite=Strict/i);
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("refuses a wrong token, another website's token, a missing token or id, an unknown website", async () => {
    const { open, tokenOf, services } = await settingsPage();
    await services.websites.set(A, { name: "Shop A secret name" });
    const cases: Array<[string, number]> = [
      [`?website_id=${A}&token=wrong-token`, 403],
      [`?website_id=${A}&token=${tokenOf(B)}`, 403],
      [`?website_id=${A}`, 400],
      [`?token=${tokenOf(A)}`, 400],
      ["", 400],
      [`?website_id=00000000-0000-4000-8000-000000000000&token=${tokenOf(A)}`, 403],
      [`?website_id=${encodeURIComponent("../../etc")}&token=${tokenOf(A)}`, 400],
    ];
    for (const [query, status] of cases) {
      const res = await open(query);
      const html = await res.text();
      expect(res.status, query).toBe(status);
      expect(html, query).not.toContain("<form");
      expect(html, query).not.toContain("Shop A secret name");
      expect(res.headers.get("set-cookie"), query).toBeNull();
    }
  });

  it("saves the website's choices with the token and the form's CSRF value; leaves admin-only settings alone", async () => {
    const { openForm, save, services } = await settingsPage();
    const rules = "rules:\n  - name: spam\n    when: { keywords: [casino] }\n    then: { skipDraft: true }\n";
    await services.websites.set(A, { rules, provider: "offline" });
    const { fields, cookie } = await openForm(A);
    const res = await save(
      {
        ...fields,
        enabled: "true",
        name: "Shop A",
        replyMode: "auto",
        autoSendIntents: "returns, shipping",
        autoSendMinConfidence: "0.9",
        linkAllowlist: "shop-a.test",
        prompt: "concise",
      },
      cookie,
    );
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Saved.");
    expect(await services.websites.get(A)).toEqual({
      enabled: true,
      name: "Shop A",
      replyMode: "auto",
      autoSendIntents: ["returns", "shipping"],
      autoSendMinConfidence: 0.9,
      linkAllowlist: ["shop-a.test"],
      prompt: "concise",
      rules,
      provider: "offline",
    });
  });

  it("a website that installed the plugin can switch quill on for itself, and off again", async () => {
    const { openForm, save, services } = await settingsPage();
    expect(await services.websites.serves(B)).toBe(false);
    const on = await openForm(B);
    expect((await save({ ...on.fields, enabled: "true", replyMode: "note" }, on.cookie)).status).toBe(200);
    expect(await services.websites.serves(B)).toBe(true);
    const off = await openForm(B);
    expect((await save({ ...off.fields, enabled: "false" }, off.cookie)).status).toBe(200);
    expect(await services.websites.serves(B)).toBe(false);
  });

  it("refuses a save without the cookie, with a forged CSRF value, with A's form for B, or a wrong token", async () => {
    const { openForm, save, services, tokenOf } = await settingsPage();
    const a = await openForm(A);
    const b = await openForm(B);
    const attempts: Array<[string, Record<string, string>, string]> = [
      ["no cookie", { ...a.fields, replyMode: "auto" }, ""],
      ["no csrf", { ...a.fields, _csrf: "", replyMode: "auto" }, a.cookie],
      [
        "forged csrf",
        { ...a.fields, _csrf: "forged-value-forged-value-forged", replyMode: "auto" },
        a.cookie,
      ],
      ["B's form for A", { ...a.fields, _csrf: b.fields._csrf, replyMode: "auto" }, b.cookie],
      [
        "A's form posted as B",
        { ...a.fields, website_id: B, token: tokenOf(B), replyMode: "auto" },
        a.cookie,
      ],
      ["wrong token", { ...a.fields, token: "wrong-token", replyMode: "auto" }, a.cookie],
      ["B's token for A", { ...a.fields, token: tokenOf(B), replyMode: "auto" }, a.cookie],
      ["no token", { ...a.fields, token: "", replyMode: "auto" }, a.cookie],
    ];
    for (const [label, fields, cookie] of attempts) {
      const res = await save(fields, cookie);
      expect([400, 403], label).toContain(res.status);
      expect(await res.text(), label).not.toContain("Saved.");
    }
    expect(await services.websites.get(A)).toBeUndefined();
    expect(await services.websites.get(B)).toBeUndefined();
  });

  it("a bad value answers 400 with the reason and saves nothing", async () => {
    const { openForm, save, services } = await settingsPage();
    const { fields, cookie } = await openForm(A);
    const res = await save({ ...fields, autoSendMinConfidence: "2", replyMode: "auto" }, cookie);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("autoSendMinConfidence: Too big");
    const unknownPrompt = await save({ ...fields, prompt: "nope" }, cookie);
    expect(unknownPrompt.status).toBe(400);
    expect(await services.websites.get(A)).toBeUndefined();
  });

  it("is off outside the plugin tier", async () => {
    const { open, tokenOf } = await settingsPage({ ...ENV, CRISP_TIER: "website" });
    const res = await open(`?website_id=${A}&token=${tokenOf(A)}`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain("<form");
  });
});
