import { z } from "zod";
import type { Clock } from "../clock.ts";
import { type Config, ConfigError, type LlmProviderName } from "../config.ts";
import { contextFromText } from "../drafting/context.ts";
import type { SiteOverrides } from "../drafting/deps.ts";
import { DEFAULT_WEBSITE_NAME, requestFor } from "../drafting/prepare.ts";
import { type PromptTemplate, pickVariant } from "../drafting/prompt.ts";
import { costOf } from "../drafting/record.ts";
import { type JobHandler, jobHandler } from "../jobs/dispatch.ts";
import { describeError } from "../jobs/errors.ts";
import { jsonPayload } from "../jobs/payload.ts";
import type { Retriever } from "../knowledge/hybrid.ts";
import type { KnowledgeBase } from "../knowledge/kb.ts";
import { createProviderChain } from "../llm/chain.ts";
import { buildProviders } from "../llm/providers.ts";
import { scrubSecrets } from "../llm/scrub.ts";
import type { DraftEngine, LlmAttempt } from "../llm/types.ts";
import type { Logger } from "../log.ts";
import type { Draft, Job, Store } from "../store/store.ts";
import type { WebsiteDirectory } from "../websites.ts";

/**
 * Shadow mode: after a live draft is posted, a `shadow` job drafts the same conversation
 * again with a candidate prompt and/or provider, from the live draft's recorded context
 * (no Crisp read, nothing posted), and records the result beside it for the Shadow page.
 */

export const shadowPayload = jsonPayload(z.object({ draftId: z.string().min(1) }));
export type ShadowPayload = z.infer<typeof shadowPayload>;

/** What a candidate drafts with: a prompt file name and a provider. */
export interface ShadowPlan {
  prompt: string | undefined;
  provider: LlmProviderName;
}

export interface ShadowDeps {
  store: Store;
  websites: WebsiteDirectory;
  templates: Map<string, PromptTemplate>;
  config: Config;
  kb: KnowledgeBase;
  site?: ((websiteId: string) => Promise<SiteOverrides>) | undefined;
  retriever?: Retriever | undefined;
  /** The candidate's own chain for a provider (never the live chain's fallbacks). */
  engine: (provider: LlmProviderName, kb: KnowledgeBase) => DraftEngine;
  clock: Clock;
  log: Logger;
  onEnqueued?: ((job: { id: string; runAfter: number }) => void | Promise<void>) | undefined;
}

/** Stable per conversation like the A/B split, salted so it does not follow the A/B halves. */
export function inShadowShare(sessionId: string, share: number): boolean {
  if (share >= 1) return true;
  if (share <= 0) return false;
  const pick = pickVariant(`shadow:${sessionId}`, [
    { in: true, weight: share },
    { in: false, weight: 1 - share },
  ]);
  return pick?.in ?? false;
}

/**
 * One candidate chain per provider and knowledge base, built from the configuration with
 * SHADOW_MODEL. Tests' scripted LLM replaces every provider but the offline drafter.
 */
export function createShadowEngines(options: {
  config: Config;
  fetch?: typeof fetch | undefined;
  clock: Clock;
  log: Logger;
  scripted?: DraftEngine | undefined;
}) {
  const { config } = options;
  const byKb = new WeakMap<KnowledgeBase, Map<string, DraftEngine>>();
  return (provider: LlmProviderName, kb: KnowledgeBase): DraftEngine => {
    if (options.scripted && provider !== "offline") return options.scripted;
    const cached = byKb.get(kb) ?? new Map<string, DraftEngine>();
    byKb.set(kb, cached);
    const found = cached.get(provider);
    if (found) return found;
    const model = config.shadow.model ?? (provider === config.llm.provider ? config.llm.model : undefined);
    const llm = { ...config.llm, provider, model };
    const chain = createProviderChain({
      providers: buildProviders({ ...config, llm }, kb, options.fetch, [provider]),
      deadlineMs: config.llm.deadlineMs,
      breaker: config.llm.breaker,
      clock: options.clock,
      log: options.log,
    });
    cached.set(provider, chain);
    return chain;
  };
}

