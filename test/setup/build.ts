// The CLI tests run the bundle `npm start` runs: a process starts in a fraction of the
// time tsx takes to load the TypeScript sources (bin/quill.js keeps one test of its own).
// @ts-expect-error a plain ESM build script, no declarations
import { buildQuill } from "../../scripts/build.mjs";

export default async function setup() {
  await buildQuill();
}
