import { and, desc, eq, gte, or, sql } from "drizzle-orm";
import { type McpCall, type McpToken, mcpCalls, mcpTokens } from "./schema.ts";
import { countWhere, eqIf, rowCount, type StoreContext } from "./shared.ts";

/** MCP bearer tokens (hashed) and the audit of every tool call made with them. */
export function mcpQueries({ db, clock }: StoreContext) {
  return {
    async insertMcpToken(token: Omit<McpToken, "revokedAt" | "lastUsedAt">): Promise<void> {
      await db.insert(mcpTokens).values(token);
    },

    async mcpTokenByHash(hash: string): Promise<McpToken | undefined> {
      return (await db.select().from(mcpTokens).where(eq(mcpTokens.hash, hash)).limit(1))[0];
    },

    async listMcpTokens(): Promise<McpToken[]> {
      return db.select().from(mcpTokens).orderBy(desc(mcpTokens.createdAt));
    },

    /** True when a live token of that id (or name) was revoked now. */
    async revokeMcpToken(idOrName: string, at = clock.now()): Promise<boolean> {
      const revoked = await rowCount(
        db
          .update(mcpTokens)
          .set({ revokedAt: at })
          .where(
            and(
              or(eq(mcpTokens.id, idOrName), eq(mcpTokens.name, idOrName)),
              sql`${mcpTokens.revokedAt} is null`,
            ),
          )
          .returning({ id: mcpTokens.id }),
      );
      return revoked > 0;
    },

    async touchMcpToken(id: string, at = clock.now()): Promise<void> {
      await db.update(mcpTokens).set({ lastUsedAt: at }).where(eq(mcpTokens.id, id));
    },

    async recordMcpCall(call: Omit<McpCall, "id" | "createdAt">): Promise<void> {
      await db.insert(mcpCalls).values({ ...call, createdAt: clock.now() });
    },

    async listMcpCalls(f: { tokenId?: string; websiteId?: string; limit?: number } = {}): Promise<McpCall[]> {
      return db
        .select()
        .from(mcpCalls)
        .where(and(eqIf(mcpCalls.tokenId, f.tokenId), eqIf(mcpCalls.websiteId, f.websiteId)))
        .orderBy(desc(mcpCalls.id))
        .limit(f.limit ?? 100);
    },

    /** A token's calls since a time (its rate limit), or a website's sends to customers (the send caps). */
    async countMcpCalls(f: {
      tokenId?: string;
      websiteId?: string;
      since: number;
      tool?: string;
    }): Promise<number> {
      return countWhere(
        db,
        mcpCalls,
        and(
          eqIf(mcpCalls.tokenId, f.tokenId),
          eqIf(mcpCalls.websiteId, f.websiteId),
          gte(mcpCalls.createdAt, f.since),
          f.tool ? and(eq(mcpCalls.tool, f.tool), eq(mcpCalls.ok, true)) : undefined,
        ),
      );
    },
  };
}
