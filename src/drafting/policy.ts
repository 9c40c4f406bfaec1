import { distance } from "fastest-levenshtein";
import type { DraftResult, KnowledgeSnippet } from "../llm/types.ts";
import { asksForSecrets, moneyCommitments, sharedRuns, shingles, unsupportedPromises } from "./claims.ts";
import { inboundRisks } from "./inbound.ts";
import { refusedLinks } from "./links.ts";

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
  draft: Pick<DraftResult, "text" | "confidence" | "intent" | "needsHuman"> & { citations?: string[] };
  knowledge: KnowledgeSnippet[];
  /** Secrets that must never reach a customer: instruction lines, canaries, operators' notes. */
  protectedTexts: string[];
  /** The instructions (system prompt without its articles): a reply sharing a long run of words with them leaks them. */
  instructions?: string | undefined;
  /** Why the draft must stay a note whatever else holds (an operator's /redraft, a triage rule). */
  forceNote?: string | undefined;
  /** Replies the customer already received in this conversation (operators' and quill's). */
  sentReplies?: string[] | undefined;
  /** The customer's latest turn: what in it should make an operator look twice (inbound.ts). */
  customerText?: string | undefined;
}

export interface PolicyDecision {
  mode: "note" | "reply";
  /** Problems found in the draft; shown in the note, block auto-send. */
  flags: string[];
  /** Why the draft is a note (empty when it is sent). */
  reasons: string[];
}

/** Defanged or spelled-out links ("evil[.]example", "hxxps://", "evil dot com"): only an attacker writes those. */
const OBFUSCATED_LINK =
  /\[\.\]|\(\.\)|\bhxxps?:\/\/|\b[a-z0-9-]{2,}\s*(?:\[dot\]|\(dot\)|\s+dot\s+)(?:com|net|org|io|co|app|xyz|ru|info)\b/i;
/** Things that look like credentials: a draft never needs one. */
const SECRET_LIKE =
  /\b(?:sk|pk|rk)-(?:live-|test-|ant-|proj-)?[A-Za-z0-9_-]{12,}|\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bBearer\s+[A-Za-z0-9._~+/-]{16,}|\bxox[abp]-[A-Za-z0-9-]{10,}/;

/**
 * Phrases written for staff, not for the person reading the reply: a draft that has them is
 * quoting internal guidance (a handbook step, an operator check) instead of answering.
 */
