import { Hono } from "hono";
import { eraseVisitor } from "../../../privacy.ts";
import type { Store } from "../../../store/store.ts";
import { ErrorNotice } from "../components.tsx";
import { type AdminContext, type AdminEnv, websiteOf } from "../context.ts";
import { BASE, Layout } from "../layout.tsx";

/**
 * A visitor's erasure request, by email: every row of their conversations goes (the same
 * as `quill privacy erase`). A website's session erases in its own website only.
 */

type Result = { email: string; conversations: number; counts: Record<string, number> } | { error: string };

function Erased(props: { result: Exclude<Result, { error: string }> }) {
  const { result } = props;
  return (
    <p class="flash" role="status">
      {result.conversations === 0
        ? `No conversation of ${result.email} is stored: nothing to erase.`
        : `Erased ${result.conversations} conversation(s) of ${result.email}: ${Object.entries(result.counts)
            .map(([table, n]) => `${n} ${table}`)
            .join(", ")}.`}
    </p>
  );
}

const page = (c: AdminContext, result?: Result) =>
  c.html(
    <Layout title="Privacy" current="privacy" csrf={c.get("csrf")}>
      <h1>Privacy</h1>
      <p>
        Erase what quill holds about one visitor: their conversations' web hook records, jobs, drafts,
        feedback, LLM calls and triage runs{c.get("scope") === "*" ? "" : " on this website"}. Crisp keeps its
        own copy of the conversation: delete the visitor in Crisp too. <code>quill privacy export</code>{" "}
        prints the same rows as JSON first, if the visitor asked for them.
      </p>
      {result && "error" in result ? (
        <ErrorNotice error={result.error} />
      ) : result ? (
        <Erased result={result} />
      ) : null}
      <form method="post" action={`${BASE}/privacy/erase`}>
        <input type="hidden" name="_csrf" value={c.get("csrf")} />
        <label>
          Visitor's email <input type="email" name="email" required autocomplete="off" />
        </label>
        <label>
          <input type="checkbox" name="confirm" value="yes" required /> Erase it all; this cannot be undone
        </label>
        <button type="submit">Erase</button>
      </form>
    </Layout>,
    result && "error" in result ? 400 : 200,
  );

export function createPrivacyApp(deps: { store: Store }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/privacy", (c) => page(c));
  app.post("/privacy/erase", async (c) => {
    const body = await c.req.parseBody();
    const email = typeof body.email === "string" ? body.email.trim() : "";
    if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320)
      return page(c, { error: "Enter the visitor's email address." });
    if (body.confirm !== "yes") return page(c, { error: "Tick the box to confirm the erasure." });
    const { sessions, counts } = await eraseVisitor(deps.store, { email, websiteId: websiteOf(c) });
    return page(c, { email, conversations: sessions.length, counts });
  });
  return app;
}
