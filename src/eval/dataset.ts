import { z } from "zod";
import type { DraftContextRecord } from "../store/schema.ts";

/**
 * Evaluation cases: a transcript up to a customer message, and what the operator actually
 * answered. From a JSONL file of conversations, the ABCD sample format, or the database.
 */

export interface EvalCase {
  id: string;
  transcript: string;
  /** The customer's words since the last agent message (for retrieval). */
  query: string;
  /** What the operator answered ("" when only the right article is known). */
  expected: string;
  /** The knowledge article that answers the question, for labelled question sets. */
  expectedArticle?: string | undefined;
  /** The article of a second question in the same message: citing it is not a mistake. */
  alsoArticle?: string | undefined;
  language: string;
  visitor: DraftContextRecord["visitor"];
}

export class DatasetError extends Error {}

const speaker = z.enum(["user", "customer", "visitor", "operator", "agent"]);
const conversationSchema = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  language: z.string().optional(),
  visitor: z.object({ name: z.string().optional(), email: z.string().optional() }).optional(),
  messages: z
    .array(z.object({ from: speaker, text: z.string() }))
    .min(2, "needs at least a customer message and an answer"),
});
export type EvalConversation = z.infer<typeof conversationSchema>;

const questionSchema = z.object({
  id: z.union([z.string(), z.number()]),
  question: z.string().min(1),
  article: z.string().min(1),
  also: z.string().min(1).optional(),
  language: z.string().optional(),
});

const describeIssue = (error: z.ZodError) => {
  const issue = error.issues[0];
  return `${issue?.path.join(".") || "conversation"}: ${issue?.message}`;
};

/** Turns one conversation into cases: every customer turn that an agent answered. */
export function casesFromConversation(conversation: EvalConversation, fallbackId: string): EvalCase[] {
  const id = String(conversation.id ?? fallbackId);
  const isCustomer = (from: string) => from === "user" || from === "customer" || from === "visitor";
  const messages = conversation.messages.filter((m) => m.text.trim());
  const cases: EvalCase[] = [];
  for (let i = 0; i < messages.length - 1; i++) {
    const current = messages[i];
    const next = messages[i + 1];
    if (!current || !next || !isCustomer(current.from) || isCustomer(next.from)) continue;
    const answer: string[] = [];
    for (let j = i + 1; j < messages.length && !isCustomer((messages[j] as { from: string }).from); j++) {
      answer.push((messages[j] as { text: string }).text);
    }
    let start = i;
    while (start > 0 && isCustomer((messages[start - 1] as { from: string }).from)) start--;
    cases.push({
      id: `${id}#${i}`,
      transcript: messages
        .slice(0, i + 1)
        .map((m) => `${isCustomer(m.from) ? "Customer" : "Agent"}: ${m.text.trim()}`)
        .join("\n"),
      query: messages
        .slice(start, i + 1)
        .map((m) => m.text)
        .join(" "),
      expected: answer.join("\n"),
      language: conversation.language ?? "en",
      visitor: {
        name: conversation.visitor?.name ?? "",
        email: conversation.visitor?.email ?? "",
        segments: [],
        data: {},
      },
    });
  }
  return cases;
}

/**
 * Parses a dataset file: JSONL (one conversation, or one labelled question
 * `{id, question, article}`, per line) or a JSON array of either
 * conversations or ABCD records (`original: [[speaker, text], …]`). Errors name the line.
 */
export function parseDataset(name: string, text: string): EvalCase[] {
  const trimmed = text.trim();
  if (!trimmed) throw new DatasetError(`${name}: the file is empty`);
  if (trimmed.startsWith("[")) {
    let records: unknown;
    try {
      records = JSON.parse(trimmed);
    } catch (error) {
      throw new DatasetError(`${name}: not valid JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(records)) throw new DatasetError(`${name}: expected an array of conversations`);
    return records.flatMap((record, index) => {
      const abcd = z
        .object({
          convo_id: z.union([z.string(), z.number()]),
          original: z.array(z.tuple([z.string(), z.string()])),
        })
        .safeParse(record);
      const conversation = abcd.success
        ? {
            id: abcd.data.convo_id,
            messages: abcd.data.original
              .filter(([who]) => who === "customer" || who === "agent")
              .map(([from, text]) => ({ from: from as "customer" | "agent", text })),
          }
        : record;
      const parsed = conversationSchema.safeParse(conversation);
      if (!parsed.success)
        throw new DatasetError(`${name}: item ${index + 1}: ${describeIssue(parsed.error)}`);
      return casesFromConversation(parsed.data, `item${index + 1}`);
    });
  }
  const cases: EvalCase[] = [];
  trimmed.split(/\r?\n/).forEach((line, index) => {
    if (!line.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new DatasetError(`${name}: line ${index + 1}: not valid JSON`);
    }
    if (json && typeof json === "object" && "question" in json) {
      const question = questionSchema.safeParse(json);
      if (!question.success)
        throw new DatasetError(`${name}: line ${index + 1}: ${describeIssue(question.error)}`);
      const q = question.data;
      cases.push({
        id: String(q.id),
        transcript: `Customer: ${q.question}`,
        query: q.question,
        expected: "",
        expectedArticle: q.article,
        ...(q.also ? { alsoArticle: q.also } : {}),
        language: q.language ?? "en",
        visitor: { name: "", email: "", segments: [], data: {} },
      });
      return;
    }
    const parsed = conversationSchema.safeParse(json);
    if (!parsed.success) throw new DatasetError(`${name}: line ${index + 1}: ${describeIssue(parsed.error)}`);
    cases.push(...casesFromConversation(parsed.data, `line${index + 1}`));
  });
  return cases;
}

/** Cases from recorded drafts whose operator answer is known (approved, sent, edited). */
export function casesFromDrafts(
  rows: Array<{ id: string; context: DraftContextRecord | null; text: string; finalText: string | null }>,
): EvalCase[] {
  return rows.flatMap((row) => {
    const expected = row.finalText ?? undefined;
    if (!row.context || !expected) return [];
    return [
      {
        id: `draft:${row.id}`,
        transcript: row.context.transcript,
        query: row.context.query,
        expected,
        language: row.context.language,
        visitor: row.context.visitor,
      },
    ];
  });
}
