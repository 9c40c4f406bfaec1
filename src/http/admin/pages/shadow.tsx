import { Hono } from "hono";
import {
  type ComparedPair,
  candidateLabel,
  compareShadows,
  type ShadowComparison,
} from "../../../shadow/compare.ts";
import type { Store } from "../../../store/store.ts";
import { Table } from "../components.tsx";
import { type AdminEnv, websiteOf } from "../context.ts";
import { BASE, fmt, Layout } from "../layout.tsx";

/** Shadow mode: the candidate prompt/provider against the live drafts operators actually sent. */

const RANGES = [7, 30, 90] as const;
const DAY = 86_400_000;
/** Shadow rows read per page (newest first); the page says when a range has more. */
const MAX_ROWS = 5_000;

const clip = (text: string, max = 280) => (text.length > max ? `${text.slice(0, max)}…` : text);

function EmptyState() {
  return (
    <section class="empty" data-testid="empty">
      <h2>No shadow drafts yet</h2>
      <p>
        Shadow mode drafts the conversations quill already answered a second time, with a candidate prompt or
        provider, and records the result here without posting it. Nothing reaches Crisp or the customer.
      </p>
      <p>
        Turn it on with <code>SHADOW_PROMPT=&lt;a prompt file in PROMPTS_DIR&gt;</code> and/or{" "}
        <code>SHADOW_PROVIDER=openai|anthropic|compatible|offline</code> (optionally <code>SHADOW_MODEL</code>
        , and <code>SHADOW_SHARE=0.2</code> to shadow a fifth of conversations), or for one website with its
        Shadow prompt / Shadow provider on the <a href={`${BASE}/websites`}>Websites</a> page (or{" "}
        <code>quill website set &lt;id&gt; shadowPrompt=concise</code>). Once operators send drafts, this page
        compares both with what was sent.
      </p>
    </section>
  );
}

function Tiles(props: { s: ShadowComparison }) {
  const { s } = props;
  const tile = (label: string, value: string, id: string) => (
    <div>
      <dt>{label}</dt>
      <dd data-testid={`tile-${id}`}>{value}</dd>
    </div>
  );
  const ms = (l: { p50: number | undefined; p95: number | undefined }) =>
    `${fmt.ms(l.p50)} / ${fmt.ms(l.p95)}`;
  const usd = (x: number | undefined) => (x === undefined ? "—" : fmt.usd(x));
  return (
    <dl class="tiles" data-testid="tiles">
      {tile("Sent drafts compared", String(s.compared), "compared")}
      {tile(
        "Similarity to sent: live / candidate",
        `${fmt.num(s.meanLive)} / ${fmt.num(s.meanCandidate)}`,
        "similarity",
      )}
      {tile("Candidate closer / same / further", `${s.closer} / ${s.same} / ${s.further}`, "closer")}
      {tile("Cost per draft: live / candidate", `${usd(s.costLive)} / ${usd(s.costCandidate)}`, "cost")}
      {tile("LLM latency p50 / p95, live", ms(s.latencyLive), "latency-live")}
      {tile("LLM latency p50 / p95, candidate", ms(s.latencyCandidate), "latency-candidate")}
      {tile("Candidate failures (of sent)", `${s.failures} of ${s.sent}`, "failures")}
    </dl>
  );
}

function PairsTable(props: { pairs: ComparedPair[] }) {
  const head = ["Question", "Live draft", "Candidate", "Sent", "Similarity live / candidate", "Candidate by"];
  return (
    <Table head={head} testid="pairs" caption="Recent sent drafts and their shadow">
      {props.pairs.map((c) => (
        <tr>
          <td>
            <a href={`${BASE}/drafts/${c.pair.shadow.draftId}`}>
              {clip(c.pair.live.query ?? "", 120) || "—"}
            </a>
          </td>
          <td>{clip(c.pair.live.text)}</td>
          <td>
            {c.pair.shadow.error ? (
              <em>{`failed: ${clip(c.pair.shadow.error, 160)}`}</em>
            ) : (
              clip(c.pair.shadow.text)
            )}
          </td>
          <td>{clip(c.sentText)}</td>
          <td>{`${fmt.num(c.live)} / ${fmt.num(c.candidate)}`}</td>
          <td>{candidateLabel(c.pair.shadow)}</td>
        </tr>
      ))}
    </Table>
  );
}

export function createShadowApp(deps: { store: Store; now: () => number }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/shadow", async (c) => {
    const asked = c.req.query("days");
    const days = asked === undefined || asked === "" ? 30 : Number(asked);
    if (!RANGES.includes(days as (typeof RANGES)[number])) return c.text("days: expected 7, 30 or 90.", 400);
    const website = websiteOf(c, c.req.query("website"));
    const since = deps.now() - days * DAY;
    const pairs = await deps.store.shadowPairs({ websiteId: website, since, limit: MAX_ROWS });
    const s = compareShadows(pairs);
    const scope = c.get("scope");
    const link = (d: number) =>
      `${BASE}/shadow?${new URLSearchParams({ days: String(d), ...(scope === "*" && website ? { website } : {}) })}`;
    return c.html(
      <Layout title="Shadow mode" current="shadow" csrf={c.get("csrf")}>
        <div class="titlebar">
          <h1>Shadow mode</h1>
          <nav aria-label="Date range" class="range">
            {RANGES.map((d) => (
              <a href={link(d)} aria-current={d === days ? "page" : undefined}>{`${d} days`}</a>
            ))}
          </nav>
        </div>
        {pairs.length === 0 ? (
          <EmptyState />
        ) : (
          <>
            <p class="muted" data-testid="summary">
              {`${s.shadows} shadow drafts in the last ${days} days${website ? ` on website ${website}` : scope === "*" ? ", every website" : ""} (${s.shadowFailures} failed); ${s.sent} of their live drafts were sent by an operator. Candidate: ${s.candidates.join(", ")}. Latency is the LLM call alone.`}
            </p>
            {pairs.length >= MAX_ROWS ? (
              <p class="flash error" role="status">
                {`More than ${MAX_ROWS} shadow drafts in this range: the numbers cover the newest ${MAX_ROWS}.`}
              </p>
            ) : null}
            <Tiles s={s} />
            <h2>Recent pairs</h2>
            {s.recent.length ? (
              <PairsTable pairs={s.recent} />
            ) : (
              <p>No shadowed draft was sent by an operator yet.</p>
            )}
          </>
        )}
      </Layout>,
    );
  });
  return app;
}
