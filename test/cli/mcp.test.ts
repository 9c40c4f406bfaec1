import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { serverSecret } from "../../src/http/admin/session.ts";
import { createMcpTokens } from "../../src/mcp/tokens.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createStore } from "../../src/store/store.ts";

/** `quill mcp token …` as an admin runs it: the printed token is the one the server accepts. */

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;

async function quill(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, ["dist/quill.mjs", ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function verify(path: string, token: string) {
  const database = openSqlite(path);
  try {
    const store = createStore(database.db);
    const tokens = createMcpTokens({ store, secret: serverSecret(store, undefined), now: Date.now });
    return await tokens.verify(token, "primary-website");
  } finally {
    database.close();
  }
}

describe("quill mcp token", () => {
  it("create prints the token once, list shows it without the token, revoke ends it", async () => {
    const db = join(mkdtempSync(join(tmpdir(), "quill-mcp-cli-")), "q.db");
    const env = { DATABASE_PATH: db };
    const created = await quill(
      ["mcp", "token", "create", "--name", "claude desktop", "--scopes", "read,draft", "--expires", "30d"],
      env,
    );
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^qmcp_[\w-]{40,}$/);
    expect(created.stderr).toMatch(/"claude desktop" for website \(primary\), scopes read,draft/);
    const who = await verify(db, token);
    expect(who?.name).toBe("claude desktop");
    expect([...(who?.scopes ?? [])]).toEqual(["read", "draft"]);
    expect(who?.websiteId).toBe("primary-website");

    const listed = await quill(["mcp", "token", "list"], env);
    expect(listed.stdout).toMatch(/claude desktop {2}live {2}website \(primary\) {2}scopes read,draft/);
    expect(listed.stdout).not.toContain(token);

    const again = await quill(
      ["mcp", "token", "create", "--name", "claude desktop", "--scopes", "read"],
      env,
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already named "claude desktop"/);

    expect((await quill(["mcp", "token", "revoke", "claude desktop"], env)).code).toBe(0);
    expect(await verify(db, token)).toBeUndefined();
    expect((await quill(["mcp", "token", "list"], env)).stdout).toMatch(/claude desktop {2}revoked/);
    const missing = await quill(["mcp", "token", "revoke", "claude desktop"], env);
    expect(missing.code).toBe(1);
  }, 30_000);

  it("bad input gets a clear error and a non-zero exit, not a stack trace", async () => {
    const db = join(mkdtempSync(join(tmpdir(), "quill-mcp-cli-")), "q.db");
    const [scope, expiry, stdio] = await Promise.all([
      quill(["mcp", "token", "create", "--name", "x", "--scopes", "read,admin"], { DATABASE_PATH: db }),
      quill(["mcp", "token", "create", "--name", "x", "--scopes", "read", "--expires", "soon"], {
        DATABASE_PATH: db,
      }),
      quill(["mcp"], { QUILL_URL: "http://127.0.0.1:9" }),
    ]);
    expect(scope).toMatchObject({ code: 2, stdout: "" });
    expect(scope.stderr).toMatch(/unknown scope admin/);
    expect(expiry.code).toBe(2);
    expect(expiry.stderr).toMatch(/--expires/);
    expect(stdio.code).toBe(78);
    expect(stdio.stderr).toMatch(/QUILL_MCP_TOKEN: required/);
    for (const r of [scope, expiry, stdio]) expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
