import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { type Config, ConfigError, loadConfig } from "../../src/config.ts";
import { hmac, sha256Hex } from "../../src/crypto.ts";
import { LOGIN_LIMITS } from "../../src/http/admin/throttle.ts";
import { silentLogger } from "../../src/log.ts";
import { main } from "../../src/runtime/cli/index.ts";
import { startQuill } from "../../src/runtime/node.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { REFRESH } from "../../src/sandbox/page.tsx";
import { buildServices } from "../../src/services.ts";
import { manualClock } from "../store/contract.ts";

/**
 * The dashboard attacked from outside: forms and cookies carried between instances, offline
 * and online token guessing, sessions that outlive a logout or a token, framing, sniffing,
 * a banner written from the URL, and query numbers that used to answer 500.
 */

const ADMIN = "admin-token-of-the-auth-tests";
const REAL = {
  CRISP_IDENTIFIER: "id",
  CRISP_KEY: "key",
  CRISP_WEBSITE_ID: "w1",
  CRISP_WEBHOOK_SECRET: "hook-secret-of-the-auth-tests",
  CRISP_API_URL: "http://crisp.invalid/v1",
  ADMIN_TOKEN: ADMIN,
  PEOPLE_SYNC: "off",
};
const W2 = "w2w2w2w2-0000-4000-8000-000000000002";
const W2_TOKEN = "dashboard-token-of-website-two";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

type Db = ReturnType<typeof openSqlite>;

/** A quill over its own (or a given) database; the test header `x-client` is the client's address. */
async function instance(
  env: Record<string, string> = {},
  shared?: { database?: Db; clock?: ReturnType<typeof manualClock> },
) {
  const database = shared?.database ?? openSqlite(":memory:");
  if (!shared?.database) {
    database.migrate();
    closers.push(database.close);
  }
  const time = shared?.clock ?? manualClock(Date.parse("2026-12-01T10:00:00Z"));
  const services = await buildServices({
    config: loadConfig({ DATABASE_PATH: ":memory:", CRISP_TIER: "plugin", ...REAL, ...env }),
    db: database.db,
    clock: time.clock,
    log: silentLogger,
    kbFiles: [],
    promptFiles: [
      {
        name: "default.md",
        content: readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8"),
      },
    ],
    clientAddress: (c: Context) => c.req.header("x-client"),
  });
  const app = services.app;
  /** The login form as a browser gets it: its cookie and signed field. */
  const form = async (client = "203.0.113.1") => {
    const page = await app.request("/admin/login", { headers: { "x-client": client } });
    const cookie = page.headers.get("set-cookie")?.split(";")[0] ?? "";
    const html = await page.text();
    return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "", page, html };
  };
  const login = async (
    token: string,
    opts: { client?: string; website?: string; from?: Awaited<ReturnType<typeof form>> } = {},
  ) => {
    const client = opts.client ?? "203.0.113.1";
    const { cookie, csrf } = opts.from ?? (await form(client));
    const res = await app.request("/admin/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie, "x-client": client },
      body: new URLSearchParams({ token, _csrf: csrf, website: opts.website ?? "" }).toString(),
    });
    return { res, session: /quill_session=[^;]+/.exec(res.headers.get("set-cookie") ?? "")?.[0] };
  };
  const get = (path: string, session?: string) =>
    app.request(path, { headers: session ? { cookie: session } : {} });
  /** A dashboard form post with the session's CSRF value (read from a page, as a browser does). */
  const post = async (path: string, session: string, body: Record<string, string> = {}) => {
    const html = await (await get("/admin/drafts", session)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
    return app.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: session },
      body: new URLSearchParams({ ...body, _csrf: csrf }).toString(),
    });
  };
  return { services, app, database, time, form, login, get, post };
}

