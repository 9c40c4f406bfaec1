import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The one JSON error body of quill's HTTP endpoints: Crisp's own `{ error, reason }` form,
 * so a Crisp-side integration reads quill's refusals as it reads Crisp's. MCP's JSON-RPC
 * errors are the SDK's and stay JSON-RPC; this is for refusals before a request reaches it.
 */
export type ErrorBody = { error: true; reason: string };

export const errorBody = (reason: string): ErrorBody => ({ error: true, reason });

/** An error answer through the request's context, so headers set on it (c.header) are kept. */
export const jsonError = (c: Context, status: ContentfulStatusCode, reason: string) =>
  c.json(errorBody(reason), status);
