import { type Context, Hono } from "hono";
import { MCP_SCOPES, type McpScope } from "../../../config-schema.ts";
import { McpTokenError, type McpTokens, parseDuration, SCOPE_HELP } from "../../../mcp/tokens.ts";
import type { McpCall, McpToken, Store } from "../../../store/store.ts";
import { formField } from "../../settings-form.ts";
import { ErrorNotice, Select, Table } from "../components.tsx";
import type { AdminEnv } from "../context.ts";
import { BASE, fmt, Layout } from "../layout.tsx";

/**
 * The AI agents page: MCP tokens (create, shown once; revoke), their last use, and the audit
 * of every tool call. A website's own session sees and manages only its website's tokens.
 */

export interface AgentsDeps {
  store: Store;
  tokens: McpTokens;
  /** The website a token without one acts on (CRISP_WEBSITE_ID). */
  primaryWebsiteId: string;
  now: () => number;
}

const EXPIRIES = [
  ["30d", "30 days"],
  ["7d", "7 days"],
  ["90d", "90 days"],
  ["1d", "1 day"],
  ["", "never"],
] as const;

type Notice = { created?: { name: string; token: string }; error?: string };

function TokensTable(props: {
  tokens: McpToken[];
  csrf: string;
  now: number;
  websiteOf: (t: McpToken) => string;
}) {
  const state = (t: McpToken) =>
    t.revokedAt ? "revoked" : t.expiresAt !== null && t.expiresAt <= props.now ? "expired" : "live";
  return (
    <Table
      testid="tokens"
      head={["Name", "Website", "Scopes", "Created", "Expires", "Last used", "State", ""]}
    >
      {props.tokens.map((t) => (
        <tr>
          <td>{t.name}</td>
          <td>{props.websiteOf(t)}</td>
          <td>{t.scopes.join(", ")}</td>
          <td>{fmt.time(t.createdAt)}</td>
          <td>{t.expiresAt ? fmt.time(t.expiresAt) : "never"}</td>
          <td>{fmt.time(t.lastUsedAt)}</td>
          <td>{state(t)}</td>
          <td>
            {state(t) === "live" ? (
              <form method="post" action={`${BASE}/agents/${encodeURIComponent(t.id)}/revoke`}>
                <input type="hidden" name="_csrf" value={props.csrf} />
                <button class="secondary" type="submit" aria-label={`Revoke ${t.name}`}>
                  Revoke
                </button>
              </form>
            ) : null}
          </td>
        </tr>
      ))}
    </Table>
  );
}

function NewTokenForm(props: { csrf: string; pickWebsite: boolean; primaryWebsiteId: string }) {
  return (
    <form method="post" action={`${BASE}/agents`}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <label>
        Name (who uses it)
        <input name="name" required maxlength={64} placeholder="claude desktop" />
      </label>
      {props.pickWebsite ? (
        <label>
          Website id (empty: {props.primaryWebsiteId || "the primary website"})
          <input name="website" autocomplete="off" />
        </label>
      ) : null}
      <fieldset>
        <legend>Scopes</legend>
        {MCP_SCOPES.map((s) => (
          <label style="flex-direction:row;gap:.4rem">
            <input type="checkbox" name="scopes" value={s} checked={s === "read"} />
            {`${s}: ${SCOPE_HELP[s]}`}
          </label>
        ))}
      </fieldset>
      <Select label="Expires after" name="expires" options={EXPIRIES} selected={() => false} />
      <p>
        <button type="submit">Create token</button>
      </p>
    </form>
  );
}

function CallsTable(props: { calls: McpCall[]; names: Map<string, string> }) {
  return (
    <Table testid="calls" head={["When", "Token", "Tool", "Conversation", "Outcome", "Latency"]}>
      {props.calls.map((call) => (
        <tr>
          <td>{fmt.time(call.createdAt)}</td>
          <td>{props.names.get(call.tokenId) ?? call.tokenId}</td>
          <td>{call.tool}</td>
          <td>{call.sessionId ?? "—"}</td>
          <td>{call.ok ? "ok" : call.outcome}</td>
          <td>{fmt.ms(call.latencyMs)}</td>
        </tr>
      ))}
    </Table>
  );
}

