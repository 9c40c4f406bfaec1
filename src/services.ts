import type { Hono } from "hono";
import type { Clock } from "./clock.ts";
import { type Config, ConfigError } from "./config.ts";
import { createCrispClient } from "./crisp/client.ts";
import { createIntake, pollOnce } from "./drafting/intake.ts";
import { createDraftPipeline } from "./drafting/pipeline.ts";
import { type PromptTemplate, parsePrompt, pickVariant } from "./drafting/prompt.ts";
import { createAdminApp } from "./http/admin/app.tsx";
import { createSessions } from "./http/admin/session.ts";
import { createApp } from "./http/app.ts";
import { createCrmApp } from "./http/crm.ts";
import { createKnowledgeBase } from "./knowledge/kb.ts";
import { createAnthropicProvider } from "./llm/anthropic.ts";
import { createProviderChain } from "./llm/chain.ts";
import { createOfflineProvider } from "./llm/offline.ts";
import { createOpenAiProvider } from "./llm/openai.ts";
import type { DraftEngine, LlmProvider } from "./llm/types.ts";
import type { Logger } from "./log.ts";
import { createMetrics } from "./metrics.ts";
import { createStore, type Database } from "./store/store.ts";
import { createOutcomeSync, type OutcomeSync } from "./sync/outcomes.ts";
import { createOperatorDirectory } from "./triage/operators.ts";
import { parseRules, RulesError, type RulesFile } from "./triage/rules.ts";
import { createTriage } from "./triage/triage.ts";

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
  mounts?: Array<{ path: string; app: Hono }>;
  /** Called when a job was enqueued (the Node runner wakes; Workers send a Queue message). */
  onEnqueued?: (job: { id: string; runAfter: number }) => void | Promise<void>;
  canaries?: string[];
  version?: string;
  /** The triage rules file's text (the runtime reads RULES_FILE, or takes RULES inline). */
  rules?: { source: string; text: string } | undefined;
}

export function buildProviders(
  config: Config,
  kb: ReturnType<typeof createKnowledgeBase>,
  fetchImpl?: typeof fetch,
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
        if (!llm.openaiApiKey) throw new Error("OPENAI_API_KEY: required for the openai provider");
        return createOpenAiProvider({
          name: "openai",
          apiKey: llm.openaiApiKey,
          model: (llm.provider === "openai" && llm.model) || DEFAULT_MODELS.openai,
          baseUrl: llm.provider === "openai" ? llm.baseUrl : undefined,
          ...common,
        });
      case "compatible":
        return createOpenAiProvider({
          name: "compatible",
          apiKey: llm.openaiApiKey ?? "not-needed",
          baseUrl: llm.baseUrl,
          model: llm.model ?? "llama3.1",
          ...common,
        });
      case "anthropic":
        if (!llm.anthropicApiKey) throw new Error("ANTHROPIC_API_KEY: required for the anthropic provider");
        return createAnthropicProvider({
          apiKey: llm.anthropicApiKey,
          model: (llm.provider === "anthropic" && llm.model) || DEFAULT_MODELS.anthropic,
          ...common,
        });
      case "offline":
        return createOfflineProvider({ kb });
    }
  };
  return [llm.provider, ...llm.fallback].map(make);
}

