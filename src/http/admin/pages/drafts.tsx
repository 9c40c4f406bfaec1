import { Hono } from "hono";
import type { DraftStatus, FeedbackKind, Store } from "../../../store/store.ts";
import { ConversationLink, choices, Field, OutcomeBadge, Question, Select, Table } from "../components.tsx";
import { type AdminEnv, queryInt, websiteOf } from "../context.ts";
import { BASE, fmt, Layout } from "../layout.tsx";
import { outcomeBadge } from "../outcomes.ts";

/** The drafts list: filters (status, outcome, prompt version, dates), search, 50 a page. */

const DRAFT_STATUSES: DraftStatus[] = [
  "posted",
  "sent",
  "approved",
  "rejected",
  "superseded",
  "discarded",
  "failed",
  "ready",
];
const OUTCOMES: Array<FeedbackKind | "none"> = [
  "approved",
  "sent_as_is",
  "sent_edited",
  "edited",
  "ignored",
  "rejected",
  "redraft",
  "resolved_no_reply",
  "none",
];
const PAGE = 50;

type Query = Record<string, string>;
type Versions = Awaited<ReturnType<Store["listPromptVersions"]>>;
type ListedDraft = Awaited<ReturnType<Store["listDrafts"]>>[number];

function Filters(props: {
  q: Query;
  status: DraftStatus | undefined;
  outcome: string | undefined;
  versions: Versions;
}) {
  const { q } = props;
  return (
    <search>
      <form class="filters" method="get" action={`${BASE}/drafts`}>
        <Field label="Search" name="q" type="search" value={q.q ?? ""} />
        <Select
          label="Status"
          name="status"
          empty="any"
          options={choices(DRAFT_STATUSES)}
          value={props.status}
        />
        <Select
          label="Outcome"
          name="outcome"
          empty="any"
          options={choices(OUTCOMES)}
          value={props.outcome}
        />
        <Select
          label="Prompt version"
          name="version"
          empty="any"
          options={props.versions.map((v) => [v.hash, `${v.name} ${v.hash.slice(0, 8)}`] as const)}
          value={q.version}
        />
        <Field label="From" name="from" type="date" value={q.from ?? ""} />
        <Field label="To" name="to" type="date" value={q.to ?? ""} />
        <button type="submit">Filter</button>
      </form>
    </search>
  );
}

const HEAD = [
  "Created",
  "Customer's question",
  "Draft",
  "Outcome",
  "Status",
  "Intent",
  "Confidence",
  "Provider",
  "Conversation",
];

function DraftRow(props: { draft: ListedDraft; demo: boolean }) {
  const d = props.draft;
  const badge = outcomeBadge(d.outcome, d.outcomeSimilarity, d.status);
  return (
    <tr>
      <td>{fmt.time(d.createdAt)}</td>
      <td class="question">
        <Question draft={d} />
      </td>
      <td class="text">
        <a href={`${BASE}/drafts/${d.id}`}>{d.text || d.error || "(empty)"}</a>
      </td>
      <td>
        <OutcomeBadge cls={badge.cls} label={badge.label} />
      </td>
      <td>
        <span class="badge">{d.status}</span>
      </td>
      <td>{d.intent ?? "—"}</td>
      <td>{fmt.num(d.confidence)}</td>
      <td>{d.provider ?? "—"}</td>
      <td>
        <ConversationLink draft={d} demo={props.demo} />
      </td>
    </tr>
  );
}

export function createDraftsApp(deps: { store: Store; demo: boolean }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/drafts", async (c) => {
    const q = c.req.query();
    const page = queryInt(q.page, 1, 100_000);
    if (page === undefined) return c.text("page: expected a whole number from 1 to 100000.", 400);
    const status = DRAFT_STATUSES.includes(q.status as DraftStatus) ? (q.status as DraftStatus) : undefined;
    const outcome = OUTCOMES.includes(q.outcome as FeedbackKind)
      ? (q.outcome as FeedbackKind | "none")
      : undefined;
    const from = q.from ? Date.parse(`${q.from}T00:00:00Z`) : undefined;
    const to = q.to ? Date.parse(`${q.to}T23:59:59Z`) : undefined;
    const drafts = await deps.store.listDrafts({
      websiteId: websiteOf(c, q.website),
      status,
      outcome,
      promptVersion: q.version || undefined,
      from: Number.isFinite(from) ? from : undefined,
      to: Number.isFinite(to) ? to : undefined,
      search: q.q || undefined,
      limit: PAGE + 1,
      offset: (page - 1) * PAGE,
    });
    const versions = await deps.store.listPromptVersions();
    const more = drafts.length > PAGE;
    const link = (p: number) => `${BASE}/drafts?${new URLSearchParams({ ...q, page: String(p) })}`;
    return c.html(
      <Layout title="Drafts" current="drafts" csrf={c.get("csrf")}>
        <h1>Drafts</h1>
        <Filters q={q} status={status} outcome={outcome} versions={versions} />
        <div class="scroll">
          <Table head={HEAD}>
            {drafts.slice(0, PAGE).map((d) => (
              <DraftRow draft={d} demo={deps.demo} />
            ))}
          </Table>
        </div>
        {drafts.length === 0 ? <p>No drafts match.</p> : null}
        <p>
          {page > 1 ? <a href={link(page - 1)}>← newer</a> : null}{" "}
          {more ? <a href={link(page + 1)}>older →</a> : null}
        </p>
      </Layout>,
    );
  });
  return app;
}
