import { readdirSync } from "node:fs";
import { join } from "node:path";

export const src = new URL("../../src/", import.meta.url).pathname;

/** Every file under `dir` whose name matches `name`, outside the folders in `skip`. */
export function sourceFiles(dir: string, name: RegExp, skip: string[] = []): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return skip.includes(path) ? [] : sourceFiles(path, name, skip);
    return name.test(entry.name) ? [path] : [];
  });
}