function AgentsPage(props: {
  tokens: McpToken[];
  calls: McpCall[];
  notice: Notice | undefined;
  csrf: string;
  now: number;
  pickWebsite: boolean;
  primaryWebsiteId: string;
  websiteOf: (t: McpToken) => string;
}) {
  return (
    <Layout title="AI agents" current="agents" csrf={props.csrf}>
      <h1>AI agents (MCP)</h1>
      <p>
        Agents such as Claude Desktop or Cursor reach this quill at <code>/mcp</code> with a token from this
        page (or <code>quill mcp token create</code>). They never get the Crisp key: each token acts on one
        website, with the scopes ticked below, and every call is recorded.
      </p>
      {props.notice?.created ? (
        <div class="flash" role="status">
          <p>{`Token "${props.notice.created.name}" created. Copy it now: quill keeps only its hash and shows it once.`}</p>
          <pre data-testid="new-token">{props.notice.created.token}</pre>
        </div>
      ) : null}
      <ErrorNotice error={props.notice?.error} />
      <h2>Tokens</h2>
      {props.tokens.length === 0 ? (
        <p>No tokens yet.</p>
      ) : (
        <TokensTable tokens={props.tokens} csrf={props.csrf} now={props.now} websiteOf={props.websiteOf} />
      )}
      <h2>New token</h2>
      <NewTokenForm
        csrf={props.csrf}
        pickWebsite={props.pickWebsite}
        primaryWebsiteId={props.primaryWebsiteId}
      />
      <h2>Recent tool calls</h2>
      {props.calls.length === 0 ? (
        <p>No calls yet.</p>
      ) : (
        <CallsTable calls={props.calls} names={new Map(props.tokens.map((t) => [t.id, t.name]))} />
      )}
    </Layout>
  );
}

export function createAgentsApp(deps: AgentsDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const websiteOfToken = (t: McpToken) => t.websiteId ?? deps.primaryWebsiteId;
  const own = (c: Context<AdminEnv>, t: McpToken) =>
    c.get("scope") === "*" || websiteOfToken(t) === c.get("scope");

  const page = async (c: Context<AdminEnv>, notice?: Notice, status: 200 | 400 | 404 = 200) => {
    const scope = c.get("scope");
    const tokens = (await deps.store.listMcpTokens()).filter((t) => own(c, t));
    const calls = await deps.store.listMcpCalls(
      scope === "*" ? { limit: 100 } : { websiteId: scope, limit: 100 },
    );
    const view = { tokens, calls, notice, csrf: c.get("csrf"), now: deps.now(), pickWebsite: scope === "*" };
    return c.html(
      <AgentsPage {...view} primaryWebsiteId={deps.primaryWebsiteId} websiteOf={websiteOfToken} />,
      status,
    );
  };

  app.get("/", (c) => page(c));

  app.post("/", async (c) => {
    const body = await c.req.parseBody({ all: true });
    const one = formField(body);
    const ticked = ([] as unknown[])
      .concat(body.scopes ?? [])
      .filter((s): s is string => typeof s === "string");
    const scopes = ticked.filter((s): s is McpScope => (MCP_SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || scopes.length !== ticked.length)
      return page(c, { error: "Tick at least one scope." }, 400);
    // A website's own session can only mint tokens for its website.
    const asked = c.get("scope") === "*" ? one("website") : c.get("scope");
    if (asked && !/^[A-Za-z0-9-]{1,100}$/.test(asked))
      return page(c, { error: "Website id: expected a Crisp website id." }, 400);
    try {
      const { token, row } = await deps.tokens.create({
        name: one("name"),
        scopes,
        websiteId: asked && asked !== deps.primaryWebsiteId ? asked : null,
        expiresInMs: one("expires") ? parseDuration(one("expires")) : undefined,
      });
      return page(c, { created: { name: row.name, token } });
    } catch (error) {
      if (error instanceof McpTokenError) return page(c, { error: error.message }, 400);
      throw error;
    }
  });

  app.post("/:id/revoke", async (c) => {
    const token = (await deps.store.listMcpTokens()).find((t) => t.id === c.req.param("id"));
    if (!token || !own(c, token)) return page(c, { error: "No such token." }, 404);
    await deps.store.revokeMcpToken(token.id, deps.now());
    return c.redirect(`${BASE}/agents`, 303);
  });

  return app;
}
