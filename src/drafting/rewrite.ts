import { languageName, parseLanguage } from "../language/names.ts";
import type { DraftEngine } from "../llm/types.ts";
import type { Command } from "./commands.ts";

/**
 * `/translate <language>`, `/shorter`, `/friendlier`, `/formal`: a /redraft with a canonical
 * instruction, so they run as the same job, are recorded the same way (a new draft, the old
 * one discarded, a `redraft` feedback with the instruction) and the offline drafter reads the
 * same words it reads in a /redraft ("shorter"). The only thing decided here is what the
 * offline drafter cannot do at all: it answers with a plain note instead of a new draft.
 */

export type RewriteKind = "translate" | "shorter" | "friendlier" | "formal";

export interface Rewrite {
  kind: RewriteKind;
  /** ISO 639-1, for translate. */
  language?: string | undefined;
}

/** The command words, as operators type them after the slash. */
export const REWRITE_WORDS: Record<string, RewriteKind> = {
  translate: "translate",
  shorter: "shorter",
  friendlier: "friendlier",
  formal: "formal",
};

/** The instruction each rewrite adds to the prompt, exactly as a /redraft's would be. */
export function rewriteInstruction(rewrite: Rewrite): string {
  switch (rewrite.kind) {
    case "translate":
      // translationTarget() reads the language back from these words, so the prompt's
      // {{language}} follows too.
      return `translate the reply into ${languageName(rewrite.language ?? "en")}`;
    case "shorter":
      return "make the reply shorter";
    case "friendlier":
      return "make the reply friendlier and warmer, keeping the same facts";
    case "formal":
      return "make the reply more formal, keeping the same facts";
  }
}

/**
 * A rewrite command as a redraft. A /translate without a language, or with one quill does
 * not know, stays `translate` so the job answers with a note naming what was not understood.
 */
export function rewriteCommand(kind: RewriteKind, arg: string): Command {
  if (kind !== "translate") return { name: "redraft", arg: rewriteInstruction({ kind }), rewrite: { kind } };
  // "/translate to German.", "/translate into fr" read as "/translate German", "/translate fr".
  const language = parseLanguage(arg.replace(/^(?:in|into|to)\s+/i, "").replace(/[.!?,;:]+$/, ""));
  if (!language) return { name: "translate", arg };
  const rewrite = { kind, language };
  return { name: "redraft", arg: rewriteInstruction(rewrite), rewrite };
}

/** Why a /translate cannot run: nothing asked for, or a language quill does not know. */
export function translateProblem(arg: string): string {
  return arg.trim()
    ? `/translate did not understand the language “${arg.trim().slice(0, 60)}”; write a language name or its ISO 639-1 code, e.g. /translate fr or /translate German`
    : "/translate needs a language, e.g. /translate fr or /translate German";
}

/** The widget's Translate button: the draft into the operators' language (English when OPERATOR_LANGUAGE is unset). */
export const translateButton = (operatorLanguage: string | undefined): Command =>
  rewriteCommand("translate", operatorLanguage ?? "en");

/** A translation into the language the latest draft is already in would only draft it again. */
export function translateNeedless(
  command: Command,
  draft: { language?: string | null | undefined } | undefined,
): string | undefined {
  const target = command.rewrite?.kind === "translate" ? command.rewrite.language : undefined;
  return target && draft?.language && parseLanguage(draft.language) === target
    ? `the latest draft is already in ${languageName(target)}`
    : undefined;
}

export const REWRITE_HELP = [
  "/translate <language>: draft again in that language (a name or ISO code: /translate fr, /translate German)",
  "/shorter · /friendlier · /formal: draft again shorter, friendlier, or more formal",
];

/** True when every provider the conversation drafts with is the offline drafter. */
export const offlineOnly = (engine: DraftEngine) =>
  engine.providers !== undefined &&
  engine.providers.length > 0 &&
  engine.providers.every((p) => p === "offline");

/**
 * The note for a rewrite the offline drafter cannot do (anything but /shorter), when it is
 * the only provider: no new draft, nothing for the customer. With an LLM first in the chain
 * the rewrite runs; should the chain fall back to the offline drafter, its draft says what
 * it could not follow.
 */
export function offlineCannot(rewrite: Rewrite | undefined, engine: DraftEngine): string | undefined {
  if (!rewrite || rewrite.kind === "shorter" || !offlineOnly(engine)) return undefined;
  const what =
    rewrite.kind === "translate"
      ? `translate a draft into ${languageName(rewrite.language ?? "en")}`
      : rewrite.kind === "friendlier"
        ? "make a draft friendlier"
        : "make a draft more formal";
  return `⚠️ quill: the offline drafter cannot ${what}: it only answers from the knowledge base. An LLM provider (LLM_PROVIDER) is needed for /${rewrite.kind}; nothing was sent, and you can write the reply yourself with /send <text>.`;
}
