import type { Hono } from "hono";
import type { Clock } from "./clock.ts";
import type { Intake } from "./drafting/intake.ts";
import { createAdminApp } from "./http/admin/app.tsx";
import { createSessions } from "./http/admin/session.ts";
import { createLoginThrottle } from "./http/admin/throttle.ts";
import { createApp } from "./http/app.ts";
import { createCrmApp } from "./http/crm.ts";
import { createPluginSettingsApp, createSubscriptionTokens } from "./http/plugin-settings.tsx";
import { createWidgetApp } from "./http/widget.ts";
import { createMcpApp } from "./mcp/server.ts";
import { createMcpTokens } from "./mcp/tokens.ts";
import type { Core, Drafting, ServiceInputs } from "./services-core.ts";
import type { Store } from "./store/store.ts";

/** The HTTP half of buildServices: the dashboard, the plugin's pages, the MCP server and the app that mounts them. */

/** A fresh key per dashboard click, so each one is its own command job. */
const enqueueFromDashboard =
  (intake: Intake, clock: Clock) =>
  async (
    draft: { websiteId: string; sessionId: string },
    payload: Parameters<Intake["enqueueCommand"]>[0]["payload"],
  ) => {
    await intake.enqueueCommand({
      websiteId: draft.websiteId,
      sessionId: draft.sessionId,
      sourceFingerprint: clock.now() * 1000 + Math.floor(Math.random() * 1000),
      at: clock.now(),
      payload,
      trigger: "dashboard",
    });
  };

const replayOf = (store: Store) => ({
  claim: (key: string, websiteId: string, expiresAt: number) =>
    store.claimSignedRequest(key, websiteId, expiresAt),
  release: (key: string) => store.releaseSignedRequest(key),
});

/** The dashboard, the plugin's pages and the MCP server. */
export function buildPages(inputs: ServiceInputs, core: Core, drafting: Drafting) {
  const { config, clock, log } = inputs;
  const { store, crisp, secret, websites, crispSettings } = core;
  const { intake } = drafting;
  // Sessions live in the store and are signed with the server secret, never a token; in demo
  // mode, with no token, the dashboard is open.
  const sessions = createSessions({
    store,
    secret,
    adminToken: config.adminToken,
    users: config.adminUsers,
    ttlMs: 12 * 3600_000,
    now: () => clock.now(),
  });
  const mcpTokens = createMcpTokens({ store, secret, now: () => clock.now() });
  const admin = createAdminApp({
    store,
    mcpTokens,
    sessions,
    adminToken: config.adminToken,
    adminUsers: config.adminUsers,
    demo: config.demo,
    clock,
    throttle: createLoginThrottle({ store, now: () => clock.now() }),
    clientAddress: inputs.clientAddress ?? (() => undefined),
    breakerStates: drafting.sites.breakerStates,
    websites,
    enqueueCommand: enqueueFromDashboard(intake, clock),
  });
  // The Crisp plugin's own pages: its sidebar widget and its Settings URL (plugin tier only).
  const pluginTier = config.crisp.tier === "plugin";
  const widget = createWidgetApp({
    enabled: pluginTier && Boolean(crispSettings.webhookSecret),
    secret: crispSettings.webhookSecret,
    toleranceSeconds: config.crisp.webhookToleranceSeconds,
    serves: websites.serves,
    latestDraft: (websiteId, sessionId) => store.latestDraftForSession(websiteId, sessionId),
    operatorLanguage: config.drafting.operatorLanguage,
    enqueueCommand: (input) => intake.enqueueCommand({ ...input, trigger: "widget" }),
    replay: replayOf(store),
    clock,
    log,
  });
  const pluginSettings = createPluginSettingsApp({
    enabled: pluginTier,
    websites,
    subscriptionToken: createSubscriptionTokens({ crisp, clock }),
    secret,
    log,
  });
  const mcp = buildMcp(inputs, core, drafting, mcpTokens);
  return { admin, widget, pluginSettings, mcp, mcpTokens };
}

function buildMcp(
  inputs: ServiceInputs,
  core: Core,
  drafting: Drafting,
  tokens: ReturnType<typeof createMcpTokens>,
) {
  const { config, clock, log } = inputs;
  const { store, crisp, websites, crispSettings } = core;
  const publicHost = config.publicUrl ? new URL(config.publicUrl).hostname : undefined;
  return createMcpApp({
    tokens,
    store,
    log,
    primaryWebsiteId: crispSettings.websiteId,
    version: inputs.version ?? "dev",
    ratePerMinute: config.mcp.ratePerMinute,
    now: () => clock.now(),
    secrets: drafting.secrets,
    hugo: {
      scopes: config.mcp.hugo.scopes,
      // A website's own secret (plugin mode); the primary website may use HUGO_MCP_SECRET.
      secretFor: async (websiteId) => {
        if (!(await websites.serves(websiteId))) return undefined;
        const own = (await websites.get(websiteId))?.hugoMcpSecret;
        if (own) return own;
        return websiteId === crispSettings.websiteId ? config.mcp.hugo.secret : undefined;
      },
    },
    // Behind a known address, requests naming another host are DNS rebinding, not agents.
    allowedHosts: publicHost
      ? [publicHost, "localhost", "127.0.0.1", "[::1]", ...config.mcp.allowedHosts]
      : config.mcp.allowedHosts,
    tools: {
      crisp,
      store,
      kb: drafting.kb,
      retriever: drafting.retriever,
      site: drafting.sites.site,
      pipeline: drafting.pipeline,
      operators: drafting.operators,
      autoSend: config.drafting.autoSend,
      clock,
      enqueueDraft: async (m) => {
        const { job } = await drafting.intake.enqueueForMessage({ ...m, trigger: "mcp", delayMs: 0 });
        return { jobId: job.id };
      },
    },
  });
}

/** The Hono app every runtime serves: web hooks, health, metrics and the mounted pages. */
export function buildApp(
  inputs: ServiceInputs,
  core: Core,
  drafting: Drafting,
  pages: ReturnType<typeof buildPages>,
) {
  const { config, clock, log } = inputs;
  const { store, crisp, websites, crispSettings, metrics } = core;
  const crm = createCrmApp({
    secretFor: async (id) => (await websites.crm(id)).secret,
    toleranceSeconds: config.crisp.webhookToleranceSeconds,
    crisp,
    serves: websites.serves,
    defaultWebsiteId: crispSettings.websiteId,
    clock,
    log,
    replay: replayOf(store),
  });
  return createApp({
    webhook: {
      secret: crispSettings.webhookSecret,
      toleranceSeconds: config.crisp.webhookToleranceSeconds,
      // Plugin hooks are signed; only website (and user) tier hooks carry the secret in the URL.
      allowUrlKey: config.crisp.tier !== "plugin",
    },
    clock,
    log,
    metrics,
    metricsToken: config.metricsToken,
    // Plugin hooks arrive for every website the plugin is installed on: only served ones count.
    intake: async (event, key) =>
      (await websites.serves(event.websiteId))
        ? drafting.intake.webhook(event, key)
        : { duplicate: false, action: "ignored: website not served" },
    ready: () => store.ping(),
    mounts: [
      ...(inputs.mounts ?? []),
      { path: "/admin", app: pages.admin as unknown as Hono },
      { path: "/mcp", app: pages.mcp as unknown as Hono },
      { path: "/plugin", app: pages.widget },
      { path: "/plugin", app: pages.pluginSettings },
      // Always mounted: in plugin mode a website's own crmSecret enables it for that website.
      { path: "/crm", app: crm },
    ],
    ...(inputs.version ? { version: inputs.version } : {}),
  });
}
