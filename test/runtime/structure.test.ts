import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { sourceFiles, src } from "./sources.ts";

/** Small rooms: no source file over 400 lines and no function over 80, so each reads as one job. */

const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;
/** Generated, never edited by hand. */
const GENERATED = new Set(["runtime/worker-assets.ts"]);
interface Finding {
  where: string;
  lines: number;
}

/** Files over the limit, and every function (declaration, expression, arrow, method) over it. */
function measure(path: string, text: string): { fileLines: number; functions: Finding[] } {
  const file = ts.createSourceFile(
    path,
    text,
    ts.ScriptTarget.Latest,
    true,
    path.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const functions: Finding[] = [];
  const lineOf = (pos: number) => file.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = lineOf(node.getStart(file));
      const lines = lineOf(node.end) - start + 1;
      if (lines > MAX_FUNCTION_LINES) {
        const named = node.name ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name : undefined);
        const name = named ? named.getText(file) : "(anonymous)";
        functions.push({ where: `${path}:${start} ${name}`, lines });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { fileLines: text.split("\n").length, functions };
}

describe("structure", () => {
  const measured = sourceFiles(src, /(?<!\.d)\.tsx?$/)
    .map((file) => relative(src, file))
    .map((path) => ({ path, ...measure(path, readFileSync(join(src, path), "utf8")) }));

  it(`has no source file over ${MAX_FILE_LINES} lines, generated ones aside`, () => {
    expect(measured.length).toBeGreaterThan(100);
    const long = measured.filter((m) => !GENERATED.has(m.path) && m.fileLines > MAX_FILE_LINES);
    expect(long.map((m) => `${m.path}: ${m.fileLines} lines`)).toEqual([]);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = measured.flatMap((m) => m.functions);
    expect(long.map((f) => `${f.where}: ${f.lines} lines`)).toEqual([]);
  });

  it("finds a long arrow, method and function expression by name, and leaves short ones alone", () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join("\n");
    const text = [
      `export const arrow = () => {\n${body(80)}\n};`,
      `class C {\n  method() {\n${body(79)}\n  }\n}`,
      `const expr = function () {\n${body(79)}\n};`,
      `function short() {\n${body(78)}\n}`,
    ].join("\n");
    expect(measure("x.ts", text).functions.map((f) => `${f.where} ${f.lines}`)).toEqual([
      "x.ts:1 arrow 82",
      "x.ts:84 method 81",
      "x.ts:166 expr 81",
    ]);
  });
});