describe("login form and CSRF", () => {
  it("a login form fetched from one quill is useless on another with the same ADMIN_TOKEN", async () => {
    const a = await instance();
    const b = await instance();
    const fromA = await a.form();
    expect((await a.login(ADMIN, { from: fromA })).res.status).toBe(303);
    const onB = await b.login(ADMIN, { from: await a.form() });
    expect(onB.res.status).toBe(403);
    expect(onB.session).toBeUndefined();
    // A session of A is no session of B either.
    const { session } = await a.login(ADMIN);
    expect((await a.get("/admin/drafts", session)).status).toBe(200);
    expect((await b.get("/admin/drafts", session)).status).toBe(302);
  });

  it("a CSRF value is keyed by the server secret, not the token: nothing to test guesses against", async () => {
    const secret = "session-secret-of-the-auth-tests-0123456789";
    const one = await instance({ SESSION_SECRET: secret });
    const other = await instance({ SESSION_SECRET: secret, ADMIN_TOKEN: "a-different-admin-token-1234" });
    for (const quill of [one, other]) {
      const { cookie, csrf } = await quill.form();
      const nonce = cookie.replace("quill_login=", "");
      // The same function of (SESSION_SECRET, nonce) whatever the ADMIN_TOKEN: it carries no bit of it.
      expect(csrf).toBe(await hmac(secret, `csrf:login:${nonce}`));
      // The old derivation an offline guesser would try does not match, for the right token either.
      expect(csrf).not.toBe(await hmac(`quill-admin:${ADMIN}`, `csrf:login:${nonce}`));
    }
    // Without SESSION_SECRET, a random secret kept in the store: two databases, two secrets.
    const a = await instance();
    const b = await instance();
    const stored = async (quill: Awaited<ReturnType<typeof instance>>) => {
      await quill.form();
      return quill.services.store.ensureSecret("session", "unused");
    };
    const [sa, sb] = [await stored(a), await stored(b)];
    expect(sa).toMatch(/^[\w-]{43}$/);
    expect(sa).not.toBe(sb);
    expect(sa).not.toContain(ADMIN);
  });

  it("stores neither the token nor anything derived from it alone", async () => {
    const quill = await instance();
    const { session } = await quill.login(ADMIN);
    const rows = JSON.stringify(
      quill.database.sqlite.prepare("select * from admin_sessions, server_secrets").all(),
    );
    expect(rows).not.toContain(ADMIN);
    expect(rows).not.toContain(await sha256Hex(ADMIN));
    // The cookie's id is stored hashed: a copy of the table opens no session.
    const id = session?.replace("quill_session=", "").split(".")[0] ?? "";
    expect(rows).not.toContain(id);
    expect(rows).toContain(await sha256Hex(id));
  });
});

