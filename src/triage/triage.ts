import type { CrispClient } from "../crisp/client.ts";
import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import type { OperatorDirectory } from "./operators.ts";
import {
  combine,
  evaluate,
  type Firing,
  type RuleActions,
  type RulesFile,
  type TriageFacts,
  type Visitor,
  visitorParts,
} from "./rules.ts";

/**
 * Runs a website's triage rules for a draft job and carries out what they ask in Crisp:
 * routing, segments, conversation data, state. skipDraft and forceNote go back to the
 * pipeline. Every run is logged and recorded with the outcome of each action; a failed
 * action is recorded and never blocks the draft. The visitor's people profile is read only
 * when a rule reaches a visitor condition, and once per job.
 */

export interface TriageDeps {
  rulesFor: (websiteId: string) => Promise<RulesFile | undefined>;
  crisp: CrispClient;
  store: Store;
  operators: OperatorDirectory;
  log: Logger;
}

export interface TriageStep {
  fired: Firing[];
  actions: RuleActions;
  /** Where the after-draft walk starts; undefined when no rule is left to look at. */
  next: number | undefined;
}

export function factsOf(
  conversation: CrispConversation,
  messages: CrispMessage[],
  now: number,
  draft?: { intent?: string | null | undefined; language?: string | null | undefined },
): TriageFacts {
  const meta = conversation.meta ?? {};
  const { segments = [], data = {}, ...rest } = meta;
  return {
    intent: draft?.intent ?? undefined,
    language: draft?.language ?? undefined,
    segments,
    data,
    email: meta.email,
    customerText: messages
      .filter((m) => m.from === "user" && m.type === "text" && typeof m.content === "string")
      .map((m) => m.content as string)
      .join("\n"),
    meta: rest,
    now,
  };
}

/** The visitor's profile segments and data, as far as the rules read them; null without a profile. */
async function readVisitor(
  crisp: TriageDeps["crisp"],
  websiteId: string,
  conversation: CrispConversation,
  parts: { segments: boolean; data: boolean },
): Promise<Visitor | null> {
  let peopleId = conversation.people_id ?? undefined;
  let segments: string[] | undefined;
  const email = conversation.meta?.email?.trim().toLowerCase();
  if (!peopleId && email) {
    const found = (await crisp.people.listProfiles(websiteId, 1, { search_text: email })).find(
      (p) => p.email?.toLowerCase() === email,
    );
    peopleId = found?.people_id;
    segments = found?.segments ?? [];
  }
  if (!peopleId) return null;
  const id = peopleId;
  const [profileSegments, data] = await Promise.all([
    segments ?? (parts.segments ? crisp.people.getProfile(websiteId, id).then((p) => p.segments ?? []) : []),
    parts.data ? crisp.people.getData(websiteId, id) : {},
  ]);
  return { segments: profileSegments, data };
}

/** Carries out the fired rules' Crisp actions; each failure is reported, never thrown. */
async function apply(
  deps: Pick<TriageDeps, "crisp" | "operators" | "log">,
  websiteId: string,
  sessionId: string,
  conversation: CrispConversation,
  actions: RuleActions,
  signal: AbortSignal,
) {
  const { crisp, operators, log } = deps;
  const results: Array<{ action: string; ok: boolean; detail?: string }> = [];
  const attempt = async (action: string, run: () => Promise<string | undefined>) => {
    try {
      const detail = await run();
      results.push({ action, ok: true, ...(detail ? { detail } : {}) });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      results.push({ action, ok: false, detail });
      log.warn({ websiteId, sessionId, action, err: detail }, "triage action failed");
    }
  };
  const { assign } = actions;
  if (assign) {
    await attempt("assign", async () => {
      const userId = await operators.resolve(websiteId, assign);
      if (!userId) throw new Error(`no operator ${assign} on this website`);
      // Whoever routed the conversation already (an operator, or this rule on an earlier
      // message) keeps it: a rule never takes a conversation away from someone.
      const current = conversation.assigned?.user_id;
      if (current)
        return current === userId ? `already ${assign}` : `kept the existing assignment (${current})`;
      await crisp.conversations.assign(websiteId, sessionId, userId, {}, { signal });
      return `${assign} (${userId})`;
    });
  }
  if (actions.addSegments || actions.setData) {
    await attempt("meta", async () => {
      const meta = conversation.meta ?? {};
      const update: { segments?: string[]; data?: Record<string, unknown> } = {};
      if (actions.addSegments)
        update.segments = [...new Set([...(meta.segments ?? []), ...actions.addSegments])];
      if (actions.setData) update.data = { ...(meta.data ?? {}), ...actions.setData };
      await crisp.conversations.updateMeta(websiteId, sessionId, update, { signal });
      return [
        actions.addSegments ? `segments +${actions.addSegments.join(", +")}` : "",
        actions.setData ? `data ${JSON.stringify(actions.setData)}` : "",
      ]
        .filter(Boolean)
        .join("; ");
    });
  }
  const { setState } = actions;
  if (setState) {
    await attempt("state", async () => {
      await crisp.conversations.setState(websiteId, sessionId, setState, { signal });
      return setState;
    });
  }
  if (actions.skipDraft) results.push({ action: "skipDraft", ok: true });
  if (actions.forceNote) results.push({ action: "forceNote", ok: true });
  return results;
}