const AGENT_FACING: Array<[RegExp, string]> = [
  [/\b(?:the|this|that) (?:customer|client)s?\b|\bcustomer['’]s\b/i, "talks about “the customer”"],
  [/\bthe user\b(?!\s+(?:manual|guide|interface))/i, "talks about “the user”"],
  [
    /\b(?:ask|tell|inform|remind|offer|confirm with|check with|explain to|reassure) (?:the )?(?:customer|client|user|caller|visitor)\b/i,
    "gives an instruction to staff",
  ],
  [
    /\btheir (?:account id|order id|membership level|member level|username|full name|purchase date)\b/i,
    "talks about the customer in the third person",
  ],
  [
    /\boracle\b|\bsubflows?\b|\bflow diagram\b|\btoggle switch\b|\brecord an action\b/i,
    "names internal tools",
  ],
  [/\(tool: |\[(?:[A-Z][a-z]+)(?: [A-Z][a-z]+){1,3}\]/, "names an internal tool"],
  [/\binternal guidance\b|\bfor the operator\b|\bnever sent to the customer\b/i, "quotes quill's own note"],
];

/** Why a reply does not read as written to the customer (empty when it does). */
export function agentFacing(text: string): string[] {
  return AGENT_FACING.filter(([pattern]) => pattern.test(text)).map(([pattern, why]) => {
    const found = pattern.exec(text)?.[0] ?? "";
    return `${why} (“${found}”)`;
  });
}

/** Flags that mean the draft is not a reply at all: /approve refuses these. */
export const GUIDANCE_FLAG = "guidance:";
/** A draft that gives money or goods away: never auto-sent, /approve still sends it. */
export const COMMITMENT_FLAG = "commitment:";
/** A draft the customer already received: /approve refuses it too (they would read it twice). */
export const REPEAT_FLAG = "repeat:";
/** At least this similar to a reply already sent (normalised edit distance): the same reply. */
const REPEAT_SIMILARITY = 0.85;

/** Shorter than this, a repeat is a pleasantry ("You're welcome!"), not a reply read twice. */
const REPEAT_MIN_LENGTH = 40;

/** 1 for identical strings, 0 for nothing in common: Levenshtein over the longer length. */
export function editSimilarity(x: string, y: string): number {
  const longest = Math.max(x.length, y.length);
  return longest === 0 ? 1 : 1 - distance(x, y) / longest;
}

/** Whether `text` is, give or take a few words, a reply the customer already has. */
function repeatsSentReply(text: string, sent: string[]): boolean {
  const draft = normalise(text);
  if (draft.length < REPEAT_MIN_LENGTH) return false;
  return sent.some((reply) => {
    const earlier = normalise(reply);
    // Lengths this far apart cannot be this similar: no distance to compute.
    if (Math.min(draft.length, earlier.length) < Math.max(draft.length, earlier.length) * REPEAT_SIMILARITY)
      return false;
    return editSimilarity(draft, earlier) >= REPEAT_SIMILARITY;
  });
}

const normalise = (s: string) => s.toLowerCase().replace(/\s+/g, " ").trim();
/** Letters and digits only: "C-A-N A R Y" and "canary" compare equal. */
const squash = (s: string) => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");

/**
 * A protected text as compared: the same instruction lines come with every draft (the
 * Unicode squash of ~50 lines was ~170 µs of each check), so their forms are kept, the
 * oldest dropped first.
 */
const forms = new Map<string, { spaced: string; squashed: string }>();
function protectedForms(text: string): { spaced: string; squashed: string } {
  let found = forms.get(text);
  if (!found) {
    if (forms.size >= 2048) forms.delete(forms.keys().next().value as string);
    found = { spaced: normalise(text), squashed: squash(text) };
    forms.set(text, found);
  }
  return found;
}

/** Texts hidden as base64 in the draft (an attacker's way past a plain-text check). */
function decodedBase64(text: string): string[] {
  const out: string[] = [];
  for (const token of text.match(/[A-Za-z0-9+/]{16,}={0,2}/g) ?? []) {
    try {
      const decoded = atob(token.length % 4 === 0 ? token : token + "=".repeat(4 - (token.length % 4)));
      if (/^[\x20-\x7e\s]+$/.test(decoded)) out.push(decoded);
    } catch {
      // not base64
    }
  }
  return out;
}

/** Words in a row a reply may share with the instructions (8) or a note or canary (6) by chance. */
const INSTRUCTION_RUN = 8;
const PROTECTED_RUN = 6;

export function checkDraft(input: Omit<PolicyInput, "forceNote">, linkAllowlist: string[]): string[] {
  const flags = new Set<string>();
  const text = input.draft.text;
  // Only the articles the draft cites can back what it says.
  const cited = input.knowledge.filter((k) => input.draft.citations?.includes(k.id));
  const citedText = cited.map((k) => `${k.text} ${k.url ?? ""}`).join("\n");

  for (const reason of refusedLinks(text, linkAllowlist, citedText)) flags.add(reason);
  for (const reason of unsupportedPromises(
    text,
    cited.map((k) => k.text),
  ))
    flags.add(reason);
  const secret = asksForSecrets(text);
  if (secret) flags.add(`phishing: the reply asks the customer for secrets ("${secret}")`);

  if (OBFUSCATED_LINK.test(text)) flags.add("link not allowed: a disguised address");
  if (SECRET_LIKE.test(text)) flags.add("leak: the draft contains something that looks like a credential");
  for (const why of agentFacing(text))
    flags.add(
      `${GUIDANCE_FLAG} the reply reads like internal guidance, not written to the customer: it ${why}`,
    );
  if (repeatsGuidance(text, input.knowledge))
    flags.add(`${GUIDANCE_FLAG} the reply repeats an article's internal guidance`);
  if (repeatsSentReply(text, input.sentReplies ?? []))
    flags.add(`${REPEAT_FLAG} the customer already received this reply in this conversation`);

  // Protected text may come back re-spaced, re-cased, split by punctuation or base64-encoded.
  const haystacks = [
    normalise(text),
    squash(text),
    ...decodedBase64(text).flatMap((d) => [normalise(d), squash(d)]),
  ];
  // A long run of the same words, wherever it starts: lines with their first words dropped too.
  const leaked =
    (input.instructions &&
      sharedRuns(text, shingles(input.instructions, INSTRUCTION_RUN), INSTRUCTION_RUN).length > 0) ||
    input.protectedTexts.some((p) => sharedRuns(text, shingles(p, PROTECTED_RUN), PROTECTED_RUN).length > 0);
  if (leaked) flags.add("leak: the draft repeats protected text");
  for (const secret of input.protectedTexts) {
    const { spaced, squashed } = protectedForms(secret);
    if (spaced.length < 8) continue;
    if (haystacks.some((h) => h.includes(spaced) || (squashed.length >= 8 && h.includes(squashed)))) {
      flags.add("leak: the draft repeats protected text");
      break;
    }
  }
  return [...flags];
}

/**
 * A draft sharing a run of words with an article's guidance, unless those words are in an
 * article's answer too (quoting the answer is the point).
 */
function repeatsGuidance(text: string, knowledge: KnowledgeSnippet[]): boolean {
  const guidance = shingles(knowledge.map((k) => k.guidance ?? "").join("\n"), PROTECTED_RUN);
  if (guidance.size === 0) return false;
  const answers = shingles(knowledge.map((k) => k.text).join("\n"), PROTECTED_RUN);
  const shared = sharedRuns(text, guidance, PROTECTED_RUN);
  return shared.some((gram) => !answers.has(gram));
}

/**
 * The checks of a reply that would reach the customer with no person in between (auto-send,
 * an agent's send_reply): the draft's, and money and goods it undertakes to give, which wait
 * for a person even when an article backs them (the article says when they apply; a draft
 * cannot check that they do).
 */
export function aloneFlags(input: Omit<PolicyInput, "forceNote">, linkAllowlist: string[]): string[] {
  const flags = checkDraft(input, linkAllowlist);
  for (const commitment of moneyCommitments(input.draft.text))
    if (!flags.some((f) => f.startsWith(`unsupported promise: ${commitment.split(" ")[0]} `)))
      flags.push(
        `${COMMITMENT_FLAG} the reply undertakes to give ${commitment}; auto-send leaves that to a person`,
      );
  return flags;
}

export function decide(input: PolicyInput, config: PolicyConfig): PolicyDecision {
  const flags = [
    ...(config.replyMode === "auto"
      ? aloneFlags(input, config.linkAllowlist)
      : checkDraft(input, config.linkAllowlist)),
    ...inboundRisks(input.customerText ?? "", config.linkAllowlist),
  ];
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
 * Texts a draft must never repeat: each long line of the instructions (the system prompt
 * without its knowledge articles, so they cannot be exfiltrated verbatim) and any
 * configured canaries.
 */
export function protectedTextsFrom(system: string, extra: string[] = []): string[] {
  const lines = system
    .split("\n")
    .map((l) => l.replace(/^[-*\s]+/, "").trim())
    .filter((l) => l.length >= 40)
    .map((l) => l.slice(0, 60));
  return [...lines, ...extra.filter((e) => e.length >= 8)];
}

/** A website's own settings over the process-wide policy, field by field. */
export function websitePolicy(
  base: PolicyConfig,
  own: { [K in keyof PolicyConfig]?: PolicyConfig[K] | undefined },
): PolicyConfig {
  return {
    replyMode: own.replyMode ?? base.replyMode,
    autoSendIntents: own.autoSendIntents ?? base.autoSendIntents,
    autoSendMinConfidence: own.autoSendMinConfidence ?? base.autoSendMinConfidence,
    linkAllowlist: own.linkAllowlist ?? base.linkAllowlist,
  };
}
