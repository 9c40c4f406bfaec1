// Bundles src/ for `npm start` and the CLI tests: dist/quill.mjs plus one chunk per lazily
// imported command, so `quill --help` or `quill export` loads only what it runs. Old chunks
// are left in place: a running quill may still import one.
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export async function buildQuill(root = fileURLToPath(new URL("..", import.meta.url))) {
  await build({
    absWorkingDir: root,
    entryPoints: { quill: "src/runtime/main.ts" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    splitting: true,
    outdir: "dist",
    chunkNames: "chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildQuill();
