/**
 * Builds the demo knowledge base (kb/*.md) from the ABCD agent handbook of a fictional
 * online clothing store (ASAPP Research, MIT licence, see kb/LICENSE): one article per
 * subflow. The customer answer, summary, aliases and example questions come from
 * scripts/kb-content/<flow>.yaml (written for customers from the handbook's facts); the
 * handbook's own steps and notes become the operator guidance, which is never sent.
 *
 *   npx tsx scripts/build-kb.ts [guidelines.json] [content-dir] [out-dir]
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { z } from "zod";

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

const contentSchema = z.array(
  z
    .object({
      subflow: z.string().min(1),
      summary: z.string().min(3),
      aliases: z.array(z.string().min(2)).min(1),
      questions: z.array(z.string().min(3)).min(3),
      // An FAQ's answer is an opening line and one part per topic it covers (kb/README.md).
      answer: z.string().min(3),
      parts: z
        .array(z.object({ topic: z.string().min(3), text: z.string().min(20) }))
        .min(2)
        .optional(),
    })
    .refine((c) => c.parts || c.answer.trim().length >= 20, {
      message: "an answer of at least 20 characters, or parts",
    }),
);
type Content = z.infer<typeof contentSchema>[number];

const ATTRIBUTION =
  "Source: Action-Based Conversations Dataset (ABCD), ASAPP Research, MIT licence (kb/LICENSE).";

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
  content: Content,
) {
  const id = `${slug(flow)}--${slug(subflow)}`;
  const meta = {
    id,
    title: `${subflow} (${flow})`,
    intent: slug(flow).replace(/-/g, "_"),
    topic: description,
    summary: content.summary,
    aliases: content.aliases,
    keywords: [flow, subflow].join(", "),
    questions: content.questions,
  };
  const lines = [
    "---",
    stringify(meta, { lineWidth: 0 }).trim(),
    "---",
    "",
    `# ${subflow}`,
    "",
    "## Answer",
    "",
    content.answer.trim(),
    "",
    ...(content.parts ?? []).flatMap((p) => [`### ${p.topic}`, "", p.text.trim(), ""]),
    "## Guidance",
    "",
    `Handbook steps for ${flow} (${description}) › ${subflow}:`,
    "",
  ];
  actions.forEach((a, i) => {
    lines.push(`${i + 1}. ${clean(a.text)}${a.button && a.button !== "N/A" ? ` (tool: ${a.button})` : ""}`);
    for (const sub of a.subtext) lines.push(`   - ${clean(sub)}`);
  });
  if (instructions.length > 0) lines.push("", ...instructions.map((l) => `- ${clean(l)}`));
  lines.push("", `_${ATTRIBUTION}_`, "");
  return { id, markdown: lines.join("\n") };
}

export function buildKb(guidelines: Guidelines, contentDir: string, outDir: string) {
  const content = new Map<string, Content>();
  for (const file of readdirSync(contentDir).filter((f) => f.endsWith(".yaml"))) {
    const flowSlug = file.replace(/\.yaml$/, "");
    for (const entry of contentSchema.parse(parseYaml(readFileSync(join(contentDir, file), "utf8"))))
      content.set(`${flowSlug}--${slug(entry.subflow)}`, entry);
  }
  mkdirSync(outDir, { recursive: true });
  for (const file of readdirSync(outDir))
    if (file.endsWith(".md") && file !== "README.md") rmSync(join(outDir, file));
  let count = 0;
  for (const [flow, { description, subflows }] of Object.entries(guidelines)) {
    for (const [subflow, { actions, instructions }] of Object.entries(subflows)) {
      const entry = content.get(`${slug(flow)}--${slug(subflow)}`);
      // Every article needs an answer written for customers: the handbook's steps are not one.
      if (!entry) throw new Error(`no customer content for "${flow} / ${subflow}" in ${contentDir}`);
      const { id, markdown } = articleFor(flow, description, subflow, actions, instructions ?? [], entry);
      writeFileSync(join(outDir, `${id}.md`), markdown);
      count++;
    }
  }
  return count;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const source = process.argv[2] ?? new URL("./abcd-guidelines.json", import.meta.url).pathname;
  const contentDir = process.argv[3] ?? new URL("./kb-content/", import.meta.url).pathname;
  const outDir = process.argv[4] ?? new URL("../kb/", import.meta.url).pathname;
  const count = buildKb(JSON.parse(readFileSync(source, "utf8")), contentDir, outDir);
  console.log(`wrote ${count} articles to ${outDir}`);
}
