/**
 * Builds the demo knowledge base (kb/*.md) from the ABCD agent handbook of a fictional
 * online clothing store (ASAPP Research, MIT licence, see kb/LICENSE):
 * one article per subflow, with front matter the offline drafter indexes.
 *
 *   npx tsx scripts/build-kb.ts [guidelines.json] [out-dir]
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

interface Action {
  type: string;
  button: string;
  text: string;
  subtext: string[];
}
type Guidelines = Record<
  string,
  { description: string; subflows: Record<string, { actions: Action[]; instructions?: string[] }> }
>;

const ATTRIBUTION =
  "Source: Action-Based Conversations Dataset (ABCD), ASAPP Research, MIT licence (kb/LICENSE).";

/** Lines about the handbook's own tooling, not about the store's policies. */
const HANDBOOK_MECHANICS =
  /click|button|toggle|\[|record an action|flow diagram|read through|copy\/paste|possible options are|decide which|system created|automated system|^communication$|swap out|survey|^remember the/i;

export const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

/** Handbook bullets use "> " to start sub-points; make them plain sentences. */
const clean = (s: string) =>
  s
    .replace(/\s*<or>\s*/g, "; or ")
    .replace(/\s*>\s*/g, " ")
    .replace(/\s+/g, " ")
    .trim();

export function articleFor(
  flow: string,
  description: string,
  subflow: string,
  actions: Action[],
  instructions: string[],
) {
  const id = `${slug(flow)}--${slug(subflow)}`;
  const policies = actions.filter((a) => a.type === "faq/policy" || a.type === "communication");
  const steps = actions.filter((a) => a.type !== "communication");
  const answer = policies
    .flatMap((a) => [a.text, ...a.subtext])
    .map(clean)
    .filter((line) => line && !HANDBOOK_MECHANICS.test(line));
  const lines = [
    "---",
    `id: ${id}`,
    `title: ${JSON.stringify(`${subflow} (${flow})`)}`,
    `intent: ${slug(flow).replace(/-/g, "_")}`,
    `topic: ${JSON.stringify(description)}`,
    `keywords: ${JSON.stringify([flow, subflow, description].join(", "))}`,
    "---",
    "",
    `# ${subflow}`,
    "",
    `Part of **${flow}**: ${description}.`,
    "",
  ];
  if (answer.length > 0) {
    lines.push("## Answer", "", ...answer.map((l) => `- ${l}`), "");
  }
  lines.push("## Steps for the agent", "");
  steps.forEach((a, i) => {
    lines.push(`${i + 1}. ${clean(a.text)}${a.button && a.button !== "N/A" ? ` (tool: ${a.button})` : ""}`);
    for (const sub of a.subtext) lines.push(`   - ${clean(sub)}`);
  });
  if (instructions.length > 0) lines.push("", "## Notes", "", ...instructions.map((l) => `- ${clean(l)}`));
  lines.push("", `_${ATTRIBUTION}_`, "");
  return { id, markdown: lines.join("\n") };
}

export function buildKb(guidelines: Guidelines, outDir: string) {
  mkdirSync(outDir, { recursive: true });
  for (const file of readdirSync(outDir))
    if (file.endsWith(".md") && file !== "README.md") rmSync(join(outDir, file));
  let count = 0;
  for (const [flow, { description, subflows }] of Object.entries(guidelines)) {
    for (const [subflow, { actions, instructions }] of Object.entries(subflows)) {
      const { id, markdown } = articleFor(flow, description, subflow, actions, instructions ?? []);
      writeFileSync(join(outDir, `${id}.md`), markdown);
      count++;
    }
  }
  return count;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const source = process.argv[2] ?? new URL("./abcd-guidelines.json", import.meta.url).pathname;
  const outDir = process.argv[3] ?? new URL("../kb/", import.meta.url).pathname;
  const count = buildKb(JSON.parse(readFileSync(source, "utf8")), outDir);
  console.log(`wrote ${count} articles to ${outDir}`);
}
