import { Hono } from "hono";
import type { Store } from "../../../store/store.ts";
import { Table, triageResults } from "../components.tsx";
import { type AdminEnv, websiteOf } from "../context.ts";
import { BASE, fmt, Layout } from "../layout.tsx";

/** The latest rule firings, each with the result of its actions. */
export function createTriageApp(deps: { store: Store }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/triage", async (c) => {
    const runs = await deps.store.listTriageRuns({
      websiteId: websiteOf(c, c.req.query("website")),
      limit: 200,
    });
    return c.html(
      <Layout title="Triage" current="triage" csrf={c.get("csrf")}>
        <h1>Triage</h1>
        <p>The latest rule firings (RULES_FILE, or a website's own rules), with the result of each action.</p>
        {runs.length === 0 ? <p>No rule has fired yet.</p> : null}
        <Table head={["When", "Conversation", "Phase", "Rules", "Actions"]}>
          {runs.map((run) => (
            <tr>
              <td>{fmt.time(run.createdAt)}</td>
              <td>
                {run.draftId ? <a href={`${BASE}/drafts/${run.draftId}`}>{run.sessionId}</a> : run.sessionId}
              </td>
              <td>{run.phase === "before" ? "before drafting" : "on the draft"}</td>
              <td>{run.rules.join(", ")}</td>
              <td>{triageResults(run)}</td>
            </tr>
          ))}
        </Table>
      </Layout>,
    );
  });
  return app;
}