describe("login throttling", () => {
  it("answers the 6th wrong login with 429 and Retry-After, refuses even the right token then, and doubles the wait", async () => {
    const quill = await instance();
    for (let i = 0; i < LOGIN_LIMITS.client.free; i++) {
      expect((await quill.login(`wrong-guess-${i}`)).res.status).toBe(401);
    }
    const sixth = await quill.login("wrong-guess-6");
    expect(sixth.res.status).toBe(429);
    expect(sixth.res.headers.get("retry-after")).toBe("30");
    expect(await sixth.res.text()).toContain("Too many failed logins");
    const right = await quill.login(ADMIN);
    expect(right.res.status).toBe(429);
    expect(right.session).toBeUndefined();
    // Another client is not locked out by this one.
    expect((await quill.login(ADMIN, { client: "198.51.100.7" })).res.status).toBe(303);
    // Once the wait is over a guess is tried again; a further failure waits twice as long.
    quill.time.advance(30_001);
    expect((await quill.login("wrong-guess-7")).res.status).toBe(401);
    expect((await quill.login("wrong-guess-8")).res.headers.get("retry-after")).toBe("60");
    quill.time.advance(60_001);
    expect((await quill.login(ADMIN)).res.status).toBe(303);
    // The right token cleared this client's count.
    expect((await quill.login("wrong-again")).res.status).toBe(401);
  });

  it("limits guesses at one target from many clients, while another target's login still works", async () => {
    const quill = await instance();
    await quill.services.websites.update(W2, { adminToken: W2_TOKEN });
    for (let i = 0; i < LOGIN_LIMITS.target.free; i++) {
      expect((await quill.login(`guess-${i}`, { client: `192.0.2.${i}` })).res.status).toBe(401);
    }
    const fresh = await quill.login(ADMIN, { client: "192.0.2.200" });
    expect(fresh.res.status).toBe(429);
    expect(Number(fresh.res.headers.get("retry-after"))).toBeGreaterThan(0);
    // A website's operator names their website: a different target, not throttled.
    const own = await quill.login(W2_TOKEN, { client: "192.0.2.201", website: W2 });
    expect(own.res.status).toBe(303);
    expect(await (await quill.get("/admin/drafts", own.session)).text()).toContain("Drafts");
  });

  it("counts failures in the store, so every process behind one database shares them", async () => {
    const first = await instance();
    const second = await instance({}, { database: first.database, clock: first.time });
    for (let i = 0; i < LOGIN_LIMITS.client.free; i++) await first.login(`wrong-${i}`);
    expect((await second.login(ADMIN)).res.status).toBe(429);
  });

  it("throttles a real server by the client's socket address", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-auth-"));
    const quill = await startQuill({
      env: {
        ADMIN_TOKEN: ADMIN,
        DATABASE_PATH: join(dir, "q.db"),
        POLL_INTERVAL_SECONDS: "0",
        LOG_LEVEL: "silent",
      },
      port: 0,
      host: "127.0.0.1",
      log: silentLogger,
    });
    try {
      const attempt = async (token: string) => {
        const page = await fetch(`${quill.url}/admin/login`);
        const cookie = page.headers.get("set-cookie")?.split(";")[0] ?? "";
        const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
        return fetch(`${quill.url}/admin/login`, {
          method: "POST",
          headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token, _csrf: csrf }).toString(),
          redirect: "manual",
        });
      };
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await attempt(`wrong-${i}`)).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      // Counted under the socket's address, not under "unknown" (which every client would share).
      const failures = await quill.services.store.loginFailuresOf([
        "ip:127.0.0.1",
        "ip:::ffff:127.0.0.1",
        "ip:unknown",
      ]);
      expect(failures).toMatchObject([{ key: expect.stringMatching(/127\.0\.0\.1$/), failures: 5 }]);
    } finally {
      await quill.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("sessions", () => {
  it("logout ends the session on the server: the old cookie no longer works", async () => {
    const quill = await instance();
    const { session } = await quill.login(ADMIN);
    expect((await quill.get("/admin/drafts", session)).status).toBe(200);
    const out = await quill.post("/admin/logout", session ?? "");
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/quill_session=;/);
    const after = await quill.get("/admin/drafts", session);
    expect(after.status).toBe(302);
    expect(after.headers.get("location")).toBe("/admin/login");
    const refused = await quill.post("/admin/logout", session ?? "");
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: true, reason: "log in first" });
  });

  it("a new website token, or disabling the website, ends that website's sessions at once", async () => {
    const quill = await instance();
    await quill.services.websites.update(W2, { adminToken: W2_TOKEN });
    const first = (await quill.login(W2_TOKEN, { website: W2 })).session;
    const admin = (await quill.login(ADMIN)).session;
    expect((await quill.get("/admin/drafts", first)).status).toBe(200);
    await quill.services.websites.update(W2, { adminToken: "the-new-token-of-website-two" });
    expect((await quill.get("/admin/drafts", first)).status).toBe(302);
    expect((await quill.login(W2_TOKEN, { website: W2 })).res.status).toBe(401);
    const second = (await quill.login("the-new-token-of-website-two", { website: W2 })).session;
    expect((await quill.get("/admin/drafts", second)).status).toBe(200);
    // Disabled from the dashboard: the website's session dies, its token opens nothing, the admin's stays.
    const saved = await quill.post("/admin/websites", admin ?? "", { websiteId: W2, enabled: "false" });
    expect(saved.status).toBe(303);
    expect((await quill.get("/admin/drafts", second)).status).toBe(302);
    expect((await quill.login("the-new-token-of-website-two")).res.status).toBe(401);
    expect((await quill.get("/admin/drafts", admin)).status).toBe(200);
  });

  it("a new ADMIN_TOKEN ends the sessions the old one opened", async () => {
    const before = await instance();
    const { session } = await before.login(ADMIN);
    const sameToken = await instance({}, { database: before.database, clock: before.time });
    expect((await sameToken.get("/admin/drafts", session)).status).toBe(200);
    const rotated = await instance(
      { ADMIN_TOKEN: "the-rotated-admin-token-xyz" },
      { database: before.database, clock: before.time },
    );
    expect((await rotated.get("/admin/drafts", session)).status).toBe(302);
  });

  it("expires on the server after 12 hours, whatever the cookie claims", async () => {
    const quill = await instance();
    const { session, res } = await quill.login(ADMIN);
    expect(res.headers.get("set-cookie")).toContain("Max-Age=43200");
    quill.time.advance(12 * 3600_000 - 1);
    expect((await quill.get("/admin/drafts", session)).status).toBe(200);
    quill.time.advance(2);
    expect((await quill.get("/admin/drafts", session)).status).toBe(302);
    // The old format (id.expires.signature) is no session at all.
    const [id, signature] = (session ?? "").replace("quill_session=", "").split(".");
    expect(
      (await quill.get("/admin/drafts", `quill_session=${id}~*.99999999999999.${signature}`)).status,
    ).toBe(302);
  });

  it("stores a website token as an HMAC, and converts a row that still holds its SHA-256", async () => {
    const quill = await instance();
    await quill.services.store.setWebsiteSettings(W2, { adminTokenHash: await sha256Hex(W2_TOKEN) });
    expect((await quill.login(W2_TOKEN)).res.status).toBe(303);
    const row = (await quill.services.store.getWebsiteSettings(W2)) ?? {};
    expect(row.adminTokenHash).toBeUndefined();
    expect(row.adminTokenMac).toMatch(/^[\w-]{43}$/);
    expect(JSON.stringify(row)).not.toContain(await sha256Hex(W2_TOKEN));
    expect((await quill.login(W2_TOKEN, { website: W2 })).res.status).toBe(303);
  });

  it("refuses a weak website token, naming the field", async () => {
    const quill = await instance();
    const admin = (await quill.login(ADMIN)).session ?? "";
    const res = await quill.post("/admin/websites", admin, { websiteId: W2, adminToken: "b" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("adminToken: at least 16 characters");
    expect(await quill.services.store.getWebsiteSettings(W2)).toBeUndefined();
  });
});

