import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Clock } from "../clock.ts";
import {
  deliveryKey,
  MAX_WEBHOOK_BYTES,
  parseWebhookEvent,
  verifyWebhook,
  type WebhookEvent,
} from "../crisp/webhook.ts";
import { safeEqual } from "../crypto.ts";
import type { IntakeResult } from "../drafting/intake.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { jsonError } from "./errors.ts";

export interface AppServices {
  /** allowUrlKey: `?key=` authenticates (website hooks, outside the plugin tier). */
  webhook: { secret: string; toleranceSeconds: number; allowUrlKey?: boolean };
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** METRICS_TOKEN: /metrics needs `Authorization: Bearer <token>`; unset, it is open. */
  metricsToken?: string | undefined;
  /** Records and dedupes the event, enqueues work; must return within milliseconds. */
  intake: (event: WebhookEvent, key: string) => Promise<IntakeResult>;
  /** Readiness probe (e.g. a `select 1` on the database). */
  ready: () => Promise<void>;
  /** Extra route groups mounted by the runtime: the demo sandbox, the admin dashboard. */
  mounts?: Array<{ path: string; app: Hono }>;
  version?: string;
}

/** POST /webhooks/crisp: size limit, authentication, parsing, then intake (dedupe, enqueue). */
function mountWebhooks(app: Hono, services: AppServices) {
  const { clock, log, metrics } = services;
  const tooLarge = (c: Context) => {
    metrics.inc("quill_webhooks_total", { result: "too_large" });
    return jsonError(c, 413, `body exceeds ${MAX_WEBHOOK_BYTES} bytes`);
  };
  const streamedLimit = bodyLimit({ maxSize: MAX_WEBHOOK_BYTES, onError: tooLarge });
  app.post(
    "/webhooks/crisp",
    (c, next) => {
      // With a Content-Length the server reads exactly that many bytes, so the header is the
      // limit and hono's costly streaming bodyLimit is needed for chunked bodies only.
      const length = c.req.header("content-length");
      if (length === undefined || c.req.header("transfer-encoding") !== undefined)
        return streamedLimit(c, next);
      return Number(length) > MAX_WEBHOOK_BYTES ? tooLarge(c) : next();
    },
    async (c) => {
      const rawBody = await c.req.text();
      const verified = await verifyWebhook({
        rawBody,
        header: (name) => c.req.header(name),
        urlKey: c.req.query("key"),
        allowUrlKey: services.webhook.allowUrlKey ?? true,
        secret: services.webhook.secret,
        toleranceSeconds: services.webhook.toleranceSeconds,
        now: clock.now(),
      });
      if (!verified.ok) {
        metrics.inc("quill_webhooks_total", { result: "rejected" });
        log.warn({ status: verified.status, reason: verified.reason }, "web hook rejected");
        return jsonError(c, verified.status, verified.reason);
      }
      const parsed = parseWebhookEvent(rawBody);
      if (!parsed.ok) {
        metrics.inc("quill_webhooks_total", { result: "malformed" });
        log.warn({ reason: parsed.reason }, "malformed web hook");
        return jsonError(c, parsed.status, parsed.reason);
      }
      const key = deliveryKey(parsed.event);
      const result = await services.intake(parsed.event, key);
      metrics.inc("quill_webhooks_total", {
        result: result.duplicate ? "duplicate" : parsed.event.known ? "accepted" : "ignored",
        event: parsed.event.known ? parsed.event.event : "other",
      });
      return c.json({ error: false, reason: result.duplicate ? "duplicate" : "accepted", data: result });
    },
  );
}

/** The one runtime-agnostic HTTP app, mounted by runtime/node.ts and runtime/worker.ts. */
export function createApp(services: AppServices): Hono {
  // Not strict: "/sandbox/" and "/admin/" reach the mounted apps' root pages.
  const app = new Hono({ strict: false });
  const { log, metrics } = services;

  app.get("/healthz", async (c) => {
    try {
      await services.ready();
      return c.json({ ok: true, version: services.version ?? "dev" });
    } catch (error) {
      log.error({ err: error }, "health check failed");
      return c.json({ ok: false, reason: "database unavailable" }, 503);
    }
  });

  app.get("/metrics", async (c) => {
    // Metrics name websites, providers and volumes: with a token set, nobody reads them without it.
    const token = services.metricsToken;
    if (token) {
      const given = /^Bearer +(\S+) *$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
      if (!safeEqual(given, token)) {
        c.header("www-authenticate", 'Bearer realm="metrics"');
        return jsonError(c, 401, "unauthorized");
      }
    }
    return c.text(await metrics.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });

  mountWebhooks(app, services);

  for (const mount of services.mounts ?? []) app.route(mount.path, mount.app);

  // A person opening the server's address lands on the dashboard; API clients keep JSON.
  const wantsHtml = (c: Context) => /\btext\/html\b/.test(c.req.header("accept") ?? "");
  app.get("/", (c) => (wantsHtml(c) ? c.redirect("/admin/") : jsonError(c, 404, "route_not_found")));
  app.notFound((c) =>
    wantsHtml(c)
      ? c.html(
          '<!doctype html><html lang="en"><meta charset="utf-8"><title>Not found · quill</title><h1>Page not found</h1><p>Nothing lives at this address. The dashboard is at <a href="/admin/">/admin</a>.</p></html>',
          404,
          { "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'" },
        )
      : jsonError(c, 404, "route_not_found"),
  );
  app.onError((error, c) => {
    log.error({ err: error, path: c.req.path }, "unhandled error");
    return jsonError(c, 500, "internal_error");
  });
  return app;
}
