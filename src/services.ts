import type { Context, Hono } from "hono";
import type { Clock } from "./clock.ts";
import { type Config, ConfigError, type LlmProviderName, llmProviders } from "./config.ts";
import { createCrispClient } from "./crisp/client.ts";
import { CrispError } from "./crisp/errors.ts";
import { createIntake, pollOnce } from "./drafting/intake.ts";
import { createDraftPipeline, type SiteOverrides } from "./drafting/pipeline.ts";
import { PromptError, type PromptTemplate, parsePrompt, pickVariant } from "./drafting/prompt.ts";
import { createAdminApp } from "./http/admin/app.tsx";
import { createSessions, serverSecret } from "./http/admin/session.ts";
import { createLoginThrottle } from "./http/admin/throttle.ts";
import { createApp } from "./http/app.ts";
import { createCrmApp } from "./http/crm.ts";
import { createPluginSettingsApp, createSubscriptionTokens } from "./http/plugin-settings.tsx";
import { createWidgetApp } from "./http/widget.ts";
import { createRetriever, lexicalRetriever, type Retriever, type VectorCache } from "./knowledge/hybrid.ts";
import { createKnowledgeBase } from "./knowledge/kb.ts";
import { createAnthropicProvider } from "./llm/anthropic.ts";
import { type BreakerState, createProviderChain, type ProviderChain } from "./llm/chain.ts";
import { createOpenAiEmbedder } from "./llm/embeddings.ts";
import { createOfflineProvider } from "./llm/offline.ts";
import { createOpenAiProvider } from "./llm/openai.ts";
import { registerSecrets, scrubSecrets } from "./llm/scrub.ts";
import type { DraftEngine, LlmProvider } from "./llm/types.ts";
import type { Logger } from "./log.ts";
import { createMcpApp } from "./mcp/server.ts";
import { createMcpTokens } from "./mcp/tokens.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createOutbound, type Resolve } from "./outbound.ts";
import { createStore, type Database } from "./store/store.ts";
import { createOutcomeSync, type OutcomeSync } from "./sync/outcomes.ts";
import { createOperatorDirectory } from "./triage/operators.ts";
import { parseRules, RulesError, type RulesFile } from "./triage/rules.ts";
import { createTriage } from "./triage/triage.ts";
import { createWebsiteDirectory } from "./websites.ts";

/**
 * Builds quill's services from config and runtime capabilities. Runtime-agnostic: the
 * Node and Workers entries pass in the database, files and fetch they have.
 */

export const DEFAULT_MODELS = { openai: "gpt-4o-mini", anthropic: "claude-haiku-4-5" } as const;

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

/** Providers that have what they need in this process (keys, base URL). */
export function availableProviders(config: Config): LlmProviderName[] {
  const { llm } = config;
  return llmProviders.filter(
    (name) =>
      name === "offline" ||
      (name === "openai" && Boolean(llm.openaiApiKey)) ||
      (name === "anthropic" && Boolean(llm.anthropicApiKey)) ||
      (name === "compatible" && Boolean(llm.baseUrl)),
  );
}

export function buildProviders(
  config: Config,
  kb: ReturnType<typeof createKnowledgeBase>,
  fetchImpl?: typeof fetch,
  order: LlmProviderName[] = [config.llm.provider, ...config.llm.fallback],
) {
  const { llm } = config;
  const common = {
    timeoutMs: llm.timeoutMs,
    retries: llm.retries,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  };
  const make = (name: Config["llm"]["provider"]): LlmProvider => {
    switch (name) {
      case "openai":
        if (!llm.openaiApiKey) throw new ConfigError(["OPENAI_API_KEY: required for the openai provider"]);
        return createOpenAiProvider({
          name: "openai",
          apiKey: llm.openaiApiKey,
          model: (llm.provider === "openai" && llm.model) || DEFAULT_MODELS.openai,
          baseUrl: llm.provider === "openai" ? llm.baseUrl : undefined,
          ...common,
        });
      case "compatible":
        // Its own key or none: the OpenAI key (set for an openai fallback) is never sent here.
        return createOpenAiProvider({
          name: "compatible",
          apiKey: llm.compatibleApiKey,
          baseUrl: llm.baseUrl,
          model: llm.model ?? "llama3.1",
          ...common,
        });
      case "anthropic":
        if (!llm.anthropicApiKey)
          throw new ConfigError(["ANTHROPIC_API_KEY: required for the anthropic provider"]);
        return createAnthropicProvider({
          apiKey: llm.anthropicApiKey,
          model: (llm.provider === "anthropic" && llm.model) || DEFAULT_MODELS.anthropic,
          ...common,
        });
      case "offline":
        return createOfflineProvider({ kb });
    }
  };
  return order.map(make);
}

