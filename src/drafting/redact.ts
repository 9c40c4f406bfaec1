/**
 * PII redaction before text leaves for an LLM provider: emails, phone numbers, IBANs
 * (mod-97 checked) and card numbers (Luhn checked, so order numbers survive).
 * Replacements are stable placeholders the model can still refer to.
 */

export interface Redaction {
  text: string;
  counts: Record<"email" | "phone" | "iban" | "card", number>;
}

const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.[\p{L}]{2,}/gu;
const IBAN = /\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b/g;
const CARD = /\b(?:\d[ -]?){12,18}\d\b/g;
// Not glued to a longer token ("INV-2026-0042", "a/123456789"): those are ids.
const PHONE = /(?<![\w+/-])(?:\+|00)?\d[\d ().-]{7,}\d(?![\w/-])/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length >= 13 && sum % 10 === 0;
}

export function ibanValid(raw: string): boolean {
  const iban = raw.replace(/\s+/g, "");
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

type Kind = keyof Redaction["counts"];

/**
 * A redactor shared by one conversation: the same value always gets the same numbered
 * placeholder ("[email 1]"), so the model can refer to it and `restore` can put the real
 * value back into the draft the operator sees.
 */
export function createRedactor() {
  const counts = { email: 0, phone: 0, iban: 0, card: 0 };
  const byValue = new Map<string, string>();
  const byPlaceholder = new Map<string, string>();
  const placeholder = (kind: Kind, value: string) => {
    const key = `${kind}:${value}`;
    let existing = byValue.get(key);
    if (!existing) {
      counts[kind]++;
      existing = `[${kind} ${counts[kind]}]`;
      byValue.set(key, existing);
      byPlaceholder.set(existing, value);
    }
    return existing;
  };

  function redactText(input: string): string {
    let text = input.replace(EMAIL, (m) => placeholder("email", m));
    text = text.replace(IBAN, (m) => (ibanValid(m) ? placeholder("iban", m) : m));
    text = text.replace(CARD, (m) => {
      const digits = m.replace(/\D/g, "");
      if (digits.length < 13 || digits.length > 19 || !luhnValid(digits)) return m;
      return placeholder("card", m);
    });
    return text.replace(PHONE, (m) => {
      const digits = m.replace(/\D/g, "");
      // Phone numbers have 8 to 15 digits (E.164); longer runs are ids, not phones.
      if (digits.length < 8 || digits.length > 15) return m;
      // Plain digit runs without separators or a + are order numbers, not phones; dates stay too.
      if (!/[+\s().-]/.test(m) && !m.startsWith("00")) return m;
      // Dates, and ids that start with one ("2026-11-0042"), stay.
      if (/^(?:19|20)\d{2}-\d{2}-/.test(m.trim())) return m;
      return placeholder("phone", m);
    });
  }

  return {
    redact: redactText,
    /** Puts the real values back where the model used a placeholder. */
    restore: (text: string) =>
      text.replace(/\[(email|phone|iban|card) (\d+)\]/g, (whole) => byPlaceholder.get(whole) ?? whole),
    get total() {
      return counts.email + counts.phone + counts.iban + counts.card;
    },
    counts,
  };
}

export type Redactor = ReturnType<typeof createRedactor>;

/** One-off redaction of a single text. */
export function redact(input: string): Redaction {
  const redactor = createRedactor();
  const text = redactor.redact(input);
  return { text, counts: { ...redactor.counts } };
}
