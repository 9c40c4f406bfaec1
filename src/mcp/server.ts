import { hostHeaderValidation, originValidation } from "@modelcontextprotocol/hono";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { Hono } from "hono";
import { z } from "zod";
import type { McpScope } from "../config-schema.ts";
import { CrispError } from "../crisp/errors.ts";
import { jsonError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import { HUGO_WINDOW_MS, hugoSessionHint, verifyHugoRequest } from "./hugo.ts";
import type { McpPrincipal, McpTokens } from "./tokens.ts";
import {
  ALL_TOOLS,
  sessionId as sessionIdSchema,
  type ToolDeps,
  ToolRefusal,
  type ToolSpec,
} from "./tools.ts";

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

export function createMcpServer(who: McpPrincipal, deps: McpAppDeps): McpServer {
  const server = new McpServer(
    { name: "quill", version: deps.version },
    {
      instructions:
        "quill's tools for a Crisp inbox. Start with list_conversations or find_operations. Replies the customer sees go through send_reply, which runs quill's safety checks; guidance from search_knowledge is for you, never to quote.",
    },
  );
  for (const tool of ALL_TOOLS) {
    // Hugo's calls come from a conversation: session_id may be left out and defaults to it.
    const hinted = who.sessionHint && "session_id" in tool.input.shape;
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: `${tool.description} (scope: ${tool.scope})`,
        inputSchema: hinted
          ? tool.input.extend({
              session_id: sessionIdSchema
                .optional()
                .describe("The conversation's session id; by default the one this call comes from"),
            })
          : tool.input,
        outputSchema: tool.output,
        annotations: { readOnlyHint: !tool.writes, destructiveHint: false, openWorldHint: tool.writes },
      },
      async (args: Record<string, unknown>) =>
        call(tool, hinted ? { ...args, session_id: args.session_id ?? who.sessionHint } : args, who, deps),
    );
  }
  return server;
}

const scrub = (text: string, secrets: string[]) =>
  secrets.reduce((t, s) => (s.length >= 8 ? t.split(s).join("[redacted]") : t), text);

/** MCP's structuredContent is a JSON object; a tool result that is not one is a bug, logged as such. */
const structuredSchema = z.record(z.string(), z.unknown());

/** A tool's result with every secret scrubbed, as the JSON object sent back to the agent. */
function scrubbedResult(result: unknown, secrets: string[]): Record<string, unknown> {
  const parsed = structuredSchema.safeParse(JSON.parse(scrub(JSON.stringify(result), secrets)));
  if (!parsed.success) throw new Error("mcp tool result: expected a JSON object");
  return parsed.data;
}

async function call(tool: ToolSpec, args: Record<string, unknown>, who: McpPrincipal, deps: McpAppDeps) {
  const started = deps.now();
  const sessionId = typeof args.session_id === "string" ? args.session_id : null;
  const record = (ok: boolean, outcome: string) =>
    deps.store
      .recordMcpCall({
        tokenId: who.tokenId,
        tool: tool.name,
        websiteId: who.websiteId,
        sessionId,
        ok,
        outcome: scrub(outcome, deps.secrets).slice(0, 500),
        latencyMs: deps.now() - started,
      })
      .catch((error: unknown) => deps.log.warn({ err: String(error) }, "mcp call not recorded"));
  const refuse = async (why: string) => {
    await record(false, `refused: ${why}`);
    return { isError: true, content: [{ type: "text" as const, text: scrub(why, deps.secrets) }] };
  };
  if (!who.scopes.has(tool.scope))
    return refuse(`this token lacks the "${tool.scope}" scope for ${tool.name}`);
  try {
    const result = await tool.run(tool.input.parse(args), who, deps.tools);
    const structured = scrubbedResult(result, deps.secrets);
    await record(true, "ok");
    return {
      structuredContent: structured,
      content: [{ type: "text" as const, text: JSON.stringify(structured) }],
    };
  } catch (error) {
    if (error instanceof ToolRefusal) return refuse(error.message);
    // Crisp's answers are named by status and reason only; anything else is logged, not returned.
    const why =
      error instanceof CrispError
        ? `Crisp answered ${error.status ?? "no response"} (${error.reason})`
        : "internal error (logged on the quill server)";
    deps.log.warn({ tool: tool.name, err: scrub(String(error), deps.secrets) }, "mcp tool failed");
    await record(false, `error: ${why}`);
    return { isError: true, content: [{ type: "text" as const, text: why }] };
  }
}

export function createMcpApp(deps: McpAppDeps): Hono<{ Variables: { mcpPrincipal: McpPrincipal } }> {
  const app = new Hono<{ Variables: { mcpPrincipal: McpPrincipal } }>();
  if (deps.allowedHosts?.length) {
    app.use("*", hostHeaderValidation(deps.allowedHosts));
    // A browser page on another site never reaches the tools, even with a rebinding DNS name.
    app.use("*", originValidation(deps.allowedHosts));
  }
  const handler = createMcpHandler((ctx) => {
    const who = ctx.authInfo?.extra?.principal as McpPrincipal | undefined;
    if (!who) throw new Error("an MCP request reached the server without its token");
    return createMcpServer(who, deps);
  });
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
    return handler.fetch(request, {
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
