import { Hono } from "hono";
import type { McpScope } from "../config-schema.ts";
import { jsonError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import { HUGO_WINDOW_MS, hugoSessionHint, verifyHugoRequest } from "./hugo.ts";
import type { Protocol } from "./protocol.ts";
import type { McpPrincipal, McpTokens } from "./tokens.ts";
import type { ToolDeps } from "./tools.ts";

/**
 * quill as an MCP server (Streamable HTTP, stateless): a fresh server per request, bound to
 * the caller's token, so an agent only ever sees the tools and the website its token allows.
 */

export interface McpAppDeps {
  tokens: McpTokens;
  tools: ToolDeps;
  store: Store;
  log: Logger;
  primaryWebsiteId: string;
  version: string;
  /** Host names a request may name (DNS rebinding); none: any (the Worker's own route decides). */
  allowedHosts?: string[] | undefined;
  /** Tool calls per token per minute. */
  ratePerMinute: number;
  now: () => number;
  /** Texts no tool result or audit row may carry (the Crisp key, provider keys). */
  secrets: string[];
  /**
   * Crisp's Hugo as a client: a request signed with the secret of the website it names acts
   * on that website only. secretFor answers undefined for a website quill does not serve.
   */
  hugo?: { scopes: McpScope[]; secretFor(websiteId: string): Promise<string | undefined> } | undefined;
}

const WEBSITE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A JSON-RPC tools/call (or a batch holding one): what a replay could repeat. */
function isToolCall(rawBody: string): boolean {
  try {
    const body: unknown = JSON.parse(rawBody);
    const calls = Array.isArray(body) ? body : [body];
    return calls.some((m) => (m as { method?: unknown } | null)?.method === "tools/call");
  } catch {
    return false;
  }
}

/** The leading word is what clients match on: the MCP SDK's error carries the body, not the status. */
const UNAUTHORIZED = "unauthorized: a valid quill MCP token is required (Bearer)";

export function createMcpApp(deps: McpAppDeps): Hono<{ Variables: { mcpPrincipal: McpPrincipal } }> {
  const app = new Hono<{ Variables: { mcpPrincipal: McpPrincipal } }>();
  // The MCP SDK (~10 MB of memory) loads with the first /mcp request: many teams never make one.
  let loaded: Promise<Protocol> | undefined;
  const protocol = () => (loaded ??= import("./protocol.ts").then((m) => m.createProtocol(deps)));
  if (deps.allowedHosts?.length) {
    app.use("*", async (c, next) => (await protocol()).hostGuard(c, next));
    // A browser page on another site never reaches the tools, even with a rebinding DNS name.
    app.use("*", async (c, next) => (await protocol()).originGuard(c, next));
  }
  app.all("/", async (c) => {
    const header = c.req.header("authorization") ?? "";
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    let who = token ? await deps.tokens.verify(token, deps.primaryWebsiteId) : undefined;
    let request = c.req.raw;
    const hugoWebsite = c.req.header("x-crisp-website-id") ?? "";
    if (!who && deps.hugo && c.req.header("x-crisp-signature") && WEBSITE_ID.test(hugoWebsite)) {
      // The signature covers the raw body, so it is read here and handed on as is.
      const rawBody = await c.req.text();
      request = new Request(c.req.raw.url, {
        method: c.req.method,
        headers: c.req.raw.headers,
        body: rawBody,
      });
      const secret = await deps.hugo.secretFor(hugoWebsite);
      const valid =
        secret &&
        (await verifyHugoRequest({
          headers: c.req.raw.headers,
          rawBody,
          secret,
          websiteId: hugoWebsite,
          now: deps.now(),
        }));
      // Crisp's scheme has no nonce: a tool call seen once with this signature is a replay.
      // Listing tools may repeat (same body, same second) and changes nothing.
      if (
        valid &&
        isToolCall(rawBody) &&
        !(await deps.store.claimSignedRequest(
          `hugo:${c.req.header("x-crisp-signature")?.toLowerCase()}`,
          hugoWebsite,
          deps.now() + 2 * HUGO_WINDOW_MS,
        ))
      )
        return jsonError(c, 409, "replayed: this signed request was already received");
      if (valid)
        who = {
          // One audit trail and one rate limit per website's Hugo.
          tokenId: hugoWebsite === deps.primaryWebsiteId ? "hugo" : `hugo:${hugoWebsite}`,
          name: "Hugo",
          scopes: new Set(deps.hugo.scopes),
          websiteId: hugoWebsite,
          sessionHint: hugoSessionHint(c.req.raw.headers),
        };
    }
    // One answer for a missing, unknown, revoked or expired token: nothing to learn from it.
    if (!who) {
      c.header("WWW-Authenticate", 'Bearer realm="quill", error="invalid_token"');
      return jsonError(c, 401, UNAUTHORIZED);
    }
    const recent = await deps.store.countMcpCalls({ tokenId: who.tokenId, since: deps.now() - 60_000 });
    if (recent >= deps.ratePerMinute) {
      c.header("Retry-After", "60");
      return jsonError(c, 429, `rate_limited: more than ${deps.ratePerMinute} tool calls a minute`);
    }
    return (await protocol()).handler.fetch(request, {
      authInfo: {
        token: token ?? "hugo-signature",
        clientId: who.tokenId,
        scopes: [...who.scopes],
        extra: { principal: who },
      },
    });
  });
  return app;
}
