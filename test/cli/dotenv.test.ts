import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const bin = new URL("../../dist/quill.mjs", import.meta.url).pathname;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A working directory holding a .env, as after `cp .env.example .env`. */
function project(dotenv: string) {
  const dir = mkdtempSync(join(tmpdir(), "quill-dotenv-"));
  dirs.push(dir);
  writeFileSync(join(dir, ".env"), dotenv);
  return dir;
}

describe("quill reads ./.env", () => {
  it("applies the file's settings, while the environment wins over it", async () => {
    const cwd = project("# local settings\nDATABASE_PATH=./from-dotenv.db\nLOG_LEVEL=warn\n");
    const { DATABASE_PATH: _, ...env } = process.env;
    const fromFile = await run("node", [bin, "migrate"], { cwd, env });
    expect(fromFile.stdout).toContain("migrations applied to ./from-dotenv.db");
    expect(existsSync(join(cwd, "from-dotenv.db"))).toBe(true);

    const fromEnv = await run("node", [bin, "migrate"], { cwd, env: { ...env, DATABASE_PATH: "./env.db" } });
    expect(fromEnv.stdout).toContain("migrations applied to ./env.db");
  }, 60_000);

  it("fails at start with the variable's name when the file holds a bad value", async () => {
    const cwd = project("DATABASE_PATH=./q.db\nPORT=eighty\n");
    const { PORT: _, ...env } = process.env;
    const failed = await run("node", [bin, "migrate"], { cwd, env }).catch((error) => error);
    expect(failed.code).toBe(78);
    expect(failed.stderr).toMatch(/PORT: expected an integer/);
  }, 30_000);
});