export function createTriage(deps: TriageDeps) {
  const { crisp, store, log } = deps;
  // Keyed by the conversation a job loaded: both phases of one job share one read.
  const visitors = new WeakMap<CrispConversation, Promise<Visitor | null>>();

  function visitorOf(websiteId: string, conversation: CrispConversation, rules: RulesFile) {
    let pending = visitors.get(conversation);
    if (!pending) {
      pending = readVisitor(crisp, websiteId, conversation, visitorParts(rules)).catch((error) => {
        // Unknown is not a match: the rule does not fire, drafting goes on.
        log.warn(
          { websiteId, sessionId: conversation.session_id, err: String(error) },
          "triage: visitor profile unreadable",
        );
        return null;
      });
      visitors.set(conversation, pending);
    }
    return pending;
  }

  return {
    /**
     * Evaluates one phase. `commit` carries out the Crisp actions and records the run; the
     * pipeline starts it when it suits (beside the LLM call, or once the draft exists). A
     * retried job re-evaluates but does not act or record twice.
     */
    async evaluate(input: {
      job: { id: string; websiteId: string; sessionId: string; attempts: number };
      phase: "before" | "after";
      from?: number | undefined;
      conversation: CrispConversation;
      facts: TriageFacts;
    }): Promise<
      TriageStep & { commit: (draftId: string | undefined, signal: AbortSignal) => Promise<void> }
    > {
      const { job, phase } = input;
      const rules = await deps.rulesFor(job.websiteId);
      const fired: Firing[] = [];
      let next: number | undefined;
      if (rules) {
        let facts = input.facts;
        let step = evaluate(rules, facts, phase, input.from ?? 0);
        fired.push(...step.fired);
        if (step.visitorAt !== undefined) {
          facts = { ...facts, visitor: await visitorOf(job.websiteId, input.conversation, rules) };
          step = evaluate(rules, facts, phase, step.visitorAt);
          fired.push(...step.fired);
        }
        next = step.next;
      }
      const actions = combine(fired);
      const commit = async (draftId: string | undefined, signal: AbortSignal) => {
        if (fired.length === 0) return;
        if (job.attempts > 1) {
          const done = await store.listTriageRuns({ websiteId: job.websiteId, jobId: job.id });
          if (done.some((r) => r.phase === phase)) return;
        }
        const results = await apply(deps, job.websiteId, job.sessionId, input.conversation, actions, signal);
        log.info(
          { jobId: job.id, sessionId: job.sessionId, phase, rules: fired.map((f) => f.rule), results },
          "triage rules fired",
        );
        await store.insertTriageRun({
          websiteId: job.websiteId,
          sessionId: job.sessionId,
          jobId: job.id,
          draftId: draftId ?? null,
          phase,
          rules: fired.map((f) => f.rule),
          actions,
          results,
        });
      };
      return { fired, actions, next, commit };
    },
  };
}

export type Triage = ReturnType<typeof createTriage>;
