import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Clock } from "../../clock.ts";
import { safeEqual } from "../../crypto.ts";
import type { CommandJobPayload } from "../../drafting/commands.ts";
import { findGaps } from "../../knowledge/gaps.ts";
import type { BreakerState } from "../../llm/chain.ts";
import type { McpTokens } from "../../mcp/tokens.ts";
import { eraseVisitor } from "../../privacy.ts";
import type { Draft, DraftStatus, FeedbackKind, Store } from "../../store/store.ts";
import { type WebsiteDirectory, WebsiteSettingsError } from "../../websites.ts";
import { jsonError } from "../errors.ts";
import { pageHeaders, secureRequest } from "../headers.ts";
import { formField, settingsFromForm } from "../settings-form.ts";
import { createAgentsApp } from "./agents.tsx";
import { BASE, fmt, Layout } from "./layout.tsx";
import { outcomeBadge } from "./outcomes.ts";
import { createOverviewApp, OutcomeBadge } from "./overview.tsx";
import { SESSION_COOKIE, type Sessions } from "./session.ts";
import { dailyAcceptance, groupStats, type OutcomeRow, wordDiff } from "./stats.ts";
import type { LoginThrottle } from "./throttle.ts";

/**
 * The admin dashboard, server-rendered with Hono JSX: drafts (filters, search), one draft
 * (transcript as the model saw it, outcome, diff, cost, latencies), approve/reject (the
 * same jobs as the note commands), prompt versions with acceptance and a chart, health.
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

/** Banner texts, chosen by code: a link can only pick one of these, never write its own. */
const FLASH = {
  stale: "This is no longer the latest draft of the conversation.",
  "reason-needed": "A reason is needed to reject.",
  sending:
    "Sending: the draft goes to the customer within seconds, and a confirmation note appears in Crisp.",
  rejected: "Rejected: a confirmation note appears in Crisp.",
} as const;
type FlashCode = keyof typeof FLASH;
const flashText = (code: string | undefined) =>
  code && Object.hasOwn(FLASH, code) ? FLASH[code as FlashCode] : undefined;

