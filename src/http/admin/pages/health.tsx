import { Hono } from "hono";
import type { BreakerState } from "../../../llm/chain.ts";
import type { Store } from "../../../store/store.ts";
import { type AdminEnv, websiteOf } from "../context.ts";
import { fmt, Layout } from "../layout.tsx";

/** Job counts, provider breakers, conversations where quill is off, jobs that failed or gave up. */

const JOB_STATES = ["queued", "leased", "done", "skipped", "superseded", "failed", "dead"];

export function createHealthApp(deps: {
  store: Store;
  breakerStates: (websiteId?: string) => Promise<Record<string, BreakerState>>;
}): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/health", async (c) => {
    const websiteId = websiteOf(c, c.req.query("website"));
    const [counts, dead, failedForGood, paused] = await Promise.all([
      deps.store.countJobsByStatus(websiteId),
      deps.store.listJobs({ status: "dead", limit: 20, websiteId }),
      deps.store.listJobs({ status: "failed", limit: 20, websiteId }),
      deps.store.pausedConversations(websiteId, 50),
    ]);
    const failed = [...dead, ...failedForGood].sort((a, b) => b.updatedAt - a.updatedAt).slice(0, 20);
    const breakers = await deps.breakerStates(websiteId);
    return c.html(
      <Layout title="Health" current="health" csrf={c.get("csrf")}>
        <h1>Health</h1>
        <h2>Jobs</h2>
        <dl>
          {JOB_STATES.map((s) => (
            <>
              <dt>{s}</dt>
              <dd data-testid={`jobs-${s}`}>{counts[s] ?? 0}</dd>
            </>
          ))}
        </dl>
        <h2>LLM providers</h2>
        <dl>
          {Object.entries(breakers).map(([name, state]) => (
            <>
              <dt>{name}</dt>
              <dd>{state === "closed" ? "ok (breaker closed)" : `breaker ${state.replace("_", "-")}`}</dd>
            </>
          ))}
        </dl>
        <h2 id="paused">Conversations where quill is off</h2>
        {paused.length === 0 ? (
          <p>None. A /quill off note from an operator stops drafts in one conversation.</p>
        ) : (
          <>
            <p>No drafts here until an operator writes /quill on in the conversation.</p>
            <ul data-testid="paused">
              {paused.map((p) => (
                <li>{`${p.sessionId} · off since ${fmt.time(p.pausedAt ?? p.updatedAt)}${p.changedBy ? ` by ${p.changedBy}` : ""}${websiteId ? "" : ` · website ${p.websiteId}`}`}</li>
              ))}
            </ul>
          </>
        )}
        <h2>Jobs that failed or gave up</h2>
        {failed.length === 0 ? <p>None.</p> : null}
        <ul>
          {failed.map((j) => (
            <li>{`${fmt.time(j.updatedAt)} · ${j.sessionId} · ${j.status} after ${j.attempts} attempts · ${j.lastError ?? ""}`}</li>
          ))}
        </ul>
      </Layout>,
    );
  });
  return app;
}
