import { isNode, LineCounter, parseDocument } from "yaml";
import { z } from "zod";

/**
 * Triage rules: an ordered list of `when` conditions → `then` actions, read from YAML or
 * JSON (JSON is YAML). Within `when` every condition must hold; a list means any of its
 * values. The first rule that fires ends the evaluation unless it says `continue: true`.
 *
 * Rules that look at the draft's intent or language can only be decided once the model has
 * answered; the walk before drafting stops at the first such rule, so order is kept. Rules
 * on the visitor's people profile pause the walk until the caller has read it.
 */

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time "HH:MM"');
const oneOrMany = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]));
const scalars = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

const whenSchema = z.strictObject({
  intent: oneOrMany.optional(),
  language: oneOrMany.optional(),
  /** The conversation carries any of these segments. */
  segments: oneOrMany.optional(),
  /** Conversation data (meta.data) equals these values. */
  data: scalars.optional(),
  /** The visitor's people profile carries any of these segments (e.g. set by the CRM). */
  visitorSegments: oneOrMany.optional(),
  /** The visitor's people profile data equals these values. */
  visitorData: scalars.optional(),
  emailDomain: oneOrMany.optional(),
  /** Any of these words or phrases in the customer's messages (case-insensitive, whole words). */
  keywords: oneOrMany.optional(),
  /** true: inside business hours; false: outside. */
  businessHours: z.boolean().optional(),
  /** Conversation meta fields (nickname, email, origin, subject, ...) equal these values. */
  meta: scalars.optional(),
});

const thenSchema = z
  .strictObject({
    /** An operator's email (or Crisp user id): the conversation is routed to them. */
    assign: z.string().min(1).optional(),
    addSegments: oneOrMany.optional(),
    setData: scalars.optional(),
    setState: z.enum(["pending", "unresolved", "resolved"]).optional(),
    skipDraft: z.boolean().optional(),
    forceNote: z.boolean().optional(),
  })
  .refine((t) => Object.keys(t).length > 0, "a rule needs at least one action");

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  when: whenSchema.default({}),
  // biome-ignore lint/suspicious/noThenProperty: the file's own word; an object, so never a thenable
  then: thenSchema,
  continue: z.boolean().default(false),
});

const rulesFileSchema = z.strictObject({
  /** IANA time zone for business hours, e.g. Europe/Paris. */
  timezone: z
    .string()
    .default("UTC")
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat("en", { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, "unknown time zone"),
  businessHours: z
    .strictObject({
      days: z.array(z.enum(DAYS)).min(1).default(["mon", "tue", "wed", "thu", "fri"]),
      from: time.default("09:00"),
      to: time.default("18:00"),
    })
    .refine((h) => h.from < h.to, '"from" must be before "to"')
    .default({ days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "18:00" }),
  rules: z.array(ruleSchema),
});

export type RulesFile = z.infer<typeof rulesFileSchema>;
export type Rule = RulesFile["rules"][number];
export type RuleActions = Rule["then"];

export class RulesError extends Error {
  constructor(
    readonly source: string,
    readonly problems: Array<{ line: number; column: number; message: string }>,
  ) {
    super(
      `${source}: invalid rules\n${problems.map((p) => `  line ${p.line}, column ${p.column}: ${p.message}`).join("\n")}`,
    );
    this.name = "RulesError";
  }
}

/** Parses and validates a rules file; every problem names its line and column. */
export function parseRules(text: string, source = "rules"): RulesFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    throw new RulesError(
      source,
      doc.errors.map((e) => ({ ...at(e.pos[0]), message: e.message.split("\n")[0] ?? e.message })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // e.g. an alias to an anchor that does not exist, or too many aliases
    throw new RulesError(source, [{ line: 1, column: 1, message: (error as Error).message }]);
  }
  const result = rulesFileSchema.safeParse(value);
  if (result.success) return result.data;
  throw new RulesError(
    source,
    result.error.issues.map((issue) => {
      // The deepest node of the path that exists in the document carries the position.
      let offset = 0;
      for (let depth = issue.path.length; depth >= 0; depth--) {
        const node = doc.getIn(issue.path.slice(0, depth) as Array<string | number>, true);
        if (isNode(node) && node.range) {
          offset = node.range[0];
          break;
        }
      }
      const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
      return { ...at(offset), message: `${where}${issue.message}` };
    }),
  );
}

/** The visitor's people profile, as far as rules look at it. */
export interface Visitor {
  segments: string[];
  data: Record<string, unknown>;
}

/** What rules look at. Intent and language are known only once the model has answered. */
export interface TriageFacts {
  intent?: string | undefined;
  language?: string | undefined;
  segments: string[];
  data: Record<string, unknown>;
  email?: string | undefined;
  /** The customer's messages, newest last. */
  customerText: string;
  meta: Record<string, unknown>;
  now: number;
  /** undefined: not read yet (the walk pauses at the first rule that needs it); null: no profile. */
  visitor?: Visitor | null | undefined;
}

export interface Firing {
  rule: string;
  index: number;
  actions: RuleActions;
}

const needsDraft = (rule: Rule) => rule.when.intent !== undefined || rule.when.language !== undefined;

/** Which parts of the visitor's profile any rule of the file looks at. */
export function visitorParts(file: RulesFile): { segments: boolean; data: boolean } {
  return {
    segments: file.rules.some((r) => r.when.visitorSegments !== undefined),
    data: file.rules.some((r) => r.when.visitorData !== undefined),
  };
}

const lower = (values: string[]) => values.map((v) => v.toLowerCase());
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function withinHours(file: RulesFile, now: number): boolean {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: file.timezone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(new Date(now))
      .map((p) => [p.type, p.value]),
  );
  const day = String(parts.weekday).toLowerCase().slice(0, 3) as (typeof DAYS)[number];
  const clock = `${parts.hour}:${parts.minute}`;
  const hours = file.businessHours;
  return hours.days.includes(day) && clock >= hours.from && clock < hours.to;
}

