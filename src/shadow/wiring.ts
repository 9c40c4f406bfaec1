import type { SiteOverrides } from "../drafting/deps.ts";
import type { Retriever } from "../knowledge/hybrid.ts";
import type { KnowledgeBase } from "../knowledge/kb.ts";
import type { Core, ServiceInputs } from "../services-core.ts";
import { createShadow, createShadowEngines } from "./shadow.ts";

/** Shadow mode's part of the composition (services-core.ts): its engines and job handler. */
export function buildShadow(
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
