import type { Child } from "hono/jsx";

/** The dashboard's frame, style and formatting, shared by every page module. */

export const BASE = "/admin";

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7fb; }
body { margin: 0; }
a { color: #1558d6; }
header { background: #1d2330; color: white; display: flex; gap: 1.5rem; align-items: center; padding: .5rem 1rem; }
header a { color: white; text-decoration: none; }
header a[aria-current="page"] { text-decoration: underline; }
header form { margin-left: auto; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
table { border-collapse: collapse; width: 100%; background: white; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #e3e7ef; vertical-align: top; font-size: .9rem; }
th { background: #eef1f7; }
td.text { max-width: 32rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: 1rem; }
label { display: flex; flex-direction: column; font-size: .8rem; gap: .15rem; }
input, select, textarea, button { font: inherit; padding: .3rem .45rem; }
button { border: 1px solid #1558d6; background: #1558d6; color: white; border-radius: .3rem; cursor: pointer; }
button.secondary { background: white; color: #1558d6; }
.badge { white-space: nowrap; font-size: .75rem; padding: .05rem .45rem; border-radius: 1rem; background: #eef1f7; }
.flash { background: #e7f6ec; border: 1px solid #9fd8b0; padding: .5rem .75rem; border-radius: .3rem; }
.error { background: #fdecea; border-color: #f1a9a0; }
pre { white-space: pre-wrap; background: white; padding: .75rem; border: 1px solid #e3e7ef; border-radius: .3rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; }
del { background: #fde2e1; } ins { background: #dcf5e3; text-decoration: none; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
header { flex-wrap: wrap; }
header nav { flex-wrap: wrap; }
/* Outcome badges: dark text on a light tint, 4.5:1 contrast or more, and always a label. */
.badge.outcome-as_is { background: #d3f2de; color: #0b4d27; }
.badge.outcome-light_edit { background: #dbe7fd; color: #12357a; }
.badge.outcome-rewritten { background: #fbecc8; color: #6b4204; }
.badge.outcome-ignored { background: #e5e7eb; color: #1f2937; }
.badge.outcome-rejected { background: #fbdedb; color: #7f1d12; }
.badge.outcome-pending { background: white; color: #1f2937; border: 1px dashed #6b7280; }
.badge.outcome-other { background: #eef1f7; color: #1f2937; }
.muted { color: #4b5563; }
.titlebar { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; justify-content: space-between; }
nav.range { display: flex; border: 1px solid #1558d6; border-radius: .3rem; overflow: hidden; }
nav.range a { padding: .3rem .7rem; text-decoration: none; }
nav.range a[aria-current="page"] { background: #1558d6; color: white; }
dl.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .75rem; }
dl.tiles div { background: white; border: 1px solid #e3e7ef; border-radius: .4rem; padding: .6rem .75rem; }
dl.tiles dt { font-weight: 400; font-size: .8rem; color: #4b5563; }
dl.tiles dd { margin: .2rem 0 0; font-size: 1.3rem; font-weight: 600; }
ul.split, ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem 1rem; }
ul.legend { font-size: .85rem; margin: .25rem 0; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: .15rem; margin-right: .3rem; vertical-align: -1px; }
figure.chart { margin: 0 0 1rem; background: white; border: 1px solid #e3e7ef; border-radius: .4rem; padding: .5rem; }
caption { text-align: left; font-weight: 600; padding: .4rem 0; }
section.empty { background: white; border: 1px dashed #9ca3af; border-radius: .4rem; padding: .5rem 1rem; }
td.question { min-width: 12rem; max-width: 22rem; }
td.text { max-width: 20rem; }
.scroll { overflow-x: auto; }
.diff { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.diff h3 { margin: .2rem 0; font-size: .95rem; }
/* Phones: wide tables scroll sideways instead of pushing the page wider than the screen. */
@media (max-width: 700px) {
  table { display: block; overflow-x: auto; }
  td.text, td.question { max-width: 14rem; }
  .diff { grid-template-columns: 1fr; }
}
`;

export const fmt = {
  time: (ms: number | null | undefined) =>
    ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "—",
  pct: (x: number | undefined) => (x === undefined ? "—" : `${(x * 100).toFixed(1)}%`),
  ms: (x: number | undefined) => (x === undefined ? "—" : `${Math.round(x)} ms`),
  usd: (x: number) => `$${x.toFixed(x < 0.01 ? 5 : 3)}`,
  num: (x: number | undefined | null, digits = 2) =>
    x === undefined || x === null ? "—" : x.toFixed(digits),
};

/** The HTML document around a page: language, viewport, title and the page's style. */
export function Document(props: { title: string; style: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · quill`}</title>
        <style>{props.style}</style>
      </head>
      <body>{props.children}</body>
    </html>
  );
}

export function Layout(props: {
  title: string;
  current: string;
  csrf?: string | undefined;
  children: Child;
}) {
  const nav = [
    ["overview", "Overview"],
    ["drafts", "Drafts"],
    ["prompts", "Prompts"],
    ["gaps", "Knowledge gaps"],
    ["triage", "Triage"],
    ["health", "Health"],
    ["agents", "AI agents"],
    ["websites", "Websites"],
    ["privacy", "Privacy"],
  ] as const;
  return (
    <Document title={props.title} style={STYLE}>
      <header>
        <strong>quill</strong>
        <nav aria-label="Sections" style="display:flex;gap:1rem">
          {nav.map(([path, label]) => (
            <a
              href={path === "overview" ? `${BASE}/` : `${BASE}/${path}`}
              aria-current={props.current === path ? "page" : undefined}
            >
              {label}
            </a>
          ))}
        </nav>
        {props.csrf ? (
          <form method="post" action={`${BASE}/logout`}>
            <input type="hidden" name="_csrf" value={props.csrf} />
            <button class="secondary" type="submit">
              Log out
            </button>
          </form>
        ) : null}
      </header>
      <main>{props.children}</main>
    </Document>
  );
}
