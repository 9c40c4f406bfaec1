import type { Context, Hono } from "hono";
import type { Clock } from "./clock.ts";
import { type Config, ConfigError } from "./config.ts";
import { createCrispClient } from "./crisp/client.ts";
import { createIntake, type Intake } from "./drafting/intake.ts";
import { createDraftPipeline } from "./drafting/pipeline.ts";
import { createPollCycle } from "./drafting/poll-cycle.ts";
import { createPromptChoice, loadPrompts } from "./drafting/prompt-choice.ts";
import { createSiteOverrides } from "./drafting/site.ts";
import { createAdminApp } from "./http/admin/app.tsx";
import { createSessions, serverSecret } from "./http/admin/session.ts";
import { createLoginThrottle } from "./http/admin/throttle.ts";
import { createApp } from "./http/app.ts";
import { createCrmApp } from "./http/crm.ts";
import { createPluginSettingsApp, createSubscriptionTokens } from "./http/plugin-settings.tsx";
import { createWidgetApp } from "./http/widget.ts";
import { createDispatcher } from "./jobs/dispatch.ts";
import { createKbCache } from "./knowledge/cache.ts";
import { createKnowledgeBase } from "./knowledge/kb.ts";
import { availableProviders, buildRetriever, createChainCache } from "./llm/providers.ts";
import { configuredSecrets, registerSecrets } from "./llm/scrub.ts";
import type { DraftEngine } from "./llm/types.ts";
import type { Logger } from "./log.ts";
import { createMcpApp } from "./mcp/server.ts";
import { createMcpTokens } from "./mcp/tokens.ts";
import { createMetrics } from "./metrics.ts";
import { createOutbound, type Resolve } from "./outbound.ts";
import { createStore, type Database, type Store } from "./store/store.ts";
import { createOutcomeSync, syncJob, withFeedbackSync } from "./sync/outcomes.ts";
import { createOperatorDirectory } from "./triage/operators.ts";
import { parseRules, RulesError, type RulesFile } from "./triage/rules.ts";
import { createTriage } from "./triage/triage.ts";
import { createWebsiteDirectory } from "./websites.ts";

/**
 * Builds quill's services from config and runtime capabilities, in dependency order; the
 * work itself lives in the modules. Runtime-agnostic: the Node and Workers entries pass in
 * the database, files and fetch they have.
 */

export interface ServiceInputs {
  config: Config;
  db: Database;
  clock: Clock;
  log: Logger;
  /** Markdown articles of the knowledge base. */
  kbFiles: Array<{ name: string; content: string }>;
  /** The prompt template files (prompts/*.md): default.md, plus any A/B variants. */
  promptFiles: Array<{ name: string; content: string }>;
  /** Crisp credentials and URL when they differ from config (demo mode: the mounted sandbox). */
  crisp?: { apiUrl: string; identifier: string; key: string; websiteId: string; webhookSecret: string };
  /** Replaces the provider chain (tests and benchmarks use a scripted LLM). */
  llm?: DraftEngine;
  fetch?: typeof fetch;
  /**
   * Requests to URLs a website sets (its crmUrl), when they differ from `fetch`. Node: over
   * node:http with a lookup that refuses private addresses at connect time (DNS rebinding).
   */
  outboundFetch?: typeof fetch;
  /** Node: every address a name resolves to, checked before an outbound request; absent on Workers. */
  resolveHost?: Resolve;
  /** The Crisp client's own fetch (Node: over node:http), when it differs from `fetch`. */
  crispFetch?: typeof fetch;
  mounts?: Array<{ path: string; app: Hono }>;
  /** Called when a job was enqueued (the Node runner wakes; Workers send a Queue message). */
  onEnqueued?: (job: { id: string; runAfter: number }) => void | Promise<void>;
  /** Visitor typing moved a queued job (see IntakeDeps); by default an earlier one counts as enqueued. */
  onRescheduled?: (job: { id: string; runAfter: number }, earlier: boolean) => void | Promise<void>;
  canaries?: string[];
  version?: string;
  /** With SQLite group commit: resolves once every write so far is committed. */
  durable?: (() => Promise<void>) | undefined;
  /** Reads a website's own knowledge base folder (Node; absent on Workers). */
  loadKb?: ((dir: string) => Array<{ name: string; content: string }>) | undefined;
  /** Changes when a file of that folder does (mtimes): the knowledge base is read again. */
  kbStamp?: ((dir: string) => string) | undefined;
  /** The triage rules file's text (the runtime reads RULES_FILE, or takes RULES inline). */
  rules?: { source: string; text: string } | undefined;
  /** The client's address for login throttling (Node: the socket; Workers: CF-Connecting-IP). */
  clientAddress?: ((c: Context) => string | undefined) | undefined;
}

