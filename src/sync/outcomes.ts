import { z } from "zod";
import type { Clock } from "../clock.ts";
import type { CrispClient } from "../crisp/client.ts";
import { type JobHandler, jobHandler } from "../jobs/dispatch.ts";
import { JobError } from "../jobs/errors.ts";
import { jsonPayload } from "../jobs/payload.ts";
import type { Logger } from "../log.ts";
import { type Outbound, OutboundRefused } from "../outbound.ts";
import type { Draft, Feedback, Job, NewFeedback, Store } from "../store/store.ts";
import { CRM_SIGNATURE, CRM_TIMESTAMP, signCrm } from "./signature.ts";

/**
 * Draft outcomes leave quill in two ways, each as its own "sync" job (leased, retried with
 * backoff, dead after its attempts, visible on the dashboard's health page) so a slow or
 * failing Crisp or CRM never blocks a draft:
 * - a people event on the visitor's Crisp profile (`quill:draft_posted`, `quill:draft_approved`, …)
 *   and, with PEOPLE_SYNC=profile, the last intent and language in the profile's data;
 * - a signed POST to the website's CRM (its crmUrl, or CRM_WEBHOOK_URL for CRISP_WEBSITE_ID).
 */

export type OutcomeKind = "draft_posted" | "draft_sent" | "draft_unavailable" | `draft_${Feedback["kind"]}`;

export interface SyncSettings {
  people: "off" | "events" | "profile";
  /** The CRM hook of a website, if it has one (looked up when enqueuing and when sending). */
  crm: (websiteId: string) => Promise<{ url?: string | undefined; secret?: string | undefined }>;
  timeoutMs: number;
}

const draftSnapshot = z.object({
  id: z.string(),
  intent: z.string().nullable(),
  language: z.string().nullable(),
  mode: z.string(),
  status: z.string(),
  confidence: z.number().nullable(),
  needsHuman: z.boolean(),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  promptName: z.string().nullable(),
  promptVersion: z.string().nullable(),
  text: z.string(),
});

/** A sync job's payload: one outcome of one draft, for one target. */
export const syncPayload = jsonPayload(
  z.object({
    target: z.enum(["people", "crm"]),
    outcome: z.custom<OutcomeKind>((v) => typeof v === "string" && v.startsWith("draft_")),
    /** The visitor's profile when the emitter knew it (saves looking the conversation up). */
    peopleId: z.string().optional(),
    at: z.number(),
    draft: draftSnapshot,
    feedback: z
      .object({
        similarity: z.number().nullable(),
        operatorId: z.string().nullable(),
        operatorName: z.string().nullable(),
        reason: z.string().nullable(),
        finalText: z.string().nullable(),
      })
      .optional(),
  }),
);
type SyncPayload = z.infer<typeof syncPayload>;

/** What the sync steps use. */
interface SyncDeps {
  store: Store;
  crisp: CrispClient;
  settings: SyncSettings;
  clock: Clock;
  log: Logger;
  /** Refuses private addresses and redirects (src/outbound.ts): a crmUrl is set by a website. */
  outbound: Outbound;
  onEnqueued?: (job: { id: string; runAfter: number }) => void | Promise<void>;
}

type EmitExtras = { feedback?: NewFeedback | undefined; peopleId?: string | null | undefined };

/** A website's CRM hook, only when both its URL and its secret are set. */
async function crmOf(deps: SyncDeps, websiteId: string) {
  const { url, secret } = await deps.settings.crm(websiteId);
  return url && secret ? { url, secret } : undefined;
}

/** One job's payload: the draft's fields a target may see, text and final text cut to 1,000 characters. */
function syncPayloadOf(
  target: SyncPayload["target"],
  outcome: OutcomeKind,
  draft: Draft,
  more: EmitExtras,
  at: number,
): SyncPayload {
  const { feedback } = more;
  return {
    target,
    outcome,
    ...(more.peopleId ? { peopleId: more.peopleId } : {}),
    at,
    draft: {
      id: draft.id,
      intent: draft.intent,
      language: draft.language,
      mode: draft.mode,
      status: draft.status,
      confidence: draft.confidence,
      needsHuman: draft.needsHuman,
      provider: draft.provider,
      model: draft.model,
      promptName: draft.promptName,
      promptVersion: draft.promptVersion,
      text: draft.text.slice(0, 1_000),
    },
    ...(feedback
      ? {
          feedback: {
            similarity: feedback.similarity ?? null,
            operatorId: feedback.operatorId ?? null,
            operatorName: feedback.operatorName ?? null,
            reason: feedback.reason ?? null,
            finalText: feedback.finalText?.slice(0, 1_000) ?? null,
          },
        }
      : {}),
  };
}

/**
 * Enqueues one sync job per target; the job key makes a repeated outcome a no-op.
 * `peopleId: null` says the visitor has no profile (the pipeline knows): no people event.
 */
async function emit(deps: SyncDeps, outcome: OutcomeKind, draft: Draft, more: EmitExtras = {}) {
  const { store, settings, clock, log } = deps;
  const crm = await crmOf(deps, draft.websiteId).catch((error) => {
    log.error({ draftId: draft.id, err: String(error) }, "could not read the website's CRM settings");
    return undefined;
  });
  const targets: Array<SyncPayload["target"]> = [
    ...(settings.people !== "off" ? (["people"] as const) : []),
    ...(crm ? (["crm"] as const) : []),
  ];
  for (const target of targets) {
    if (target === "people" && more.peopleId === null) continue;
    const payload = syncPayloadOf(target, outcome, draft, more, clock.now());
    try {
      const { job, created } = await store.enqueueJob({
        websiteId: draft.websiteId,
        sessionId: draft.sessionId,
        fingerprint: draft.customerFingerprint,
        messageAt: draft.createdAt,
        trigger: "outcome",
        kind: "sync",
        commandKey: `sync:${target}:${draft.id}:${outcome}`,
        instructions: JSON.stringify(payload),
        runAfter: clock.now(),
        maxAttempts: 8,
      });
      if (created) await deps.onEnqueued?.(job);
    } catch (error) {
      // The outcome itself is recorded already; losing its echo must not undo it.
      log.error({ draftId: draft.id, target, err: String(error) }, "could not enqueue an outcome sync");
    }
  }
}

