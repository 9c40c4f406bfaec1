import type { PolicyDecision } from "./policy.ts";

/**
 * The private notes quill writes into Crisp. Notes are for operators only; they carry
 * the draft, where it came from, what policy found, and the commands to act on it.
 */

export const NOTE_NICKNAME = "quill";

export interface NoteDraft {
  text: string;
  intent: string;
  confidence: number;
  needsHuman: boolean;
  needsHumanReason?: string | undefined;
  provider: string;
  model: string;
  citations: Array<{ id: string; title: string; url?: string | undefined }>;
}

export function formatDraftNote(draft: NoteDraft, decision: PolicyDecision): string {
  const source =
    draft.provider === "offline"
      ? "from the knowledge base (no AI model)"
      : `by ${draft.provider} ${draft.model}`;
  const lines = [
    `✍️ quill draft ${source} · intent ${draft.intent} · confidence ${draft.confidence.toFixed(2)}`,
    "",
    draft.text,
    "",
  ];
  if (draft.citations.length > 0) {
    lines.push(
      `Sources: ${draft.citations.map((c) => (c.url ? `${c.title} <${c.url}>` : c.title)).join("; ")}`,
    );
  }
  if (draft.needsHuman) lines.push(`👤 Needs a human: ${draft.needsHumanReason ?? "the model is unsure"}`);
  for (const flag of decision.flags) lines.push(`⚠️ ${flag}`);
  lines.push(
    "Reply with a note: /approve to send it · /send <text> · /redraft <instructions> · /reject <reason>",
  );
  return lines.join("\n");
}

export function formatFailureNote(reason: string): string {
  return `⚠️ quill: draft unavailable (${reason}). The conversation still needs an answer.`;
}
