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
const PHONE = /(?<![\w+])(?:\+|00)?\d[\d ().-]{7,}\d(?![\w])/g;

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

export function redact(input: string): Redaction {
  const counts = { email: 0, phone: 0, iban: 0, card: 0 };
  let text = input.replace(EMAIL, () => {
    counts.email++;
    return "[email]";
  });
  text = text.replace(IBAN, (m) => {
    if (!ibanValid(m)) return m;
    counts.iban++;
    return "[iban]";
  });
  text = text.replace(CARD, (m) => {
    const digits = m.replace(/\D/g, "");
    if (digits.length < 13 || digits.length > 19 || !luhnValid(digits)) return m;
    counts.card++;
    return "[card]";
  });
  text = text.replace(PHONE, (m) => {
    const digits = m.replace(/\D/g, "");
    // Phone numbers have 8 to 15 digits (E.164); longer runs are ids, not phones.
    if (digits.length < 8 || digits.length > 15) return m;
    // Dates and plain order numbers without separators or a + are left alone.
    if (!/[+\s().-]/.test(m) && !m.startsWith("00")) return m;
    if (/^\d{4}-\d{2}-\d{2}$/.test(m.trim())) return m;
    counts.phone++;
    return "[phone]";
  });
  return { text, counts };
}
