import type { Context, Hono } from "hono";
import type { Clock } from "./clock.ts";
import { type Config, ConfigError } from "./config.ts";
import { createCrispClient } from "./crisp/client.ts";
import type { SiteOverrides } from "./drafting/deps.ts";
import { createIntake } from "./drafting/intake.ts";
import { createDraftPipeline } from "./drafting/pipeline.ts";
import { createPollCycle } from "./drafting/poll-cycle.ts";
import { createPromptChoice, loadPrompts } from "./drafting/prompt-choice.ts";
import { createSiteOverrides } from "./drafting/site.ts";
import { serverSecret } from "./http/admin/session.ts";
import { createDispatcher } from "./jobs/dispatch.ts";
import { createKbCache } from "./knowledge/cache.ts";
import type { Retriever } from "./knowledge/hybrid.ts";
import { createKnowledgeBase, type KnowledgeBase } from "./knowledge/kb.ts";
import { availableProviders, buildRetriever, createChainCache } from "./llm/providers.ts";
import { configuredSecrets, registerSecrets } from "./llm/scrub.ts";
import type { DraftEngine } from "./llm/types.ts";
import type { Logger } from "./log.ts";
import { createMetrics } from "./metrics.ts";
import { createOutbound, type Resolve } from "./outbound.ts";
import { createShadow, createShadowEngines } from "./shadow/shadow.ts";
import { createStore, type Database } from "./store/store.ts";
import { createOutcomeSync, syncJob, withFeedbackSync } from "./sync/outcomes.ts";
import { createOperatorDirectory } from "./triage/operators.ts";
import { parseRules, RulesError, type RulesFile } from "./triage/rules.ts";
import { createTriage } from "./triage/triage.ts";
import { createWebsiteDirectory } from "./websites.ts";

/** The non-HTTP half of buildServices (services.ts): storage, Crisp, prompts, websites, drafting and jobs. */

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
  /** Replaces shadow mode's candidate chains (tests); by default a scripted `llm` does. */
  shadowLlm?: DraftEngine;
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
export async function buildCore(inputs: ServiceInputs) {
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

export type Core = Awaited<ReturnType<typeof buildCore>>;

/** The knowledge base, provider chains and what each website's own settings change. */
function buildKnowledge(inputs: ServiceInputs, core: Core) {
  const { config, clock, log } = inputs;
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
  const kbs = createKbCache({ fallback: kb, load: inputs.loadKb, stamp: inputs.kbStamp, log });
  const sites = createSiteOverrides({ websites: core.websites, kbs, chains, policy });
  const retriever = buildRetriever(config, core.store, log, { fetch: inputs.fetch, metrics: core.metrics });
  return { kb, chains, policy, sites, retriever };
}

/** Knowledge, providers, triage, intake, the pipeline and the job dispatcher. */
export function buildDrafting(inputs: ServiceInputs, core: Core) {
  const { config, clock, log } = inputs;
  const { store, crisp, websites, metrics, crispSettings } = core;
  const { kb, chains, policy, sites, retriever } = buildKnowledge(inputs, core);
  const rules = loadRules(inputs.rules);
  const operators = createOperatorDirectory(crisp, clock);
  const triage = createTriage({
    rulesFor: async (websiteId) => (await websites.rules(websiteId)) ?? rules,
    crisp,
    store,
    operators,
    log,
  });
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
  const shadow = buildShadow(inputs, core, { kb, site: sites.site, retriever });
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
    operatorLanguage: config.drafting.operatorLanguage,
    autoSend: config.drafting.autoSend,
    triage,
    outcomes: core.outcomes,
    shadow: shadow.enqueue,
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
    handlers: { ...drafting.handlers, sync: syncJob(core.outcomes), shadow: shadow.handler },
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

export type Drafting = ReturnType<typeof buildDrafting>;

/** Shadow mode: its engines (the candidate providers) and its job handler. */
function buildShadow(
  inputs: ServiceInputs,
  core: Core,
  parts: {
    kb: KnowledgeBase;
    site: (websiteId: string) => Promise<SiteOverrides>;
    retriever: Retriever;
  },
) {
  const { config, clock, log } = inputs;
  const engine = createShadowEngines({
    config,
    fetch: inputs.fetch,
    clock,
    log,
    scripted: inputs.shadowLlm ?? inputs.llm,
  });
  return createShadow({
    store: core.store,
    websites: core.websites,
    templates: core.prompts.templates,
    config,
    ...parts,
    // A test's own candidate replaces even the offline drafter.
    engine: inputs.shadowLlm ? () => inputs.shadowLlm as NonNullable<typeof inputs.shadowLlm> : engine,
    clock,
    log,
    onEnqueued: inputs.onEnqueued,
  });
}
