/**
 * Server-rendered SVG charts (no script, no build step; the same markup on Node and Workers):
 * stacked bars per day and lines per day, with a value axis, date labels, an HTML legend and
 * a data table behind a disclosure, so no reading depends on colour or on seeing the chart.
 */

export interface Series {
  key: string;
  label: string;
  colour: string;
  values: Array<number | undefined>;
}

// Half-width charts get a narrower canvas, so their text stays as large as the full-width ones'.
const size = (compact?: boolean) => {
  const width = compact ? 420 : 720;
  return { width, plotW: width - LEFT - RIGHT };
};
const HEIGHT = 220;
const LEFT = 56;
const RIGHT = 12;
const TOP = 12;
const BOTTOM = 36;
const PLOT_H = HEIGHT - TOP - BOTTOM;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "2026-03-07" as "Mar 7": short enough for a phone's axis. */
export const shortDay = (day: string) =>
  `${MONTHS[Number(day.slice(5, 7)) - 1] ?? ""} ${Number(day.slice(8, 10))}`;

/** A round top for the value axis and its step (1, 2 or 5 times a power of ten), about 4 ticks. */
export function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power) as number;
  return { top: Math.ceil(max / step) * step, step };
}

function Axes(props: {
  days: string[];
  top: number;
  step: number;
  format: (n: number) => string;
  compact?: boolean | undefined;
}) {
  const { width: WIDTH, plotW: PLOT_W } = size(props.compact);
  const ticks: number[] = [];
  for (let v = 0; v <= props.top + props.step / 2; v += props.step) ticks.push(v);
  const band = PLOT_W / Math.max(1, props.days.length);
  // About eight date labels (four when compact), counted back from today so the last day is named.
  const every = Math.max(1, Math.ceil(props.days.length / (props.compact ? 4 : 8)));
  const last = props.days.length - 1;
  return (
    <g font-size="11" fill="#4b5563">
      {ticks.map((v) => {
        const y = TOP + PLOT_H - (v / props.top) * PLOT_H;
        return (
          <g>
            <line x1={LEFT} x2={WIDTH - RIGHT} y1={y} y2={y} stroke="#e3e7ef" />
            <text x={LEFT - 6} y={y + 4} text-anchor="end">
              {props.format(v)}
            </text>
          </g>
        );
      })}
      <line x1={LEFT} x2={WIDTH - RIGHT} y1={TOP + PLOT_H} y2={TOP + PLOT_H} stroke="#9ca3af" />
      {props.days.map((day, i) =>
        (last - i) % every === 0 ? (
          <text x={LEFT + band * (i + 0.5)} y={HEIGHT - BOTTOM + 16} text-anchor="middle">
            {shortDay(day)}
          </text>
        ) : null,
      )}
      <text x={LEFT} y={HEIGHT - 4} fill="#6b7280">
        {`UTC days, ${props.days[0] ?? ""} to ${props.days.at(-1) ?? ""}`}
      </text>
    </g>
  );
}

function Legend(props: { series: Series[] }) {
  return (
    <ul class="legend">
      {props.series.map((s) => (
        <li>
          <span class="swatch" style={`background:${s.colour}`} aria-hidden="true" />
          {s.label}
        </li>
      ))}
    </ul>
  );
}

