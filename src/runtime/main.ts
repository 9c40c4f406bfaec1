import { main } from "./cli/index.ts";

/** Entry of the bundle `npm start` runs (dist/quill.mjs): plain JavaScript, no TypeScript loader. */
process.exitCode = await main(process.argv.slice(2));
