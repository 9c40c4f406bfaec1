import { Hono } from "hono";
import { findGaps } from "../../../knowledge/gaps.ts";
import type { Store } from "../../../store/store.ts";
import { Lines, SplitBar, StackedBars } from "../charts.tsx";
import { OutcomeBadge, Table } from "../components.tsx";
import type { AdminEnv } from "../context.ts";
import { BASE, fmt, Layout } from "../layout.tsx";
import {
  type Breakdown,
  OUTCOME_CLASSES,
  OUTCOME_COLOURS,
  OUTCOME_LABELS,
  type OutcomeClass,
  summarise,
} from "../outcomes.ts";

/**
 * The landing page: what quill did for the team over the last 7, 30 or 90 days. Drafts and
 * outcomes per day, who decided what, how fast drafts were ready and decided, what it cost,
 * and the week's knowledge gaps. A website's session sees its own website only.
 */

export interface OverviewDeps {
  store: Store;
  now: () => number;
  /** Demo mode: the empty state points at the local sandbox rather than Crisp. */
  demo: boolean;
}

export const RANGES = [7, 30, 90] as const;
const DAY = 86_400_000;

export const seconds = (ms: number | undefined) =>
  ms === undefined ? "—" : ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : duration(ms);
function duration(ms: number) {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}
const share = (n: number, of: number) => (of ? `${Math.round((n / of) * 100)}%` : "—");