async function peopleEvent(
  deps: SyncDeps,
  job: Job,
  payload: SyncPayload,
  signal: AbortSignal,
): Promise<string> {
  const { store, crisp, settings } = deps;
  // The profile the draft recorded (linkVisitor) saves reading the conversation from Crisp.
  const peopleId =
    payload.peopleId ??
    (await store.conversationState(job.websiteId, job.sessionId))?.peopleId ??
    (await crisp.conversations.get(job.websiteId, job.sessionId, { signal })).people_id ??
    undefined;
  if (!peopleId) return "people: the visitor has no profile";
  const data: Record<string, string | number | boolean> = {
    draft_id: payload.draft.id,
    mode: payload.draft.mode,
    ...(payload.draft.intent ? { intent: payload.draft.intent } : {}),
    ...(payload.draft.language ? { language: payload.draft.language } : {}),
    ...(payload.draft.promptVersion ? { prompt_version: payload.draft.promptVersion.slice(0, 12) } : {}),
    ...(typeof payload.feedback?.similarity === "number" ? { similarity: payload.feedback.similarity } : {}),
  };
  await crisp.people.addEvent(
    job.websiteId,
    peopleId,
    { text: `quill:${payload.outcome}`, data },
    { signal },
  );
  // The draft's own outcome carries its intent and language: a note posted, or a reply sent.
  if (
    settings.people === "profile" &&
    (payload.outcome === "draft_posted" || payload.outcome === "draft_sent")
  ) {
    await crisp.people.updateData(
      job.websiteId,
      peopleId,
      {
        ...(payload.draft.intent ? { quill_last_intent: payload.draft.intent } : {}),
        ...(payload.draft.language ? { quill_language: payload.draft.language } : {}),
      },
      {},
      { signal },
    );
  }
  return `people: quill:${payload.outcome} on ${peopleId}`;
}

async function crmHook(deps: SyncDeps, job: Job, payload: SyncPayload, signal: AbortSignal): Promise<string> {
  const crm = await crmOf(deps, job.websiteId);
  if (!crm) return "crm: not configured any more";
  const body = JSON.stringify({
    type: "quill.outcome",
    delivery_id: job.id,
    website_id: job.websiteId,
    session_id: job.sessionId,
    outcome: payload.outcome,
    at: payload.at,
    draft: payload.draft,
    feedback: payload.feedback ?? null,
  });
  const timestamp = String(deps.clock.now());
  const response = await send(deps, crm.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "quill-crm-sync/1",
      [CRM_TIMESTAMP]: timestamp,
      [CRM_SIGNATURE]: await signCrm(crm.secret, timestamp, body),
      "x-quill-delivery": job.id,
    },
    body,
    signal: AbortSignal.any([signal, AbortSignal.timeout(deps.settings.timeoutMs)]),
  });
  await response.body?.cancel();
  // Any non-2xx (and a refused redirect, above) is retried with backoff, up to the job's attempts.
  if (!response.ok) throw new JobError(`crm: ${crm.url} answered ${response.status}`, { retryable: true });
  return `crm: ${response.status}`;
}

/** A refused address stays refused: the job fails now instead of being retried eight times. */
async function send(deps: SyncDeps, url: string, init: RequestInit): Promise<Response> {
  try {
    return await deps.outbound.fetch(url, init);
  } catch (error) {
    if (error instanceof OutboundRefused)
      throw new JobError(`crm: ${error.message}`, { retryable: false, cause: error });
    throw error;
  }
}

export function createOutcomeSync(deps: SyncDeps) {
  return {
    emit: (outcome: OutcomeKind, draft: Draft, more: EmitExtras = {}) => emit(deps, outcome, draft, more),
    /** Runs one sync job; throws to have it retried. */
    async run(job: Job, payload: SyncPayload, signal: AbortSignal): Promise<string> {
      return payload.target === "crm"
        ? crmHook(deps, job, payload, signal)
        : peopleEvent(deps, job, payload, signal);
    },
  };
}

export type OutcomeSync = ReturnType<typeof createOutcomeSync>;

/** The sync job kind: people events and CRM hooks, with the job table's retries and dead letters. */
export function syncJob(outcomes: OutcomeSync | undefined): JobHandler<SyncPayload> {
  return jobHandler({
    payload: syncPayload,
    run: async (job, payload, signal) =>
      outcomes
        ? { status: "done", outcome: await outcomes.run(job, payload, signal) }
        : { status: "skipped", outcome: "outcome sync is not configured" },
  });
}

/**
 * The store every other service gets: a feedback row that is new (not a duplicate) is echoed
 * as its draft's outcome. Built after the sync, which needs the store, so neither waits on the other.
 */
export function withFeedbackSync(store: Store, outcomes: OutcomeSync): Store {
  return {
    ...store,
    async insertFeedback(f) {
      const result = await store.insertFeedback(f);
      if (result.inserted) {
        const draft = await store.getDraft(f.draftId);
        if (draft) await outcomes.emit(`draft_${f.kind}`, draft, { feedback: f });
      }
      return result;
    },
  };
}
