/**
 * Whether a conversation still waits for an answer to the job's customer message.
 * Checked before drafting and again right before posting, because the customer or an
 * operator may have written in between.
 */

export interface EligibilityMessage {
  type: string;
  from: "user" | "operator";
  fingerprint: number;
  timestamp: number;
}

export interface EligibilityConversation {
  state?: string | undefined;
  is_blocked?: boolean | undefined;
  inbox_id?: string | null | undefined;
  assigned?: { user_id?: string | null | undefined } | null | undefined;
  meta?: { segments?: string[] | undefined } | undefined;
}

/** Routing that keeps quill out: SKIP_ASSIGNED, SKIP_OPERATORS (user ids), SKIP_INBOXES (inbox ids). */
export interface RoutingSkip {
  assigned: boolean;
  operators: readonly string[];
  inboxes: readonly string[];
}

export type Ineligible =
  | "resolved"
  | "blocked"
  | "skipped_segment"
  | "skipped_routing"
  | "no_customer_message"
  | "operator_replied"
  | "superseded";

export type Eligibility =
  | { eligible: true; customerMessage: EligibilityMessage }
  | {
      eligible: false;
      reason: Ineligible;
      detail: string;
      /** When superseded: the customer's newest message, which needs a draft of its own. */
      newestCustomerMessage?: EligibilityMessage;
    };

/** Private notes and system events are invisible to the customer; they never count as an answer. */
export function isVisibleToCustomer(message: { type: string }): boolean {
  return message.type !== "note" && message.type !== "event";
}

export function checkEligibility(input: {
  conversation: EligibilityConversation;
  messages: readonly EligibilityMessage[];
  fingerprint: number;
  skipSegments: readonly string[];
  routing?: RoutingSkip | undefined;
}): Eligibility {
  const { conversation, fingerprint } = input;
  if (conversation.state === "resolved")
    return { eligible: false, reason: "resolved", detail: "conversation is resolved" };
  if (conversation.is_blocked) return { eligible: false, reason: "blocked", detail: "visitor is blocked" };
  const segment = conversation.meta?.segments?.find((s) => input.skipSegments.includes(s));
  if (segment !== undefined) {
    return {
      eligible: false,
      reason: "skipped_segment",
      detail: `segment "${segment}" is excluded by SKIP_SEGMENTS`,
    };
  }
  const routed = routingBlock(conversation, input.routing);
  if (routed) return { eligible: false, reason: "skipped_routing", detail: routed };
  const visible = [...input.messages].filter(isVisibleToCustomer).sort((a, b) => a.timestamp - b.timestamp);
  const last = visible.at(-1);
  if (!last) return { eligible: false, reason: "no_customer_message", detail: "no visible message" };
  if (last.from !== "user") {
    return { eligible: false, reason: "operator_replied", detail: "an operator answered after the customer" };
  }
  if (last.fingerprint !== fingerprint) {
    const known = visible.some((m) => m.fingerprint === fingerprint);
    return {
      eligible: false,
      reason: "superseded",
      detail: known ? "the customer wrote again" : "the job's message is not among the latest messages",
      newestCustomerMessage: last,
    };
  }
  return { eligible: true, customerMessage: last };
}

function routingBlock(conversation: EligibilityConversation, skip: RoutingSkip | undefined) {
  if (!skip) return undefined;
  const inbox = conversation.inbox_id;
  if (inbox && skip.inboxes.includes(inbox)) return `inbox "${inbox}" is excluded by SKIP_INBOXES`;
  const operator = conversation.assigned?.user_id;
  if (!operator) return undefined;
  if (skip.operators.includes(operator)) return `assigned to ${operator}, excluded by SKIP_OPERATORS`;
  if (skip.assigned) return `assigned to ${operator} (SKIP_ASSIGNED)`;
  return undefined;
}
