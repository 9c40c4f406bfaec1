import { hostHeaderValidation, originValidation } from "@modelcontextprotocol/hono";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { CrispError } from "../crisp/errors.ts";
import type { McpAppDeps } from "./server.ts";
import type { McpPrincipal } from "./tokens.ts";
import { ALL_TOOLS, sessionId as sessionIdSchema, ToolRefusal, type ToolSpec } from "./tools.ts";

/** The MCP protocol half of /mcp, on the SDK: what server.ts loads once an agent calls. */

export interface Protocol {
  handler: ReturnType<typeof createMcpHandler>;
  hostGuard: MiddlewareHandler;
  originGuard: MiddlewareHandler;
}

export function createProtocol(deps: McpAppDeps): Protocol {
  const hosts = deps.allowedHosts ?? [];
  return {
    handler: createMcpHandler((ctx) => {
      const who = ctx.authInfo?.extra?.principal as McpPrincipal | undefined;
      if (!who) throw new Error("an MCP request reached the server without its token");
      return createMcpServer(who, deps);
    }),
    hostGuard: hostHeaderValidation(hosts),
    originGuard: originValidation(hosts),
  };
}

function createMcpServer(who: McpPrincipal, deps: McpAppDeps): McpServer {
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