describe("pages", () => {
  const expectPageHeaders = (res: Response) => {
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  };

  it("sends CSP, nosniff, Referrer-Policy and no-store on the login page and every dashboard page", async () => {
    const quill = await instance();
    const { session } = await quill.login(ADMIN);
    const login = (await quill.form()).page;
    expectPageHeaders(login);
    expect(login.headers.get("cache-control")).toBe("no-store");
    for (const path of ["drafts", "prompts", "gaps", "triage", "health", "websites", "drafts/nope"]) {
      const res = await quill.get(`/admin/${path}`, session);
      expectPageHeaders(res);
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    expectPageHeaders(await quill.get("/admin/drafts"));
  });

  it("sends the same headers on the sandbox inbox, allowing its one inline script by hash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-auth-"));
    const quill = await startQuill({
      env: { DATABASE_PATH: join(dir, "q.db"), POLL_INTERVAL_SECONDS: "0", LOG_LEVEL: "silent" },
      port: 0,
      host: "127.0.0.1",
      log: silentLogger,
    });
    try {
      const res = await fetch(`${quill.url}/sandbox/`);
      expect(res.status).toBe(200);
      expectPageHeaders(res);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(REFRESH)));
      expect(res.headers.get("content-security-policy")).toContain(
        `script-src 'sha256-${btoa(String.fromCharCode(...digest))}'`,
      );
      expect(await res.text()).toContain(REFRESH.trim().slice(0, 40));
    } finally {
      await quill.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("marks cookies Secure unless the page is plain http on loopback", async () => {
    const quill = await instance();
    const cookie = async (url: string) => (await quill.app.request(url)).headers.get("set-cookie") ?? "";
    expect(await cookie("http://quill.example.com/admin/login")).toContain("Secure");
    expect(await cookie("https://quill.example.com/admin/login")).toContain("Secure");
    expect(await cookie("http://192.168.1.20:3000/admin/login")).toContain("Secure");
    expect(await cookie("http://localhost:3000/admin/login")).not.toContain("Secure");
    expect(await cookie("http://127.0.0.1:3000/admin/login")).not.toContain("Secure");
  });

  it("shows only fixed banner texts: ?flash= picks a code, never writes text", async () => {
    const quill = await instance({
      CRISP_IDENTIFIER: "",
      CRISP_KEY: "",
      CRISP_WEBSITE_ID: "",
      ADMIN_TOKEN: "",
    });
    const { job } = await quill.services.store.enqueueJob({
      websiteId: "w1",
      sessionId: "s1",
      fingerprint: 1,
      messageAt: 1,
      trigger: "webhook",
      runAfter: 0,
    });
    const draft = await quill.services.store.insertDraft({
      jobId: job.id,
      websiteId: "w1",
      sessionId: "s1",
      customerFingerprint: 1,
      text: "A draft.",
      mode: "note",
      status: "posted",
    });
    const page = async (flash: string) =>
      (await quill.get(`/admin/drafts/${draft.id}?flash=${encodeURIComponent(flash)}`)).text();
    const attack = await page("<script>alert(1)</script>Your account is locked, call +1 555 0100");
    expect(attack).not.toContain("alert(1)");
    expect(attack).not.toContain("account is locked");
    expect(attack).not.toContain('class="flash"');
    expect(await page("rejected")).toContain("Rejected: a confirmation note appears in Crisp.");
    expect(await page("constructor")).not.toContain('class="flash"');
  });

  it("answers 400, not 500, to query numbers out of range", async () => {
    const quill = await instance();
    const { session } = await quill.login(ADMIN);
    for (const query of ["page=1e20", "page=-1", "page=0", "page=abc", "page=1.5", "page=99999999"]) {
      const res = await quill.get(`/admin/drafts?${query}`, session);
      expect(res.status, query).toBe(400);
      expect(await res.text()).toContain("page: expected a whole number");
    }
    expect((await quill.get("/admin/gaps?days=1e20", session)).status).toBe(400);
    expect((await quill.get("/admin/drafts?page=2", session)).status).toBe(200);
    expect((await quill.get("/admin/gaps?days=7", session)).status).toBe(200);
  });
});

