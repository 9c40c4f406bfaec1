import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { verifyWebhook } from "../../src/crisp/webhook.ts";
import { banner } from "../../src/runtime/cli/start.ts";
import { type QuillHandle, startQuill } from "../../src/runtime/node.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { createStore } from "../../src/store/store.ts";

/** The `quill` command as a shell user meets it: version, pipes, exit codes and their messages. */

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;
const stack = /\n\s+at /;

async function quill(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ["dist/quill.mjs", ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "silent", ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const tempDb = () => join(mkdtempSync(join(tmpdir(), "quill-cli-")), "q.db");

/** Real Crisp settings aimed at a closed port: every Crisp call fails. */
const unreachableCrisp = {
  // Refused at once, and not retried: the test is about the error line, not the backoff.
  CRISP_MAX_RETRIES: "0",
  CRISP_API_URL: "http://127.0.0.1:9/v1",
  CRISP_IDENTIFIER: "identifier",
  CRISP_KEY: "key",
  CRISP_WEBSITE_ID: "website",
  CRISP_WEBHOOK_SECRET: "0123456789abcdef0123456789abcdef",
  ADMIN_TOKEN: "0123456789abcdef0123456789abcdef-admin",
  SESSION_SECRET: "0123456789abcdef0123456789abcdef-session",
  CRISP_TIMEOUT_MS: "2000",
};

describe("quill, the command", () => {
  it("prints the package version for --version and -v, bundled and through bin/quill.js", async () => {
    const [long, short, sources] = await Promise.all([
      quill(["--version"]),
      quill(["-v"]),
      run(process.execPath, ["bin/quill.js", "--version"], { cwd: root }),
    ]);
    expect(long).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(short).toMatchObject({ code: 0, stdout: `${version}\n` });
    // `npx quill` runs the TypeScript sources through tsx, with no build step.
    expect(sources.stdout).toBe(`${version}\n`);
  }, 60_000);

  it("`quill export | head -1` ends quietly when the reader goes away", async () => {
    const db = tempDb();
    const database = openSqlite(db);
    database.migrate();
    const store = createStore(database.db);
    // Well over a pipe's 64 KiB, so quill is still writing when head exits.
    for (let i = 0; i < 400; i++) {
      const { job } = await store.enqueueJob({
        websiteId: "w",
        sessionId: `s${i}`,
        fingerprint: i,
        messageAt: 1,
        trigger: "webhook",
        runAfter: 0,
      });
      await store.insertDraft({
        jobId: job.id,
        websiteId: "w",
        sessionId: `s${i}`,
        customerFingerprint: i,
        text: "A long reply. ".repeat(40),
        mode: "note",
        status: "posted",
      });
    }
    database.close();
    const { stdout, stderr } = await run(
      "bash",
      ["-c", 'node dist/quill.mjs export | head -1; echo "quill exited $PIPESTATUS" >&2'],
      { cwd: root, env: { PATH: process.env.PATH ?? "", DATABASE_PATH: db }, timeout: 60_000 },
    );
    expect(stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(stdout)).toMatchObject({ websiteId: "w", status: "posted" });
    expect(stderr).toContain("quill exited 0");
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
  }, 60_000);

  it("exits 78 on a config error in every command, website included, naming the variable", async () => {
    const results = await Promise.all(
      [["website", "list"], ["migrate"], ["privacy", "export", "--email", "a@b.c"]].map((args) =>
        quill(args, { DATABASE_PATH: tempDb(), PORT: "eighty" }),
      ),
    );
    for (const result of results) {
      expect(result.code).toBe(78);
      expect(result.stderr).toMatch(/PORT: expected an integer/);
      expect(result.stderr).not.toMatch(stack);
    }
  }, 60_000);

  it("names DATABASE_PATH when a one-shot command cannot open it, and --out when it cannot write", async () => {
    const [gaps, out] = await Promise.all([
      quill(["gaps"], { DATABASE_PATH: "/dev/null/quill.db" }),
      quill(["export", "--out", "/dev/null/drafts.jsonl"], { DATABASE_PATH: tempDb() }),
    ]);
    expect(gaps.code).toBe(78);
    expect(gaps.stderr).toMatch(/DATABASE_PATH: cannot open \/dev\/null\/quill\.db/);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/quill export: --out: cannot write \/dev\/null\/drafts\.jsonl/);
    for (const r of [gaps, out]) expect(r.stderr).not.toMatch(stack);
  }, 60_000);

  it("exits 2 on a bad option value, and 1 with one line (stack only with QUILL_DEBUG=1) on anything unexpected", async () => {
    const env = { DATABASE_PATH: tempDb(), ...unreachableCrisp };
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, "127.0.0.1", done));
    const port = String((busy.address() as AddressInfo).port);
    const [usage, sandbox, failed, debug] = await Promise.all([
      quill(["gaps", "--days", "soon"], env),
      quill(["sandbox", "--port", port], { HOST: "127.0.0.1" }),
      quill(["draft", "session_1"], env),
      // A database of its own: two processes migrating one new file at once can find it locked.
      quill(["draft", "session_1"], { ...env, DATABASE_PATH: tempDb(), QUILL_DEBUG: "1" }),
    ]);
    expect(usage).toMatchObject({
      code: 2,
      stderr: 'quill gaps: --days: expected a positive integer, got "soon"\n',
    });
    busy.close();
    expect(sandbox).toMatchObject({
      code: 2,
      stderr: `quill sandbox: --port: ${port} is already in use; pick another --port\n`,
    });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /^quill draft: Crisp GET \/website\/website\/conversation\/session_1\/messages failed: .*\(QUILL_DEBUG=1 shows the stack trace\)\n$/,
    );
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(stack);
  }, 60_000);
});