export async function buildServices(inputs: ServiceInputs) {
  const { config, clock, log } = inputs;
  const metrics = createMetrics({
    quill_webhooks_total: "Web hook deliveries by result",
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
    ...(inputs.fetch ? { fetch: inputs.fetch } : {}),
  });
  outcomes = createOutcomeSync({
    store,
    crisp,
    settings: { people: config.sync.people, crm: config.sync.crm, timeoutMs: config.crisp.timeoutMs },
    clock,
    log,
    ...(inputs.fetch ? { fetch: inputs.fetch } : {}),
    ...(inputs.onEnqueued ? { onEnqueued: inputs.onEnqueued } : {}),
  });
  const kb = createKnowledgeBase(inputs.kbFiles);
  const templates = new Map<string, PromptTemplate>();
  for (const file of inputs.promptFiles) {
    if (file.name.endsWith(".md"))
      templates.set(file.name.replace(/\.md$/, ""), await parsePrompt(file.name, file.content));
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
  const promptFor = async (_websiteId: string, sessionId: string) => {
    const variant = pickVariant(sessionId, variants);
    return variant
      ? { template: templates.get(variant.name) ?? template, variant: variant.name }
      : { template };
  };
  const chain = createProviderChain({
    providers: buildProviders(config, kb, inputs.fetch),
    deadlineMs: config.llm.deadlineMs,
    breaker: config.llm.breaker,
    clock,
    log,
  });
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
  const triage = rules
    ? createTriage({
        rulesFor: async () => rules,
        crisp,
        store,
        operators: createOperatorDirectory(crisp, clock),
        clock,
        log,
      })
    : undefined;
  const pipeline = createDraftPipeline({
    store,
    crisp,
    llm,
    kb,
    prompt: promptFor,
    policy: {
      replyMode: config.drafting.replyMode,
      autoSendIntents: config.drafting.autoSendIntents,
      autoSendMinConfidence: config.drafting.autoSendMinConfidence,
      linkAllowlist: config.drafting.linkAllowlist,
    },
    skipSegments: config.drafting.skipSegments,
    needsHuman: { segment: config.drafting.needsHumanSegment, assignTo: config.drafting.needsHumanAssign },
    redactPii: config.drafting.piiRedaction,
    triage,
    outcomes,
    prices: config.llm.prices,
    ...(inputs.canaries ? { canaries: inputs.canaries } : {}),
    clock,
    log,
    metrics,
  });
  const intake = createIntake({
    store,
    clock,
    log,
    quietPeriodMs: config.drafting.quietPeriodMs,
    onEnqueued: inputs.onEnqueued ?? (() => {}),
  });
  // Sessions are signed with a key derived from ADMIN_TOKEN (they survive restarts and die
  // with a new token); in demo mode, with no token, the dashboard is open.
  const sessions = createSessions({
    secret: config.adminToken ? `quill-admin:${config.adminToken}` : crypto.randomUUID(),
    ttlMs: 12 * 3600_000,
    now: () => clock.now(),
  });
  const admin = createAdminApp({
    store,
    sessions,
    adminToken: config.adminToken,
    demo: config.demo,
    clock,
    secureCookies: (config.publicUrl ?? "").startsWith("https://"),
    breakerStates: chain.breakerStates,
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
  const app = createApp({
    webhook: { secret: crispSettings.webhookSecret, toleranceSeconds: config.crisp.webhookToleranceSeconds },
    clock,
    log,
    metrics,
    intake: intake.webhook,
    ready: () => store.ping(),
    mounts: [
      ...(inputs.mounts ?? []),
      { path: "/admin", app: admin as unknown as Hono },
      ...(config.sync.crmSecret
        ? [
            {
              path: "/crm",
              app: createCrmApp({
                secret: config.sync.crmSecret,
                toleranceSeconds: config.crisp.webhookToleranceSeconds,
                crisp,
                serves: async (id) => id === crispSettings.websiteId,
                defaultWebsiteId: crispSettings.websiteId,
                clock,
                log,
              }),
            },
          ]
        : []),
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
  });
  const websiteId = crispSettings.websiteId;
  return {
    store,
    crisp,
    kb,
    template,
    templates,
    promptFor,
    llm,
    breakerStates: chain.breakerStates,
    pipeline,
    intake,
    app,
    metrics,
    websiteId,
    poll: (signal?: AbortSignal) =>
      pollOnce({ store, crisp, intake, websiteId, ...(signal ? { signal } : {}) }),
  };
}

export type Services = Awaited<ReturnType<typeof buildServices>>;
