import { editSimilarity, GUIDANCE_FLAG, REPEAT_FLAG } from "./policy.ts";
import {
  REWRITE_HELP,
  REWRITE_WORDS,
  type Rewrite,
  rewriteCommand,
  translateNeedless,
  translateProblem,
} from "./rewrite.ts";

/**
 * Operator note commands and the feedback they (and plain replies) leave. Parsing and
 * scoring are pure; running a command happens in the pipeline (it posts to Crisp).
 */

export type CommandName =
  | "approve"
  | "send"
  | "redraft"
  | "reject"
  | "help"
  | "pause"
  | "resume"
  // A /translate whose language was not understood (an understood one is a redraft).
  | "translate";

export interface Command {
  name: CommandName;
  arg: string;
  /** /translate, /shorter, /friendlier, /formal: a redraft with their canonical instruction (rewrite.ts). */
  rewrite?: Rewrite | undefined;
}

export interface CommandJobPayload extends Command {
  operatorId?: string | undefined;
  operatorName?: string | undefined;
}

const NAMES: Record<string, CommandName> = {
  approve: "approve",
  send: "send",
  redraft: "redraft",
  reject: "reject",
};

/** `/approve`, `/send <text>`, `/redraft <instructions>`, `/reject <reason>`, `/quill [help|off|on]`. */
export function parseCommand(text: string): Command | undefined {
  const match = /^\s*\/([a-z]+)\b[ \t]*([\s\S]*)$/i.exec(text);
  if (!match) return undefined;
  const word = (match[1] ?? "").toLowerCase();
  const arg = (match[2] ?? "").trim();
  if (word === "quill") {
    const sub = arg.toLowerCase();
    return sub === "off"
      ? { name: "pause", arg: "" }
      : sub === "on"
        ? { name: "resume", arg: "" }
        : { name: "help", arg };
  }
  const rewrite = REWRITE_WORDS[word];
  if (rewrite) return rewriteCommand(rewrite, arg);
  const name = NAMES[word];
  return name ? { name, arg } : undefined;
}

export const HELP_NOTE = [
  "quill commands (write them as a private note in this conversation):",
  "/approve: send the latest draft to the customer as it is",
  "/send <text>: send your edited text instead (recorded as an edit of the draft)",
  "/redraft <instructions>: draft again with your instructions, e.g. /redraft shorter, mention the 30-day policy",
  ...REWRITE_HELP,
  "/reject <reason>: mark the latest draft as rejected",
  "/quill off: no drafts in this conversation until /quill on",
  "/quill on: drafts again here, and auto-send may answer even though an operator has written",
  "/quill help: this list",
].join("\n");

/** What a command needs before it may act; the message is the note operators see. */
export function commandProblem(
  command: Command,
  draft:
    | { status: string; mode: string; flags?: string[] | null; text?: string; language?: string | null }
    | undefined,
  conversationState: string | undefined,
): string | undefined {
  if (command.name === "help" || command.name === "pause" || command.name === "resume") return undefined;
  if (command.name === "translate") return translateProblem(command.arg);
  if (conversationState === "resolved") return "the conversation is resolved";
  if ((command.name === "send" || command.name === "redraft" || command.name === "reject") && !command.arg) {
    return `/${command.name} needs ${command.name === "send" ? "the text to send" : command.name === "redraft" ? "instructions" : "a reason"}`;
  }
  if (!draft) return `there is no draft to ${command.name === "redraft" ? "redo" : command.name}`;
  // A redraft may follow any draft: sent, rejected or failed ones included.
  if (command.name === "redraft") return translateNeedless(command, draft);
  if (draft.status === "sent" || draft.mode === "reply") return "the latest draft was already sent";
  if (draft.status === "rejected") return "the latest draft was rejected";
  if (draft.status === "failed") return "the latest draft failed; use /redraft to try again";
  // RETENTION_DAYS blanked the text of old drafts: there is nothing left to approve.
  if (command.name === "approve" && draft.text === "")
    return "the draft's text is gone (RETENTION_DAYS); write the reply with /send <text> or ask for /redraft";
  // Internal guidance is never sent by a one-word command: the operator writes the reply.
  if (command.name === "approve" && draft.flags?.some((f) => f.startsWith(GUIDANCE_FLAG)))
    return "this draft reads like internal guidance, not a reply to the customer; write the reply with /send <text> or ask for /redraft";
  if (command.name === "approve" && draft.flags?.some((f) => f.startsWith(REPEAT_FLAG)))
    return "the customer already received this reply in this conversation; write a new one with /send <text> or ask for /redraft";
  return undefined;
}

/** 1 for identical texts, 0 for nothing in common (normalised Levenshtein on trimmed, collapsed text). */
export function similarity(a: string, b: string): number {
  const score = editSimilarity(a.trim().replace(/\s+/g, " "), b.trim().replace(/\s+/g, " "));
  return Math.round(score * 1000) / 1000;
}

/** How an operator's own reply relates to the draft they had. */
export function replyOutcome(score: number): "sent_as_is" | "edited" | "ignored" {
  if (score >= 0.95) return "sent_as_is";
  if (score >= 0.5) return "edited";
  return "ignored";
}

/** Conversation meta data keys quill keeps in Crisp, so every runtime sees them. */
export const PAUSED_KEY = "quill_paused";
export const RESUMED_KEY = "quill_resumed_at";