describe("secret strength", () => {
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it("refuses weak ADMIN_TOKEN, CRISP_WEBHOOK_SECRET and CRM_WEBHOOK_SECRET outside demo mode, naming each", () => {
    expect(problems({ ...REAL, ADMIN_TOKEN: "a" })).toEqual([
      "ADMIN_TOKEN: at least 16 characters, got 1 (`quill token` prints a strong one)",
    ]);
    expect(problems({ ...REAL, ADMIN_TOKEN: "aaaaaaaaaaaaaaaaaaaa" })).toEqual([
      expect.stringMatching(/^ADMIN_TOKEN: too repetitive/),
    ]);
    expect(problems({ ...REAL, CRISP_WEBHOOK_SECRET: "secret" })).toEqual([
      expect.stringMatching(/^CRISP_WEBHOOK_SECRET: at least 16 characters/),
    ]);
    expect(problems({ ...REAL, CRM_WEBHOOK_URL: "https://crm.test/h", CRM_WEBHOOK_SECRET: "crm" })).toEqual([
      expect.stringMatching(/^CRM_WEBHOOK_SECRET: at least 16 characters/),
    ]);
    expect(problems({ ...REAL, SESSION_SECRET: "short-session-secret" })).toEqual([
      expect.stringMatching(/^SESSION_SECRET: at least 32 characters/),
    ]);
    // Demo mode (no Crisp credentials) is local: a short token is fine there.
    expect(problems({ ADMIN_TOKEN: "a" })).toEqual([]);
  });

  it("`quill start` with a weak ADMIN_TOKEN exits non-zero with the variable's name, no stack", async () => {
    const errors: string[] = [];
    const saved = { ...process.env };
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args.join(" "));
    try {
      Object.assign(process.env, REAL, { ADMIN_TOKEN: "a", DATABASE_PATH: ":memory:" });
      expect(await main(["start"])).not.toBe(0);
    } finally {
      console.error = original;
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
    expect(errors.join("\n")).toContain("ADMIN_TOKEN: at least 16 characters");
    expect(errors.join("\n")).not.toMatch(/\n\s+at /);
  });

  it("`quill token` prints a token that passes every check", async () => {
    const out: string[] = [];
    const original = console.log;
    console.log = (line: string) => out.push(line);
    try {
      expect(await main(["token"])).toBe(0);
      expect(await main(["token"])).toBe(0);
    } finally {
      console.log = original;
    }
    const [first, second] = out;
    expect(first).toMatch(/^[\w-]{43}$/);
    expect(first).not.toBe(second);
    const config: Config = loadConfig({ ...REAL, ADMIN_TOKEN: first ?? "", SESSION_SECRET: second ?? "" });
    expect(config.adminToken).toBe(first);
  });
});
