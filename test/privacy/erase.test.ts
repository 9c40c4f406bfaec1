import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import type { DraftEngine } from "../../src/llm/types.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { buildServices } from "../../src/services.ts";
import { inProcessFetch } from "../helpers.ts";

/**
 * `quill privacy export|erase` end to end: real web hooks, a real draft and an operator's
 * answer in a SQLite file, then the CLI. After an erase, no table holds the visitor and the
 * file's bytes do not either.
 */

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;
const GRACE = "grace.hopper@example.org";
const CARD = "4242 4242 4242 4242";
const ALAN = "alan.turing@example.org";

async function conversationsIn(path: string) {
  const sandbox = createSandbox({
    webhookUrls: ["http://quill.test/webhooks/crisp"],
    webhookRetryBaseMs: 1,
    fetch: async (input, init) => services.app.request(String(input), init),
  });
  const database = openSqlite(path, { groupCommit: true });
  database.migrate();
  const engine: DraftEngine = {
    async draft() {
      const usage = { inputTokens: 100, outputTokens: 10, cachedInputTokens: 0 };
      return {
        text: "We will send the refund confirmation to [email 1].",
        confidence: 0.9,
        intent: "refund",
        needsHuman: false,
        citations: [],
        usage,
        model: "gpt-4o-mini",
        provider: "openai",
        attempts: [{ provider: "openai", model: "gpt-4o-mini", status: "ok", latencyMs: 5, usage }],
      };
    },
  };
  const services = await buildServices({
    // Shadow mode on: each draft's candidate row is the visitor's too.
    config: loadConfig({
      DATABASE_PATH: path,
      QUIET_PERIOD_MS: "0",
      PEOPLE_SYNC: "events",
      SHADOW_PROMPT: "default",
    }),
    db: database.db,
    durable: database.durable,
    clock: systemClock,
    log: silentLogger,
    kbFiles: [],
    promptFiles: [
      {
        name: "default.md",
        content: readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8"),
      },
    ],
    crisp: {
      apiUrl: "http://sandbox.test/v1",
      identifier: DEMO_CREDENTIALS.identifier,
      key: DEMO_CREDENTIALS.key,
      websiteId: sandbox.website.website_id,
      webhookSecret: DEMO_CREDENTIALS.webhookSecret,
    },
    fetch: inProcessFetch(sandbox.app),
    llm: engine,
    shadowLlm: engine,
  });
  const runAll = async () => {
    for (;;) {
      const [job] = await services.store.leaseJobs({ owner: "t", leaseMs: 60_000, limit: 1 });
      if (!job) return;
      await services.pipeline.run(job, "t", new AbortController().signal);
      await sandbox.flushWebhooks();
    }
  };
  const visit = async (email: string, text: string, answer: string) => {
    const said = sandbox.visitorSays({ text, nickname: email, email });
    await sandbox.flushWebhooks();
    await runAll();
    sandbox.operatorSays({ sessionId: said.sessionId, text: answer });
    await sandbox.flushWebhooks();
    await runAll();
    const people = sandbox.state.conversations.get(said.sessionId)?.people_id;
    if (!people) throw new Error("the sandbox gave the visitor no profile");
    return { sessionId: said.sessionId, peopleId: people };
  };
  const grace = await visit(
    GRACE,
    `My card ${CARD} was charged twice, please write to ${GRACE}`,
    `Refund done, the receipt goes to ${GRACE}`,
  );
  const alan = await visit(ALAN, "Where is my parcel?", `It ships today, ${ALAN}`);
  await database.durable();
  database.close();
  return { grace, alan };
}

/** Every row of every table, as text, and the bytes of every file of the database. */
function everything(dir: string, path: string) {
  const database = openSqlite(path);
  const tables = (
    database.sqlite
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
      .all() as Array<{ name: string }>
  ).map((t) => t.name);
  const rows = Object.fromEntries(
    tables.map((name) => [name, database.sqlite.prepare(`select * from "${name}"`).all()]),
  );
  database.close();
  const bytes = readdirSync(dir)
    .map((name) => readFileSync(join(dir, name)).toString("latin1"))
    .join("\n");
  return { tables, rows: JSON.stringify(rows), bytes };
}

