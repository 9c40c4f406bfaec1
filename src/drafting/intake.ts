import type { Clock } from "../clock.ts";
import { visitorComposeKeyPrefix, type WebhookEvent } from "../crisp/webhook.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
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

/** What every intake step reads: the deps, the capped typing grace and the reschedule hook. */
interface IntakeContext extends IntakeDeps {
  graceMs: number;
  rescheduled: (job: { id: string; runAfter: number }, earlier: boolean) => unknown;
}

/** A known web hook event of one name, with its typed data. */
type EventOf<K extends WebhookEvent["event"]> = Extract<WebhookEvent, { known: true; event: K }>;

/**
 * The wait before drafting a visitor's message from a web hook: the quiet period, unless
 * this conversation's typing reaches quill (a compose hook was recorded for it): then only
 * the grace, as a start that follows defers the job and a stop brings it forward.
 */
async function messageDelay(ctx: IntakeContext, websiteId: string, sessionId: string): Promise<number> {
  if (ctx.graceMs >= ctx.quietPeriodMs) return ctx.quietPeriodMs;
  const typingSeen = await ctx.store.hasInboxKeyPrefix(visitorComposeKeyPrefix(websiteId, sessionId));
  return typingSeen ? ctx.graceMs : ctx.quietPeriodMs;
}

/** A visitor's compose start or stop: queued drafts of the conversation wait for it, or stop waiting. */
async function visitorTyping(
  ctx: IntakeContext,
  websiteId: string,
  sessionId: string,
  type: "start" | "stop",
  at: number,
) {
  const moved =
    type === "start"
      ? await ctx.store.deferQueuedDrafts({
          websiteId,
          sessionId,
          quietPeriodMs: ctx.quietPeriodMs,
          typedAt: at,
        })
      : await ctx.store.advanceQueuedDrafts({ websiteId, sessionId, stoppedAt: at });
  for (const job of moved) await ctx.rescheduled(job, type === "stop");
  return moved.length;
}

async function enqueueForMessage(
  ctx: IntakeContext,
  input: {
    websiteId: string;
    sessionId: string;
    fingerprint: number;
    messageAt: number;
    trigger: "webhook" | "poll" | "cli" | "mcp";
    /** Default: what is left of the quiet period after the message (a poll or a re-check found it late). */
    delayMs?: number;
  },
) {
  const { store, clock } = ctx;
  const quietLeft = Math.min(ctx.quietPeriodMs, input.messageAt + ctx.quietPeriodMs - clock.now());
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
  if (created) await ctx.onEnqueued(job);
  return { job, created };
}

/**
 * A command from a note (keyed by the note's fingerprint, so a redelivery is the same
 * job) or from the dashboard (a fresh key per click); the pipeline runs both alike.
 */
async function enqueueCommand(
  ctx: IntakeContext,
  input: {
    websiteId: string;
    sessionId: string;
    sourceFingerprint: number;
    at: number;
    payload: CommandJobPayload;
    trigger: "command" | "dashboard" | "widget";
  },
) {
  const { job, created } = await ctx.store.enqueueJob({
    websiteId: input.websiteId,
    sessionId: input.sessionId,
    fingerprint: input.sourceFingerprint,
    messageAt: input.at,
    commandKey: input.trigger,
    kind: "command",
    instructions: JSON.stringify(input.payload),
    trigger: input.trigger,
    runAfter: ctx.clock.now(),
  });
  if (created) await ctx.onEnqueued(job);
  return { job, created };
}

/**
 * Implicit feedback: an operator's own reply after a draft note is compared with the
 * draft. quill's own sends are recognised by fingerprint (auto-send) or by the feedback
 * their command already recorded under the same source key (/approve, /send).
 */
