import type { Clock } from "../clock.ts";
import type { CrispClient } from "../crisp/client.ts";
import { visitorComposeKeyPrefix, type WebhookEvent } from "../crisp/webhook.ts";
import type { Logger } from "../log.ts";
import type { PollResume, Store } from "../store/store.ts";
import { type CommandJobPayload, parseCommand, replyOutcome, similarity } from "./commands.ts";
import { isVisibleToCustomer } from "./eligibility.ts";

/**
 * Turns triggers into jobs. Web hooks and poll cycles both end in `enqueueJob`, whose
 * unique key (website, session, customer message) makes every trigger for the same
 * message land on one job; deliveries themselves are deduped in the inbox table.
 */

export interface IntakeDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Wait after a customer message before drafting, so bursts get one draft; with typing seen, the most a message waits. */
  quietPeriodMs: number;
  /**
   * Where the visitor's typing reaches quill (compose web hooks): the wait after a message for
   * typing to start before drafting at once. Capped at the quiet period.
   */
  typingGraceMs: number;
  /** Called after a job was enqueued (wakes the Node runner, sends a Queue message on Workers). */
  onEnqueued: (job: { id: string; runAfter: number }) => void | Promise<void>;
  /**
   * Typing moved a queued job's run time: `earlier` after a stop (a runtime must look again
   * sooner), later after a start (a runtime that wakes on timers sets one; a Queue message finds the job not yet due and waits).
   */
  onRescheduled?: (job: { id: string; runAfter: number }, earlier: boolean) => void | Promise<void>;
}

/** What the intake made of a web hook event. */
export interface IntakeResult {
  duplicate: boolean;
  /** What quill will do with the event, for logs and the web hook response. */
  action: string;
}

/**
 * What the inbox keeps of a web hook: the fields that describe it, never its text. Nothing
 * reads a delivery back beyond these, and message content, nicknames, emails and compose
 * excerpts are the visitor's personal data (issue 14: data minimisation).
 */
export function inboxFields(event: WebhookEvent): Record<string, string | number | boolean | null> {
  const fields: Record<string, string | number | boolean | null> = { timestamp: event.timestamp };
  if (!event.known) return fields;
  switch (event.event) {
    case "message:send":
    case "message:received": {
      const m = event.data;
      return {
        ...fields,
        type: m.type,
        from: m.from,
        origin: m.origin,
        at: m.timestamp,
        ...(m.automated !== undefined ? { automated: m.automated } : {}),
        // Operators are not the visitor; their id says who answered.
        ...(m.from === "operator" && m.user?.user_id ? { operator: m.user.user_id } : {}),
      };
    }
    case "message:compose:send":
      return { ...fields, type: event.data.type };
    case "session:set_state":
      return { ...fields, state: event.data.state };
    case "session:set_routing":
      return { ...fields, routing: event.data.routing_id ?? null };
    default:
      return fields;
  }
}