describe("quill privacy export and erase", () => {
  it("exports every row of a visitor found by email, then erases them all, leaving the other visitor", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-erase-"));
    const path = join(dir, "quill.db");
    const { grace, alan } = await conversationsIn(path);
    const env = { ...process.env, DATABASE_PATH: path };

    const before = everything(dir, path);
    // The store holds Grace's email in clear (the draft restored for the operator, the operator's answer).
    expect(before.bytes).toContain(GRACE);
    expect(before.rows).toContain(grace.sessionId);
    expect(before.rows).toContain(grace.peopleId);

    const exported = await run(
      "node",
      ["dist/quill.mjs", "privacy", "export", "--email", GRACE.toUpperCase()],
      {
        cwd: root,
        env,
      },
    );
    const data = JSON.parse(exported.stdout) as {
      sessions: Array<{ sessionId: string }>;
      rows: Record<string, Array<Record<string, unknown>>>;
    };
    expect(data.sessions.map((s) => s.sessionId)).toEqual([grace.sessionId]);
    expect(data.rows.conversations).toMatchObject([{ sessionId: grace.sessionId, peopleId: grace.peopleId }]);
    expect(data.rows.drafts).toMatchObject([{ text: `We will send the refund confirmation to ${GRACE}.` }]);
    expect(data.rows.feedback).toMatchObject([
      { kind: "edited", finalText: `Refund done, the receipt goes to ${GRACE}` },
    ]);
    expect(data.rows.shadowDrafts).toMatchObject([{ sessionId: grace.sessionId, promptName: "default" }]);
    for (const table of ["inboxEvents", "jobs", "llmCalls"])
      expect(data.rows[table]?.length).toBeGreaterThan(0);
    expect(exported.stdout).not.toContain(alan.sessionId);

    // By the Crisp profile the same visitor is found.
    const byPeople = await run(
      "node",
      ["dist/quill.mjs", "privacy", "export", "--people-id", grace.peopleId],
      {
        cwd: root,
        env,
      },
    );
    expect(JSON.parse(byPeople.stdout).sessions).toEqual(data.sessions);

    const erased = await run("node", ["dist/quill.mjs", "privacy", "erase", "--email", GRACE], {
      cwd: root,
      env,
    });
    const result = JSON.parse(erased.stdout) as { conversations: number; erased: Record<string, number> };
    expect(result.conversations).toBe(1);
    expect(result.erased).toMatchObject({
      conversations: 1,
      drafts: 1,
      feedback: 1,
      llmCalls: 1,
      shadowDrafts: 1,
      jobs: data.rows.jobs?.length,
      inboxEvents: data.rows.inboxEvents?.length,
    });
    expect(erased.stderr).toContain("delete the visitor in Crisp too");

    const after = everything(dir, path);
    expect(after.tables).toEqual(
      expect.arrayContaining([
        "drafts",
        "feedback",
        "jobs",
        "inbox_events",
        "conversations",
        "shadow_drafts",
      ]),
    );
    for (const trace of [grace.sessionId, grace.peopleId, GRACE, CARD, "charged twice", "Refund done"]) {
      expect(after.rows).not.toContain(trace);
      expect(after.bytes).not.toContain(trace);
    }
    // Alan's conversation is all there.
    expect(after.rows).toContain(alan.sessionId);
    expect(after.bytes).toContain(ALAN);

    const again = await run("node", ["dist/quill.mjs", "privacy", "erase", "--email", GRACE], {
      cwd: root,
      env,
    });
    expect(JSON.parse(again.stdout).conversations).toBe(0);
    expect(again.stderr).toContain("nothing to erase");
  }, 60_000);

  it("explains its usage when no visitor or two are named", async () => {
    const fails = (args: string[]) =>
      run("node", ["dist/quill.mjs", "privacy", ...args], { cwd: root }).then(
        () => 0,
        (error: { code: number; stderr: string }) => {
          expect(error.stderr).toContain("quill privacy export (--email X | --people-id Y");
          return error.code;
        },
      );
    const codes = await Promise.all([
      fails(["erase"]),
      fails(["erase", "--email", "a@b.c", "--people-id", "p"]),
      fails(["forget", "--email", "a@b.c"]),
    ]);
    expect(codes).toEqual([2, 2, 2]);
  }, 30_000);
});
