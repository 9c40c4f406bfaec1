import { MCP_SCOPES, type McpScope, readScopes } from "../config-schema.ts";
import { hmac, randomToken } from "../crypto.ts";
import type { McpToken, Store } from "../store/store.ts";

/**
 * quill's own bearer tokens for AI agents. An agent never holds the Crisp key: it holds one
 * of these, bound to one website and a set of scopes, shown once and stored as an HMAC
 * under the server secret.
 */

export const SCOPE_HELP: Record<McpScope, string> = {
  read: "list and read conversations, search the knowledge base",
  draft: "ask quill for a draft (posted as a private note unless dry_run)",
  note: "post private notes for operators",
  reply: "send replies the customer sees (after quill's policy checks)",
  route: "assign conversations and change their state",
  profile: "update visitor profiles and add profile events",
  pii: "see emails, phone numbers and card-like numbers unredacted",
};

const PREFIX = "qmcp_";

export interface McpPrincipal {
  tokenId: string;
  name: string;
  scopes: Set<McpScope>;
  websiteId: string;
  /** Hugo's calls: the conversation they come from, the default for session_id. */
  sessionHint?: string | undefined;
}

export class McpTokenError extends Error {}

export function parseScopes(text: string): McpScope[] {
  const read = readScopes(text);
  if ("problem" in read) throw new McpTokenError(read.problem);
  return read.scopes;
}

/** "30d", "12h", "90m" → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,5})([dhm])$/.exec(text.trim());
  if (!match) throw new McpTokenError(`--expires "${text}": expected a number and d, h or m (e.g. 30d)`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as "d" | "h" | "m"];
  const ms = Number(match[1]) * unit;
  if (ms <= 0) throw new McpTokenError(`--expires "${text}": must be more than zero`);
  return ms;
}

const macOf = (secret: string, token: string) => hmac(secret, `mcp-token:${token}`);

export function createMcpTokens(deps: { store: Store; secret: () => Promise<string>; now: () => number }) {
  const { store } = deps;
  return {
    /** A new token: the only time its text exists outside the agent's configuration. */
    async create(input: {
      name: string;
      scopes: McpScope[];
      websiteId: string | null;
      expiresInMs?: number | undefined;
    }): Promise<{ token: string; row: Omit<McpToken, "revokedAt" | "lastUsedAt"> }> {
      const name = input.name.trim();
      if (!/^[\w .@-]{1,64}$/.test(name))
        throw new McpTokenError("name: 1 to 64 letters, digits, spaces, dots, dashes or @");
      if ((await store.listMcpTokens()).some((t) => t.name === name && !t.revokedAt))
        throw new McpTokenError(`a live token is already named "${name}" (revoke it first)`);
      const token = `${PREFIX}${randomToken(32)}`;
      const now = deps.now();
      const row = {
        id: `mcp_${randomToken(9)}`,
        name,
        hash: await macOf(await deps.secret(), token),
        scopes: input.scopes,
        websiteId: input.websiteId,
        createdAt: now,
        expiresAt: input.expiresInMs ? now + input.expiresInMs : null,
      };
      await store.insertMcpToken(row);
      return { token, row };
    },

    /** The token's principal, or undefined for anything unknown, revoked or expired. */
    async verify(token: string, primaryWebsiteId: string): Promise<McpPrincipal | undefined> {
      if (!token.startsWith(PREFIX) || token.length > 200) return undefined;
      const row = await store.mcpTokenByHash(await macOf(await deps.secret(), token));
      const now = deps.now();
      if (!row || row.revokedAt || (row.expiresAt !== null && row.expiresAt <= now)) return undefined;
      // Last use is kept to the minute: a busy agent does not write on every call.
      if (!row.lastUsedAt || now - row.lastUsedAt > 60_000) await store.touchMcpToken(row.id, now);
      return {
        tokenId: row.id,
        name: row.name,
        scopes: new Set(
          row.scopes.filter((s): s is McpScope => (MCP_SCOPES as readonly string[]).includes(s)),
        ),
        websiteId: row.websiteId ?? primaryWebsiteId,
      };
    },
  };
}

export type McpTokens = ReturnType<typeof createMcpTokens>;
