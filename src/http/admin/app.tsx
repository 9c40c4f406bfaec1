import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Clock } from "../../clock.ts";
import { safeEqual } from "../../crypto.ts";
import type { CommandJobPayload } from "../../drafting/commands.ts";
import type { BreakerState } from "../../llm/chain.ts";
import type { McpTokens } from "../../mcp/tokens.ts";
import type { Draft, Store } from "../../store/store.ts";
import type { WebsiteDirectory } from "../../websites.ts";
import { jsonError } from "../errors.ts";
import { pageHeaders, secureRequest } from "../headers.ts";
import type { AdminEnv } from "./context.ts";
import { BASE, Layout } from "./layout.tsx";
import { createAgentsApp } from "./pages/agents.tsx";
import { createDraftApp } from "./pages/draft.tsx";
import { createDraftsApp } from "./pages/drafts.tsx";
import { createGapsApp } from "./pages/gaps.tsx";
import { createHealthApp } from "./pages/health.tsx";
import { LoginPage } from "./pages/login.tsx";
import { createOverviewApp } from "./pages/overview.tsx";
import { createPrivacyApp } from "./pages/privacy.tsx";
import { createPromptsApp } from "./pages/prompts.tsx";
import { createTriageApp } from "./pages/triage.tsx";
import { createWebsitesApp } from "./pages/websites.tsx";
import { SESSION_COOKIE, type Sessions } from "./session.ts";
import type { LoginThrottle } from "./throttle.ts";

/**
 * The admin dashboard, server-rendered with Hono JSX: login, sessions and CSRF here, one
 * module a page under pages/ (overview, drafts, a draft, prompts, gaps, triage, health, AI
 * agents, websites, privacy), each mounted behind the session check.
 */

export interface AdminDeps {
  store: Store;
  sessions: Sessions;
  /** Without a token the dashboard is open in demo mode and closed otherwise. */
  adminToken: string | undefined;
  /** ADMIN_USERS: named logins; what they approve or reject in the dashboard is credited to them. */
  adminUsers?: ReadonlyArray<{ name: string; token: string }> | undefined;
  demo: boolean;
  clock: Clock;
  /** Counts failed logins per client and per target (in the store, shared by every process). */
  throttle: LoginThrottle;
  /** The client's address as the runtime sees it (Node: the socket; Workers: CF-Connecting-IP). */
  clientAddress: (c: Context) => string | undefined;
  /** Breaker states by provider; with a website, only the chains that website drafts with. */
  breakerStates: (websiteId?: string) => Promise<Record<string, BreakerState>>;
  enqueueCommand: (draft: Draft, payload: CommandJobPayload) => Promise<void>;
  /** Plugin mode: website settings, and website-scoped dashboard tokens. */
  websites: WebsiteDirectory;
  /** AI agents' MCP tokens (the AI agents page). */
  mcpTokens: McpTokens;
}

const LOGIN_COOKIE = "quill_login";

const cookieOptions = (c: Context, path: string, maxAge: number) =>
  ({ httpOnly: true, sameSite: "Strict", secure: secureRequest(c.req.url), path, maxAge }) as const;

/** The scope a login token opens ("*" or a website), and the ADMIN_USERS name it belongs to. */
async function scopeOf(deps: AdminDeps, token: string, website: string) {
  const users = deps.adminUsers ?? [];
  // Every ADMIN_USERS token is compared (no early exit), so timing tells nothing of which matched.
  let user: string | undefined;
  if (!website) for (const u of users) if (safeEqual(token, u.token)) user ??= u.name;
  // An unset ADMIN_TOKEN matches nothing, not even an empty field.
  const admin = !website && deps.adminToken !== undefined && safeEqual(token, deps.adminToken);
  const scope = website
    ? await deps.websites.websiteForToken(token, website)
    : user || admin
      ? "*"
      : await deps.websites.websiteForToken(token);
  return { scope, user };
}

