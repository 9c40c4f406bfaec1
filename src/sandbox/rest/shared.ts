import type { Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { SandboxContext } from "../context.ts";

export type Json = Record<string, unknown>;

/** One resource's routes, added to the REST app in the order Crisp's paths need. */
export type RestRoutes = (api: Hono, ctx: SandboxContext) => void;

/** Crisp's envelope: `{error, reason, data}`. */
export function ok(c: Context, data: unknown, reason = "resolved", status: ContentfulStatusCode = 200) {
  return c.json({ error: false, reason, data }, status);
}

export function fail(c: Context, status: ContentfulStatusCode, reason: string, data: Json = {}) {
  return c.json({ error: true, reason, data }, status);
}

/** A body that does not fit its route: answered 400 `invalid_data`, naming the fields, before anything changes. */
export class InvalidData extends Error {
  constructor(
    message: string,
    readonly fields: string[],
  ) {
    super(message);
  }
}

/** The body as a JSON object; an empty body is `{}`, anything else not an object is undefined. */
export async function readJson(c: Context): Promise<Json | undefined> {
  const text = await c.req.text();
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The body parsed by a Crisp request schema; throws InvalidData when it does not fit. */
export async function parseBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const body = await readJson(c);
  if (!body) throw new InvalidData("the body is not a JSON object", []);
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const fieldOf = (path: PropertyKey[]) => path.map(String).join(".") || "(body)";
  throw new InvalidData(issues.map((i) => `${fieldOf(i.path)}: ${i.message}`).join("; "), [
    ...new Set(issues.map((i) => fieldOf(i.path))),
  ]);
}

/** A boolean query parameter as Crisp reads it. */
export const flag = (value: string | undefined) => value === "1" || value === "true";

export const websiteOf = ({ state }: SandboxContext, c: Context) =>
  state.websites.get(c.req.param("website") ?? "");

/** The conversation of the path, only within the website of the path. */
export const conversationOf = ({ state }: SandboxContext, c: Context) => {
  const conversation = state.conversations.get(c.req.param("session") ?? "");
  return conversation && conversation.website_id === c.req.param("website") ? conversation : undefined;
};
