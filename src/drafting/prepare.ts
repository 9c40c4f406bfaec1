import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import type { JobOutcome } from "../jobs/dispatch.ts";
import { lexicalRetriever, type Retriever } from "../knowledge/hybrid.ts";
import { type KnowledgeBase, snippetOf } from "../knowledge/kb.ts";
import { languageLabel } from "../language/names.ts";
import type { DraftRequest, KnowledgeSnippet } from "../llm/types.ts";
import { visitorEmailHash } from "../privacy.ts";
import type { Job } from "../store/store.ts";
import { PAUSED_KEY } from "./commands.ts";
import { buildContext, type DraftContext } from "./context.ts";
import type { PipelineDeps, SiteOverrides } from "./deps.ts";
import { checkEligibility, type EligibilityMessage } from "./eligibility.ts";
import type { PromptTemplate } from "./prompt.ts";
import { renderPrompt } from "./prompt.ts";

/**
 * Everything before the model: the conversation read, eligibility, redaction, retrieval and
 * the prompt. `requestFor` is also what eval drafts with, so both send the model the same.
 */

export async function loadConversation(deps: PipelineDeps, job: Job, signal: AbortSignal) {
  const [conversation, page] = await Promise.all([
    deps.crisp.conversations.get(job.websiteId, job.sessionId, { signal }),
    deps.crisp.messages.listLast(job.websiteId, job.sessionId, deps.contextMessages ?? 20, { signal }),
  ]);
  return { conversation, messages: page.messages };
}

/** The conversation, with the visitor linked so a privacy export or erase finds it later. */
export async function readConversation(deps: PipelineDeps, job: Job, signal: AbortSignal) {
  const read = await loadConversation(deps, job, signal);
  const { conversation } = read;
  await deps.store.linkVisitor(job.websiteId, job.sessionId, {
    peopleId: conversation.people_id,
    emailHash: conversation.meta?.email ? await visitorEmailHash(conversation.meta.email) : null,
  });
  return read;
}

/** A stale draft is dropped; the customer's newest message gets its own job now, whatever its trigger does. */
export async function draftNewest(deps: PipelineDeps, job: Job, newest: EligibilityMessage | undefined) {
  if (!newest || !deps.requeue) return;
  await deps.requeue({
    websiteId: job.websiteId,
    sessionId: job.sessionId,
    fingerprint: newest.fingerprint,
    messageAt: newest.timestamp,
  });
}

/** Why this job drafts nothing (its outcome), or undefined when the conversation wants a draft. */
export async function ineligible(
  deps: PipelineDeps,
  job: Job,
  conversation: CrispConversation,
  messages: CrispMessage[],
): Promise<JobOutcome | undefined> {
  const eligibility = checkEligibility({
    conversation,
    messages,
    fingerprint: job.fingerprint,
    skipSegments: deps.skipSegments,
    routing: deps.skipRouting,
  });
  if (!eligibility.eligible) {
    if (eligibility.reason === "superseded") await draftNewest(deps, job, eligibility.newestCustomerMessage);
    return {
      status: eligibility.reason === "superseded" ? "superseded" : "skipped",
      outcome: eligibility.detail,
    };
  }
  // Paused in Crisp's meta data or in the store: either one is an operator's /quill off.
  if (
    conversation.meta?.data?.[PAUSED_KEY] === "off" ||
    (await deps.store.conversationState(job.websiteId, job.sessionId))?.paused
  )
    return { status: "skipped", outcome: "quill is off in this conversation (/quill off)" };
  return undefined;
}

/** From a (redacted) context to the request its model gets: retrieval, then the prompt. */
export async function requestFor(input: {
  template: PromptTemplate;
  kb: KnowledgeBase;
  retriever?: Retriever | undefined;
  websiteName: string;
  context: DraftContext;
}) {
  const { template, context } = input;
  const hits = await (input.retriever ?? lexicalRetriever).retrieve(input.kb, context.query, 3);
  const knowledge: KnowledgeSnippet[] = hits.map(snippetOf);
  const rendered = renderPrompt(template, {
    websiteName: input.websiteName,
    // "French (fr)": a name the model cannot misread, and the code it returns in `language`.
    language: languageLabel(context.language),
    knowledge,
    transcript: context.transcript,
    visitor: context.visitor,
    instructions: context.instructions,
  });
  const request: DraftRequest = {
    system: rendered.system,
    conversation: rendered.conversation,
    query: context.query,
    knowledge,
    hits,
    temperature: template.temperature,
    maxTokens: template.maxTokens,
    language: context.language,
    ...(context.instructions ? { instructions: context.instructions } : {}),
  };
  return { hits, knowledge, rendered, request };
}

/** The name a prompt gives the company when the website has none. */
export const DEFAULT_WEBSITE_NAME = "our company";

/** The conversation's prompt, redacted context, knowledge and the request to its model. */
export async function prepareDraft(
  deps: PipelineDeps,
  input: {
    websiteId: string;
    sessionId: string;
    conversation: CrispConversation;
    messages: CrispMessage[];
    instructions?: string | undefined;
  },
) {
  const [{ template, variant }, site] = await Promise.all([
    deps.prompt(input.websiteId, input.sessionId),
    deps.site ? deps.site(input.websiteId) : ({} as SiteOverrides),
  ]);
  const context = buildContext(input.conversation, input.messages, {
    redactPii: deps.redactPii,
    instructions: input.instructions,
  });
  const { knowledge, rendered, request } = await requestFor({
    template,
    kb: site.kb ?? deps.kb,
    retriever: deps.retriever,
    websiteName: site.name ?? deps.websiteName ?? DEFAULT_WEBSITE_NAME,
    context,
  });
  return { template, variant, site, context, knowledge, rendered, request };
}

export type Prepared = Awaited<ReturnType<typeof prepareDraft>>;
