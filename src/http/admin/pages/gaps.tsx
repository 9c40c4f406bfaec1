import { Hono } from "hono";
import type { Clock } from "../../../clock.ts";
import { findGaps } from "../../../knowledge/gaps.ts";
import type { Store } from "../../../store/store.ts";
import { Table } from "../components.tsx";
import { type AdminEnv, queryInt, websiteOf } from "../context.ts";
import { BASE, fmt, Layout } from "../layout.tsx";

/** Knowledge gaps: questions operators did not take quill's answer for, grouped by shared words. */
export function createGapsApp(deps: { store: Store; clock: Clock }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/gaps", async (c) => {
    const days = queryInt(c.req.query("days"), 30, 365);
    if (days === undefined) return c.text("days: expected a whole number from 1 to 365.", 400);
    const groups = findGaps(
      await deps.store.gapCandidates({
        websiteId: websiteOf(c, c.req.query("website")),
        since: deps.clock.now() - days * 86_400_000,
      }),
    );
    return c.html(
      <Layout title="Knowledge gaps" current="gaps" csrf={c.get("csrf")}>
        <h1>Knowledge gaps</h1>
        <p>
          {`Questions from the last ${days} days whose drafts were rejected, ignored, rewritten, or handed over
          with no matching article, grouped by the words they share. Each group is an article worth writing.`}
        </p>
        {groups.length === 0 ? <p>No gaps: every question found an article operators accepted.</p> : null}
        <Table head={["Topic", "Questions", "Why", "Examples", "Last seen"]}>
          {groups.map((g) => (
            <tr>
              <td>{g.topic.join(", ")}</td>
              <td>{g.count}</td>
              <td>
                {Object.entries(g.reasons)
                  .map(([reason, n]) => `${reason} ${n}`)
                  .join(", ")}
              </td>
              <td>
                <ul>
                  {g.questions.map((q, i) => (
                    <li>
                      <a href={`${BASE}/drafts/${g.draftIds[i] ?? ""}`}>{q}</a>
                    </li>
                  ))}
                </ul>
              </td>
              <td>{fmt.time(g.lastAt)}</td>
            </tr>
          ))}
        </Table>
      </Layout>,
    );
  });
  return app;
}