function DataTable(props: { days: string[]; series: Series[]; format: (n: number) => string }) {
  return (
    <details>
      <summary>Show the numbers</summary>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {props.series.map((s) => (
                <th scope="col">{s.label}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.days.map((day, i) => (
              <tr>
                <th scope="row">{day}</th>
                {props.series.map((s) => {
                  const v = s.values[i];
                  return <td>{v === undefined ? "—" : props.format(v)}</td>;
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/** Bars per day, the series stacked in order (bottom first). */
export function StackedBars(props: {
  id: string;
  title: string;
  days: string[];
  series: Series[];
  format?: (n: number) => string;
  compact?: boolean;
}) {
  const { width: WIDTH, plotW: PLOT_W } = size(props.compact);
  const format = props.format ?? ((n: number) => String(Math.round(n * 100) / 100));
  const totals = props.days.map((_, i) => props.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const { top, step } = niceScale(Math.max(0, ...totals));
  const band = PLOT_W / Math.max(1, props.days.length);
  const barW = Math.max(1, Math.min(28, band * 0.7));
  return (
    <figure class="chart" data-testid={props.id}>
      <svg role="img" aria-labelledby={`${props.id}-title`} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width="100%">
        <title id={`${props.id}-title`}>{props.title}</title>
        <Axes days={props.days} top={top} step={step} format={format} compact={props.compact} />
        {props.days.map((day, i) => {
          let base = TOP + PLOT_H;
          return (
            <g>
              {props.series.map((s) => {
                const v = s.values[i] ?? 0;
                if (v <= 0) return null;
                const h = (v / top) * PLOT_H;
                base -= h;
                return (
                  <rect
                    x={LEFT + band * i + (band - barW) / 2}
                    y={base}
                    width={barW}
                    height={h}
                    fill={s.colour}
                  >
                    <title>{`${day} · ${s.label}: ${format(v)}`}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
      </svg>
      {props.series.length > 1 ? <Legend series={props.series} /> : null}
      <DataTable days={props.days} series={props.series} format={format} />
    </figure>
  );
}

/** One line per series; a day without a value breaks the line rather than drawing a zero. */
export function Lines(props: {
  id: string;
  title: string;
  days: string[];
  series: Series[];
  format: (n: number) => string;
}) {
  const { width: WIDTH, plotW: PLOT_W } = size();
  const values = props.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const { top, step } = niceScale(Math.max(0, ...values));
  const band = PLOT_W / Math.max(1, props.days.length);
  const x = (i: number) => LEFT + band * (i + 0.5);
  const y = (v: number) => TOP + PLOT_H - (v / top) * PLOT_H;
  const runs = (s: Series) => {
    const out: Array<Array<[number, number]>> = [[]];
    s.values.forEach((v, i) => {
      if (v === undefined) out.push([]);
      else out.at(-1)?.push([i, v]);
    });
    return out.filter((run) => run.length > 0);
  };
  return (
    <figure class="chart" data-testid={props.id}>
      <svg role="img" aria-labelledby={`${props.id}-title`} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width="100%">
        <title id={`${props.id}-title`}>{props.title}</title>
        <Axes days={props.days} top={top} step={step} format={props.format} />
        {props.series.map((s, n) => (
          <g>
            {runs(s).map((run) => (
              <polyline
                fill="none"
                stroke={s.colour}
                stroke-width="2"
                stroke-dasharray={n === 0 ? undefined : "6 3"}
                points={run.map(([i, v]) => `${x(i)},${y(v)}`).join(" ")}
              />
            ))}
            {s.values.map((v, i) =>
              v === undefined ? null : (
                <circle cx={x(i)} cy={y(v)} r="3" fill={s.colour}>
                  <title>{`${props.days[i]} · ${s.label}: ${props.format(v)}`}</title>
                </circle>
              ),
            )}
          </g>
        ))}
      </svg>
      <Legend series={props.series} />
      <DataTable days={props.days} series={props.series} format={props.format} />
    </figure>
  );
}

/** A 100% bar of one row's split, for tables; its cells carry the numbers. */
export function SplitBar(props: { parts: Array<{ label: string; colour: string; value: number }> }) {
  const total = props.parts.reduce((sum, p) => sum + p.value, 0);
  let x = 0;
  return (
    <svg viewBox="0 0 100 10" width="120" height="12" preserveAspectRatio="none" aria-hidden="true">
      {props.parts.map((p) => {
        if (!total || p.value <= 0) return null;
        const w = (p.value / total) * 100;
        x += w;
        return <rect x={x - w} y="0" width={w} height="10" fill={p.colour} />;
      })}
    </svg>
  );
}