function SplitTable(props: { id: string; caption: string; head: string; rows: Breakdown[] }) {
  if (props.rows.length === 0) return null;
  const head = [
    props.head,
    "Decided",
    ...OUTCOME_CLASSES.map((k) => <OutcomeBadge cls={k} label={OUTCOME_LABELS[k]} />),
    "Split",
  ];
  return (
    <div class="scroll">
      <Table testid={props.id} caption={props.caption} head={head}>
        {props.rows.map((r) => (
          <tr>
            <th scope="row">{r.label}</th>
            <td>{r.decided}</td>
            {OUTCOME_CLASSES.map((k) => (
              <td>{`${r.split[k]} (${share(r.split[k], r.decided)})`}</td>
            ))}
            <td>
              <SplitBar
                parts={OUTCOME_CLASSES.map((k) => ({
                  label: OUTCOME_LABELS[k],
                  colour: OUTCOME_COLOURS[k],
                  value: r.split[k],
                }))}
              />
            </td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

type Summary = ReturnType<typeof summarise>;
type Gap = ReturnType<typeof findGaps>[number];

function EmptyState(props: { days: number; demo: boolean; link: (days: number) => string }) {
  const { days, link } = props;
  return (
    <section class="empty" data-testid="empty">
      <h2>{`No drafts in the last ${days} days`}</h2>
      {props.demo ? (
        <p>
          This is demo mode. Open the <a href="/sandbox/">sandbox inbox</a>, pick a conversation and write as
          the visitor (for example "I need to return an item"). quill posts a private draft within seconds;
          approve, edit or reject it and this page fills in.
        </p>
      ) : (
        <p>
          quill drafts a private note when a customer waits for an answer. Check that Crisp's web hooks reach{" "}
          <code>/webhooks/crisp</code> (or that polling is on) and that the{" "}
          <a href={`${BASE}/health`}>Health</a> page shows jobs. Operators decide in Crisp with{" "}
          <code>/approve</code>, <code>/send</code>, <code>/reject</code>, or by answering in their own words;
          each decision shows here.
        </p>
      )}
      {days < 90 ? (
        <p>
          <a href={link(90)}>Look at the last 90 days</a>
        </p>
      ) : null}
    </section>
  );
}

function Tiles(props: { s: Summary }) {
  const { s } = props;
  return (
    <dl class="tiles" data-testid="tiles">
      <div>
        <dt>Drafts</dt>
        <dd data-testid="tile-drafts">{s.drafts}</dd>
      </div>
      <div>
        <dt>Decided</dt>
        <dd data-testid="tile-decided">{`${s.decided} (${share(s.decided, s.drafts)})`}</dd>
      </div>
      <div>
        <dt>Accepted (as-is or lightly edited)</dt>
        <dd data-testid="tile-accepted">{`${s.accepted} (${share(s.accepted, s.decided)})`}</dd>
      </div>
      <div>
        <dt>Awaiting a decision</dt>
        <dd>{s.pending}</dd>
      </div>
      <div>
        <dt>Auto-sent</dt>
        <dd>{s.autoSent}</dd>
      </div>
      <div>
        <dt>Time to decision p50 / p95</dt>
        <dd data-testid="tile-decision">{`${seconds(s.decision.p50)} / ${seconds(s.decision.p95)}`}</dd>
      </div>
      <div>
        <dt>Draft ready p50 / p95</dt>
        <dd data-testid="tile-ready">{`${seconds(s.ready.p50)} / ${seconds(s.ready.p95)}`}</dd>
      </div>
      <div>
        <dt>Cost (per accepted draft)</dt>
        <dd data-testid="tile-cost">
          {`${fmt.usd(s.cost)} (${s.costPerAccepted === undefined ? "—" : fmt.usd(s.costPerAccepted)})`}
        </dd>
      </div>
    </dl>
  );
}

function Outcomes(props: { s: Summary; days: number }) {
  const { s, days } = props;
  const outcomeSeries = OUTCOME_CLASSES.map((k: OutcomeClass) => ({
    key: k,
    label: OUTCOME_LABELS[k],
    colour: OUTCOME_COLOURS[k],
    values: s.splitPerDay[k],
  }));
  return (
    <>
      <h2>Outcomes per day</h2>
      <p class="muted">
        {`What operators did with each draft, by the day it was drafted. Lightly edited: what was sent kept at least 60% of the draft's words; rewritten: less. Ignored: answered in their own words or resolved without replying.`}
      </p>
      <ul class="split" data-testid="split">
        {OUTCOME_CLASSES.map((k) => (
          <li>
            <OutcomeBadge cls={k} label={OUTCOME_LABELS[k]} />{" "}
            <strong data-testid={`split-${k}`}>{s.split[k]}</strong>
            {` (${share(s.split[k], s.decided)})`}
          </li>
        ))}
      </ul>
      {s.decided === 0 ? (
        <p>
          No decisions yet. In Crisp, answer a draft with <code>/approve</code>, <code>/reject</code> or your
          own words, or open a draft from the <a href={`${BASE}/drafts`}>Drafts</a> page.
        </p>
      ) : (
        <StackedBars
          id="chart-outcomes"
          title={`Outcomes per day over ${days} days: ${OUTCOME_CLASSES.map((k) => `${s.split[k]} ${OUTCOME_LABELS[k]}`).join(", ")}`}
          days={s.days}
          series={outcomeSeries}
          format={(n) => String(Math.round(n))}
        />
      )}
    </>
  );
}

function Trends(props: { s: Summary; days: number }) {
  const { s, days } = props;
  return (
    <>
      <div class="grid">
        <section>
          <h2>Drafts per day</h2>
          <StackedBars
            id="chart-drafts"
            title={`Drafts per day: ${s.drafts} in ${days} days`}
            days={s.days}
            series={[{ key: "drafts", label: "drafts", colour: "#1d2330", values: s.draftsPerDay }]}
            format={(n) => String(Math.round(n))}
            compact
          />
        </section>
        <section>
          <h2>Cost per day</h2>
          <StackedBars
            id="chart-cost"
            title={`LLM cost per day: ${fmt.usd(s.cost)} in ${days} days`}
            days={s.days}
            series={[{ key: "cost", label: "cost (USD)", colour: "#7c3aed", values: s.costPerDay }]}
            format={(n) => `$${n < 1 ? n.toFixed(3) : n.toFixed(2)}`}
            compact
          />
        </section>
      </div>
      <h2>Draft ready</h2>
      <p class="muted">From the customer's message to the draft in Crisp (the quiet period included).</p>
      {s.ready.n === 0 ? (
        <p>No draft was posted in this range yet.</p>
      ) : (
        <Lines
          id="chart-ready"
          title={`Draft ready latency per day: p50 ${seconds(s.ready.p50)}, p95 ${seconds(s.ready.p95)}`}
          days={s.days}
          series={[
            { key: "p50", label: "p50 (median)", colour: "#1558d6", values: s.ready.p50PerDay },
            { key: "p95", label: "p95", colour: "#c0392b", values: s.ready.p95PerDay },
          ]}
          format={(ms) => seconds(ms)}
        />
      )}
    </>
  );
}

function WeekGaps(props: { gaps: Gap[] }) {
  const { gaps } = props;
  return (
    <>
      <h2>Knowledge gaps this week</h2>
      {gaps.length === 0 ? (
        <p>None this week: every question found an article operators accepted.</p>
      ) : (
        <>
          <ul data-testid="gaps">
            {gaps.map((g) => (
              <li>
                <strong>{g.topic.join(", ")}</strong>
                {` · ${g.count} question${g.count === 1 ? "" : "s"} · e.g. `}
                <a href={`${BASE}/drafts/${g.draftIds[0] ?? ""}`}>{g.questions[0] ?? ""}</a>
              </li>
            ))}
          </ul>
          <p>
            <a href={`${BASE}/gaps?days=7`}>All of this week's gaps</a>
          </p>
        </>
      )}
    </>
  );
}

export function createOverviewApp(deps: OverviewDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/", async (c) => {
    const asked = c.req.query("days");
    const days = asked === undefined || asked === "" ? 30 : Number(asked);
    if (!RANGES.includes(days as (typeof RANGES)[number])) return c.text("days: expected 7, 30 or 90.", 400);
    const scope = c.get("scope");
    const website = scope === "*" ? c.req.query("website") || undefined : scope;
    const now = deps.now();
    // Whole UTC days: the first bar is a full day, like every other one.
    const since = Math.floor(now / DAY) * DAY - (days - 1) * DAY;
    const [{ rows, truncated }, gapRows] = await Promise.all([
      deps.store.overviewRows({ websiteId: website, since }),
      deps.store.gapCandidates({ websiteId: website, since: now - 7 * DAY }),
    ]);
    const s = summarise(rows, since, now);
    const gaps = findGaps(gapRows).slice(0, 5);
    const link = (d: number) =>
      `${BASE}/?${new URLSearchParams({ days: String(d), ...(scope === "*" && website ? { website } : {}) })}`;
    const user = c.get("user");
    return c.html(
      <Layout title="Overview" current="overview" csrf={c.get("csrf")}>
        <div class="titlebar">
          <h1>Overview</h1>
          <nav aria-label="Date range" class="range">
            {RANGES.map((d) => (
              <a href={link(d)} aria-current={d === days ? "page" : undefined}>{`${d} days`}</a>
            ))}
          </nav>
        </div>
        <p class="muted">
          {`Drafts created ${s.days[0]} to ${s.days.at(-1)} (UTC)${website ? ` on website ${website}` : scope === "*" ? ", every website" : ""}.`}
          {user ? ` Logged in as ${user}: your approvals and rejections are credited to you.` : ""}
        </p>
        {truncated ? (
          <p class="flash error" role="status">
            {`More than ${rows.length} drafts in this range: the numbers cover the newest ${rows.length}. Pick a shorter range for exact figures.`}
          </p>
        ) : null}
        {rows.length === 0 ? (
          <EmptyState days={days} demo={deps.demo} link={link} />
        ) : (
          <>
            <Tiles s={s} />

            <Outcomes s={s} days={days} />
            <Trends s={s} days={days} />
            <h2>Who decided, and on what</h2>
            <SplitTable id="by-operator" caption="Per operator" head="Operator" rows={s.byOperator} />
            <SplitTable id="by-intent" caption="Per intent" head="Intent" rows={s.byIntent} />
            <SplitTable id="by-prompt" caption="Per prompt version" head="Prompt version" rows={s.byPrompt} />
          </>
        )}
        <WeekGaps gaps={gaps} />
      </Layout>,
    );
  });
  return app;
}
