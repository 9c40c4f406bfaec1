import type { Clock } from "../clock.ts";
import type { CrispClient } from "../crisp/client.ts";
import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import type { Retriever } from "../knowledge/hybrid.ts";
import type { KnowledgeBase } from "../knowledge/kb.ts";
import type { DraftEngine } from "../llm/types.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Draft, Job, Store } from "../store/store.ts";
import type { OutcomeSync } from "../sync/outcomes.ts";
import type { Triage, TriageStep } from "../triage/triage.ts";
import type { RoutingSkip } from "./eligibility.ts";
import type { PolicyConfig } from "./policy.ts";
import type { PromptTemplate } from "./prompt.ts";

/** What every drafting step may use; built once by services.ts. */
export interface PipelineDeps {
  store: Store;
  crisp: CrispClient;
  llm: DraftEngine;
  kb: KnowledgeBase;
  /** Lexical by default; hybrid (lexical + embeddings) when EMBEDDINGS is configured. */
  retriever?: Retriever | undefined;
  /** The prompt for a conversation, and its A/B variant name when a test runs. */
  prompt: (
    websiteId: string,
    sessionId: string,
  ) => Promise<{ template: PromptTemplate; variant?: string | undefined }>;
  policy: PolicyConfig;
  skipSegments: string[];
  /** SKIP_ASSIGNED / SKIP_OPERATORS / SKIP_INBOXES. */
  skipRouting?: RoutingSkip | undefined;
  /** When a draft needs a human: tag the conversation with this segment and/or assign this operator. */
  needsHuman?: { segment?: string | undefined; assignTo?: string | undefined };
  redactPii: boolean;
  /**
   * The compose indicator: "auto" shows operators-only activity (stealth) while drafting and
   * visible typing only right before an auto-sent reply, so a visitor never sees typing that
   * ends in nothing (a note); "stealth", "visible" or "off" always.
   */
  typing?: "auto" | "stealth" | "visible" | "off" | undefined;
  /** OPERATOR_LANGUAGE (ISO 639-1): notes of drafts in another language show a translation into it. */
  operatorLanguage?: string | undefined;
  /** A disclosure line for auto-sent replies ("" for none) and the caps on them (0 per hour: no cap). */
  autoSend?: { disclosure: string; maxInARow: number; maxPerHour: number } | undefined;
  /** Triage rules (routing, segments, data, state, skip, force note); absent when none are configured. */
  triage?: Triage | undefined;
  /** Plugin mode: a website's own policy, knowledge base, provider chain and name. */
  site?: ((websiteId: string) => Promise<SiteOverrides>) | undefined;
  /** Shadow mode: called once a draft is posted (enqueues its candidate's job; never throws). */
  shadow?: ((draft: Draft, job: Job) => Promise<void>) | undefined;
  /** Echoes draft outcomes to Crisp profiles and the CRM (as sync jobs). */
  outcomes?: OutcomeSync | undefined;
  prices: Record<string, { input: number; output: number }>;
  /** Strings that must never reach a customer (tests plant canaries here). */
  canaries?: string[];
  websiteName?: string;
  /** Messages of context (Crisp's last page). */
  contextMessages?: number;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** Makes sure a customer message found while checking eligibility has a draft job (the intake's enqueue). */
  requeue?: (message: {
    websiteId: string;
    sessionId: string;
    fingerprint: number;
    messageAt: number;
  }) => Promise<unknown>;
}

export interface SiteOverrides {
  policy?: PolicyConfig | undefined;
  kb?: KnowledgeBase | undefined;
  llm?: DraftEngine | undefined;
  name?: string | undefined;
}

/** A job's compose indicator, as the posting step sees it. */
export interface Typing {
  /** Settles once the indicator is on (or failed). */
  ready: Promise<unknown>;
  /** Shows visible typing right before an auto-sent reply (TYPING=auto). */
  beforeReply(): Promise<void>;
}

/** Milliseconds per stage of one job, each lap since the one before. */
export interface Timing {
  readonly started: number;
  readonly latency: Record<string, number>;
  lap(stage: string): void;
  /** Sets `total` (since the job started). */
  finish(): void;
}

export function startTiming(clock: Clock, started = clock.now()): Timing {
  const latency: Record<string, number> = {};
  let since = clock.now();
  return {
    started,
    latency,
    lap(stage) {
      const now = clock.now();
      latency[stage] = now - since;
      since = now;
    },
    finish() {
      latency.total = clock.now() - started;
    },
  };
}

/** The triage rules that fired before drafting, and where the after-draft walk resumes. */
export type TriageBefore = Pick<TriageStep, "fired" | "next">;

/** One draft (or redraft) in flight: everything its steps share, in place of positional arguments. */
export interface DraftRun {
  deps: PipelineDeps;
  job: Job;
  /** The fingerprint the job's message is posted with (see marker.ts). */
  marker: number;
  signal: AbortSignal;
  conversation: CrispConversation;
  messages: CrispMessage[];
  typing: Typing;
  timing: Timing;
  triaged?: TriageBefore | undefined;
}
