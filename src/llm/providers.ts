import type { Clock } from "../clock.ts";
import { type Config, ConfigError, type LlmProviderName, llmProviders } from "../config.ts";
import {
  createRetriever,
  type Embedder,
  lexicalRetriever,
  type Retriever,
  type VectorCache,
} from "../knowledge/hybrid.ts";
import type { KnowledgeBase } from "../knowledge/kb.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type BreakerState, createProviderChain, type ProviderChain } from "./chain.ts";
import { registerSecrets } from "./errors.ts";
import { createOfflineProvider } from "./offline.ts";
import type { LlmProvider } from "./types.ts";

/** The providers configuration names, the retriever, and the provider chains of websites with their own. */

export const DEFAULT_MODELS = { openai: "gpt-4o-mini", anthropic: "claude-haiku-4-5" } as const;

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

/**
 * A provider whose module (and SDK) loads with its first draft: the demo, the offline drafter
 * and one-shot commands never load the OpenAI or Anthropic SDK. Its key is registered for
 * scrubbing at once, as the provider itself would.
 */
function onFirstDraft(
  name: string,
  apiKey: string | undefined,
  load: () => Promise<LlmProvider>,
): LlmProvider {
  registerSecrets([apiKey]);
  let provider: Promise<LlmProvider> | undefined;
  return {
    name,
    draft: async (request, options) => {
      provider ??= load();
      return (await provider).draft(request, options);
    },
  };
}

export function buildProviders(
  config: Config,
  kb: KnowledgeBase,
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
        return onFirstDraft("openai", llm.openaiApiKey, async () =>
          (await import("./openai.ts")).createOpenAiProvider({
            name: "openai",
            apiKey: llm.openaiApiKey,
            model: (llm.provider === "openai" && llm.model) || DEFAULT_MODELS.openai,
            baseUrl: llm.provider === "openai" ? llm.baseUrl : undefined,
            ...common,
          }),
        );
      case "compatible":
        // Its own key or none: the OpenAI key (set for an openai fallback) is never sent here.
        return onFirstDraft("compatible", llm.compatibleApiKey, async () =>
          (await import("./openai.ts")).createOpenAiProvider({
            name: "compatible",
            apiKey: llm.compatibleApiKey,
            baseUrl: llm.baseUrl,
            model: llm.model ?? "llama3.1",
            ...common,
          }),
        );
      case "anthropic":
        if (!llm.anthropicApiKey)
          throw new ConfigError(["ANTHROPIC_API_KEY: required for the anthropic provider"]);
        return onFirstDraft("anthropic", llm.anthropicApiKey, async () =>
          (await import("./anthropic.ts")).createAnthropicProvider({
            apiKey: llm.anthropicApiKey as string,
            model: (llm.provider === "anthropic" && llm.model) || DEFAULT_MODELS.anthropic,
            ...common,
          }),
        );
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
  // The compatible server never gets the OpenAI key: it may be anyone's machine.
  const apiKey = settings.provider === "openai" ? config.llm.openaiApiKey : config.llm.compatibleApiKey;
  registerSecrets([apiKey]);
  // The OpenAI SDK loads with the first embedding, as the providers' do with their first draft.
  let loaded: Promise<Embedder> | undefined;
  const embedder: Embedder = {
    model: `${settings.provider}:${settings.model}`, // the vector space, as createOpenAiEmbedder names it
    embed: async (texts, embedOptions) => {
      loaded ??= import("./embeddings.ts").then(({ createOpenAiEmbedder }) =>
        createOpenAiEmbedder({
          name: settings.provider,
          apiKey,
          baseUrl: settings.baseUrl,
          model: settings.model,
          timeoutMs: config.llm.timeoutMs,
          retries: config.llm.retries,
          fetch: options.fetch,
        }),
      );
      return (await loaded).embed(texts, embedOptions);
    },
  };
  return createRetriever({
    embedder,
    cache,
    log,
    timeoutMs: config.llm.timeoutMs,
    weight: settings.weight,
    onRetrieval: (kind) => options.metrics?.inc("quill_retrieval_total", { kind }),
  });
}

/**
 * Provider chains, built once each: the process-wide one, and those of websites with their
 * own provider or an offline provider that must search their own folder. Chains hang off
 * the knowledge base their offline provider searches, so a reloaded folder gets fresh ones.
 */
export function createChainCache(options: {
  config: Config;
  kb: KnowledgeBase;
  fetch?: typeof fetch | undefined;
  clock: Clock;
  log: Logger;
  /** Replaces every chain (tests and benchmarks use a scripted LLM): websites get none of their own. */
  scripted: boolean;
}) {
  const { config } = options;
  const chainOptions = {
    deadlineMs: config.llm.deadlineMs,
    breaker: config.llm.breaker,
    clock: options.clock,
    log: options.log,
  };
  const chain = createProviderChain({
    providers: buildProviders(config, options.kb, options.fetch),
    ...chainOptions,
  });
  const byKb = new WeakMap<KnowledgeBase, Map<string, ProviderChain>>();
  /** The chain each website drafts with when it has its own provider (for the health page). */
  const ofWebsite = new Map<string, ProviderChain>();

  /** A website's own chain, or undefined when it drafts with the process-wide one. */
  function forWebsite(
    websiteId: string,
    provider: LlmProviderName | undefined,
    siteKb: KnowledgeBase | undefined,
  ) {
    const first = provider ?? config.llm.provider;
    const order = [first, ...config.llm.fallback.filter((p) => p !== first)];
    const ownKb = siteKb !== undefined && siteKb !== options.kb && order.includes("offline");
    let own: ProviderChain | undefined;
    if (!options.scripted && (first !== config.llm.provider || ownKb)) {
      const base = siteKb ?? options.kb;
      const byOrder = byKb.get(base) ?? new Map<string, ProviderChain>();
      byKb.set(base, byOrder);
      own = byOrder.get(order.join(","));
      if (!own) {
        own = createProviderChain({
          providers: buildProviders(config, base, options.fetch, order),
          ...chainOptions,
        });
        byOrder.set(order.join(","), own);
      }
    }
    if (own) ofWebsite.set(websiteId, own);
    else ofWebsite.delete(websiteId);
    return own;
  }

  /** The process-wide chain's breakers, and those of websites' own chains labelled by website. */
  function breakerStates(websiteId?: string): Record<string, BreakerState> {
    const states = chain.breakerStates();
    for (const [id, own] of ofWebsite) {
      if (websiteId && id !== websiteId) continue;
      for (const [provider, state] of Object.entries(own.breakerStates()))
        states[`${provider} (website ${id})`] = state;
    }
    return states;
  }

  /** quill_breaker_open: 1 while a breaker is open or half-open. */
  function collectBreakers(metrics: Metrics) {
    for (const [provider, state] of Object.entries(chain.breakerStates()))
      metrics.set("quill_breaker_open", state === "closed" ? 0 : 1, { provider });
    for (const [website, own] of ofWebsite) {
      for (const [provider, state] of Object.entries(own.breakerStates()))
        metrics.set("quill_breaker_open", state === "closed" ? 0 : 1, { provider, website });
    }
  }

  return { chain, forWebsite, breakerStates, collectBreakers };
}

export type ChainCache = ReturnType<typeof createChainCache>;
