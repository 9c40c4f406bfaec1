import { systemClock } from "../../clock.ts";
import { loadConfig } from "../../config.ts";
import { serverSecret } from "../../http/admin/session.ts";
import { createMcpTokens, McpTokenError, parseDuration, parseScopes, SCOPE_HELP } from "../../mcp/tokens.ts";
import { createStore } from "../../store/store.ts";
import { openDatabase } from "./open.ts";
import { reportError } from "./shared.ts";

/**
 * `quill mcp token create|list|revoke`: the bearer tokens AI agents use instead of the Crisp
 * key, written to the database the running quill reads (a new token works at once).
 */

export const MCP_TOKEN_USAGE =
  "quill mcp token create --name NAME --scopes read,draft,note,reply,route,profile,pii [--website ID] [--expires 30d]\n" +
  "       quill mcp token list\n" +
  "       quill mcp token revoke <id or name>\n\n" +
  Object.entries(SCOPE_HELP)
    .map(([scope, help]) => `  ${scope.padEnd(8)} ${help}`)
    .join("\n");

const when = (ms: number | null) => (ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") : "-");

export async function mcpTokenCommand(
  action: string | undefined,
  positionals: string[],
  values: { name?: string; scopes?: string; website?: string; expires?: string },
): Promise<number> {
  // A ConfigError goes up to main(), which prints it and exits 78 like every command.
  const config = loadConfig(process.env);
  const database = openDatabase(config);
  const store = createStore(database.db);
  // The same secret the server checks tokens under (SESSION_SECRET or the stored one).
  const tokens = createMcpTokens({
    store,
    secret: serverSecret(store, config.sessionSecret),
    now: () => systemClock.now(),
  });
  try {
    switch (action) {
      case "create": {
        if (!values.name || !values.scopes) break;
        // Without --website the token is bound to the primary website (the sandbox's in demo mode).
        const websiteId = values.website ?? config.crisp.websiteId ?? null;
        const { token, row } = await tokens.create({
          name: values.name,
          scopes: parseScopes(values.scopes),
          websiteId,
          expiresInMs: values.expires ? parseDuration(values.expires) : undefined,
        });
        console.error(
          `created ${row.id} "${row.name}" for website ${websiteId ?? "(primary)"}, scopes ${row.scopes.join(",")}, expires ${row.expiresAt ? when(row.expiresAt) : "never"}.\n` +
            "The token is shown once; quill keeps only its hash:",
        );
        console.log(token);
        return 0;
      }
      case "list": {
        const rows = await store.listMcpTokens();
        if (rows.length === 0) console.log("no MCP tokens yet (quill mcp token create …)");
        const now = systemClock.now();
        for (const t of rows) {
          const state = t.revokedAt
            ? "revoked"
            : t.expiresAt !== null && t.expiresAt <= now
              ? "expired"
              : "live";
          console.log(
            `${t.id}  ${t.name}  ${state}  website ${t.websiteId ?? "(primary)"}  scopes ${t.scopes.join(",")}  created ${when(t.createdAt)}  expires ${t.expiresAt ? when(t.expiresAt) : "never"}  last used ${when(t.lastUsedAt)}`,
          );
        }
        return 0;
      }
      case "revoke": {
        const which = positionals[0];
        if (!which) break;
        if (!(await store.revokeMcpToken(which, systemClock.now()))) {
          console.error(`quill mcp token revoke: no live token with id or name "${which}"`);
          return 1;
        }
        console.log(`revoked ${which}: agents using it get 401 from now on`);
        return 0;
      }
    }
    console.error(`Usage: ${MCP_TOKEN_USAGE}`);
    return 2;
  } catch (error) {
    if (error instanceof McpTokenError) return reportError(error, "mcp token");
    throw error;
  } finally {
    database.close();
  }
}
