import type { PolicyDecision } from "./policy.ts";
import { type NoteTranslation, translationLines } from "./translate.ts";

/**
 * The private notes quill writes into Crisp. Notes are for operators only; they carry
 * the draft, where it came from, what policy found, and the commands to act on it.
 */

export const NOTE_NICKNAME = "quill";

/** A message quill posted itself (a draft note, an auto-sent or approved reply), not a person's. */
export const sentByQuill = (m: {
  automated?: boolean | undefined;
  user?: { nickname?: string | undefined } | undefined;
}) => m.automated === true && m.user?.nickname === NOTE_NICKNAME;

export interface NoteDraft {
  text: string;
  intent: string;
  confidence: number;
  needsHuman: boolean;
  needsHumanReason?: string | undefined;
  provider: string;
  model: string;
  citations: Array<{ id: string; title: string; url?: string | undefined; guidance?: string | undefined }>;
  /** Remarks for the operator from the drafter (an instruction it could not follow, …). */
  remarks?: string[] | undefined;
  /** OPERATOR_LANGUAGE: the reply in the operators' language, for reading only (translate.ts). */
  translation?: NoteTranslation | undefined;
  /** The reply's language (ISO 639-1). */
  language?: string | undefined;
}

/** Guidance is for reading at a glance: the first lines of each cited article's, capped. */
const GUIDANCE_LINES = 14;
const GUIDANCE_CHARS = 1_200;

function guidanceLines(citations: NoteDraft["citations"]): string[] {
  const out: string[] = [];
  for (const c of citations) {
    const text = c.guidance?.trim();
    if (!text) continue;
    let lines = text.split("\n").filter((l) => l.trim() !== "");
    let clipped = lines.length > GUIDANCE_LINES;
    lines = lines.slice(0, GUIDANCE_LINES);
    while (lines.join("\n").length > GUIDANCE_CHARS && lines.length > 1) {
      lines.pop();
      clipped = true;
    }
    out.push("", `🔒 Guidance for you (never sent to the customer), from “${c.title}”:`, ...lines);
    if (clipped) out.push("   … (more in the article)");
  }
  return out;
}

export function formatDraftNote(draft: NoteDraft, decision: PolicyDecision): string {
  const source =
    draft.provider === "offline"
      ? "from the knowledge base (no AI model)"
      : `by ${draft.provider} ${draft.model}`;
  const lines = [
    `✍️ quill draft ${source} · intent ${draft.intent} · confidence ${draft.confidence.toFixed(2)}`,
    "",
    "💬 Suggested reply (/approve sends exactly this):",
    draft.text,
    "",
    ...translationLines(draft.translation, draft.language ?? ""),
  ];
  if (draft.citations.length > 0) {
    lines.push(
      `Sources: ${draft.citations.map((c) => (c.url ? `${c.title} <${c.url}>` : c.title)).join("; ")}`,
    );
  }
  if (draft.needsHuman) lines.push(`👤 Needs a human: ${draft.needsHumanReason ?? "the model is unsure"}`);
  for (const remark of draft.remarks ?? []) lines.push(`ℹ️ ${remark}`);
  for (const flag of decision.flags) lines.push(`⚠️ ${flag}`);
  lines.push(...guidanceLines(draft.citations), "");
  lines.push(
    "Reply with a note: /approve to send the suggested reply · /send <text> · /redraft <instructions> · /translate <language> · /reject <reason>",
  );
  return lines.join("\n");
}

export function formatFailureNote(reason: string): string {
  return `⚠️ quill: draft unavailable (${reason}). The conversation still needs an answer.`;
}