describe("quill sandbox", () => {
  it("delivers each visitor message, in order, as a signed web hook to --webhook-url", async () => {
    const hooks: Array<{ body: string; headers: IncomingMessage["headers"] }> = [];
    const receiver = createHttpServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        hooks.push({ body, headers: request.headers });
        response.end("ok");
      });
    });
    await new Promise<void>((done) => receiver.listen(0, "127.0.0.1", done));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const child = spawn(
      process.execPath,
      ["dist/quill.mjs", "sandbox", "--port", "0", "--webhook-url", hookUrl],
      {
        cwd: root,
        env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "silent", HOST: "127.0.0.1" },
      },
    );
    try {
      const banner = await new Promise<string>((done, fail) => {
        let out = "";
        child.stdout.on("data", (chunk) => {
          out += chunk;
          if (out.includes("web hooks →")) done(out);
        });
        child.once("exit", (code) => fail(new Error(`quill sandbox exited with ${code}: ${out}`)));
      });
      const base = /Crisp sandbox on (http:\/\/\S+)/.exec(banner)?.[1];
      for (const text of ["Where is my order?", "It was due on Monday."]) {
        const said = await fetch(`${base}/_sandbox/visitor`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text, session_id: "session_cli_hooks" }),
        });
        expect(said.status).toBe(200);
        await vi.waitUntil(() => hooks.filter((h) => h.body.includes(text)).length === 1, { timeout: 5_000 });
      }
      // The seeded conversations' hooks come too; these are the two messages of this one.
      const sent = hooks.filter((h) => {
        const body = JSON.parse(h.body);
        return body.event === "message:send" && body.data.session_id === "session_cli_hooks";
      });
      expect(sent.map((h) => JSON.parse(h.body).data.content)).toEqual([
        "Where is my order?",
        "It was due on Monday.",
      ]);
      for (const hook of sent) {
        const verified = await verifyWebhook({
          rawBody: hook.body,
          header: (name) => hook.headers[name.toLowerCase()] as string | undefined,
          urlKey: undefined,
          secret: DEMO_CREDENTIALS.webhookSecret,
          toleranceSeconds: 300,
          now: Date.now(),
        });
        expect(verified).toEqual({ ok: true, via: "signature" });
      }
    } finally {
      child.kill();
      receiver.closeAllConnections();
      receiver.close();
    }
  }, 30_000);
});

describe("quill draft in demo mode", () => {
  it("drafts a conversation of the running demo's sandbox, with no Crisp credentials", async () => {
    const db = tempDb();
    let demo: QuillHandle | undefined;
    try {
      demo = await startQuill({
        env: { DATABASE_PATH: db, LOG_LEVEL: "silent", POLL_INTERVAL_SECONDS: "0" },
        port: 0,
        host: "127.0.0.1",
      });
      const said = demo.sandbox?.visitorSays({ text: "How do I return a pair of shoes that don't fit?" });
      const drafted = await quill(["draft", said?.sessionId ?? ""], {
        DATABASE_PATH: db,
        QUILL_URL: demo.url,
      });
      expect(drafted.stderr).toBe("");
      expect(drafted.code).toBe(0);
      expect(drafted.stdout).toMatch(/return/i);
      expect(drafted.stdout).toContain("not posted (dry run; --post to post it) · intent");
      // What `npm start` prints first: where to write as a visitor and where the dashboard is.
      expect(banner(demo)).toContain(`dashboard  ${demo.url}/admin/`);
      expect(banner(demo)).toContain(`inbox      ${demo.url}/sandbox/`);
    } finally {
      await demo?.stop();
    }
    const nobody = await quill(["draft", "session_1"], {
      DATABASE_PATH: db,
      QUILL_URL: "http://127.0.0.1:9",
    });
    expect(nobody.code).toBe(78);
    expect(nobody.stderr).toMatch(
      /QUILL_URL: no demo quill answers at http:\/\/127\.0\.0\.1:9 \(start it with `npm start`/,
    );
    expect(nobody.stderr).not.toMatch(stack);
  }, 90_000);
});
