import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { sourceFiles, src } from "./sources.ts";

/**
 * Everything outside src/runtime runs on Node and on Workers alike: it must not import a
 * runtime's packages or read the process. Comments are ignored; code and strings are not.
 */

const forbidden: Array<[RegExp, string]> = [
  [
    /(?:from|import)\s*\(?\s*["'](node:[^"']+|better-sqlite3|@hono\/node-server|cloudflare:[^"']+)["']/,
    "import",
  ],
  [/\brequire\s*\(/, "require"],
  [/\bprocess\s*\??\.\s*\w+/, "process"],
];

/** Blanks comments (keeping line numbers) so a doc comment saying "node:fs" is no finding. */
const withoutComments = (text: string) =>
  text.replace(
    /\/\*[\s\S]*?\*\/|(^|[^:"'`\\])\/\/.*$/gm,
    (match, before = "") => before + match.slice(before.length).replace(/[^\n]/g, " "),
  );

function boundaryViolations(files: string[]): string[] {
  return files.flatMap((file) =>
    withoutComments(readFileSync(file, "utf8"))
      .split("\n")
      .flatMap((line, i) =>
        forbidden
          .filter(([pattern]) => pattern.test(line))
          .map(([, what]) => `${relative(src, file)}:${i + 1}: ${what}`),
      ),
  );
}

describe("runtime boundary", () => {
  it("keeps Node and Workers packages, and the process, inside src/runtime", () => {
    const files = sourceFiles(src, /\.[cm]?[tj]sx?$/, [join(src, "runtime")]);
    expect(files.length).toBeGreaterThan(20);
    expect(boundaryViolations(files)).toEqual([]);
  });

  it("finds each kind of violation, and none in comments", () => {
    const file = join(mkdtempSync(join(tmpdir(), "quill-boundary-")), "bad.ts");
    writeFileSync(
      file,
      [
        "// node:fs and process.env in a comment are fine",
        'import { readFileSync } from "node:fs";',
        'import Database from "better-sqlite3";',
        'const { serve } = await import("@hono/node-server");',
        'import { env } from "cloudflare:workers";',
        "const key = process.env.CRISP_KEY;",
        'const x = require("fs"); /* process.argv */',
      ].join("\n"),
    );
    expect(boundaryViolations([file]).map((v) => v.replace(/^.*bad\.ts:/, ""))).toEqual([
      "2: import",
      "3: import",
      "4: import",
      "5: import",
      "6: process",
      "7: require",
    ]);
  });
});