export function createShadow(deps: ShadowDeps) {
  const { store, clock, log, config } = deps;
  const settings = config.shadow;
  if (settings.prompt && !deps.templates.has(settings.prompt))
    throw new ConfigError([
      `SHADOW_PROMPT: no prompt file ${settings.prompt}.md in ${config.drafting.promptsDir}`,
    ]);

  /** The website's own shadow settings over SHADOW_*; undefined when this conversation is not shadowed. */
  async function planFor(websiteId: string, sessionId: string): Promise<ShadowPlan | undefined> {
    const own = await deps.websites.get(websiteId);
    const prompt = own?.shadowPrompt ?? settings.prompt;
    const provider = own?.shadowProvider ?? settings.provider;
    if (!prompt && !provider) return undefined;
    if (!inShadowShare(sessionId, settings.share)) return undefined;
    return { prompt, provider: provider ?? own?.provider ?? config.llm.provider };
  }

  /** After a live draft was posted: its shadow job. Never throws, so the live draft is never touched. */
  async function enqueue(draft: Draft, job: Job): Promise<void> {
    // A redraft's context lacks the operator's instructions: only first drafts are compared.
    if (job.kind !== "draft") return;
    try {
      if (!(await planFor(draft.websiteId, draft.sessionId))) return;
      const queued = await store.enqueueJob({
        websiteId: draft.websiteId,
        sessionId: draft.sessionId,
        fingerprint: draft.customerFingerprint,
        messageAt: draft.createdAt,
        trigger: "outcome",
        kind: "shadow",
        commandKey: `shadow:${draft.id}`,
        instructions: JSON.stringify({ draftId: draft.id } satisfies ShadowPayload),
        runAfter: clock.now(),
        maxAttempts: 2,
      });
      if (queued.created) await deps.onEnqueued?.(queued.job);
    } catch (error) {
      log.error({ draftId: draft.id, err: describeError(error) }, "could not enqueue a shadow draft");
    }
  }

  const handler: JobHandler<ShadowPayload> = jobHandler({
    payload: shadowPayload,
    run: async (_job, payload, signal) => {
      if (await store.shadowForDraft(payload.draftId))
        return { status: "done", outcome: "shadow: already recorded" };
      const draft = await store.getDraft(payload.draftId);
      if (!draft?.context)
        return { status: "skipped", outcome: "shadow: the live draft or its context is gone" };
      const plan = await planFor(draft.websiteId, draft.sessionId);
      if (!plan) return { status: "skipped", outcome: "shadow: shadow mode is off for this website" };
      const failed = await draftCandidate(deps, draft, plan, signal);
      return { status: "done", outcome: failed ? "shadow: candidate failed" : "shadow: recorded" };
    },
  });

  return { enqueue, handler, planFor };
}

/** Drafts with the candidate and records its row; true when the candidate failed (recorded too). */
async function draftCandidate(
  deps: ShadowDeps,
  draft: Draft,
  plan: ShadowPlan,
  signal: AbortSignal,
): Promise<boolean> {
  const { store, clock, config } = deps;
  const context = draft.context;
  if (!context) return true;
  const name = plan.prompt ?? draft.promptName ?? "default";
  const template = deps.templates.get(name);
  const base = {
    draftId: draft.id,
    websiteId: draft.websiteId,
    sessionId: draft.sessionId,
    promptName: name,
    promptVersion: template?.version ?? null,
    provider: plan.provider,
  };
  if (!template) {
    await store.insertShadow({ ...base, error: `no prompt file ${name}.md` });
    return true;
  }
  const site = deps.site ? await deps.site(draft.websiteId) : {};
  const kb = site.kb ?? deps.kb;
  // The recorded context is already redacted: the candidate sees what the live model saw.
  const { request } = await requestFor({
    template,
    kb,
    retriever: deps.retriever,
    websiteName: site.name ?? DEFAULT_WEBSITE_NAME,
    context: contextFromText(context, { redactPii: false }),
  });
  const started = clock.now();
  try {
    const result = await deps.engine(plan.provider, kb).draft(request, { signal });
    await store.insertShadow({
      ...base,
      provider: result.provider,
      model: result.model,
      text: result.text,
      confidence: result.confidence,
      latencyMs: Math.round(clock.now() - started),
      tokensIn: result.usage.inputTokens,
      tokensOut: result.usage.outputTokens,
      costUsd: costOfAttempts(config.llm.prices, result.attempts),
    });
    return false;
  } catch (error) {
    if (signal.aborted) throw error;
    const attempts = (error as { attempts?: LlmAttempt[] }).attempts ?? [];
    await store.insertShadow({
      ...base,
      latencyMs: Math.round(clock.now() - started),
      costUsd: costOfAttempts(config.llm.prices, attempts),
      error: scrubSecrets(describeError(error)),
    });
    return true;
  }
}

function costOfAttempts(prices: Config["llm"]["prices"], attempts: LlmAttempt[]): number {
  return attempts.reduce((sum, a) => sum + costOf(prices, a.model, a.usage), 0);
}

export type Shadow = ReturnType<typeof createShadow>;