const equalAll = (expected: Record<string, unknown>, actual: Record<string, unknown>) =>
  Object.entries(expected).every(([k, v]) => String(actual[k] ?? "") === String(v));

/** "visitor": every other condition holds, and the profile is needed but not read yet. */
function matches(file: RulesFile, rule: Rule, facts: TriageFacts): boolean | "visitor" {
  const w = rule.when;
  if (w.intent && !lower(w.intent).includes((facts.intent ?? "").toLowerCase())) return false;
  if (w.language) {
    const lang = (facts.language ?? "").toLowerCase().slice(0, 2);
    if (!lower(w.language).some((l) => l.slice(0, 2) === lang)) return false;
  }
  if (w.segments) {
    const have = lower(facts.segments);
    if (!lower(w.segments).some((s) => have.includes(s))) return false;
  }
  if (w.data && !equalAll(w.data, facts.data)) return false;
  if (w.emailDomain) {
    const domain = (facts.email ?? "").toLowerCase().split("@")[1] ?? "";
    if (!lower(w.emailDomain).some((d) => domain === d.replace(/^@/, "") || domain.endsWith(`.${d}`)))
      return false;
  }
  if (w.keywords) {
    const text = facts.customerText;
    if (
      !w.keywords.some((k) =>
        new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(k)}($|[^\\p{L}\\p{N}])`, "iu").test(text),
      )
    )
      return false;
  }
  if (w.businessHours !== undefined && withinHours(file, facts.now) !== w.businessHours) return false;
  if (w.meta && !equalAll(w.meta, facts.meta)) return false;
  // Last, so the profile is read only for a rule that could fire on it.
  if (w.visitorSegments || w.visitorData) {
    if (facts.visitor === undefined) return "visitor";
    if (facts.visitor === null) return false;
    const have = lower(facts.visitor.segments);
    if (w.visitorSegments && !lower(w.visitorSegments).some((s) => have.includes(s))) return false;
    if (w.visitorData && !equalAll(w.visitorData, facts.visitor.data)) return false;
  }
  return true;
}

/**
 * Walks the rules in order from `from`. Before drafting (`facts.intent` undefined) the walk
 * stops at the first rule that needs the draft; `next` says where the second walk starts
 * (undefined when evaluation is over). With `facts.visitor` not read, the walk stops at the
 * first rule that needs it: `visitorAt` says where to resume once it is.
 */
export function evaluate(
  file: RulesFile,
  facts: TriageFacts,
  phase: "before" | "after",
  from = 0,
): { fired: Firing[]; next: number | undefined; visitorAt?: number } {
  const fired: Firing[] = [];
  for (let index = from; index < file.rules.length; index++) {
    const rule = file.rules[index] as Rule;
    if (phase === "before" && needsDraft(rule)) return { fired, next: index };
    const matched = matches(file, rule, facts);
    if (matched === "visitor") return { fired, next: undefined, visitorAt: index };
    if (!matched) continue;
    fired.push({ rule: rule.name, index, actions: rule.then });
    if (!rule.continue) return { fired, next: undefined };
  }
  return { fired, next: undefined };
}

/** Folds the actions of every fired rule, later rules adding to (or overriding) earlier ones. */
export function combine(fired: Firing[]): RuleActions {
  const out: RuleActions = {};
  for (const { actions } of fired) {
    if (actions.assign) out.assign = actions.assign;
    if (actions.addSegments)
      out.addSegments = [...new Set([...(out.addSegments ?? []), ...actions.addSegments])];
    if (actions.setData) out.setData = { ...out.setData, ...actions.setData };
    if (actions.setState) out.setState = actions.setState;
    if (actions.skipDraft) out.skipDraft = true;
    if (actions.forceNote) out.forceNote = true;
  }
  return out;
}
