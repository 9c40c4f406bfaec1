import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/** `quill start` with a fault in its setup: a named variable, exit 78, no stack trace, no server left. */

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;

async function start(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "quill-start-"));
  try {
    await run(process.execPath, ["dist/quill.mjs", "start"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", DATABASE_PATH: join(dir, "q.db"), PORT: "0", ...env },
      // Generous: nine quill processes start at once on a shared machine.
      timeout: 60_000,
    });
    return { code: 0, stderr: "" };
  } catch (error) {
    const e = error as { code: number | null; killed: boolean; stderr: string };
    // Killed by the timeout: quill kept running instead of exiting.
    return { code: e.killed ? "still running" : e.code, stderr: e.stderr };
  }
}

describe("quill start refuses a broken setup clearly", () => {
  it("names the variable and exits 78 for each start-time fault", async () => {
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, "127.0.0.1", done));
    const port = (busy.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), "quill-start-"));
    writeFileSync(
      join(dir, "rules.yaml"),
      "rules:\n  - name: x\n    when: {}\n    then: [{ explode: true }]\n",
    );
    // A prompt folder whose default.md has a front matter line YAML cannot read.
    const prompts = join(dir, "prompts");
    mkdirSync(prompts);
    const template = readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8");
    writeFileSync(join(prompts, "default.md"), template.replace("name: default", "name: [default"));
    try {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ PORT: String(port), HOST: "127.0.0.1" }, /PORT: 127\.0\.0\.1:\d+ is already in use/],
        [{ DATABASE_PATH: "/dev/null/quill.db" }, /DATABASE_PATH: cannot open \/dev\/null\/quill\.db/],
        [{ KB_DIR: join(dir, "no-such-kb") }, /KB_DIR: cannot read the folder .*no-such-kb/],
        [{ PROMPTS_DIR: join(dir, "no-such-prompts") }, /PROMPTS_DIR: cannot read the folder/],
        [{ RULES_FILE: join(dir, "missing.yaml") }, /RULES_FILE: cannot read .*missing\.yaml/],
        [
          { RULES_FILE: join(dir, "rules.yaml") },
          /RULES_FILE: .*rules\.yaml: invalid rules\n\s+line 4, column 11/,
        ],
        [{ PROMPT_VARIANTS: "nope:50,default:50" }, /PROMPT_VARIANTS: no prompt file nope\.md/],
        [{ DATABASE_PATH: dir }, /DATABASE_PATH: cannot open /],
        [
          { PROMPTS_DIR: prompts },
          /PROMPTS_DIR: .*prompts\/default\.md: invalid prompt\n\s+line 4, column 1: front matter is not valid YAML/,
        ],
      ];
      const results = await Promise.all(cases.map(([env]) => start(env)));
      results.forEach((result, i) => {
        const [env, message] = cases[i] as [Record<string, string>, RegExp];
        expect({ env, code: result.code }).toEqual({ env, code: 78 });
        expect(result.stderr).toMatch(message);
        expect(result.stderr).not.toMatch(/\n\s+at /);
        // A failed demo start sends none of its sandbox's hooks into the void.
        expect(result.stderr).not.toMatch(/web hook gave up/);
      });
    } finally {
      busy.close();
    }
  }, 150_000);
});