/** A positive integer query value up to `max`, the fallback when absent, or undefined (a 400). */
function queryInt(value: string | undefined, fallback: number, max: number): number | undefined {
  if (value === undefined || value === "") return fallback;
  if (!/^\d{1,7}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= max ? n : undefined;
}
const DRAFT_STATUSES: DraftStatus[] = [
  "posted",
  "sent",
  "approved",
  "rejected",
  "superseded",
  "discarded",
  "failed",
  "ready",
];
const OUTCOMES: Array<FeedbackKind | "none"> = [
  "approved",
  "sent_as_is",
  "sent_edited",
  "edited",
  "ignored",
  "rejected",
  "redraft",
  "resolved_no_reply",
  "none",
];

function Chart(props: { series: ReturnType<typeof dailyAcceptance>; names: Record<string, string> }) {
  const days = [...new Set(props.series.flatMap((s) => s.points.map((p) => p.day)))].sort();
  if (days.length === 0) return <p>No decided drafts yet.</p>;
  const width = 640;
  const height = 200;
  const x = (day: string) =>
    days.length === 1 ? width / 2 : 40 + (days.indexOf(day) / (days.length - 1)) * (width - 60);
  const y = (rate: number) => 10 + (1 - rate) * (height - 40);
  const colours = ["#1558d6", "#d6442b", "#1b8a4c", "#a05ad6", "#d69a15"];
  return (
    <svg
      role="img"
      aria-label="Acceptance rate per day and prompt version"
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
    >
      {[0, 0.5, 1].map((r) => (
        <g>
          <line x1="35" x2={width - 10} y1={y(r)} y2={y(r)} stroke="#e3e7ef" />
          <text x="0" y={y(r) + 4} font-size="11">{`${r * 100}%`}</text>
        </g>
      ))}
      {props.series.map((s, i) => (
        <g>
          <polyline
            fill="none"
            stroke={colours[i % colours.length]}
            stroke-width="2"
            points={s.points.map((p) => `${x(p.day)},${y(p.rate)}`).join(" ")}
          />
          {s.points.map((p) => (
            <circle cx={x(p.day)} cy={y(p.rate)} r="3" fill={colours[i % colours.length]}>
              <title>{`${props.names[s.key] ?? s.key} ${p.day}: ${(p.rate * 100).toFixed(0)}% of ${p.n}`}</title>
            </circle>
          ))}
          <text x={45 + i * 150} y={height - 5} font-size="11" fill={colours[i % colours.length]}>
            {props.names[s.key] ?? s.key}
          </text>
        </g>
      ))}
    </svg>
  );
}

/** The Websites page's settings fields (secrets and the token are handled apart: empty keeps them). */
const WEBSITE_FORM = [
  "name",
  "enabled",
  "prompt",
  "provider",
  "replyMode",
  "autoSendIntents",
  "autoSendMinConfidence",
  "linkAllowlist",
  "kbDir",
  "crmUrl",
  "rules",
] as const;

/** The conversation in Crisp's inbox (in demo mode, the local sandbox's). */
export const crispConversationUrl = (websiteId: string, sessionId: string) =>
  `https://app.crisp.chat/website/${encodeURIComponent(websiteId)}/inbox/${encodeURIComponent(sessionId)}/`;

/**
 * The customer's message the draft answers (the context's query). RETENTION_DAYS blanks it
 * with the draft's text, and a draft that failed early never had one: both say so.
 */
function Question(props: { draft: Draft }) {
  const query = props.draft.context?.query.trim();
  if (query) return <>{query}</>;
  const blanked = props.draft.context === null && props.draft.text === "" && !props.draft.error;
  return (
    <span class="muted">
      {blanked ? "(not kept: older than the retention period)" : "(no question recorded)"}
    </span>
  );
}

/** The draft and what was sent side by side: removed words marked in the draft, added ones in the reply. */
function SentDiff(props: { draft: string; sent: string; similarity: number | null }) {
  const parts = wordDiff(props.draft, props.sent);
  return (
    <>
      <h3>{`What the operator sent, against the draft${props.similarity === null ? "" : ` (similarity ${fmt.num(props.similarity)})`}`}</h3>
      <div class="diff" data-testid="diff">
        <div>
          <h3>Draft</h3>
          <pre>
            {parts.map((part) =>
              part.op === "same" ? part.text : part.op === "del" ? <del>{part.text}</del> : null,
            )}
          </pre>
        </div>
        <div>
          <h3>Sent</h3>
          <pre>
            {parts.map((part) =>
              part.op === "same" ? part.text : part.op === "ins" ? <ins>{part.text}</ins> : null,
            )}
          </pre>
        </div>
      </div>
    </>
  );
}

function ConversationLink(props: { draft: Draft; demo: boolean }) {
  const { websiteId, sessionId } = props.draft;
  return props.demo ? (
    <a
      href={`/sandbox/?session=${encodeURIComponent(sessionId)}`}
      title="The conversation in the local sandbox"
    >
      sandbox
    </a>
  ) : (
    <a
      href={crispConversationUrl(websiteId, sessionId)}
      rel="noreferrer"
      target="_blank"
      title="The conversation in Crisp's inbox"
    >
      Crisp
    </a>
  );
}

export function createAdminApp(
  deps: AdminDeps,
): Hono<{ Variables: { sessionId: string; csrf: string; scope: string; user: string } }> {
  const app = new Hono<{ Variables: { sessionId: string; csrf: string; scope: string; user: string } }>();
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
  const cookieOptions = (c: Context, path: string, maxAge: number) =>
    ({ httpOnly: true, sameSite: "Strict", secure: secureRequest(c.req.url), path, maxAge }) as const;

  // Login CSRF: a random cookie set with the form, and a hidden field signed from it. A
  // cross-site page can neither read the cookie nor sign its own, so it cannot log a victim in.
  const loginPage = async (c: Context, error?: string, status: 200 | 401 | 403 | 429 = 200) => {
    const nonce = crypto.randomUUID();
    setCookie(c, LOGIN_COOKIE, nonce, cookieOptions(c, `${BASE}/login`, 3600));
    const csrf = await deps.sessions.csrfToken(`login:${nonce}`);
    return c.html(
      <Layout title="Log in" current="">
        <h1>Log in</h1>
        {error ? (
          <p class="flash error" role="alert">
            {error}
          </p>
        ) : null}
        <form method="post" action={`${BASE}/login`}>
          <input type="hidden" name="_csrf" value={csrf} />
          <label>
            Admin token (yours from ADMIN_USERS, or a website's own dashboard token)
            <input type="password" name="token" autocomplete="current-password" required />
          </label>
          <label>
            Website id (optional: with a website's token, logs in even while the admin login is throttled)
            <input name="website" autocomplete="off" />
          </label>
          <p>
            <button type="submit">Log in</button>
          </p>
        </form>
      </Layout>,
      status,
    );
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
    // only that website's token, else ADMIN_TOKEN (and, as before, any website's token).
    const target = website ? `target:website:${website}` : "target:admin";
    const keys = [`ip:${deps.clientAddress(c) ?? "unknown"}`, target];
    const wait = await deps.throttle.wait(keys);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      c.header("Retry-After", String(seconds));
      return loginPage(c, `Too many failed logins. Try again in ${seconds} s.`, 429);
    }
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

  // Everything else needs a session (or demo mode), and every form a CSRF token.
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

  app.route("/", createOverviewApp({ store: deps.store, now: () => deps.clock.now(), demo: deps.demo }));

  /** The website a page may show: the session's own, or any (a filter) with ADMIN_TOKEN. */
  type Scoped = { get: (key: "scope") => string };
  const websiteOf = (c: Scoped, asked?: string) => {
    const scope = c.get("scope");
    return scope === "*" ? asked || undefined : scope;
  };
  const visible = (c: Scoped, draft: Draft | undefined) =>
    draft && (c.get("scope") === "*" || draft.websiteId === c.get("scope")) ? draft : undefined;

  app.get("/drafts", async (c) => {
    const q = c.req.query();
    const page = queryInt(q.page, 1, 100_000);
    if (page === undefined) return c.text("page: expected a whole number from 1 to 100000.", 400);
    const status = DRAFT_STATUSES.includes(q.status as DraftStatus) ? (q.status as DraftStatus) : undefined;
    const outcome = OUTCOMES.includes(q.outcome as FeedbackKind)
      ? (q.outcome as FeedbackKind | "none")
      : undefined;
    const from = q.from ? Date.parse(`${q.from}T00:00:00Z`) : undefined;
    const to = q.to ? Date.parse(`${q.to}T23:59:59Z`) : undefined;
    const drafts = await deps.store.listDrafts({
      websiteId: websiteOf(c, q.website),
      status,
      outcome,
      promptVersion: q.version || undefined,
      from: Number.isFinite(from) ? from : undefined,
      to: Number.isFinite(to) ? to : undefined,
      search: q.q || undefined,
      limit: 51,
      offset: (page - 1) * 50,
    });
    const versions = await deps.store.listPromptVersions();
    const more = drafts.length > 50;
    const link = (p: number) => `${BASE}/drafts?${new URLSearchParams({ ...q, page: String(p) })}`;
    return c.html(
      <Layout title="Drafts" current="drafts" csrf={c.get("csrf")}>
        <h1>Drafts</h1>
        <search>
          <form class="filters" method="get" action={`${BASE}/drafts`}>
            <label>
              Search
              <input type="search" name="q" value={q.q ?? ""} />
            </label>
            <label>
              Status
              <select name="status">
                <option value="">any</option>
                {DRAFT_STATUSES.map((s) => (
                  <option value={s} selected={s === status}>
                    {s}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Outcome
              <select name="outcome">
                <option value="">any</option>
                {OUTCOMES.map((o) => (
                  <option value={o} selected={o === outcome}>
                    {o}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Prompt version
              <select name="version">
                <option value="">any</option>
                {versions.map((v) => (
                  <option value={v.hash} selected={v.hash === q.version}>
                    {`${v.name} ${v.hash.slice(0, 8)}`}
                  </option>
                ))}
              </select>
            </label>
            <label>
              From
              <input type="date" name="from" value={q.from ?? ""} />
            </label>
            <label>
              To
              <input type="date" name="to" value={q.to ?? ""} />
            </label>
            <button type="submit">Filter</button>
          </form>
        </search>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Customer's question</th>
                <th scope="col">Draft</th>
                <th scope="col">Outcome</th>
                <th scope="col">Status</th>
                <th scope="col">Intent</th>
                <th scope="col">Confidence</th>
                <th scope="col">Provider</th>
                <th scope="col">Conversation</th>
              </tr>
            </thead>
            <tbody>
              {drafts.slice(0, 50).map((d) => {
                const badge = outcomeBadge(d.outcome, d.outcomeSimilarity, d.status);
                return (
                  <tr>
                    <td>{fmt.time(d.createdAt)}</td>
                    <td class="question">
                      <Question draft={d} />
                    </td>
                    <td class="text">
                      <a href={`${BASE}/drafts/${d.id}`}>{d.text || d.error || "(empty)"}</a>
                    </td>
                    <td>
                      <OutcomeBadge cls={badge.cls} label={badge.label} />
                    </td>
                    <td>
                      <span class="badge">{d.status}</span>
                    </td>
                    <td>{d.intent ?? "—"}</td>
                    <td>{fmt.num(d.confidence)}</td>
                    <td>{d.provider ?? "—"}</td>
                    <td>
                      <ConversationLink draft={d} demo={deps.demo} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {drafts.length === 0 ? <p>No drafts match.</p> : null}
        <p>
          {page > 1 ? <a href={link(page - 1)}>← newer</a> : null}{" "}
          {more ? <a href={link(page + 1)}>older →</a> : null}
        </p>
      </Layout>,
    );
  });

  app.get("/drafts/:id", async (c) => {
    const draft = visible(c, await deps.store.getDraft(c.req.param("id")));
    if (!draft)
      return c.html(
        <Layout title="Not found" current="drafts">
          {<p>No such draft.</p>}
        </Layout>,
        404,
      );
    const [feedback, calls, latest, triage] = await Promise.all([
      deps.store.feedbackForDraft(draft.id),
      deps.store.llmCallsForJob(draft.jobId),
      deps.store.latestDraftForSession(draft.websiteId, draft.sessionId),
      deps.store.listTriageRuns({ websiteId: draft.websiteId, jobId: draft.jobId }),
    ]);
    const final = [...feedback].reverse().find((f) => f.finalText);
    const actionable = latest?.id === draft.id && draft.status === "posted";
    const flash = flashText(c.req.query("flash"));
    const csrf = c.get("csrf");
    return c.html(
      <Layout title="Draft" current="drafts" csrf={csrf}>
        <p>
          <a href={`${BASE}/drafts`}>← all drafts</a>
        </p>
        {flash ? (
          <p class="flash" role="status">
            {flash}
          </p>
        ) : null}
        <h1>
          Draft <span class="badge">{draft.status}</span>
        </h1>
        <div class="grid">
          <section aria-labelledby="draft-text">
            <h2>Customer's question</h2>
            <blockquote data-testid="question">
              <Question draft={draft} />
            </blockquote>
            <h2 id="draft-text">Draft ({draft.mode})</h2>
            <pre data-testid="draft-text">{draft.text || draft.error}</pre>
            {draft.flags.length ? (
              <ul>
                {draft.flags.map((f) => (
                  <li>⚠️ {f}</li>
                ))}
              </ul>
            ) : null}
            {draft.citations.length ? <p>Sources: {draft.citations.map((c) => c.title).join("; ")}</p> : null}
            {actionable ? (
              <p class="muted">
                {c.get("user")
                  ? `Your decision is credited to ${c.get("user")}.`
                  : 'Decisions from this login are credited to "dashboard"; named logins (ADMIN_USERS) are credited by name.'}
              </p>
            ) : null}
            {actionable ? (
              <div style="display:flex;gap:1rem;flex-wrap:wrap">
                <form method="post" action={`${BASE}/drafts/${draft.id}/approve`}>
                  <input type="hidden" name="_csrf" value={csrf} />
                  <button type="submit">Approve and send</button>
                </form>
                <form
                  method="post"
                  action={`${BASE}/drafts/${draft.id}/reject`}
                  style="display:flex;gap:.5rem"
                >
                  <input type="hidden" name="_csrf" value={csrf} />
                  <label>
                    Reason
                    <input type="text" name="reason" required />
                  </label>
                  <button class="secondary" type="submit">
                    Reject
                  </button>
                </form>
              </div>
            ) : null}
            <h2>Outcome</h2>
            {feedback.length === 0 ? <p>No outcome yet.</p> : null}
            <ul>
              {feedback.map((f) => (
                <li>
                  {fmt.time(f.createdAt)} ·{" "}
                  <OutcomeBadge {...outcomeBadge(f.kind, f.similarity, draft.status)} />{" "}
                  <strong>{f.kind}</strong>
                  {f.operatorName ? ` by ${f.operatorName}` : ""}
                  {f.similarity !== null ? ` · similarity ${fmt.num(f.similarity)}` : ""}
                  {f.reason ? ` · ${f.reason}` : ""}
                  {f.delayMs !== null ? ` · after ${Math.round(f.delayMs / 1000)} s` : ""}
                </li>
              ))}
            </ul>
            {final?.finalText && final.finalText !== draft.text ? (
              <SentDiff draft={draft.text} sent={final.finalText} similarity={final.similarity} />
            ) : null}
          </section>
          <section aria-labelledby="facts">
            <h2 id="facts">Facts</h2>
            <dl>
              <dt>Conversation</dt>
              <dd>
                {draft.sessionId} · <ConversationLink draft={draft} demo={deps.demo} />
              </dd>
              <dt>Created</dt>
              <dd>{fmt.time(draft.createdAt)}</dd>
              <dt>Posted</dt>
              <dd>{fmt.time(draft.postedAt)}</dd>
              <dt>Intent</dt>
              <dd>{draft.intent ?? "—"}</dd>
              <dt>Confidence</dt>
              <dd>{fmt.num(draft.confidence)}</dd>
              <dt>Needs a human</dt>
              <dd>{draft.needsHuman ? `yes: ${draft.needsHumanReason ?? ""}` : "no"}</dd>
              <dt>Policy</dt>
              <dd>{draft.policyReasons.join("; ") || "auto-send allowed"}</dd>
              <dt>Provider</dt>
              <dd>{`${draft.provider ?? "—"} ${draft.model ?? ""}`}</dd>
              <dt>Prompt</dt>
              <dd>{`${draft.promptName ?? "—"} ${draft.promptVersion?.slice(0, 8) ?? ""}${draft.variant ? ` (variant ${draft.variant})` : ""}`}</dd>
              <dt>Tokens</dt>
              <dd>{`${draft.tokensIn} in (${draft.tokensCached} cached) · ${draft.tokensOut} out`}</dd>
              <dt>Cost</dt>
              <dd>{fmt.usd(draft.costUsd)}</dd>
              <dt>Latency</dt>
              <dd>
                {Object.entries(draft.latency)
                  .map(([stage, ms]) => `${stage} ${Math.round(ms)} ms`)
                  .join(" · ") || "—"}
              </dd>
            </dl>
            <h3>LLM calls</h3>
            <ul>
              {calls.map((call) => (
                <li>{`${call.provider} ${call.model ?? ""}: ${call.status}, ${call.latencyMs} ms${call.error ? ` (${call.error})` : ""}`}</li>
              ))}
            </ul>
            <h3>Triage</h3>
            {triage.length ? (
              <ul data-testid="triage">
                {triage.map((run) => (
                  <li>{`${run.phase === "before" ? "before drafting" : "on the draft"}: ${run.rules.join(", ")} → ${run.results
                    .map((r) => `${r.action} ${r.ok ? "ok" : "failed"}${r.detail ? ` (${r.detail})` : ""}`)
                    .join("; ")}`}</li>
                ))}
              </ul>
            ) : (
              <p>No rule fired.</p>
            )}
          </section>
        </div>
        <h2>What the model saw</h2>
        <pre>{draft.transcript ?? "—"}</pre>
      </Layout>,
    );
  });

  const act =
    (name: "approve" | "reject") =>
    async (c: Context<{ Variables: { sessionId: string; csrf: string; scope: string; user: string } }>) => {
      const draft = visible(c, await deps.store.getDraft(c.req.param("id") ?? ""));
      if (!draft) return c.text("No such draft.", 404);
      const body = await c.req.parseBody();
      const reason = typeof body.reason === "string" ? body.reason.trim() : "";
      const back = (flash: FlashCode) => c.redirect(`${BASE}/drafts/${draft.id}?flash=${flash}`, 303);
      const latest = await deps.store.latestDraftForSession(draft.websiteId, draft.sessionId);
      if (latest?.id !== draft.id) return back("stale");
      if (name === "reject" && !reason) return back("reason-needed");
      // A named login (ADMIN_USERS) is credited by name; a shared token can only say "dashboard".
      const user = c.get("user");
      await deps.enqueueCommand(draft, {
        name,
        arg: reason,
        operatorName: user || "dashboard",
        ...(user ? { operatorId: `dashboard:${user}` } : {}),
      });
      return back(name === "approve" ? "sending" : "rejected");
    };
  app.post("/drafts/:id/approve", act("approve"));
  app.post("/drafts/:id/reject", act("reject"));

  app.get("/prompts", async (c) => {
    const rows = (await deps.store.draftOutcomes({
      websiteId: websiteOf(c, c.req.query("website")),
    })) as OutcomeRow[];
    // prompt_versions has no website: a scoped session sees the versions its own drafts used
    // and those of its configured prompt, never another website's prompt text.
    const scope = c.get("scope");
    const own = scope === "*" ? undefined : (await deps.websites.get(scope))?.prompt;
    const used = new Set(rows.map((r) => r.promptVersion));
    const versions = (await deps.store.listPromptVersions()).filter(
      (v) => scope === "*" || used.has(v.hash) || v.name === own,
    );
    const byVersion = groupStats(rows, (r) => r.promptVersion ?? "none").sort((a, b) => b.lastAt - a.lastAt);
    const byVariant = groupStats(
      rows.filter((r) => r.variant),
      (r) => r.variant ?? "",
    );
    const names = Object.fromEntries(byVersion.map((v) => [v.key, `${v.name} ${v.key.slice(0, 8)}`]));
    return c.html(
      <Layout title="Prompts" current="prompts" csrf={c.get("csrf")}>
        <h1>Prompt versions</h1>
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Drafts</th>
              <th scope="col">Decided</th>
              <th scope="col">Accepted (95% CI)</th>
              <th scope="col">Edited</th>
              <th scope="col">Mean similarity</th>
              <th scope="col">Latency p50 / p95</th>
              <th scope="col">Cost per draft</th>
              <th scope="col">Last used</th>
            </tr>
          </thead>
          <tbody>
            {byVersion.map((v) => (
              <tr>
                <td>
                  <a href={`${BASE}/drafts?version=${v.key}`}>{names[v.key]}</a>
                </td>
                <td>{v.drafts}</td>
                <td>{v.decided}</td>
                <td>
                  {fmt.pct(v.acceptance)}
                  {v.interval ? ` (${fmt.pct(v.interval.low)}–${fmt.pct(v.interval.high)})` : ""}
                </td>
                <td>{v.edited}</td>
                <td>{fmt.num(v.meanSimilarity)}</td>
                <td>{`${fmt.ms(v.p50Ms)} / ${fmt.ms(v.p95Ms)}`}</td>
                <td>{fmt.usd(v.costPerDraft)}</td>
                <td>{fmt.time(v.lastAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Acceptance over time</h2>
        <Chart series={dailyAcceptance(rows, (r) => r.promptVersion ?? "none")} names={names} />
        {byVariant.length ? (
          <>
            <h2>A/B variants</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Variant</th>
                  <th scope="col">Drafts</th>
                  <th scope="col">Decided</th>
                  <th scope="col">Accepted (95% CI)</th>
                </tr>
              </thead>
              <tbody>
                {byVariant.map((v) => (
                  <tr>
                    <td>{v.key}</td>
                    <td>{v.drafts}</td>
                    <td>{v.decided}</td>
                    <td>
                      {fmt.pct(v.acceptance)}
                      {v.interval ? ` (${fmt.pct(v.interval.low)}–${fmt.pct(v.interval.high)})` : ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
        <h2>Versions</h2>
        {versions.map((v) => (
          <details>
            <summary>{`${v.name} ${v.hash.slice(0, 8)} · first used ${fmt.time(v.createdAt)}`}</summary>
            <pre>{v.body}</pre>
          </details>
        ))}
      </Layout>,
    );
  });

  app.get("/gaps", async (c) => {
    const days = queryInt(c.req.query("days"), 30, 365);
    if (days === undefined) return c.text("days: expected a whole number from 1 to 365.", 400);
    const groups = findGaps(
      await deps.store.gapCandidates({
        websiteId: websiteOf(c, c.req.query("website")),
        since: deps.clock.now() - days * 86_400_000,
      }),
    );
    return c.html(
      <Layout title="Knowledge gaps" current="gaps" csrf={c.get("csrf")}>
        <h1>Knowledge gaps</h1>
        <p>
          {`Questions from the last ${days} days whose drafts were rejected, ignored, rewritten, or handed over
          with no matching article, grouped by the words they share. Each group is an article worth writing.`}
        </p>
        {groups.length === 0 ? <p>No gaps: every question found an article operators accepted.</p> : null}
        <table>
          <thead>
            <tr>
              <th scope="col">Topic</th>
              <th scope="col">Questions</th>
              <th scope="col">Why</th>
              <th scope="col">Examples</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <tr>
                <td>{g.topic.join(", ")}</td>
                <td>{g.count}</td>
                <td>
                  {Object.entries(g.reasons)
                    .map(([reason, n]) => `${reason} ${n}`)
                    .join(", ")}
                </td>
                <td>
                  <ul>
                    {g.questions.map((q, i) => (
                      <li>
                        <a href={`${BASE}/drafts/${g.draftIds[i] ?? ""}`}>{q}</a>
                      </li>
                    ))}
                  </ul>
                </td>
                <td>{fmt.time(g.lastAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
    );
  });

  app.get("/triage", async (c) => {
    const runs = await deps.store.listTriageRuns({
      websiteId: websiteOf(c, c.req.query("website")),
      limit: 200,
    });
    return c.html(
      <Layout title="Triage" current="triage" csrf={c.get("csrf")}>
        <h1>Triage</h1>
        <p>The latest rule firings (RULES_FILE, or a website's own rules), with the result of each action.</p>
        {runs.length === 0 ? <p>No rule has fired yet.</p> : null}
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Conversation</th>
              <th>Phase</th>
              <th>Rules</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr>
                <td>{fmt.time(run.createdAt)}</td>
                <td>
                  {run.draftId ? (
                    <a href={`${BASE}/drafts/${run.draftId}`}>{run.sessionId}</a>
                  ) : (
                    run.sessionId
                  )}
                </td>
                <td>{run.phase === "before" ? "before drafting" : "on the draft"}</td>
                <td>{run.rules.join(", ")}</td>
                <td>
                  {run.results
                    .map((r) => `${r.action} ${r.ok ? "ok" : "failed"}${r.detail ? ` (${r.detail})` : ""}`)
                    .join("; ")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
    );
  });

  app.get("/health", async (c) => {
    const websiteId = websiteOf(c, c.req.query("website"));
    const [counts, dead, failedForGood, paused] = await Promise.all([
      deps.store.countJobsByStatus(websiteId),
      deps.store.listJobs({ status: "dead", limit: 20, websiteId }),
      deps.store.listJobs({ status: "failed", limit: 20, websiteId }),
      deps.store.pausedConversations(websiteId, 50),
    ]);
    const failed = [...dead, ...failedForGood].sort((a, b) => b.updatedAt - a.updatedAt).slice(0, 20);
    const breakers = await deps.breakerStates(websiteId);
    return c.html(
      <Layout title="Health" current="health" csrf={c.get("csrf")}>
        <h1>Health</h1>
        <h2>Jobs</h2>
        <dl>
          {["queued", "leased", "done", "skipped", "superseded", "failed", "dead"].map((s) => (
            <>
              <dt>{s}</dt>
              <dd data-testid={`jobs-${s}`}>{counts[s] ?? 0}</dd>
            </>
          ))}
        </dl>
        <h2>LLM providers</h2>
        <dl>
          {Object.entries(breakers).map(([name, state]) => (
            <>
              <dt>{name}</dt>
              <dd>{state === "closed" ? "ok (breaker closed)" : `breaker ${state.replace("_", "-")}`}</dd>
            </>
          ))}
        </dl>
        <h2 id="paused">Conversations where quill is off</h2>
        {paused.length === 0 ? (
          <p>None. A /quill off note from an operator stops drafts in one conversation.</p>
        ) : (
          <>
            <p>No drafts here until an operator writes /quill on in the conversation.</p>
            <ul data-testid="paused">
              {paused.map((p) => (
                <li>{`${p.sessionId} · off since ${fmt.time(p.pausedAt ?? p.updatedAt)}${p.changedBy ? ` by ${p.changedBy}` : ""}${websiteId ? "" : ` · website ${p.websiteId}`}`}</li>
              ))}
            </ul>
          </>
        )}
        <h2>Jobs that failed or gave up</h2>
        {failed.length === 0 ? <p>None.</p> : null}
        <ul>
          {failed.map((j) => (
            <li>{`${fmt.time(j.updatedAt)} · ${j.sessionId} · ${j.status} after ${j.attempts} attempts · ${j.lastError ?? ""}`}</li>
          ))}
        </ul>
      </Layout>,
    );
  });

  // Plugin mode: per-website settings. Only ADMIN_TOKEN sessions may see or change them.
  const websitesPage = async (
    c: Context<{ Variables: { sessionId: string; csrf: string; scope: string; user: string } }>,
    errors: string[] = [],
    submitted?: { id: string; values: Record<string, unknown> },
  ) => {
    if (c.get("scope") !== "*") return c.text("Only the ADMIN_TOKEN may manage websites.", 403);
    const rows = await deps.websites.list();
    const { prompts, providers } = deps.websites.known;
    // After a refused save, the form shows what was typed, not what is stored.
    const edit = submitted?.id ?? c.req.query("id") ?? "";
    const current =
      submitted?.values ??
      ((rows.find((r) => r.websiteId === edit)?.settings ?? {}) as Record<string, unknown>);
    const text = (key: string) =>
      Array.isArray(current[key]) ? (current[key] as string[]).join(", ") : String(current[key] ?? "");
    return c.html(
      <Layout title="Websites" current="websites" csrf={c.get("csrf")}>
        <h1>Websites</h1>
        <p>{`quill serves ${deps.websites.primaryWebsiteId || "no website"} (CRISP_WEBSITE_ID) and every enabled website below. A website's settings override the defaults from the environment.`}</p>
        {errors.length ? (
          <ul class="flash error" role="alert">
            {errors.map((e) => (
              <li>{e}</li>
            ))}
          </ul>
        ) : null}
        <table>
          <thead>
            <tr>
              <th>Website</th>
              <th>Name</th>
              <th>Enabled</th>
              <th>Prompt</th>
              <th>Provider</th>
              <th>Mode</th>
              <th>Rules</th>
              <th>CRM</th>
              <th>Dashboard token</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const w = r.settings as Record<string, unknown>;
              return (
                <tr>
                  <td>
                    <a href={`${BASE}/websites?id=${encodeURIComponent(r.websiteId)}`}>{r.websiteId}</a>
                  </td>
                  <td>{String(w.name ?? "—")}</td>
                  <td>{w.enabled === false ? "no" : "yes"}</td>
                  <td>{String(w.prompt ?? "default")}</td>
                  <td>{String(w.provider ?? "default")}</td>
                  <td>{String(w.replyMode ?? "default")}</td>
                  <td>{w.rules ? "own" : "default"}</td>
                  <td>{w.crmUrl ? "own hook" : w.crmSecret ? "inbound only" : "—"}</td>
                  <td>{w.adminTokenMac || w.adminTokenHash ? "set" : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <h2>{edit ? `Edit ${edit}` : "Add a website"}</h2>
        <form method="post" action={`${BASE}/websites`} class="settings">
          <input type="hidden" name="_csrf" value={c.get("csrf")} />
          <label>
            Website id
            <input name="websiteId" required value={edit} />
          </label>
          <label>
            Name
            <input name="name" value={text("name")} />
          </label>
          <label>
            Enabled
            <select name="enabled">
              <option value="true" selected={current.enabled !== false}>
                yes
              </option>
              <option value="false" selected={current.enabled === false}>
                no
              </option>
            </select>
          </label>
          <label>
            Prompt
            <select name="prompt">
              <option value="">default</option>
              {prompts.map((p) => (
                <option value={p} selected={current.prompt === p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Provider
            <select name="provider">
              <option value="">default</option>
              {providers.map((p) => (
                <option value={p} selected={current.provider === p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Reply mode
            <select name="replyMode">
              <option value="">default</option>
              <option value="note" selected={current.replyMode === "note"}>
                note
              </option>
              <option value="auto" selected={current.replyMode === "auto"}>
                auto
              </option>
            </select>
          </label>
          <label>
            Auto-send intents (comma-separated)
            <input name="autoSendIntents" value={text("autoSendIntents")} />
          </label>
          <label>
            Auto-send minimum confidence
            <input name="autoSendMinConfidence" inputmode="decimal" value={text("autoSendMinConfidence")} />
          </label>
          <label>
            Link allowlist (comma-separated)
            <input name="linkAllowlist" value={text("linkAllowlist")} />
          </label>
          <label>
            Knowledge base folder (Node)
            <input name="kbDir" value={text("kbDir")} />
          </label>
          <label>
            Triage rules (YAML or JSON)
            <textarea name="rules" rows={8} cols={80}>
              {text("rules")}
            </textarea>
          </label>
          <label>
            CRM hook URL (outcome summaries of this website)
            <input name="crmUrl" type="url" value={text("crmUrl")} />
          </label>
          <label>
            New CRM secret (signs the hook, verifies POST /crm/people; leave empty to keep)
            <input type="password" name="crmSecret" autocomplete="new-password" />
          </label>
          <label>
            New Hugo MCP secret (Crisp AI agent → External MCP servers, mcp_sec_…; lets Hugo call /mcp for
            this website; leave empty to keep)
            <input type="password" name="hugoMcpSecret" autocomplete="new-password" />
          </label>
          <label>
            New dashboard token for this website (16+ characters, `quill token` prints one; stored as an HMAC;
            leave empty to keep)
            <input type="password" name="adminToken" autocomplete="new-password" />
          </label>
          <p>
            <button type="submit">Save</button>
          </p>
        </form>
      </Layout>,
      errors.length ? 400 : 200,
    );
  };
  app.get("/websites", (c) => websitesPage(c));
  app.post("/websites", async (c) => {
    if (c.get("scope") !== "*") return c.text("Only the ADMIN_TOKEN may manage websites.", 403);
    const body = await c.req.parseBody();
    const field = formField(body);
    const id = field("websiteId");
    if (!/^[A-Za-z0-9-]{1,100}$/.test(id)) return websitesPage(c, ["websiteId: expected a Crisp website id"]);
    const token = field("adminToken");
    const crmSecret = field("crmSecret");
    const hugoMcpSecret = field("hugoMcpSecret");
    const values: Record<string, unknown> = settingsFromForm(body, WEBSITE_FORM);
    try {
      await deps.websites.update(id, {
        ...values,
        ...(crmSecret ? { crmSecret } : {}),
        ...(hugoMcpSecret ? { hugoMcpSecret } : {}),
        ...(token ? { adminToken: token } : {}),
      });
    } catch (error) {
      if (error instanceof WebsiteSettingsError) return websitesPage(c, error.problems, { id, values });
      throw error;
    }
    return c.redirect(`${BASE}/websites?id=${encodeURIComponent(id)}`, 303);
  });

  app.route(
    "/agents",
    createAgentsApp({
      store: deps.store,
      tokens: deps.mcpTokens,
      primaryWebsiteId: deps.websites.primaryWebsiteId,
      now: () => deps.clock.now(),
    }),
  );
  /**
   * A visitor's erasure request, by email: every row of their conversations goes (the same
   * as `quill privacy erase`). A website's session erases in its own website only.
   */
  const privacyPage = (
    c: Context<{ Variables: { sessionId: string; csrf: string; scope: string; user: string } }>,
    result?: { email: string; conversations: number; counts: Record<string, number> } | { error: string },
  ) =>
    c.html(
      <Layout title="Privacy" current="privacy" csrf={c.get("csrf")}>
        <h1>Privacy</h1>
        <p>
          Erase what quill holds about one visitor: their conversations' web hook records, jobs, drafts,
          feedback, LLM calls and triage runs{c.get("scope") === "*" ? "" : " on this website"}. Crisp keeps
          its own copy of the conversation: delete the visitor in Crisp too. <code>quill privacy export</code>{" "}
          prints the same rows as JSON first, if the visitor asked for them.
        </p>
        {result && "error" in result ? (
          <p class="flash error" role="alert">
            {result.error}
          </p>
        ) : result ? (
          <p class="flash" role="status">
            {result.conversations === 0
              ? `No conversation of ${result.email} is stored: nothing to erase.`
              : `Erased ${result.conversations} conversation(s) of ${result.email}: ${Object.entries(
                  result.counts,
                )
                  .map(([table, n]) => `${n} ${table}`)
                  .join(", ")}.`}
          </p>
        ) : null}
        <form method="post" action={`${BASE}/privacy/erase`}>
          <input type="hidden" name="_csrf" value={c.get("csrf")} />
          <label>
            Visitor's email <input type="email" name="email" required autocomplete="off" />
          </label>
          <label>
            <input type="checkbox" name="confirm" value="yes" required /> Erase it all; this cannot be undone
          </label>
          <button type="submit">Erase</button>
        </form>
      </Layout>,
      result && "error" in result ? 400 : 200,
    );
  app.get("/privacy", (c) => privacyPage(c));
  app.post("/privacy/erase", async (c) => {
    const body = await c.req.parseBody();
    const email = typeof body.email === "string" ? body.email.trim() : "";
    if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320)
      return privacyPage(c, { error: "Enter the visitor's email address." });
    if (body.confirm !== "yes") return privacyPage(c, { error: "Tick the box to confirm the erasure." });
    const { sessions, counts } = await eraseVisitor(deps.store, { email, websiteId: websiteOf(c) });
    return privacyPage(c, { email, conversations: sessions.length, counts });
  });

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

  return app;
}
