import { type Context, Hono } from "hono";
import type { CommandJobPayload } from "../../../drafting/commands.ts";
import type { Draft, Store } from "../../../store/store.ts";
import { ConversationLink, OutcomeBadge, Question, SentDiff, triageResults } from "../components.tsx";
import { type AdminEnv, visible } from "../context.ts";
import { BASE, fmt, Layout } from "../layout.tsx";
import { outcomeBadge } from "../outcomes.ts";

/**
 * One draft: the question, the text, approve/reject (the same jobs as the note commands),
 * its outcome and the diff against what was sent, the facts, LLM calls, triage, the transcript.
 */

export interface DraftDeps {
  store: Store;
  demo: boolean;
  enqueueCommand: (draft: Draft, payload: CommandJobPayload) => Promise<void>;
}

/** Banner texts, chosen by code: a link can only pick one of these, never write its own. */
const FLASH = {
  stale: "This is no longer the latest draft of the conversation.",
  "reason-needed": "A reason is needed to reject.",
  sending:
    "Sending: the draft goes to the customer within seconds, and a confirmation note appears in Crisp.",
  rejected: "Rejected: a confirmation note appears in Crisp.",
} as const;
type FlashCode = keyof typeof FLASH;
const flashText = (code: string | undefined) =>
  code && Object.hasOwn(FLASH, code) ? FLASH[code as FlashCode] : undefined;

type Feedback = Awaited<ReturnType<Store["feedbackForDraft"]>>;
type Calls = Awaited<ReturnType<Store["llmCallsForJob"]>>;
type TriageRuns = Awaited<ReturnType<Store["listTriageRuns"]>>;

function Actions(props: { draft: Draft; csrf: string; user: string }) {
  const { draft, csrf } = props;
  return (
    <>
      <p class="muted">
        {props.user
          ? `Your decision is credited to ${props.user}.`
          : 'Decisions from this login are credited to "dashboard"; named logins (ADMIN_USERS) are credited by name.'}
      </p>
      <div style="display:flex;gap:1rem;flex-wrap:wrap">
        <form method="post" action={`${BASE}/drafts/${draft.id}/approve`}>
          <input type="hidden" name="_csrf" value={csrf} />
          <button type="submit">Approve and send</button>
        </form>
        <form method="post" action={`${BASE}/drafts/${draft.id}/reject`} style="display:flex;gap:.5rem">
          <input type="hidden" name="_csrf" value={csrf} />
          <label>
            Reason
            <input type="text" name="reason" required />
          </label>
          <button class="secondary" type="submit">
            Reject
          </button>
        </form>
      </div>
    </>
  );
}

function Outcome(props: { draft: Draft; feedback: Feedback }) {
  const { draft, feedback } = props;
  const final = [...feedback].reverse().find((f) => f.finalText);
  return (
    <>
      <h2>Outcome</h2>
      {feedback.length === 0 ? <p>No outcome yet.</p> : null}
      <ul>
        {feedback.map((f) => (
          <li>
            {fmt.time(f.createdAt)} · <OutcomeBadge {...outcomeBadge(f.kind, f.similarity, draft.status)} />{" "}
            <strong>{f.kind}</strong>
            {f.operatorName ? ` by ${f.operatorName}` : ""}
            {f.similarity !== null ? ` · similarity ${fmt.num(f.similarity)}` : ""}
            {f.reason ? ` · ${f.reason}` : ""}
            {f.delayMs !== null ? ` · after ${Math.round(f.delayMs / 1000)} s` : ""}
          </li>
        ))}
      </ul>
      {final?.finalText && final.finalText !== draft.text ? (
        <SentDiff draft={draft.text} sent={final.finalText} similarity={final.similarity} />
      ) : null}
    </>
  );
}

function Facts(props: { draft: Draft; demo: boolean }) {
  const { draft } = props;
  const facts: Array<[string, string]> = [
    ["Created", fmt.time(draft.createdAt)],
    ["Posted", fmt.time(draft.postedAt)],
    ["Intent", draft.intent ?? "—"],
    ["Confidence", fmt.num(draft.confidence)],
    ["Needs a human", draft.needsHuman ? `yes: ${draft.needsHumanReason ?? ""}` : "no"],
    ["Policy", draft.policyReasons.join("; ") || "auto-send allowed"],
    ["Provider", `${draft.provider ?? "—"} ${draft.model ?? ""}`],
    [
      "Prompt",
      `${draft.promptName ?? "—"} ${draft.promptVersion?.slice(0, 8) ?? ""}${draft.variant ? ` (variant ${draft.variant})` : ""}`,
    ],
    ["Tokens", `${draft.tokensIn} in (${draft.tokensCached} cached) · ${draft.tokensOut} out`],
    ["Cost", fmt.usd(draft.costUsd)],
    [
      "Latency",
      Object.entries(draft.latency)
        .map(([stage, ms]) => `${stage} ${Math.round(ms)} ms`)
        .join(" · ") || "—",
    ],
  ];
  return (
    <dl>
      <dt>Conversation</dt>
      <dd>
        {draft.sessionId} · <ConversationLink draft={draft} demo={props.demo} />
      </dd>
      {facts.map(([term, value]) => (
        <>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </>
      ))}
    </dl>
  );
}

