import { Hono } from "hono";
import type { Store } from "../../../store/store.ts";
import type { WebsiteDirectory } from "../../../websites.ts";
import { Table } from "../components.tsx";
import { type AdminEnv, websiteOf } from "../context.ts";
import { BASE, fmt, Layout } from "../layout.tsx";
import { dailyAcceptance, groupStats, type OutcomeRow } from "../stats.ts";

/** Prompt versions with acceptance (and its interval), edits, latency, cost, a chart, A/B variants. */

type Group = ReturnType<typeof groupStats>[number];

function Chart(props: { series: ReturnType<typeof dailyAcceptance>; names: Record<string, string> }) {
  const days = [...new Set(props.series.flatMap((s) => s.points.map((p) => p.day)))].sort();
  if (days.length === 0) return <p>No decided drafts yet.</p>;
  const width = 640;
  const height = 200;
  const x = (day: string) =>
    days.length === 1 ? width / 2 : 40 + (days.indexOf(day) / (days.length - 1)) * (width - 60);
  const y = (rate: number) => 10 + (1 - rate) * (height - 40);
  const colours = ["#1558d6", "#d6442b", "#1b8a4c", "#a05ad6", "#d69a15"];
  return (
    <svg
      role="img"
      aria-label="Acceptance rate per day and prompt version"
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
    >
      {[0, 0.5, 1].map((r) => (
        <g>
          <line x1="35" x2={width - 10} y1={y(r)} y2={y(r)} stroke="#e3e7ef" />
          <text x="0" y={y(r) + 4} font-size="11">{`${r * 100}%`}</text>
        </g>
      ))}
      {props.series.map((s, i) => (
        <g>
          <polyline
            fill="none"
            stroke={colours[i % colours.length]}
            stroke-width="2"
            points={s.points.map((p) => `${x(p.day)},${y(p.rate)}`).join(" ")}
          />
          {s.points.map((p) => (
            <circle cx={x(p.day)} cy={y(p.rate)} r="3" fill={colours[i % colours.length]}>
              <title>{`${props.names[s.key] ?? s.key} ${p.day}: ${(p.rate * 100).toFixed(0)}% of ${p.n}`}</title>
            </circle>
          ))}
          <text x={45 + i * 150} y={height - 5} font-size="11" fill={colours[i % colours.length]}>
            {props.names[s.key] ?? s.key}
          </text>
        </g>
      ))}
    </svg>
  );
}

const accepted = (v: Group) =>
  `${fmt.pct(v.acceptance)}${v.interval ? ` (${fmt.pct(v.interval.low)}–${fmt.pct(v.interval.high)})` : ""}`;

function VersionsTable(props: { groups: Group[]; names: Record<string, string> }) {
  const head = ["Version", "Drafts", "Decided", "Accepted (95% CI)", "Edited", "Mean similarity"];
  return (
    <Table head={[...head, "Latency p50 / p95", "Cost per draft", "Last used"]}>
      {props.groups.map((v) => (
        <tr>
          <td>
            <a href={`${BASE}/drafts?version=${v.key}`}>{props.names[v.key]}</a>
          </td>
          <td>{v.drafts}</td>
          <td>{v.decided}</td>
          <td>{accepted(v)}</td>
          <td>{v.edited}</td>
          <td>{fmt.num(v.meanSimilarity)}</td>
          <td>{`${fmt.ms(v.p50Ms)} / ${fmt.ms(v.p95Ms)}`}</td>
          <td>{fmt.usd(v.costPerDraft)}</td>
          <td>{fmt.time(v.lastAt)}</td>
        </tr>
      ))}
    </Table>
  );
}

function VariantsTable(props: { groups: Group[] }) {
  return (
    <Table head={["Variant", "Drafts", "Decided", "Accepted (95% CI)"]}>
      {props.groups.map((v) => (
        <tr>
          <td>{v.key}</td>
          <td>{v.drafts}</td>
          <td>{v.decided}</td>
          <td>{accepted(v)}</td>
        </tr>
      ))}
    </Table>
  );
}

export function createPromptsApp(deps: { store: Store; websites: WebsiteDirectory }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/prompts", async (c) => {
    const rows = (await deps.store.draftOutcomes({
      websiteId: websiteOf(c, c.req.query("website")),
    })) as OutcomeRow[];
    // prompt_versions has no website: a scoped session sees the versions its own drafts used
    // and those of its configured prompt, never another website's prompt text.
    const scope = c.get("scope");
    const own = scope === "*" ? undefined : (await deps.websites.get(scope))?.prompt;
    const used = new Set(rows.map((r) => r.promptVersion));
    const versions = (await deps.store.listPromptVersions()).filter(
      (v) => scope === "*" || used.has(v.hash) || v.name === own,
    );
    const byVersion = groupStats(rows, (r) => r.promptVersion ?? "none").sort((a, b) => b.lastAt - a.lastAt);
    const byVariant = groupStats(
      rows.filter((r) => r.variant),
      (r) => r.variant ?? "",
    );
    const names = Object.fromEntries(byVersion.map((v) => [v.key, `${v.name} ${v.key.slice(0, 8)}`]));
    return c.html(
      <Layout title="Prompts" current="prompts" csrf={c.get("csrf")}>
        <h1>Prompt versions</h1>
        <VersionsTable groups={byVersion} names={names} />
        <h2>Acceptance over time</h2>
        <Chart series={dailyAcceptance(rows, (r) => r.promptVersion ?? "none")} names={names} />
        {byVariant.length ? (
          <>
            <h2>A/B variants</h2>
            <VariantsTable groups={byVariant} />
          </>
        ) : null}
        <h2>Versions</h2>
        {versions.map((v) => (
          <details>
            <summary>{`${v.name} ${v.hash.slice(0, 8)} · first used ${fmt.time(v.createdAt)}`}</summary>
            <pre>{v.body}</pre>
          </details>
        ))}
      </Layout>,
    );
  });
  return app;
}
