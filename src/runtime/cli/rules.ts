import { readFileSync } from "node:fs";
import { z } from "zod";
import { combine, evaluate, parseRules, RulesError, type RulesFile } from "../../triage/rules.ts";
import { factsOf } from "../../triage/triage.ts";

/** `quill rules check` and `quill rules test`: triage rules tried offline, no Crisp, no LLM. */

function load(path: string): { rules?: RulesFile; code: number } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    console.error(`quill rules: cannot read ${path} (${(error as Error).message})`);
    return { code: 2 };
  }
  try {
    return { rules: parseRules(text, path), code: 0 };
  } catch (error) {
    if (error instanceof RulesError) {
      console.error(error.message);
      return { code: 1 };
    }
    throw error;
  }
}

export function rulesCheckCommand(path: string): number {
  const { rules, code } = load(path);
  if (!rules) return code;
  console.log(
    `${path}: ${rules.rules.length} rule(s) OK (time zone ${rules.timezone}, business hours ${rules.businessHours.days.join(",")} ${rules.businessHours.from}-${rules.businessHours.to})`,
  );
  return 0;
}

/** A test conversation: Crisp-like meta and messages, plus what the draft would say. */
const conversationFile = z.object({
  meta: z
    .looseObject({
      email: z.string().optional(),
      segments: z.array(z.string()).optional(),
      data: z.record(z.string(), z.unknown()).optional(),
    })
    .default({}),
  messages: z
    .array(
      z.object({
        from: z.enum(["user", "operator"]).default("user"),
        type: z.string().default("text"),
        content: z.unknown(),
      }),
    )
    .default([]),
  /** The visitor's people profile, for visitorSegments / visitorData; absent: no profile. */
  visitor: z
    .object({
      segments: z.array(z.string()).default([]),
      data: z.record(z.string(), z.unknown()).default({}),
    })
    .optional(),
  intent: z.string().optional(),
  language: z.string().optional(),
  /** When the conversation happens (ISO date), for business hours; default now. */
  at: z.iso.datetime({ offset: true }).optional(),
});

export function rulesTestCommand(conversationPath: string, rulesPath: string | undefined): number {
  if (!rulesPath) {
    console.error("quill rules test: no rules file (pass --rules FILE or set RULES_FILE)");
    return 2;
  }
  const { rules, code } = load(rulesPath);
  if (!rules) return code;
  let input: z.infer<typeof conversationFile>;
  try {
    input = conversationFile.parse(JSON.parse(readFileSync(conversationPath, "utf8")));
  } catch (error) {
    const detail =
      error instanceof z.ZodError
        ? error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")
        : (error as Error).message;
    console.error(`quill rules test: ${conversationPath}: ${detail}`);
    return 2;
  }
  const now = input.at ? Date.parse(input.at) : Date.now();
  const conversation = { session_id: "test", website_id: "test", meta: input.meta };
  const messages = input.messages.map((m, i) => ({
    session_id: "test",
    website_id: "test",
    origin: "chat",
    fingerprint: i,
    timestamp: now,
    ...m,
  }));
  const visitor = input.visitor ?? null;
  const before = evaluate(rules, { ...factsOf(conversation, messages, now), visitor }, "before");
  const after =
    before.next === undefined
      ? { fired: [], next: undefined }
      : evaluate(
          rules,
          {
            ...factsOf(conversation, messages, now, { intent: input.intent, language: input.language }),
            visitor,
          },
          "after",
          before.next,
        );
  const fired = [...before.fired, ...after.fired];
  if (fired.length === 0) {
    console.log("no rule fired: quill drafts as usual");
    return 0;
  }
  for (const f of before.fired) console.log(`fired before drafting: #${f.index + 1} "${f.rule}"`);
  for (const f of after.fired)
    console.log(`fired on the draft (intent/language): #${f.index + 1} "${f.rule}"`);
  if (after.fired.length > 0 && (input.intent === undefined || input.language === undefined)) {
    console.log("(intent or language not given in the file: rules that need them saw none)");
  }
  const actions = combine(fired);
  console.log("actions:");
  if (actions.assign) console.log(`  assign to ${actions.assign}`);
  if (actions.addSegments) console.log(`  add segments ${actions.addSegments.join(", ")}`);
  if (actions.setData) console.log(`  set data ${JSON.stringify(actions.setData)}`);
  if (actions.setState) console.log(`  set state ${actions.setState}`);
  if (actions.skipDraft)
    console.log(before.fired.some((f) => f.actions.skipDraft) ? "  skip drafting" : "  withhold the draft");
  if (actions.forceNote) console.log("  force note mode");
  return 0;
}