/** GET and POST /login, with login CSRF and the failed-login throttle. */
function mountLogin(app: Hono<AdminEnv>, deps: AdminDeps, open: boolean) {
  // Login CSRF: a random cookie set with the form, and a hidden field signed from it. A
  // cross-site page can neither read the cookie nor sign its own, so it cannot log a victim in.
  const loginPage = async (c: Context, error?: string, status: 200 | 401 | 403 | 429 = 200) => {
    const nonce = crypto.randomUUID();
    setCookie(c, LOGIN_COOKIE, nonce, cookieOptions(c, `${BASE}/login`, 3600));
    const csrf = await deps.sessions.csrfToken(`login:${nonce}`);
    return c.html(<LoginPage csrf={csrf} error={error} />, status);
  };

  app.get("/login", (c) => (open ? c.redirect(`${BASE}/`) : loginPage(c)));
  app.post("/login", async (c) => {
    if (open) return c.redirect(`${BASE}/`, 303);
    const body = await c.req.parseBody();
    const nonce = getCookie(c, LOGIN_COOKIE);
    const csrf = typeof body._csrf === "string" ? body._csrf : undefined;
    if (!nonce || !(await deps.sessions.checkCsrf(`login:${nonce}`, csrf))) {
      return loginPage(c, "The login form expired or came from another site. Try again.", 403);
    }
    const token = typeof body.token === "string" ? body.token : "";
    const website = typeof body.website === "string" ? body.website.trim().slice(0, 100) : "";
    // Failures count against this client and against the credential tried: with a website id
    // only that website's token, else ADMIN_TOKEN (and any website's token).
    const target = website ? `target:website:${website}` : "target:admin";
    const keys = [`ip:${deps.clientAddress(c) ?? "unknown"}`, target];
    const wait = await deps.throttle.wait(keys);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      c.header("Retry-After", String(seconds));
      return loginPage(c, `Too many failed logins. Try again in ${seconds} s.`, 429);
    }
    const { scope, user } = await scopeOf(deps, token, website);
    if (!scope) {
      await deps.throttle.fail(keys);
      await deps.clock.sleep(300);
      return loginPage(c, "That token is not right.", 401);
    }
    // Only the credential's own success clears its count: a website token cannot reset the admin's.
    if (target === (scope === "*" ? "target:admin" : `target:website:${scope}`))
      await deps.throttle.succeed(keys);
    setCookie(
      c,
      SESSION_COOKIE,
      await deps.sessions.issue(scope, user),
      cookieOptions(c, BASE, deps.sessions.ttlMs / 1000),
    );
    return c.redirect(`${BASE}/`, 303);
  });
}

/** Everything past login needs a session (or demo mode), and every form a CSRF token. */
function mountSessionCheck(app: Hono<AdminEnv>, deps: AdminDeps, open: boolean) {
  app.use("*", async (c, next) => {
    const session = open
      ? { id: "demo", scope: "*" }
      : await deps.sessions.verify(getCookie(c, SESSION_COOKIE));
    if (!session) {
      return c.req.method === "GET" ? c.redirect(`${BASE}/login`) : jsonError(c, 401, "log in first");
    }
    c.set("sessionId", session.id);
    c.set("scope", session.scope);
    c.set("user", "user" in session ? (session.user ?? "") : "");
    c.set("csrf", await deps.sessions.csrfToken(session.id));
    if (c.req.method === "POST") {
      const body = await c.req.parseBody();
      if (
        !(await deps.sessions.checkCsrf(session.id, typeof body._csrf === "string" ? body._csrf : undefined))
      ) {
        return c.text("Invalid or missing CSRF token. Reload the page and try again.", 403);
      }
    }
    await next();
    return undefined;
  });

  // The session ends in the store, not only in this browser: a copied cookie dies with it.
  app.post("/logout", async (c) => {
    await deps.sessions.revoke(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: BASE, secure: secureRequest(c.req.url) });
    return c.redirect(`${BASE}/login`, 303);
  });
}

function mountPages(app: Hono<AdminEnv>, deps: AdminDeps) {
  const { store, demo } = deps;
  const now = () => deps.clock.now();
  app.route("/", createOverviewApp({ store, now, demo }));
  app.route("/", createDraftsApp({ store, demo }));
  app.route("/", createDraftApp({ store, demo, enqueueCommand: deps.enqueueCommand }));
  app.route("/", createPromptsApp({ store, websites: deps.websites }));
  app.route("/", createGapsApp({ store, clock: deps.clock }));
  app.route("/", createTriageApp({ store }));
  app.route("/", createHealthApp({ store, breakerStates: deps.breakerStates }));
  app.route("/", createWebsitesApp({ websites: deps.websites }));
  app.route(
    "/agents",
    createAgentsApp({ store, tokens: deps.mcpTokens, primaryWebsiteId: deps.websites.primaryWebsiteId, now }),
  );
  app.route("/", createPrivacyApp({ store }));

  // Past the session check: a mistyped dashboard address gets a page with a way back, not JSON.
  app.all("*", (c) =>
    c.html(
      <Layout title="Not found" current="" csrf={c.get("csrf")}>
        <h1>Page not found</h1>
        <p>
          There is no dashboard page at this address. Go to the <a href={`${BASE}/`}>overview</a>.
        </p>
      </Layout>,
      404,
    ),
  );
}

export function createAdminApp(deps: AdminDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.use("*", pageHeaders());
  // No dashboard page, the login form included, belongs in a shared or browser cache.
  app.use("*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });
  const users = deps.adminUsers ?? [];
  const open = deps.demo && !deps.adminToken && users.length === 0;
  if (!deps.demo && !deps.adminToken && users.length === 0) {
    app.all("*", (c) =>
      c.text("The dashboard is disabled: set ADMIN_TOKEN or ADMIN_USERS to enable it.", 503),
    );
    return app;
  }
  mountLogin(app, deps, open);
  mountSessionCheck(app, deps, open);
  mountPages(app, deps);
  return app;
}
