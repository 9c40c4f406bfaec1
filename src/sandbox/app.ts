import { Hono } from "hono";
import { type Clock, systemClock } from "../clock.ts";
import { pageHeaders, scriptHash } from "../http/headers.ts";
import { type Logger, silentLogger } from "../log.ts";
import { createActions } from "./actions.ts";
import { DEMO_CREDENTIALS, type SandboxContext, type SandboxRequest, type SandboxTier } from "./context.ts";
import { createControl } from "./control.ts";
import { withRestFaults } from "./faults.ts";
import { REFRESH, renderInbox } from "./page.tsx";
import { createRestApi } from "./rest/index.ts";
import { createSandboxState, type SandboxConversation } from "./state.ts";
import { createWebhookEmitter } from "./webhooks.ts";

/**
 * A local stand-in for Crisp REST v1: same paths, Basic auth + X-Crisp-Tier, the
 * `{error, reason, data}` envelope, 206 paging of messages, signed web hooks, fault
 * knobs, and an inbox page. Faithful enough that the official `crisp-api` client works
 * against it unchanged (see test/sandbox).
 */

export { DEMO_CREDENTIALS } from "./context.ts";
export type { SandboxFault, SandboxFaults } from "./faults.ts";

export interface SandboxOptions {
  identifier?: string;
  key?: string;
  /** The website served from the start (more can be created through the API). */
  websiteId?: string;
  /** Accepted X-Crisp-Tier (a missing header means "user", as in Crisp). */
  tier?: SandboxTier;
  webhookSecret?: string;
  webhookUrls?: string[];
  /** Where the sandbox is mounted (e.g. "/sandbox"), for links on the inbox page. */
  basePath?: string;
  /** Messages per page of the messages list (Crisp's is about 20, unconfirmed). */
  messagesPageSize?: number;
  clock?: Clock;
  log?: Logger;
  random?: () => number;
  /** Used to deliver web hooks (defaults to global fetch). */
  fetch?: typeof fetch;
  webhookAttempts?: number;
  webhookRetryBaseMs?: number;
  /** Adds a few example conversations. */
  seed?: boolean;
}

function createContext(options: SandboxOptions): SandboxContext {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const random = options.random ?? Math.random;
  const state = createSandboxState(clock);
  const website = state.addWebsite({
    websiteId: options.websiteId ?? DEMO_CREDENTIALS.websiteId,
    name: "Quill Demo Store",
    domain: "demo.quill.test",
  });
  const hooks = createWebhookEmitter({
    websiteId: website.website_id,
    secret: options.webhookSecret ?? DEMO_CREDENTIALS.webhookSecret,
    urls: options.webhookUrls ?? [],
    clock,
    log,
    random,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.webhookAttempts !== undefined ? { attempts: options.webhookAttempts } : {}),
    ...(options.webhookRetryBaseMs !== undefined ? { retryBaseMs: options.webhookRetryBaseMs } : {}),
  });
  return {
    state,
    hooks,
    faults: withRestFaults(hooks.faults),
    actions: createActions(state, hooks, website),
    website,
    credentials: {
      identifier: options.identifier ?? DEMO_CREDENTIALS.identifier,
      key: options.key ?? DEMO_CREDENTIALS.key,
      tier: options.tier ?? "plugin",
    },
    clock,
    log,
    random,
    pageSize: options.messagesPageSize ?? 20,
    basePath: (options.basePath ?? "").replace(/\/+$/, ""),
    requests: [] as SandboxRequest[],
  };
}

export function createSandbox(options: SandboxOptions = {}) {
  const ctx = createContext(options);
  const { state, website, hooks, actions, credentials } = ctx;

  const app = new Hono();
  app.route("/v1", createRestApi(ctx));
  let refreshHash: Promise<string> | undefined;
  app.use("*", pageHeaders({ script: () => (refreshHash ??= scriptHash(REFRESH)) }));
  app.route("/_sandbox", createControl(ctx));
  app.get("/", (c) =>
    c.html(
      renderInbox({
        state,
        basePath: ctx.basePath,
        websiteId: website.website_id,
        selected: c.req.query("session"),
      }),
    ),
  );

  if (options.seed) actions.seed();

  return {
    app,
    state,
    website,
    faults: ctx.faults,
    requests: ctx.requests,
    deliveries: hooks.deliveries,
    composeEvents: state.composeEvents,
    credentials: {
      identifier: credentials.identifier,
      key: credentials.key,
      websiteId: website.website_id,
      tier: credentials.tier,
    },
    visitorSays: actions.visitorSays,
    operatorSays: actions.operatorSays,
    setState(sessionId: string, next: SandboxConversation["state"]) {
      const conversation = state.conversations.get(sessionId);
      if (!conversation) throw new Error(`no conversation ${sessionId}`);
      actions.setState(conversation, next);
    },
    messagesOf: state.messagesOf,
    addWebhookUrl: hooks.addUrl,
    pauseWebhooks: hooks.pause,
    resumeWebhooks: hooks.resume,
    flushWebhooks: hooks.flush,
  };
}

export type Sandbox = ReturnType<typeof createSandbox>;
