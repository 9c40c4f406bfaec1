import { type Context, Hono, type Next } from "hono";
import { safeEqual } from "../../crypto.ts";
import type { SandboxContext } from "../context.ts";
import { pickFault } from "../faults.ts";
import { bucketRoutes } from "./bucket.ts";
import { conversationDetailRoutes, conversationRoutes } from "./conversations.ts";
import { messageRoutes } from "./messages.ts";
import { peopleActivityRoutes, peopleRoutes } from "./people.ts";
import { conversationOf, fail, InvalidData, websiteOf } from "./shared.ts";
import { websiteRoutes } from "./websites.ts";

/** Basic auth and the tier header, then latency and the fault the request meets (429, 500, lost answer). */
function authAndFaults({ credentials, faults, clock, random }: SandboxContext) {
  const expected = `${credentials.identifier}:${credentials.key}`;
  return async (c: Context, next: Next) => {
    const match = /^Basic\s+(.+)$/i.exec(c.req.header("authorization") ?? "");
    let decoded = "";
    try {
      decoded = match?.[1] ? atob(match[1]) : "";
    } catch {
      decoded = "";
    }
    const requestTier = c.req.header("x-crisp-tier") ?? "user";
    if (!safeEqual(decoded, expected) || requestTier !== credentials.tier) {
      return fail(c, 401, "invalid_session");
    }
    if (faults.latencyMs > 0) await clock.sleep(faults.latencyMs);
    const fault = pickFault(faults, random, c.req.method, c.req.path);
    if (fault === "429") {
      c.header("Retry-After", String(faults.retryAfterSeconds));
      return fail(c, 429, "quota_limit_exceeded");
    }
    if (fault === "500") return fail(c, 500, "internal_error");
    await next();
    if (fault === "lost") {
      // The write is applied; the answer never reaches the caller.
      const signal = c.req.raw.signal;
      await clock.sleep(faults.lostResponseHoldMs, signal).catch(() => undefined);
      c.res = undefined;
      c.res = c.json({ error: true, reason: "gateway_timeout", data: {} }, 504);
    }
    return undefined;
  };
}

/** Crisp REST v1 (the subset quill uses), mounted at /v1. */
export function createRestApi(ctx: SandboxContext) {
  const api = new Hono();

  api.use("*", async (c, next) => {
    const started = ctx.clock.now();
    await next();
    ctx.requests.push({
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      at: started,
      ms: ctx.clock.now() - started,
    });
  });
  api.use("*", authAndFaults(ctx));

  // Every website-scoped route: the website must exist and belong to these credentials.
  api.use("/website/:website/*", async (c, next) => {
    if (!websiteOf(ctx, c)) return fail(c, 404, "website_not_found");
    return next();
  });
  api.use("/website/:website/conversation/:session/*", async (c, next) => {
    if (!conversationOf(ctx, c)) return fail(c, 404, "session_not_found");
    return next();
  });

  const resources = [
    websiteRoutes,
    conversationRoutes,
    conversationDetailRoutes,
    messageRoutes,
    peopleRoutes,
    peopleActivityRoutes,
    bucketRoutes,
  ];
  for (const routes of resources) routes(api, ctx);

  api.notFound((c) => fail(c, 404, "not_found"));
  api.onError((error, c) => {
    if (error instanceof InvalidData)
      return fail(c, 400, "invalid_data", {
        namespace: "request",
        message: error.message,
        fields: error.fields,
      });
    ctx.log.error({ err: error }, "sandbox error");
    return fail(c, 500, "internal_error");
  });
  return api;
}
