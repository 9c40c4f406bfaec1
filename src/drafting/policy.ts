import type { DraftResult, KnowledgeSnippet } from "../llm/types.ts";

/**
 * Decides whether a draft may go to the customer or stays a private note. The model's
 * own word (confidence, needs_human) can only make the outcome safer: auto-send needs
 * the configured mode, an allowed intent, enough confidence and no flag at all.
 */

export interface PolicyConfig {
  replyMode: "note" | "auto";
  autoSendIntents: string[];
  autoSendMinConfidence: number;
  linkAllowlist: string[];
}

export interface PolicyInput {
  draft: Pick<DraftResult, "text" | "confidence" | "intent" | "needsHuman">;
  knowledge: KnowledgeSnippet[];
  /** Secrets that must never reach a customer: system prompt lines, canaries, other notes. */
  protectedTexts: string[];
  /** Why the draft must stay a note whatever else holds (an operator's /redraft, a triage rule). */
  forceNote?: string | undefined;
}

export interface PolicyDecision {
  mode: "note" | "reply";
  /** Problems found in the draft; shown in the note, block auto-send. */
  flags: string[];
  /** Why the draft is a note (empty when it is sent). */
  reasons: string[];
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>()"']+|\bwww\.[^\s<>()"']+/gi;

/** Phrases that commit the company to something; allowed only when the knowledge says so. */
const PROMISES: Array<{ kind: string; pattern: RegExp }> = [
  { kind: "refund", pattern: /\brefund(?:ed|s)?\b|money back|rembours\w*|reembols\w*|erstatt\w*/i },
  {
    kind: "discount",
    pattern:
      /\bdiscount\w*|\bcoupon\b|promo(?:tion)? code|\b\d{1,3}\s?% off|r[ée]duction|rabatt\w*|descuento/i,
  },
  {
    kind: "free",
    pattern: /\bfor free\b|\bfree of charge\b|\bno charge\b|\bcomplimentary\b|gratuit\w*|gratis/i,
  },
  { kind: "price", pattern: /(?:[$€£]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?)\b)/i },
  {
    kind: "deadline",
    pattern:
      /\bwithin \d+\s?(?:minutes?|hours?|days?|weeks?|business days?)\b|\bby (?:tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tonight|end of (?:day|week))\b|\bguarantee\w*/i,
  },
];

export function hostOf(raw: string): string | undefined {
  try {
    return new URL(raw.startsWith("www.") ? `https://${raw}` : raw).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

export function hostAllowed(host: string, allowlist: string[]): boolean {
  return allowlist.some((domain) => {
    const d = domain.toLowerCase().replace(/^\*\./, "");
    return host === d || host.endsWith(`.${d}`);
  });
}

const normalise = (s: string) => s.toLowerCase().replace(/\s+/g, " ").trim();

export function checkDraft(input: Omit<PolicyInput, "forceNote">, linkAllowlist: string[]): string[] {
  const flags = new Set<string>();
  const text = input.draft.text;
  const knowledgeText = input.knowledge.map((k) => `${k.text} ${k.url ?? ""}`).join("\n");
  const knowledgeLower = knowledgeText.toLowerCase();

  for (const raw of text.match(URL_PATTERN) ?? []) {
    const url = raw.replace(/[.,;:!?]+$/, "");
    const host = hostOf(url);
    if (!host) continue;
    const inKnowledge = knowledgeLower.includes(url.toLowerCase());
    if (!inKnowledge && !hostAllowed(host, linkAllowlist)) flags.add(`link not allowed: ${host}`);
  }

  for (const { kind, pattern } of PROMISES) {
    const match = pattern.exec(text);
    if (!match) continue;
    // Supported when the knowledge states the same figure or deadline, or the same kind of promise.
    const exact = kind === "price" || kind === "deadline";
    const supported = exact ? knowledgeLower.includes(match[0].toLowerCase()) : pattern.test(knowledgeText);
    if (!supported) flags.add(`unsupported promise: ${kind} ("${match[0]}")`);
  }

  const lowered = normalise(text);
  for (const secret of input.protectedTexts) {
    const s = normalise(secret);
    if (s.length >= 8 && lowered.includes(s)) {
      flags.add("leak: the draft repeats protected text");
      break;
    }
  }
  return [...flags];
}

export function decide(input: PolicyInput, config: PolicyConfig): PolicyDecision {
  const flags = checkDraft(input, config.linkAllowlist);
  const reasons: string[] = [];
  if (input.forceNote) reasons.push(input.forceNote);
  if (config.replyMode !== "auto") reasons.push("reply mode is note");
  if (input.draft.needsHuman) reasons.push("the draft asks for a human");
  if (!config.autoSendIntents.includes(input.draft.intent)) {
    reasons.push(`intent "${input.draft.intent}" is not allowed to auto-send`);
  }
  if (input.draft.confidence < config.autoSendMinConfidence) {
    reasons.push(`confidence ${input.draft.confidence.toFixed(2)} < ${config.autoSendMinConfidence}`);
  }
  if (flags.length > 0) reasons.push("the draft is flagged");
  return { mode: reasons.length === 0 ? "reply" : "note", flags, reasons };
}

/**
 * Texts a draft must never repeat: each long line of the system prompt (so the
 * instructions cannot be exfiltrated verbatim) and any configured canaries.
 */
export function protectedTextsFrom(system: string, extra: string[] = []): string[] {
  const lines = system
    .split("\n")
    .map((l) => l.replace(/^[-*\s]+/, "").trim())
    .filter((l) => l.length >= 40)
    .map((l) => l.slice(0, 60));
  return [...lines, ...extra.filter((e) => e.length >= 8)];
}