/** Lexical retrieval, or hybrid with the embeddings endpoint EMBEDDINGS names. */
export function buildRetriever(
  config: Config,
  cache: VectorCache,
  log: Logger,
  options: { fetch?: typeof fetch | undefined; metrics?: Metrics | undefined } = {},
): Retriever {
  const settings = config.drafting.embeddings;
  if (!settings) return lexicalRetriever;
  const embedder = createOpenAiEmbedder({
    name: settings.provider,
    // The compatible server never gets the OpenAI key: it may be anyone's machine.
    apiKey: settings.provider === "openai" ? config.llm.openaiApiKey : config.llm.compatibleApiKey,
    baseUrl: settings.baseUrl,
    model: settings.model,
    timeoutMs: config.llm.timeoutMs,
    retries: config.llm.retries,
    fetch: options.fetch,
  });
  return createRetriever({
    embedder,
    cache,
    log,
    timeoutMs: config.llm.timeoutMs,
    weight: settings.weight,
    onRetrieval: (kind) => options.metrics?.inc("quill_retrieval_total", { kind }),
  });
}

/** A failing website is skipped for at most this many poll cycles between tries. */
export const POLL_BACKOFF_MAX_CYCLES = 32;

function pollError(error: unknown): string {
  if (error instanceof CrispError)
    return `crisp ${error.status} ${error.reason} (${error.method} ${error.path})`;
  return scrubSecrets(error instanceof Error ? error.message : String(error));
}