const METRICS = {
  quill_webhooks_total: "Web hook deliveries by result",
  quill_retrieval_total: "Knowledge retrievals by kind (hybrid, lexical while embeddings load, failed)",
  quill_drafts_total: "Drafts posted by mode (note, reply) or unavailable",
  quill_stage_ms:
    "Milliseconds per pipeline stage (context, eligibility, retrieval, llm, policy, recheck, post, total)",
  quill_llm_tokens_total: "LLM tokens by direction",
  quill_llm_cost_usd_total: "LLM cost in USD",
  quill_jobs: "Jobs by status",
  quill_breaker_open: "1 when a provider's circuit breaker is open or half-open",
  quill_commands_total: "Operator note commands run",
  quill_jobs_skipped_total: "Jobs that ended without drafting",
  quill_jobs_failed_total: "Jobs that failed for good",
  quill_jobs_dead_total: "Jobs that used up their attempts, or whose payload no attempt can read",
};

/** RULES_FILE (or RULES) parsed at start: a bad file is a configuration fault. */
function loadRules(rules: ServiceInputs["rules"]): RulesFile | undefined {
  if (!rules) return undefined;
  try {
    return parseRules(rules.text, rules.source);
  } catch (error) {
    if (error instanceof RulesError) throw new ConfigError([`RULES_FILE: ${error.message}`]);
    throw error;
  }
}

/** Crisp credentials: the inputs' (demo mode: the mounted sandbox) or the configuration's. */
function crispSettingsOf(inputs: ServiceInputs) {
  const { crisp } = inputs.config;
  return (
    inputs.crisp ?? {
      apiUrl: crisp.apiUrl,
      identifier: crisp.identifier ?? "",
      key: crisp.key ?? "",
      websiteId: crisp.websiteId ?? "",
      webhookSecret: crisp.webhookSecret ?? "",
    }
  );
}

/** Storage, Crisp, prompts, websites and the outcome sync: what every other part is built on. */
async function buildCore(inputs: ServiceInputs) {
  const { config, clock, log } = inputs;
  const metrics = createMetrics(METRICS);
  const crispSettings = crispSettingsOf(inputs);
  const baseStore = createStore(inputs.db, { clock, ...(inputs.durable ? { durable: inputs.durable } : {}) });
  const crisp = createCrispClient({
    apiUrl: crispSettings.apiUrl,
    identifier: crispSettings.identifier,
    key: crispSettings.key,
    tier: config.crisp.tier,
    timeoutMs: config.crisp.timeoutMs,
    maxRetries: config.crisp.maxRetries,
    concurrency: config.crisp.concurrency,
    clock,
    log,
    ...(inputs.crispFetch || inputs.fetch ? { fetch: inputs.crispFetch ?? inputs.fetch } : {}),
  });
  const variants = config.drafting.promptVariants;
  const prompts = await loadPrompts(inputs.promptFiles, { promptsDir: config.drafting.promptsDir, variants });
  const secret = serverSecret(baseStore, config.sessionSecret);
  const websites = createWebsiteDirectory({
    store: baseStore,
    clock,
    secret,
    primaryWebsiteId: crispSettings.websiteId,
    tier: config.crisp.tier,
    kbFolders: Boolean(inputs.loadKb),
    primaryCrm: { url: config.sync.crm?.url, secret: config.sync.crmSecret },
    allowPrivate: config.outbound.allowPrivate,
    knownPrompts: [...prompts.templates.keys()],
    knownProviders: availableProviders(config),
  });
  await websites.checkTier();
  const outbound = createOutbound({
    allowPrivate: config.outbound.allowPrivate,
    resolve: inputs.resolveHost,
    fetch: inputs.outboundFetch ?? inputs.fetch,
  });
  const outcomes = createOutcomeSync({
    store: baseStore,
    crisp,
    outbound,
    settings: {
      people: config.sync.people,
      crm: (id) => websites.crm(id),
      timeoutMs: config.crisp.timeoutMs,
    },
    clock,
    log,
    ...(inputs.onEnqueued ? { onEnqueued: inputs.onEnqueued } : {}),
  });
  // Feedback is echoed to Crisp profiles and the CRM.
  const store = withFeedbackSync(baseStore, outcomes);
  const promptFor = createPromptChoice({ ...prompts, variants, websites });
  return { metrics, crispSettings, store, crisp, secret, websites, outcomes, prompts, promptFor };
}

type Core = Awaited<ReturnType<typeof buildCore>>;