function Runs(props: { calls: Calls; triage: TriageRuns }) {
  return (
    <>
      <h3>LLM calls</h3>
      <ul>
        {props.calls.map((call) => (
          <li>{`${call.provider} ${call.model ?? ""}: ${call.status}, ${call.latencyMs} ms${call.error ? ` (${call.error})` : ""}`}</li>
        ))}
      </ul>
      <h3>Triage</h3>
      {props.triage.length ? (
        <ul data-testid="triage">
          {props.triage.map((run) => (
            <li>{`${run.phase === "before" ? "before drafting" : "on the draft"}: ${run.rules.join(", ")} → ${triageResults(run)}`}</li>
          ))}
        </ul>
      ) : (
        <p>No rule fired.</p>
      )}
    </>
  );
}

type PageProps = {
  draft: Draft;
  feedback: Feedback;
  calls: Calls;
  triage: TriageRuns;
  actionable: boolean;
  flash: string | undefined;
  csrf: string;
  user: string;
  demo: boolean;
};

function DraftPage(props: PageProps) {
  const { draft, csrf, flash } = props;
  return (
    <Layout title="Draft" current="drafts" csrf={csrf}>
      <p>
        <a href={`${BASE}/drafts`}>← all drafts</a>
      </p>
      {flash ? (
        <p class="flash" role="status">
          {flash}
        </p>
      ) : null}
      <h1>
        Draft <span class="badge">{draft.status}</span>
      </h1>
      <div class="grid">
        <section aria-labelledby="draft-text">
          <h2>Customer's question</h2>
          <blockquote data-testid="question">
            <Question draft={draft} />
          </blockquote>
          <h2 id="draft-text">Draft ({draft.mode})</h2>
          <pre data-testid="draft-text">{draft.text || draft.error}</pre>
          {draft.flags.length ? (
            <ul>
              {draft.flags.map((f) => (
                <li>⚠️ {f}</li>
              ))}
            </ul>
          ) : null}
          {draft.citations.length ? <p>Sources: {draft.citations.map((c) => c.title).join("; ")}</p> : null}
          {props.actionable ? <Actions draft={draft} csrf={csrf} user={props.user} /> : null}
          <Outcome draft={draft} feedback={props.feedback} />
        </section>
        <section aria-labelledby="facts">
          <h2 id="facts">Facts</h2>
          <Facts draft={draft} demo={props.demo} />
          <Runs calls={props.calls} triage={props.triage} />
        </section>
      </div>
      <h2>What the model saw</h2>
      <pre>{draft.transcript ?? "—"}</pre>
    </Layout>
  );
}

export function createDraftApp(deps: DraftDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/drafts/:id", async (c) => {
    const draft = visible(c, await deps.store.getDraft(c.req.param("id")));
    if (!draft)
      return c.html(
        <Layout title="Not found" current="drafts">
          {<p>No such draft.</p>}
        </Layout>,
        404,
      );
    const [feedback, calls, latest, triage] = await Promise.all([
      deps.store.feedbackForDraft(draft.id),
      deps.store.llmCallsForJob(draft.jobId),
      deps.store.latestDraftForSession(draft.websiteId, draft.sessionId),
      deps.store.listTriageRuns({ websiteId: draft.websiteId, jobId: draft.jobId }),
    ]);
    const props = {
      draft,
      feedback,
      calls,
      triage,
      csrf: c.get("csrf"),
      user: c.get("user"),
      demo: deps.demo,
    };
    const actionable = latest?.id === draft.id && draft.status === "posted";
    return c.html(<DraftPage {...props} actionable={actionable} flash={flashText(c.req.query("flash"))} />);
  });

  const act = (name: "approve" | "reject") => async (c: Context<AdminEnv>) => {
    const draft = visible(c, await deps.store.getDraft(c.req.param("id") ?? ""));
    if (!draft) return c.text("No such draft.", 404);
    const body = await c.req.parseBody();
    const reason = typeof body.reason === "string" ? body.reason.trim() : "";
    const back = (flash: FlashCode) => c.redirect(`${BASE}/drafts/${draft.id}?flash=${flash}`, 303);
    const latest = await deps.store.latestDraftForSession(draft.websiteId, draft.sessionId);
    if (latest?.id !== draft.id) return back("stale");
    if (name === "reject" && !reason) return back("reason-needed");
    // A named login (ADMIN_USERS) is credited by name; a shared token can only say "dashboard".
    const user = c.get("user");
    await deps.enqueueCommand(draft, {
      name,
      arg: reason,
      operatorName: user || "dashboard",
      ...(user ? { operatorId: `dashboard:${user}` } : {}),
    });
    return back(name === "approve" ? "sending" : "rejected");
  };
  app.post("/drafts/:id/approve", act("approve"));
  app.post("/drafts/:id/reject", act("reject"));
  return app;
}
