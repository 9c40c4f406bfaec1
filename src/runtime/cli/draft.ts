import { randomUUID } from "node:crypto";
import { isVisibleToCustomer } from "../../drafting/eligibility.ts";
import { withinLease } from "../node.ts";
import { withServices } from "./open.ts";

/** `quill draft <session_id>`: one conversation drafted and printed (posted with --post). */

export async function draftCommand(opts: {
  sessionId: string;
  post: boolean;
  websiteId?: string | undefined;
}): Promise<number> {
  return await withServices(async (services, config) => {
    const websiteId = opts.websiteId ?? services.websiteId;
    const { messages } = await services.crisp.messages.listLast(websiteId, opts.sessionId, 20);
    const last = messages.filter((m) => m.from === "user" && isVisibleToCustomer(m)).at(-1);
    if (!last) {
      console.error(`quill draft: no customer message in ${opts.sessionId}`);
      return 1;
    }
    // A dry run writes no job: a job left queued would be posted by a running `quill start`.
    if (!opts.post) {
      const conversation = await services.crisp.conversations.get(websiteId, opts.sessionId);
      const draft = await services.pipeline.preview(
        websiteId,
        opts.sessionId,
        conversation,
        messages,
        AbortSignal.timeout(config.llm.deadlineMs),
      );
      console.log(`${draft.text}\n\nnot posted (dry run; --post to post it) · ${summary(draft)}`);
      return 0;
    }
    const { job } = await services.intake.enqueueForMessage({
      websiteId,
      sessionId: opts.sessionId,
      fingerprint: last.fingerprint,
      messageAt: last.timestamp,
      trigger: "cli",
      delayMs: 0,
    });
    const owner = `cli-${randomUUID().slice(0, 8)}`;
    const leased = await services.store.leaseJob(job.id, owner, config.drafting.jobLeaseMs);
    if (!leased) {
      const existing = await services.store.draftForJob(job.id);
      console.log(
        existing ? `already drafted (${existing.status}):\n\n${existing.text}` : `job is ${job.status}`,
      );
      return 0;
    }
    const outcome = await services.pipeline.run(
      leased,
      owner,
      withinLease(new AbortController().signal, config),
    );
    const draft = await services.store.draftForJob(job.id);
    if (outcome.status === "done" && draft?.text) {
      const as = draft.mode === "reply" ? "reply to the customer" : "private note";
      console.log(`${draft.text}\n\nposted as a ${as} · ${summary(draft)}`);
      return 0;
    }
    const why = "error" in outcome ? outcome.error : outcome.outcome;
    console.log(`not posted as a draft (${outcome.status}): ${why}`);
    return outcome.status === "done" ? 0 : 1;
  });
}

const summary = (d: {
  intent: string | null;
  confidence: number | null;
  provider: string | null;
  model: string | null;
  needsHuman: boolean | null;
  needsHumanReason?: string | null | undefined;
}) =>
  `intent ${d.intent} · confidence ${d.confidence} · ${d.provider} ${d.model}${d.needsHuman ? ` · needs a human: ${d.needsHumanReason ?? ""}` : ""}`;