/** Knowledge, providers, triage, intake, the pipeline and the job dispatcher. */
function buildDrafting(inputs: ServiceInputs, core: Core) {
  const { config, clock, log } = inputs;
  const { store, crisp, websites, metrics, crispSettings } = core;
  const kb = createKnowledgeBase(inputs.kbFiles);
  const chains = createChainCache({
    config,
    kb,
    fetch: inputs.fetch,
    clock,
    log,
    scripted: Boolean(inputs.llm),
  });
  const policy = {
    replyMode: config.drafting.replyMode,
    autoSendIntents: config.drafting.autoSendIntents,
    autoSendMinConfidence: config.drafting.autoSendMinConfidence,
    linkAllowlist: config.drafting.linkAllowlist,
  };
  const sites = createSiteOverrides({
    websites,
    kbs: createKbCache({ fallback: kb, load: inputs.loadKb, stamp: inputs.kbStamp, log }),
    chains,
    policy,
  });
  const rules = loadRules(inputs.rules);
  const operators = createOperatorDirectory(crisp, clock);
  const triage = createTriage({
    rulesFor: async (websiteId) => (await websites.rules(websiteId)) ?? rules,
    crisp,
    store,
    operators,
    log,
  });
  const retriever = buildRetriever(config, store, log, { fetch: inputs.fetch, metrics });
  const secrets = configuredSecrets(config, crispSettings);
  // Provider error texts are scrubbed of these before they are stored, logged or shown.
  registerSecrets(secrets);
  const intake = createIntake({
    store,
    clock,
    log,
    quietPeriodMs: config.drafting.quietPeriodMs,
    typingGraceMs: config.drafting.typingGraceMs,
    onEnqueued: inputs.onEnqueued ?? (() => {}),
    ...(inputs.onRescheduled ? { onRescheduled: inputs.onRescheduled } : {}),
  });
  const llm = inputs.llm ?? chains.chain;
  const drafting = createDraftPipeline({
    store,
    crisp,
    llm,
    kb,
    retriever,
    prompt: core.promptFor,
    policy,
    site: sites.site,
    skipSegments: config.drafting.skipSegments,
    skipRouting: config.drafting.skipRouting,
    needsHuman: { segment: config.drafting.needsHumanSegment, assignTo: config.drafting.needsHumanAssign },
    redactPii: config.drafting.piiRedaction,
    typing: config.drafting.typing,
    autoSend: config.drafting.autoSend,
    triage,
    outcomes: core.outcomes,
    // Found by reading the conversation, as a poll would.
    requeue: (message) => intake.enqueueForMessage({ ...message, trigger: "poll" }),
    prices: config.llm.prices,
    // Every configured secret is protected text: a draft that repeats one is never sent.
    canaries: [...(inputs.canaries ?? []), ...secrets],
    clock,
    log,
    metrics,
  });
  const jobs = createDispatcher({
    store,
    clock,
    log,
    metrics,
    handlers: { ...drafting.handlers, sync: syncJob(core.outcomes) },
  });
  const pipeline = {
    run: jobs.run,
    execute: drafting.execute,
    preview: drafting.preview,
    checkReply: drafting.checkReply,
  };
  const poll = createPollCycle({ store, crisp, intake, websites, log });
  return { kb, llm, chains, sites, operators, retriever, secrets, intake, pipeline, poll };
}

type Drafting = ReturnType<typeof buildDrafting>;

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
function buildPages(inputs: ServiceInputs, core: Core, drafting: Drafting) {
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
function buildApp(
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

export async function buildServices(inputs: ServiceInputs) {
  const core = await buildCore(inputs);
  const drafting = buildDrafting(inputs, core);
  const pages = buildPages(inputs, core, drafting);
  const app = buildApp(inputs, core, drafting, pages);
  const { store, metrics } = core;
  metrics.collect(async () => {
    for (const [status, count] of Object.entries(await store.countJobsByStatus()))
      metrics.set("quill_jobs", count, { status });
    drafting.chains.collectBreakers(metrics);
  });
  return {
    store,
    crisp: core.crisp,
    kb: drafting.kb,
    retriever: drafting.retriever,
    template: core.prompts.template,
    templates: core.prompts.templates,
    promptFor: core.promptFor,
    llm: drafting.llm,
    breakerStates: drafting.sites.breakerStates,
    pipeline: drafting.pipeline,
    intake: drafting.intake,
    app,
    metrics,
    websiteId: core.crispSettings.websiteId,
    websites: core.websites,
    mcpTokens: pages.mcpTokens,
    poll: drafting.poll,
  };
}

export type Services = Awaited<ReturnType<typeof buildServices>>;