export function createIntake(deps: IntakeDeps) {
  const { store, clock } = deps;
  const graceMs = Math.min(deps.typingGraceMs, deps.quietPeriodMs);
  const rescheduled =
    deps.onRescheduled ??
    ((job: { id: string; runAfter: number }, earlier: boolean) => earlier && deps.onEnqueued(job));

  /**
   * The wait before drafting a visitor's message from a web hook: the quiet period, unless
   * this conversation's typing reaches quill (a compose hook was recorded for it): then only
   * the grace, as a start that follows defers the job and a stop brings it forward.
   */
  async function messageDelay(websiteId: string, sessionId: string): Promise<number> {
    if (graceMs >= deps.quietPeriodMs) return deps.quietPeriodMs;
    const typingSeen = await store.hasInboxKeyPrefix(visitorComposeKeyPrefix(websiteId, sessionId));
    return typingSeen ? graceMs : deps.quietPeriodMs;
  }

  /** A visitor's compose start or stop: queued drafts of the conversation wait for it, or stop waiting. */
  async function visitorTyping(websiteId: string, sessionId: string, type: "start" | "stop", at: number) {
    const moved =
      type === "start"
        ? await store.deferQueuedDrafts({
            websiteId,
            sessionId,
            quietPeriodMs: deps.quietPeriodMs,
            typedAt: at,
          })
        : await store.advanceQueuedDrafts({ websiteId, sessionId, stoppedAt: at });
    for (const job of moved) await rescheduled(job, type === "stop");
    return moved.length;
  }

  async function enqueueForMessage(input: {
    websiteId: string;
    sessionId: string;
    fingerprint: number;
    messageAt: number;
    trigger: "webhook" | "poll" | "cli" | "mcp";
    /** Default: what is left of the quiet period after the message (a poll or a re-check found it late). */
    delayMs?: number;
  }) {
    const quietLeft = Math.min(deps.quietPeriodMs, input.messageAt + deps.quietPeriodMs - clock.now());
    const { job, created } = await store.enqueueJob({
      websiteId: input.websiteId,
      sessionId: input.sessionId,
      fingerprint: input.fingerprint,
      messageAt: input.messageAt,
      trigger: input.trigger,
      runAfter: clock.now() + Math.max(0, input.delayMs ?? quietLeft),
    });
    // Older messages' queued jobs will never post; the job's own row keeps its original time.
    await store.supersedeQueuedJobs(input.websiteId, input.sessionId, job.messageAt);
    if (created) await deps.onEnqueued(job);
    return { job, created };
  }

  /** Records a web hook; resolves once what it wrote is durable, so its 2xx is a promise kept. */
  async function webhook(event: WebhookEvent, deliveryKey: string): Promise<IntakeResult> {
    const result = await record(event, deliveryKey);
    await store.durable();
    return result;
  }

  async function record(event: WebhookEvent, deliveryKey: string): Promise<IntakeResult> {
    const data = (event.data ?? {}) as { session_id?: unknown; fingerprint?: unknown };
    const { inserted } = await store.recordInboxEvent({
      websiteId: event.websiteId,
      deliveryKey,
      event: event.event,
      sessionId: typeof data.session_id === "string" ? data.session_id : undefined,
      fingerprint: typeof data.fingerprint === "number" ? data.fingerprint : undefined,
      payload: inboxFields(event),
    });
    if (!inserted) return { duplicate: true, action: "duplicate" };
    if (!event.known) return { duplicate: false, action: "ignored" };

    switch (event.event) {
      case "message:send": {
        const m = event.data;
        if (m.from !== "user" || !isVisibleToCustomer(m)) return { duplicate: false, action: "ignored" };
        const { created } = await enqueueForMessage({
          websiteId: event.websiteId,
          sessionId: m.session_id,
          fingerprint: m.fingerprint,
          messageAt: m.timestamp,
          trigger: "webhook",
          delayMs: await messageDelay(event.websiteId, m.session_id),
        });
        return { duplicate: false, action: created ? "enqueued" : "already_enqueued" };
      }
      case "message:compose:send": {
        const d = event.data;
        // Crisp's time of the typing, so a start delivered after the message it typed defers nothing.
        const at = d.timestamp ?? event.timestamp;
        const moved = await visitorTyping(event.websiteId, d.session_id, d.type, at);
        return { duplicate: false, action: moved > 0 ? `typing_${d.type}` : "ignored" };
      }
      case "message:received": {
        const m = event.data;
        if (m.from !== "operator") return { duplicate: false, action: "ignored" };
        if (m.type === "note" && typeof m.content === "string") {
          const command = parseCommand(m.content);
          if (!command) return { duplicate: false, action: "ignored" };
          const { created } = await enqueueCommand({
            websiteId: event.websiteId,
            sessionId: m.session_id,
            sourceFingerprint: m.fingerprint,
            at: m.timestamp,
            payload: { ...command, operatorId: m.user?.user_id, operatorName: m.user?.nickname },
            trigger: "command",
          });
          return { duplicate: false, action: created ? `command:${command.name}` : "already_enqueued" };
        }
        if (!isVisibleToCustomer(m)) return { duplicate: false, action: "ignored" };
        // Only messages up to the answer are answered, whoever sent it (quill's own /approve
        // or auto-send included): a hook arriving late leaves the customer's newer messages queued.
        await store.cancelQueuedJobs(event.websiteId, m.session_id, "an operator answered", m.timestamp);
        await recordReply(event.websiteId, m);
        return { duplicate: false, action: "operator_replied" };
      }
      case "session:set_state":
        if (event.data.state === "resolved") {
          await store.cancelQueuedJobs(event.websiteId, event.data.session_id, "conversation resolved");
          // Operators' answers before this no longer keep auto-send away (a new question is a new start).
          await store.setConversationResolved(event.websiteId, event.data.session_id, clock.now());
          const draft = await store.latestDraftForSession(event.websiteId, event.data.session_id);
          if (draft?.status === "posted" && (await store.feedbackForDraft(draft.id)).length === 0) {
            await store.insertFeedback({
              draftId: draft.id,
              websiteId: draft.websiteId,
              sessionId: draft.sessionId,
              kind: "resolved_no_reply",
              sourceKey: `resolved:${draft.id}`,
              delayMs: draft.postedAt ? clock.now() - draft.postedAt : null,
            });
          }
          return { duplicate: false, action: "cancelled" };
        }
        return { duplicate: false, action: "ignored" };
      case "session:removed":
        await store.cancelQueuedJobs(event.websiteId, event.data.session_id, "conversation removed");
        return { duplicate: false, action: "cancelled" };
      default:
        return { duplicate: false, action: "ignored" };
    }
  }

  /**
   * A command from a note (keyed by the note's fingerprint, so a redelivery is the same
   * job) or from the dashboard (a fresh key per click); the pipeline runs both alike.
   */
  async function enqueueCommand(input: {
    websiteId: string;
    sessionId: string;
    sourceFingerprint: number;
    at: number;
    payload: CommandJobPayload;
    trigger: "command" | "dashboard" | "widget";
  }) {
    const { job, created } = await store.enqueueJob({
      websiteId: input.websiteId,
      sessionId: input.sessionId,
      fingerprint: input.sourceFingerprint,
      messageAt: input.at,
      commandKey: input.trigger,
      kind: "command",
      instructions: JSON.stringify(input.payload),
      trigger: input.trigger,
      runAfter: clock.now(),
    });
    if (created) await deps.onEnqueued(job);
    return { job, created };
  }

  /**
   * Implicit feedback: an operator's own reply after a draft note is compared with the
   * draft. quill's own sends are recognised by fingerprint (auto-send) or by the feedback
   * their command already recorded under the same source key (/approve, /send).
   */
  async function recordReply(
    websiteId: string,
    m: {
      session_id: string;
      fingerprint: number;
      timestamp: number;
      content: unknown;
      user?: { user_id?: string | undefined; nickname?: string | undefined } | undefined;
    },
  ) {
    if (typeof m.content !== "string") return;
    const draft = await store.latestDraftForSession(websiteId, m.session_id);
    if (draft?.status !== "posted" || draft.mode !== "note" || draft.postedFingerprint === m.fingerprint)
      return;
    const earlier = await store.feedbackForDraft(draft.id);
    if (earlier.some((f) => f.kind !== "redraft")) return;
    const score = similarity(draft.text, m.content);
    await store.insertFeedback({
      draftId: draft.id,
      websiteId,
      sessionId: m.session_id,
      kind: replyOutcome(score),
      operatorId: m.user?.user_id ?? null,
      operatorName: m.user?.nickname ?? null,
      finalText: m.content,
      similarity: score,
      sourceKey: `msg:${websiteId}:${m.fingerprint}`,
      delayMs: draft.postedAt ? Math.max(0, m.timestamp - draft.postedAt) : null,
    });
  }

  return { webhook, enqueueForMessage, enqueueCommand };
}

