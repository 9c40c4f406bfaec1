import { buildCore, buildDrafting, type ServiceInputs } from "./services-core.ts";
import { buildApp, buildPages } from "./services-http.ts";

/**
 * Builds quill's services from config and runtime capabilities, in dependency order; the
 * work itself lives in the modules. Runtime-agnostic: the Node and Workers entries pass in
 * the database, files and fetch they have.
 */

export type { ServiceInputs };

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
