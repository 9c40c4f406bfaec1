import type { CrispConversation, CrispMessage } from "../crisp/schemas.ts";
import { detectLanguage } from "../language/detect.ts";
import { translationTarget } from "../language/names.ts";
import { createRedactor, type Redactor } from "./redact.ts";

/**
 * What the model sees of a conversation: visible messages only (private notes, quill's
 * own drafts and operator-only events never leave), each labelled by speaker, trimmed,
 * and redacted when PII redaction is on — as are the visitor's profile and data and the
 * operator's instructions, with one redactor so the draft's placeholders can be restored.
 */

const MAX_MESSAGE_CHARS = 2000;

export interface DraftContext {
  transcript: string;
  /** The customer's words since the last operator reply, for retrieval. */
  query: string;
  visitor: { name: string; email: string; segments: string[]; data: Record<string, unknown> };
  /** The operator's /redraft instructions, redacted like the rest. */
  instructions: string | undefined;
  /** ISO 639-1: the customer's (detected from their words, else the locale, else en), or the one an operator's instructions ask for. */
  language: string;
  /** Placeholders inserted by redaction, for the record. */
  redactions: number;
  /** Puts redacted values back into the model's answer, for the operator. */
  restore: Redactor["restore"];
}

function messageText(message: CrispMessage): string | undefined {
  const content = message.content;
  if (typeof content === "string") return content;
  if (content && typeof content === "object") {
    const c = content as Record<string, unknown>;
    if (message.type === "file" || message.type === "animation" || message.type === "audio") {
      return `[${message.type}: ${typeof c.name === "string" ? c.name : typeof c.type === "string" ? c.type : "attachment"}]`;
    }
    if (typeof c.text === "string") return c.text;
  }
  return undefined;
}

/** Redacts every string (and number, e.g. a card stored as digits) inside visitor data, keys included. */
function redactData(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === "string") return redact(value);
  if (typeof value === "number") {
    const redacted = redact(String(value));
    return redacted === String(value) ? value : redacted;
  }
  if (Array.isArray(value)) return value.map((v) => redactData(v, redact));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactData(v, redact)]));
  }
  return value;
}

export function buildContext(
  conversation: CrispConversation,
  messages: CrispMessage[],
  options: { redactPii: boolean; instructions?: string | undefined },
): DraftContext {
  const redactor = createRedactor();
  const redact = (text: string) => (options.redactPii ? redactor.redact(text) : text);
  const clean = (text: string) =>
    redact(text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text);
  const visible = messages.filter((m) => m.type !== "note" && m.type !== "event");
  const lines: string[] = [];
  for (const message of visible) {
    const text = messageText(message);
    if (text === undefined || text.trim() === "") continue;
    const who =
      message.from === "user"
        ? "Customer"
        : `Agent${message.user?.nickname ? ` (${message.user.nickname})` : ""}`;
    lines.push(`${who}: ${clean(text.trim())}`);
  }
  let lastOperator = -1;
  visible.forEach((m, i) => {
    if (m.from === "operator") lastOperator = i;
  });
  const query = visible
    .slice(lastOperator + 1)
    .filter((m) => m.from === "user" && typeof m.content === "string")
    .map((m) => m.content as string)
    .join(" ");
  const meta = conversation.meta ?? {};
  const customerText = visible
    .filter((m) => m.from === "user" && typeof m.content === "string")
    .map((m) => m.content as string)
    .join("\n");
  const language =
    translationTarget(options.instructions) ??
    detectLanguage([query, customerText], meta.device?.locales?.[0]).language;
  return {
    transcript: lines.join("\n"),
    query: clean(query),
    visitor: {
      // Crisp often names a visitor after their email address.
      name: meta.nickname ? redact(meta.nickname) : "",
      email: meta.email ? clean(meta.email) : "",
      segments: meta.segments ?? [],
      data: redactData(meta.data ?? {}, redact) as Record<string, unknown>,
    },
    instructions: options.instructions === undefined ? undefined : redact(options.instructions),
    language,
    redactions: redactor.total,
    restore: redactor.restore,
  };
}

/**
 * The same context from text already flattened (eval cases, recorded drafts): redacted with
 * one redactor like a live conversation's, so eval sends the model what production does.
 */
export function contextFromText(
  parts: { transcript: string; query: string; language: string; visitor: DraftContext["visitor"] },
  options: { redactPii: boolean },
): DraftContext {
  const redactor = createRedactor();
  const redact = (text: string) => (options.redactPii ? redactor.redact(text) : text);
  return {
    transcript: redact(parts.transcript),
    query: redact(parts.query),
    visitor: {
      name: redact(parts.visitor.name),
      email: redact(parts.visitor.email),
      segments: parts.visitor.segments,
      data: redactData(parts.visitor.data, redact) as Record<string, unknown>,
    },
    instructions: undefined,
    language: parts.language,
    redactions: redactor.total,
    restore: redactor.restore,
  };
}
