import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Config, ConfigError } from "../config.ts";

// The folders and files the configuration names, read from disk on Node.

/** The markdown files of a folder (knowledge base, prompts). */
export function readMarkdown(dir: string) {
  const files = readdirSync(dir).filter((f) => f.endsWith(".md"));
  return files.map((name) => ({ name, content: readFileSync(join(dir, name), "utf8") }));
}

/** Changes when a markdown file of the folder is added, removed or edited: stats only, no reads. */
export function markdownStamp(dir: string) {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".md"))
    .map((name) => {
      const stat = statSync(join(dir, name));
      return `${name}:${stat.mtimeMs}:${stat.size}`;
    })
    .join("|");
}

/** A folder of markdown files the configuration names: a missing one is a config error, not a crash. */
export function readFolder(variable: string, dir: string) {
  try {
    return readMarkdown(resolve(dir));
  } catch (error) {
    throw new ConfigError([
      `${variable}: cannot read the folder ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    ]);
  }
}

/** The triage rules: RULES_FILE read from disk, or RULES inline. */
export function readRules(config: Config): { source: string; text: string } | undefined {
  const { rulesFile, rulesInline } = config.drafting;
  if (rulesInline) return { source: "RULES", text: rulesInline };
  if (!rulesFile) return undefined;
  try {
    return { source: rulesFile, text: readFileSync(resolve(rulesFile), "utf8") };
  } catch (error) {
    throw new ConfigError([`RULES_FILE: cannot read ${rulesFile} (${(error as Error).message})`]);
  }
}

/** What the services read from disk: the knowledge base, the prompts and the triage rules. */
export function configuredFiles(config: Config) {
  return {
    kbFiles: readFolder("KB_DIR", config.drafting.kbDir),
    promptFiles: readFolder("PROMPTS_DIR", config.drafting.promptsDir),
    loadKb: (dir: string) => readMarkdown(resolve(dir)),
    kbStamp: (dir: string) => markdownStamp(resolve(dir)),
    rules: readRules(config),
  };
}
