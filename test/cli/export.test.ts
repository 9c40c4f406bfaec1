import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createStore } from "../../src/store/store.ts";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;

async function seed(path: string) {
  const database = openSqlite(path);
  database.migrate();
  const store = createStore(database.db);
  const { job } = await store.enqueueJob({
    websiteId: "w",
    sessionId: "s",
    fingerprint: 1,
    messageAt: 1,
    trigger: "webhook",
    runAfter: 0,
  });
  const draft = await store.insertDraft({
    jobId: job.id,
    websiteId: "w",
    sessionId: "s",
    customerFingerprint: 1,
    text: "We will email ada@example.com about the refund.",
    mode: "note",
    status: "posted",
    needsHuman: true,
    context: {
      transcript: "Customer: write to [email 1]",
      query: "Can I get a refund for a gift card?",
      language: "en",
      visitor: { name: "Ada", email: "[email 1]", segments: [], data: {} },
    },
  });
  await store.insertFeedback({
    draftId: draft.id,
    websiteId: "w",
    sessionId: "s",
    kind: "rejected",
    reason: "we never refund gift cards",
  });
  database.close();
}

describe("quill export and quill gaps", () => {
  it("exports drafts with outcomes as JSONL, PII redacted unless asked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-export-"));
    const env = { ...process.env, DATABASE_PATH: join(dir, "q.db") };
    await seed(env.DATABASE_PATH);
    const { stdout, stderr } = await run("node", ["dist/quill.mjs", "export"], { cwd: root, env });
    const [record] = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(record).toMatchObject({
      draft: "We will email [email 1] about the refund.",
      outcome: "rejected",
      status: "posted",
    });
    expect(stdout).not.toContain("ada@example.com");
    expect(stderr).toContain("exported 1 draft(s), PII redacted");

    await run("node", ["dist/quill.mjs", "export", "--include-pii", "--out", join(dir, "all.jsonl")], {
      cwd: root,
      env,
    });
    expect(readFileSync(join(dir, "all.jsonl"), "utf8")).toContain("ada@example.com");

    const gaps = await run("node", ["dist/quill.mjs", "gaps"], { cwd: root, env });
    expect(gaps.stdout).toContain("1 × ");
    expect(gaps.stdout).toContain("Can I get a refund for a gift card?");
    expect(gaps.stdout).toContain("(rejected 1)");
  }, 60_000);
});