export async function buildServices(inputs: ServiceInputs) {
  const { config, clock, log } = inputs;
  const metrics = createMetrics({
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
    quill_jobs_dead_total: "Jobs that used up their attempts",
  });
  // Feedback is echoed to Crisp profiles and the CRM; the sync is built once the client exists.
  let outcomes: OutcomeSync | undefined;
  const store = createStore(inputs.db, {
    clock,
    ...(inputs.durable ? { durable: inputs.durable } : {}),
    onFeedback: async (f) => {
      const draft = outcomes && (await store.getDraft(f.draftId));
      if (draft) await outcomes?.emit(`draft_${f.kind}`, draft, { feedback: f });
    },
  });
  const crispSettings = inputs.crisp ?? {
    apiUrl: config.crisp.apiUrl,
    identifier: config.crisp.identifier ?? "",
    key: config.crisp.key ?? "",
    websiteId: config.crisp.websiteId ?? "",
    webhookSecret: config.crisp.webhookSecret ?? "",
  };
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
  const outbound = createOutbound({
    allowPrivate: config.outbound.allowPrivate,
    resolve: inputs.resolveHost,
    fetch: inputs.outboundFetch ?? inputs.fetch,
  });
  outcomes = createOutcomeSync({
    store,
    crisp,
    outbound,
    settings: {
      people: config.sync.people,
      crm: (websiteId) => websites.crm(websiteId),
      timeoutMs: config.crisp.timeoutMs,
    },
    clock,
    log,
    ...(inputs.onEnqueued ? { onEnqueued: inputs.onEnqueued } : {}),
  });
  const kb = createKnowledgeBase(inputs.kbFiles);
  const templates = new Map<string, PromptTemplate>();
  for (const file of inputs.promptFiles) {
    if (!file.name.endsWith(".md")) continue;
    try {
      const path = `${config.drafting.promptsDir.replace(/\/+$/, "")}/${file.name}`;
      templates.set(file.name.replace(/\.md$/, ""), await parsePrompt(path, file.content));
    } catch (error) {
      // A bad prompt file is a configuration fault, named like a bad RULES_FILE.
      if (error instanceof PromptError) throw new ConfigError([`PROMPTS_DIR: ${error.message}`]);
      throw error;
    }
  }
  const variants = config.drafting.promptVariants;
  for (const v of variants) {
    if (!templates.has(v.name)) {
      throw new ConfigError([
        `PROMPT_VARIANTS: no prompt file ${v.name}.md in ${config.drafting.promptsDir}`,
      ]);
    }
  }
  const template = templates.get(variants[0]?.name ?? "default");
  if (!template) throw new ConfigError([`PROMPTS_DIR: no default.md in ${config.drafting.promptsDir}`]);
  const secret = serverSecret(store, config.sessionSecret);
  const websites = createWebsiteDirectory({
    store,
    clock,
    secret,
    primaryWebsiteId: crispSettings.websiteId,
    tier: config.crisp.tier,
    kbFolders: Boolean(inputs.loadKb),
    primaryCrm: { url: config.sync.crm?.url, secret: config.sync.crmSecret },
    allowPrivate: config.outbound.allowPrivate,
    knownPrompts: [...templates.keys()],
    knownProviders: availableProviders(config),
  });
  await websites.checkTier();
  const promptFor = async (websiteId: string, sessionId: string) => {
    // A website's own prompt wins over the process-wide A/B split.
    const own = (await websites.get(websiteId))?.prompt;
    const chosen = own ? templates.get(own) : undefined;
    if (chosen) return { template: chosen };
    const variant = pickVariant(sessionId, variants);
    return variant
      ? { template: templates.get(variant.name) ?? template, variant: variant.name }
      : { template };
  };
  const chainOptions = { deadlineMs: config.llm.deadlineMs, breaker: config.llm.breaker, clock, log };
  const chain = createProviderChain({ providers: buildProviders(config, kb, inputs.fetch), ...chainOptions });
  const llm = inputs.llm ?? chain;
  let rules: RulesFile | undefined;
  if (inputs.rules) {
    try {
      rules = parseRules(inputs.rules.text, inputs.rules.source);
    } catch (error) {
      if (error instanceof RulesError) throw new ConfigError([`RULES_FILE: ${error.message}`]);
      throw error;
    }
  }
  const operators = createOperatorDirectory(crisp, clock);
  const triage = createTriage({
    rulesFor: async (websiteId) => (await websites.rules(websiteId)) ?? rules,
    crisp,
    store,
    operators,
    log,
  });
  const policy = {
    replyMode: config.drafting.replyMode,
    autoSendIntents: config.drafting.autoSendIntents,
    autoSendMinConfidence: config.drafting.autoSendMinConfidence,
    linkAllowlist: config.drafting.linkAllowlist,
  };
  // Per-website provider chains and knowledge bases, built once each. Chains hang off the
  // knowledge base their offline provider searches, so a reloaded folder gets fresh ones.
  const chains = new WeakMap<ReturnType<typeof createKnowledgeBase>, Map<string, ProviderChain>>();
  /** The chain each website drafts with when it has its own provider (for the health page). */
  const siteChains = new Map<string, ProviderChain>();
  const kbs = new Map<string, { kb: ReturnType<typeof createKnowledgeBase>; stamp: string | undefined }>();
  const kbDirIgnored = new Set<string>();
  /** A website's own knowledge base, read again when its folder's stamp changes (an edit, a new file). */
  const kbOf = (
    websiteId: string,
    dir: string,
    load: (dir: string) => Array<{ name: string; content: string }>,
  ) => {
    let stamp: string | undefined;
    try {
      stamp = inputs.kbStamp?.(dir);
    } catch {
      stamp = undefined; // unreadable: the load below says why
    }
    const hit = kbs.get(dir);
    if (hit && hit.stamp === stamp) return hit.kb;
    let loaded = kb;
    try {
      loaded = createKnowledgeBase(load(dir));
    } catch (error) {
      // A missing folder must not stop drafting: the default knowledge base stands in.
      log.error({ websiteId, kbDir: dir, err: String(error) }, "website knowledge base unreadable");
    }
    kbs.set(dir, { kb: loaded, stamp });
    return loaded;
  };
  const site = async (websiteId: string): Promise<SiteOverrides> => {
    const settings = await websites.get(websiteId);
    if (!settings) return {};
    let siteKb: ReturnType<typeof createKnowledgeBase> | undefined;
    if (settings.kbDir && inputs.loadKb) siteKb = kbOf(websiteId, settings.kbDir, inputs.loadKb);
    else if (settings.kbDir && !kbDirIgnored.has(websiteId)) {
      kbDirIgnored.add(websiteId);
      log.warn({ websiteId, kbDir: settings.kbDir }, "kbDir ignored: this runtime has no folders to read");
    }
    let siteLlm: ProviderChain | undefined;
    const first = settings.provider ?? config.llm.provider;
    const order = [first, ...config.llm.fallback.filter((p) => p !== first)];
    // Its own chain for its own provider, or for an offline provider that must search its own folder.
    const ownKb = siteKb !== undefined && siteKb !== kb && order.includes("offline");
    if (!inputs.llm && (first !== config.llm.provider || ownKb)) {
      const base = siteKb ?? kb;
      const byOrder = chains.get(base) ?? new Map<string, ProviderChain>();
      chains.set(base, byOrder);
      siteLlm = byOrder.get(order.join(","));
      if (!siteLlm) {
        siteLlm = createProviderChain({
          providers: buildProviders(config, base, inputs.fetch, order),
          ...chainOptions,
        });
        byOrder.set(order.join(","), siteLlm);
      }
    }
    if (siteLlm) siteChains.set(websiteId, siteLlm);
    else siteChains.delete(websiteId);
    return {
      policy: {
        replyMode: settings.replyMode ?? policy.replyMode,
        autoSendIntents: settings.autoSendIntents ?? policy.autoSendIntents,
        autoSendMinConfidence: settings.autoSendMinConfidence ?? policy.autoSendMinConfidence,
        linkAllowlist: settings.linkAllowlist ?? policy.linkAllowlist,
      },
      kb: siteKb,
      llm: siteLlm,
      name: settings.name,
    };
  };
  // The process-wide chain's breakers, and those of websites' own chains labelled by website.
  const breakerStates = async (websiteId?: string): Promise<Record<string, BreakerState>> => {
    // Resolving each served website builds the chains of those not drafted for yet.
    for (const id of websiteId ? [websiteId] : await websites.served()) await site(id);
    const states = chain.breakerStates();
    for (const [id, own] of siteChains) {
      if (websiteId && id !== websiteId) continue;
      for (const [provider, state] of Object.entries(own.breakerStates()))
        states[`${provider} (website ${id})`] = state;
    }
    return states;
  };
  const retriever = buildRetriever(config, store, log, { fetch: inputs.fetch, metrics });
  const secrets = [
    crispSettings.key,
    crispSettings.webhookSecret,
    config.llm.openaiApiKey,
    config.llm.anthropicApiKey,
    config.llm.compatibleApiKey,
    config.adminToken,
    ...config.adminUsers.map((u) => u.token),
    config.sync.crmSecret,
    config.mcp.hugo.secret,
    config.metricsToken,
  ].filter((v): v is string => typeof v === "string" && v.length >= 8);
  // Provider error texts are scrubbed of these before they are stored, logged or shown.
  registerSecrets(secrets);
  const pipeline = createDraftPipeline({
    store,
    crisp,
    llm,
    kb,
    retriever,
    prompt: promptFor,
    policy,
    site,
    skipSegments: config.drafting.skipSegments,
    skipRouting: config.drafting.skipRouting,
    needsHuman: { segment: config.drafting.needsHumanSegment, assignTo: config.drafting.needsHumanAssign },
    redactPii: config.drafting.piiRedaction,
    typing: config.drafting.typing,
    operatorLanguage: config.drafting.operatorLanguage,
    autoSend: config.drafting.autoSend,
    triage,
    outcomes,
    // Found by reading the conversation, as a poll would; `intake` is built below.
    requeue: (message) => intake.enqueueForMessage({ ...message, trigger: "poll" }),
    prices: config.llm.prices,
    // Every configured secret is protected text: a draft that repeats one is never sent.
    canaries: [...(inputs.canaries ?? []), ...secrets],
    clock,
    log,
    metrics,
  });
  const intake = createIntake({
    store,
    clock,
    log,
    quietPeriodMs: config.drafting.quietPeriodMs,
    typingGraceMs: config.drafting.typingGraceMs,
    onEnqueued: inputs.onEnqueued ?? (() => {}),
    ...(inputs.onRescheduled ? { onRescheduled: inputs.onRescheduled } : {}),
  });
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
    breakerStates,
    websites,
    enqueueCommand: async (draft, payload) => {
      await intake.enqueueCommand({
        websiteId: draft.websiteId,
        sessionId: draft.sessionId,
        sourceFingerprint: clock.now() * 1000 + Math.floor(Math.random() * 1000),
        at: clock.now(),
        payload,
        trigger: "dashboard",
      });
    },
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
    replay: {
      claim: (key, websiteId, expiresAt) => store.claimSignedRequest(key, websiteId, expiresAt),
      release: (key) => store.releaseSignedRequest(key),
    },
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
  const publicHost = config.publicUrl ? new URL(config.publicUrl).hostname : undefined;
  const mcp = createMcpApp({
    tokens: mcpTokens,
    store,
    log,
    primaryWebsiteId: crispSettings.websiteId,
    version: inputs.version ?? "dev",
    ratePerMinute: config.mcp.ratePerMinute,
    now: () => clock.now(),
    secrets,
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
      kb,
      retriever,
      site,
      pipeline,
      operators,
      autoSend: config.drafting.autoSend,
      clock,
      enqueueDraft: async (m) => {
        const { job } = await intake.enqueueForMessage({ ...m, trigger: "mcp", delayMs: 0 });
        return { jobId: job.id };
      },
    },
  });
  const app = createApp({
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
        ? intake.webhook(event, key)
        : { duplicate: false, action: "ignored: website not served" },
    ready: () => store.ping(),
    mounts: [
      ...(inputs.mounts ?? []),
      { path: "/admin", app: admin as unknown as Hono },
      { path: "/mcp", app: mcp as unknown as Hono },
      { path: "/plugin", app: widget },
      { path: "/plugin", app: pluginSettings },
      // Always mounted: in plugin mode a website's own crmSecret enables it for that website.
      {
        path: "/crm",
        app: createCrmApp({
          secretFor: async (id) => (await websites.crm(id)).secret,
          toleranceSeconds: config.crisp.webhookToleranceSeconds,
          crisp,
          serves: websites.serves,
          defaultWebsiteId: crispSettings.websiteId,
          clock,
          log,
          replay: {
            claim: (key, websiteId, expiresAt) => store.claimSignedRequest(key, websiteId, expiresAt),
            release: (key) => store.releaseSignedRequest(key),
          },
        }),
      },
    ],
    ...(inputs.version ? { version: inputs.version } : {}),
  });
  metrics.collect(async () => {
    for (const [status, count] of Object.entries(await store.countJobsByStatus())) {
      metrics.set("quill_jobs", count, { status });
    }
    for (const [provider, state] of Object.entries(chain.breakerStates())) {
      metrics.set("quill_breaker_open", state === "closed" ? 0 : 1, { provider });
    }
    for (const [website, own] of siteChains) {
      for (const [provider, state] of Object.entries(own.breakerStates()))
        metrics.set("quill_breaker_open", state === "closed" ? 0 : 1, { provider, website });
    }
  });
  const websiteId = crispSettings.websiteId;
  // Poll backoff per website, in memory: a restart (or a fresh Workers isolate) tries all again.
  let cycle = 0;
  const pollBackoff = new Map<string, { failures: number; nextCycle: number }>();
  return {
    store,
    crisp,
    kb,
    retriever,
    template,
    templates,
    promptFor,
    llm,
    breakerStates,
    pipeline,
    intake,
    app,
    metrics,
    websiteId,
    websites,
    mcpTokens,
    /**
     * One poll cycle over every served website. A website whose Crisp calls fail (401/403/404:
     * plugin uninstalled, or Crisp down for it) is logged and skipped for 1, 2, 4 … up to
     * POLL_BACKOFF_MAX_CYCLES cycles, and the websites after it are still polled.
     */
    poll: async (signal?: AbortSignal) => {
      cycle++;
      const total = {
        listCalls: 0,
        changed: 0,
        enqueued: 0,
        failed: [] as string[],
        skipped: [] as string[],
      };
      for (const id of await websites.served()) {
        const backoff = pollBackoff.get(id);
        if (backoff && cycle < backoff.nextCycle) {
          total.skipped.push(id);
          continue;
        }
        try {
          const result = await pollOnce({
            store,
            crisp,
            intake,
            websiteId: id,
            ...(signal ? { signal } : {}),
          });
          total.listCalls += result.listCalls;
          total.changed += result.changed;
          total.enqueued += result.enqueued;
          if (backoff) log.info({ websiteId: id, failures: backoff.failures }, "website polled again");
          pollBackoff.delete(id);
        } catch (error) {
          if (signal?.aborted) throw error;
          const failures = (backoff?.failures ?? 0) + 1;
          const skipCycles = Math.min(2 ** (failures - 1), POLL_BACKOFF_MAX_CYCLES);
          pollBackoff.set(id, { failures, nextCycle: cycle + skipCycles + 1 });
          total.failed.push(id);
          log.warn(
            { websiteId: id, failures, skipCycles, err: pollError(error) },
            "poll of a website failed; skipping it for a few cycles",
          );
        }
      }
      return total;
    },
  };
}

export type Services = Awaited<ReturnType<typeof buildServices>>;
