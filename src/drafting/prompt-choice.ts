import { ConfigError } from "../config.ts";
import type { WebsiteDirectory } from "../websites.ts";
import { PromptError, type PromptTemplate, parsePrompt, pickVariant } from "./prompt.ts";

/** The prompt files of PROMPTS_DIR, and which one a conversation drafts with (its website's, or its A/B variant). */

export interface PromptVariant {
  name: string;
  weight: number;
}

/** Parses every prompt file; a bad one, or a variant without its file, is a configuration fault. */
export async function loadPrompts(
  files: Array<{ name: string; content: string }>,
  options: { promptsDir: string; variants: PromptVariant[] },
) {
  const templates = new Map<string, PromptTemplate>();
  for (const file of files) {
    if (!file.name.endsWith(".md")) continue;
    try {
      const path = `${options.promptsDir.replace(/\/+$/, "")}/${file.name}`;
      templates.set(file.name.replace(/\.md$/, ""), await parsePrompt(path, file.content));
    } catch (error) {
      // Named like a bad RULES_FILE.
      if (error instanceof PromptError) throw new ConfigError([`PROMPTS_DIR: ${error.message}`]);
      throw error;
    }
  }
  for (const v of options.variants) {
    if (!templates.has(v.name))
      throw new ConfigError([`PROMPT_VARIANTS: no prompt file ${v.name}.md in ${options.promptsDir}`]);
  }
  const template = templates.get(options.variants[0]?.name ?? "default");
  if (!template) throw new ConfigError([`PROMPTS_DIR: no default.md in ${options.promptsDir}`]);
  return { templates, template };
}

/** A website's own prompt wins over the process-wide A/B split. */
export function createPromptChoice(options: {
  templates: Map<string, PromptTemplate>;
  template: PromptTemplate;
  variants: PromptVariant[];
  websites: WebsiteDirectory;
}) {
  const { templates, template, variants } = options;
  return async (websiteId: string, sessionId: string) => {
    const own = (await options.websites.get(websiteId))?.prompt;
    const chosen = own ? templates.get(own) : undefined;
    if (chosen) return { template: chosen };
    const variant = pickVariant(sessionId, variants);
    return variant
      ? { template: templates.get(variant.name) ?? template, variant: variant.name }
      : { template };
  };
}
