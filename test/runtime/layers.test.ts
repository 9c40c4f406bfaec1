import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { sourceFiles, src } from "./sources.ts";

/**
 * The layers of ARCHITECTURE.md's diagram, lowest first. A module may import from its own
 * area or from a lower layer only, never from a sibling area of its layer or from above, so
 * the import graph has no cycles between areas and a newcomer reads it bottom-up.
 */
const LAYERS: Array<Record<string, string[]>> = [
  {
    foundation: ["abort.ts", "clock.ts", "crypto.ts", "log.ts", "metrics.ts", "outbound.ts", "stats.ts"],
    language: ["language/"],
    types: ["types/"],
  },
  { config: ["config.ts", "config-schema.ts"] },
  { crisp: ["crisp/"], store: ["store/"] },
  { knowledge: ["knowledge/"] },
  { llm: ["llm/"] },
  { jobs: ["jobs/"], triage: ["triage/"], privacy: ["privacy.ts"] },
  { websites: ["websites.ts"], sync: ["sync/"] },
  { drafting: ["drafting/"] },
  { shadow: ["shadow/"], eval: ["eval/"] },
  { "http basics": ["http/errors.ts", "http/headers.ts"] },
  { mcp: ["mcp/"], sandbox: ["sandbox/"] },
  { http: ["http/"] },
  { composition: ["services.ts", "services-core.ts", "services-http.ts"] },
  { runtime: ["runtime/"] },
];

/** The area and layer of a file under src/: the longest path prefix that names it. */
function placeOf(file: string): { area: string; layer: number } | undefined {
  const path = relative(src, file);
  let best: { area: string; layer: number; length: number } | undefined;
  LAYERS.forEach((areas, layer) => {
    for (const [area, prefixes] of Object.entries(areas))
      for (const prefix of prefixes)
        if (
          (path === prefix || (prefix.endsWith("/") && path.startsWith(prefix))) &&
          prefix.length > (best?.length ?? 0)
        )
          best = { area, layer, length: prefix.length };
  });
  return best && { area: best.area, layer: best.layer };
}

/** Every import, re-export and dynamic import of a relative path, types included. */
function importsOf(text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles.map((i) => i.fileName).filter((name) => name.startsWith("."));
}

const fromDisk = (file: string) => readFileSync(file, "utf8");

function violations(files: string[], read = fromDisk): string[] {
  return files.flatMap((file) => {
    const from = placeOf(file);
    if (!from) return [`${relative(src, file)}: in no layer (add its folder to LAYERS and ARCHITECTURE.md)`];
    return importsOf(read(file)).flatMap((spec) => {
      const target = resolve(dirname(file), spec);
      const to = placeOf(target);
      if (!to || to.area === from.area || to.layer < from.layer) return [];
      const why = to.layer === from.layer ? "a sibling in its layer" : "a higher layer";
      return [`${relative(src, file)} (${from.area}) imports ${relative(src, target)} (${to.area}): ${why}`];
    });
  });
}

describe("layers", () => {
  it("every module imports from its own area or a lower layer only", () => {
    const files = sourceFiles(src, /\.tsx?$/);
    expect(files.length).toBeGreaterThan(100);
    expect(violations(files)).toEqual([]);
  });

  it("names an import from above, one from a sibling, a dynamic one, and a file in no layer", () => {
    const fakes: Record<string, string> = {
      "store/fake.ts":
        '// import from "../drafting/deps.ts" in a comment is no finding\nimport { x } from "../drafting/deps.ts";',
      "crisp/fake.ts": 'import type { Store } from "../store/store.ts";',
      "llm/fake.ts": 'export { x } from "../knowledge/kb.ts"; const m = await import("../jobs/runner.ts");',
      "newarea/fake.ts": "",
    };
    const files = Object.keys(fakes).map((path) => join(src, path));
    const found = violations(files, (file) => fakes[relative(src, file)] ?? "");
    expect(found).toEqual([
      "store/fake.ts (store) imports drafting/deps.ts (drafting): a higher layer",
      "crisp/fake.ts (crisp) imports store/store.ts (store): a sibling in its layer",
      "llm/fake.ts (llm) imports jobs/runner.ts (jobs): a higher layer",
      "newarea/fake.ts: in no layer (add its folder to LAYERS and ARCHITECTURE.md)",
    ]);
  });
});
