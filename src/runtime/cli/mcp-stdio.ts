import { StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioServerTransport } from "@modelcontextprotocol/server/stdio";

/**
 * `quill mcp`: quill's MCP tools over stdio for desktop clients, as a bridge to a running quill
 * (QUILL_URL) with a quill token (QUILL_MCP_TOKEN). The desktop app's configuration then holds
 * only a revocable quill token, never the Crisp key, and the tools, scopes, checks and audit are
 * exactly the server's.
 */

type Message = Parameters<StdioServerTransport["send"]>[0];

export async function mcpStdioCommand(env: Record<string, string | undefined>): Promise<number> {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL("/mcp", env.QUILL_URL ?? "http://127.0.0.1:3000");
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  } catch {
    problems.push(`QUILL_URL: "${env.QUILL_URL}" is not an http(s) URL (where quill runs)`);
  }
  if (!env.QUILL_MCP_TOKEN?.startsWith("qmcp_"))
    problems.push("QUILL_MCP_TOKEN: required, a token from `quill mcp token create` (qmcp_…)");
  if (problems.length || !url) {
    console.error(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    return 78;
  }

  const upstream = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${env.QUILL_MCP_TOKEN}` } },
  });
  const local = new StdioServerTransport();
  const initializing = new Set<string | number>();

  local.onmessage = (message: Message) => {
    const request = "method" in message && "id" in message ? message : undefined;
    if (request?.method === "initialize") initializing.add(request.id);
    upstream.send(message).catch((error: unknown) => {
      const reason = /\b401\b|unauthori[sz]ed/i.test(String(error))
        ? "quill refused the token (unknown, revoked or expired): check QUILL_MCP_TOKEN"
        : `quill at ${url.origin} is unreachable or failed: ${(error as Error).message}`;
      console.error(`quill mcp: ${reason}`);
      // The desktop client gets an answer for its request instead of waiting forever.
      if (request)
        void local.send({ jsonrpc: "2.0", id: request.id, error: { code: -32000, message: reason } });
    });
  };
  upstream.onmessage = (message: Message) => {
    if ("id" in message && "result" in message && initializing.delete(message.id as string | number)) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === "string") upstream.setProtocolVersion(version);
    }
    void local.send(message);
  };
  upstream.onerror = (error) => console.error(`quill mcp: ${error.message}`);

  const closed = new Promise<void>((resolve) => {
    local.onclose = resolve;
  });
  await upstream.start();
  await local.start();
  await closed;
  await upstream.close();
  return 0;
}
