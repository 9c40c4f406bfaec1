import { scrubSecrets } from "../llm/scrub.ts";
import type { DraftResult, LlmAttempt } from "../llm/types.ts";
import type { NewDraft } from "../store/schema.ts";
import type { Draft } from "../store/store.ts";
import type { DraftRun, PipelineDeps } from "./deps.ts";
import type { Prepared } from "./prepare.ts";

/** A draft's row and the rows of its provider calls, each attempt's cost computed once. */

type Prices = PipelineDeps["prices"];

export function costOf(prices: Prices, model: string | undefined, usage: DraftResult["usage"] | undefined) {
  const price = model ? prices[model] : undefined;
  if (!price || !usage) return 0;
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
}

/** What the draft row says beyond what every draft of the job shares. */
export type DraftFields = Omit<
  NewDraft,
  | "id"
  | "createdAt"
  | "jobId"
  | "websiteId"
  | "sessionId"
  | "customerFingerprint"
  | "promptName"
  | "promptVersion"
  | "variant"
  | "transcript"
  | "context"
  | "markerFingerprint"
  | "latency"
  | "costUsd"
>;

/** Inserts the job's draft and its provider calls (llm_calls), and counts their cost. */
export async function recordDraft(
  run: DraftRun,
  prepared: Prepared,
  fields: DraftFields,
  attempts: LlmAttempt[],
): Promise<Draft> {
  const { deps, job } = run;
  const { template, variant, rendered, context } = prepared;
  const costs = attempts.map((a) => costOf(deps.prices, a.model, a.usage));
  const draft = await deps.store.insertDraft({
    ...fields,
    jobId: job.id,
    websiteId: job.websiteId,
    sessionId: job.sessionId,
    customerFingerprint: job.fingerprint,
    promptName: template.name,
    promptVersion: template.version,
    variant: variant ?? null,
    transcript: rendered.conversation,
    context: {
      transcript: context.transcript,
      query: context.query,
      language: context.language,
      visitor: context.visitor,
    },
    markerFingerprint: run.marker,
    latency: run.timing.latency,
    // A failed draft's row never carried a cost; its calls' rows do.
    ...(fields.status === "failed" ? {} : { costUsd: costs.reduce((sum, c) => sum + c, 0) }),
  });
  attempts.forEach((a, i) => {
    const cost = costs[i] ?? 0;
    if (cost > 0) deps.metrics.inc("quill_llm_cost_usd_total", { provider: a.provider }, cost);
  });
  await deps.store.insertLlmCalls(
    attempts.map((a, i) => ({
      draftId: draft.id,
      jobId: job.id,
      websiteId: job.websiteId,
      provider: a.provider,
      model: a.model ?? null,
      status: a.status,
      latencyMs: Math.round(a.latencyMs),
      tokensIn: a.usage?.inputTokens ?? 0,
      tokensOut: a.usage?.outputTokens ?? 0,
      tokensCached: a.usage?.cachedInputTokens ?? 0,
      costUsd: costs[i] ?? 0,
      error: a.error === undefined ? null : scrubSecrets(a.error),
    })),
  );
  return draft;
}