async function recordReply(
  ctx: IntakeContext,
  websiteId: string,
  m: {
    session_id: string;
    fingerprint: number;
    timestamp: number;
    content: unknown;
    user?: { user_id?: string | undefined; nickname?: string | undefined } | undefined;
  },
) {
  const { store } = ctx;
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

/** A visitor's message: one draft job, after the quiet period (or the typing grace). */
async function onVisitorMessage(ctx: IntakeContext, event: EventOf<"message:send">): Promise<IntakeResult> {
  const m = event.data;
  const { created } = await enqueueForMessage(ctx, {
    websiteId: event.websiteId,
    sessionId: m.session_id,
    fingerprint: m.fingerprint,
    messageAt: m.timestamp,
    trigger: "webhook",
    delayMs: await messageDelay(ctx, event.websiteId, m.session_id),
  });
  return { duplicate: false, action: created ? "enqueued" : "already_enqueued" };
}

/** An operator's message: a note may be a command; a visible answer cancels what it answered. */
async function onOperatorMessage(
  ctx: IntakeContext,
  event: EventOf<"message:received">,
): Promise<IntakeResult> {
  const m = event.data;
  // actsOn let a note through only with a command in it (both checks narrow the types).
  if (m.type === "note" && typeof m.content === "string") {
    const command = parseCommand(m.content);
    if (!command) return { duplicate: false, action: "ignored" };
    const { created } = await enqueueCommand(ctx, {
      websiteId: event.websiteId,
      sessionId: m.session_id,
      sourceFingerprint: m.fingerprint,
      at: m.timestamp,
      payload: { ...command, operatorId: m.user?.user_id, operatorName: m.user?.nickname },
      trigger: "command",
    });
    return { duplicate: false, action: created ? `command:${command.name}` : "already_enqueued" };
  }
  // Only messages up to the answer are answered, whoever sent it (quill's own /approve
  // or auto-send included): a hook arriving late leaves the customer's newer messages queued.
  await ctx.store.cancelQueuedJobs(event.websiteId, m.session_id, "an operator answered", m.timestamp);
  await recordReply(ctx, event.websiteId, m);
  return { duplicate: false, action: "operator_replied" };
}

/** A resolved conversation: nothing queued still runs, and a posted draft nobody answered is noted. */
async function onStateChange(ctx: IntakeContext, event: EventOf<"session:set_state">): Promise<IntakeResult> {
  const { store, clock } = ctx;
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

/**
 * The one place that decides which events the handlers above act on; they see no other.
 * An event it turns away is not recorded (its redelivery is turned away again): the echo
 * of every note quill posts costs no write.
 */
function actsOn(event: WebhookEvent): boolean {
  if (!event.known) return false;
  switch (event.event) {
    case "message:send":
      return event.data.from === "user" && isVisibleToCustomer(event.data);
    case "message:received": {
      const m = event.data;
      if (m.from !== "operator") return false;
      if (m.type === "note") return typeof m.content === "string" && parseCommand(m.content) !== undefined;
      return isVisibleToCustomer(m);
    }
    case "session:set_state":
      return event.data.state === "resolved";
    case "message:compose:send":
    case "session:removed":
      return true;
    default:
      return false;
  }
}

/** Records a delivery in the inbox (a duplicate stops there), then acts on its event. */
async function record(ctx: IntakeContext, event: WebhookEvent, deliveryKey: string): Promise<IntakeResult> {
  if (!actsOn(event)) return { duplicate: false, action: "ignored" };
  const data = (event.data ?? {}) as { session_id?: unknown; fingerprint?: unknown };
  const { inserted } = await ctx.store.recordInboxEvent({
    websiteId: event.websiteId,
    deliveryKey,
    event: event.event,
    sessionId: typeof data.session_id === "string" ? data.session_id : undefined,
    fingerprint: typeof data.fingerprint === "number" ? data.fingerprint : undefined,
    payload: inboxFields(event),
  });
  if (!inserted) return { duplicate: true, action: "duplicate" };
  if (!event.known) return { duplicate: false, action: "ignored" }; // actsOn said so; this narrows the type

  switch (event.event) {
    case "message:send":
      return onVisitorMessage(ctx, event);
    case "message:compose:send": {
      const d = event.data;
      // Crisp's time of the typing, so a start delivered after the message it typed defers nothing.
      const at = d.timestamp ?? event.timestamp;
      const moved = await visitorTyping(ctx, event.websiteId, d.session_id, d.type, at);
      return { duplicate: false, action: moved > 0 ? `typing_${d.type}` : "ignored" };
    }
    case "message:received":
      return onOperatorMessage(ctx, event);
    case "session:set_state":
      return onStateChange(ctx, event);
    case "session:removed":
      await ctx.store.cancelQueuedJobs(event.websiteId, event.data.session_id, "conversation removed");
      return { duplicate: false, action: "cancelled" };
    default:
      return { duplicate: false, action: "ignored" };
  }
}

export function createIntake(deps: IntakeDeps) {
  const ctx: IntakeContext = {
    ...deps,
    graceMs: Math.min(deps.typingGraceMs, deps.quietPeriodMs),
    rescheduled:
      deps.onRescheduled ??
      ((job: { id: string; runAfter: number }, earlier: boolean) => earlier && deps.onEnqueued(job)),
  };
  return {
    /** Records a web hook; resolves once what it wrote is durable, so its 2xx is a promise kept. */
    async webhook(event: WebhookEvent, deliveryKey: string): Promise<IntakeResult> {
      const result = await record(ctx, event, deliveryKey);
      await deps.store.durable();
      return result;
    },
    enqueueForMessage: (input: Parameters<typeof enqueueForMessage>[1]) => enqueueForMessage(ctx, input),
    enqueueCommand: (input: Parameters<typeof enqueueCommand>[1]) => enqueueCommand(ctx, input),
  };
}

export type Intake = ReturnType<typeof createIntake>;