export type Intake = ReturnType<typeof createIntake>;

/**
 * One poll cycle for a website: walk conversations not resolved, newest update first,
 * until one is older than the watermark; conversations whose latest visible message is
 * the customer's get a job. Unchanged conversations cost nothing beyond the list call.
 * A walk cut short by maxPages leaves a resume cursor that later cycles walk on from.
 */
export async function pollOnce(deps: {
  store: Store;
  crisp: CrispClient;
  intake: Intake;
  websiteId: string;
  perPage?: number;
  maxPages?: number;
  signal?: AbortSignal;
}): Promise<{ listCalls: number; changed: number; enqueued: number }> {
  const perPage = deps.perPage ?? 50;
  const maxPages = deps.maxPages ?? 40;
  const state = await deps.store.getPollState(deps.websiteId);
  const watermark = state?.watermark ?? 0;
  const resume = state?.resume ?? null;
  let listCalls = 0;
  let changed = 0;
  let enqueued = 0;

  /** Up to maxPages pages from `first`, down to `stopAt`: complete when it got there or to the end. */
  async function walk(first: number, stopAt: number): Promise<{ complete: boolean; newest: number }> {
    let newest = stopAt;
    for (let page = first; page < first + maxPages; page++) {
      const conversations = await deps.crisp.conversations.list(
        deps.websiteId,
        page,
        { filter_not_resolved: true, order_date_updated: true, per_page: perPage },
        { signal: deps.signal },
      );
      listCalls++;
      for (const c of conversations) {
        const updatedAt = c.updated_at ?? 0;
        if (updatedAt <= stopAt) return { complete: true, newest };
        changed++;
        newest = Math.max(newest, updatedAt);
        let preview = c.preview_message;
        if (!preview?.fingerprint || !preview.from) {
          // Older API answers lack the preview: read the last page of messages instead.
          const { messages } = await deps.crisp.messages.list(
            deps.websiteId,
            c.session_id,
            {},
            { signal: deps.signal },
          );
          const last = messages.filter(isVisibleToCustomer).at(-1);
          preview = last ? { from: last.from, fingerprint: last.fingerprint, type: last.type } : undefined;
        }
        if (preview?.from !== "user" || preview.fingerprint === undefined) continue;
        const { created } = await deps.intake.enqueueForMessage({
          websiteId: deps.websiteId,
          sessionId: c.session_id,
          fingerprint: preview.fingerprint,
          messageAt: updatedAt,
          trigger: "poll",
        });
        if (created) enqueued++;
      }
      if (conversations.length < perPage) return { complete: true, newest };
    }
    return { complete: false, newest };
  }

  // The head walk always advances the watermark; what it could not reach below maxPages
  // is left to the resume cursor. Each continuation re-reads its last page, as resolved
  // conversations shift later ones up a page (re-enqueueing one is a no-op).
  const overlap = maxPages > 1 ? 1 : 0;
  const head = await walk(1, watermark);
  let next: PollResume | null = null;
  if (!head.complete) {
    next = { page: maxPages + 1 - overlap, watermark: Math.min(watermark, resume?.watermark ?? watermark) };
  } else if (resume) {
    const tail = await walk(resume.page, resume.watermark);
    if (!tail.complete) next = { page: resume.page + maxPages - overlap, watermark: resume.watermark };
  }
  const moved = next?.page !== resume?.page || next?.watermark !== resume?.watermark;
  if (head.newest > watermark || moved) await deps.store.setPollState(deps.websiteId, head.newest, next);
  return { listCalls, changed, enqueued };
}
