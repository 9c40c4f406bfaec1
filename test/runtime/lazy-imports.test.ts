import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { src } from "./sources.ts";

/**
 * What `quill start` loads before its first request. The MCP SDK (~10 MB of memory) and the
 * providers' SDKs load when first used (`await import(…)`): a static import of one from
 * anywhere on the start path would load it in every process, used or not.
 */

/** The relative files and the packages `file` imports statically (not `import type`, not `import()`). */
function staticImports(file: string): { files: string[]; packages: string[] } {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
  const names: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly)
      names.push((statement.moduleSpecifier as ts.StringLiteral).text);
    if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && !statement.isTypeOnly)
      names.push((statement.moduleSpecifier as ts.StringLiteral).text);
  }
  const files = names
    .filter((n) => n.startsWith("."))
    .map((n) => resolve(dirname(file), n))
    .filter((path) => existsSync(path));
  const packages = names
    .filter((n) => !n.startsWith(".") && !n.startsWith("node:"))
    .map((n) => (n.startsWith("@") ? n.split("/").slice(0, 2).join("/") : (n.split("/")[0] ?? n)));
  return { files, packages };
}

function loadedAtStart(entry: string) {
  const files = new Set<string>([entry]);
  const packages = new Set<string>();
  for (const file of files) {
    const found = staticImports(file);
    for (const next of found.files) files.add(next);
    for (const name of found.packages) packages.add(name);
  }
  return { files, packages };
}

describe("quill start", () => {
  const { files, packages } = loadedAtStart(resolve(src, "runtime/cli/start.ts"));

  it("reaches the MCP server's routes and the providers' chain, as the server runs them", () => {
    expect(files).toContain(resolve(src, "mcp/server.ts"));
    expect(files).toContain(resolve(src, "llm/providers.ts"));
    expect(packages).toContain("hono");
    expect(packages).toContain("better-sqlite3");
  });

  it("loads the MCP SDK and the providers' SDKs only when an agent or a provider first needs them", () => {
    for (const optional of [
      "@modelcontextprotocol/server",
      "@modelcontextprotocol/hono",
      "openai",
      "@anthropic-ai/sdk",
    ])
      expect(packages, optional).not.toContain(optional);
  });
});
