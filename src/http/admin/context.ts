import type { Context } from "hono";
import type { Draft } from "../../store/store.ts";

/** What the session check puts on every request past it; every page module reads these. */
export type AdminEnv = { Variables: { sessionId: string; csrf: string; scope: string; user: string } };
export type AdminContext = Context<AdminEnv>;

type Scoped = { get: (key: "scope") => string };

/** The website a page may show: the session's own, or any (a filter) with ADMIN_TOKEN. */
export const websiteOf = (c: Scoped, asked?: string) => {
  const scope = c.get("scope");
  return scope === "*" ? asked || undefined : scope;
};

/** The draft if this session may see it (its own website's, or any with ADMIN_TOKEN). */
export const visible = (c: Scoped, draft: Draft | undefined) =>
  draft && (c.get("scope") === "*" || draft.websiteId === c.get("scope")) ? draft : undefined;

/** A positive integer query value up to `max`, the fallback when absent, or undefined (a 400). */
export function queryInt(value: string | undefined, fallback: number, max: number): number | undefined {
  if (value === undefined || value === "") return fallback;
  if (!/^\d{1,7}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= max ? n : undefined;
}
