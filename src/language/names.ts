import { z } from "zod";

/**
 * Languages by ISO 639-1 code and by name, for the operator's commands (`/translate German`,
 * `/translate de`), OPERATOR_LANGUAGE and the prompt's {{language}}; no dependencies, so the
 * configuration can check a code without loading the detector (`detect.ts`).
 */

/** ISO 639-1 code → English name and the names people also type (native, other spellings). */
const LANGUAGES: Record<string, [string, ...string[]]> = {
  af: ["Afrikaans"],
  ar: ["Arabic", "العربية"],
  bg: ["Bulgarian", "български"],
  bn: ["Bengali", "Bangla", "বাংলা"],
  ca: ["Catalan", "català"],
  cs: ["Czech", "čeština", "cestina"],
  cy: ["Welsh", "Cymraeg"],
  da: ["Danish", "dansk"],
  de: ["German", "Deutsch"],
  el: ["Greek", "Ελληνικά"],
  en: ["English"],
  es: ["Spanish", "español", "espanol", "castellano"],
  et: ["Estonian", "eesti"],
  eu: ["Basque", "euskara"],
  fa: ["Persian", "Farsi", "فارسی"],
  fi: ["Finnish", "suomi"],
  fr: ["French", "français", "francais"],
  ga: ["Irish", "Gaeilge"],
  gl: ["Galician", "galego"],
  he: ["Hebrew", "עברית"],
  hi: ["Hindi", "हिन्दी"],
  hr: ["Croatian", "hrvatski"],
  hu: ["Hungarian", "magyar"],
  id: ["Indonesian", "Bahasa Indonesia"],
  is: ["Icelandic", "íslenska"],
  it: ["Italian", "italiano"],
  ja: ["Japanese", "日本語"],
  ko: ["Korean", "한국어"],
  lt: ["Lithuanian", "lietuvių"],
  lv: ["Latvian", "latviešu"],
  ms: ["Malay", "Bahasa Melayu"],
  nb: ["Norwegian Bokmål", "Norwegian", "norsk", "bokmål"],
  nl: ["Dutch", "Nederlands", "Flemish", "Vlaams"],
  pl: ["Polish", "polski"],
  pt: ["Portuguese", "português", "portugues", "Brazilian Portuguese", "Brazilian", "European Portuguese"],
  ro: ["Romanian", "română", "romana"],
  ru: ["Russian", "русский"],
  sk: ["Slovak", "slovenčina"],
  sl: ["Slovenian", "Slovene", "slovenščina"],
  sr: ["Serbian", "српски", "srpski"],
  sv: ["Swedish", "svenska"],
  sw: ["Swahili", "Kiswahili"],
  ta: ["Tamil", "தமிழ்"],
  th: ["Thai", "ไทย"],
  tl: ["Tagalog", "Filipino"],
  tr: ["Turkish", "Türkçe", "turkce"],
  uk: ["Ukrainian", "українська"],
  ur: ["Urdu", "اردو"],
  vi: ["Vietnamese", "Tiếng Việt"],
  zh: ["Chinese", "中文", "Mandarin"],
};

/** ISO 639-1 codes some locales or models use for a language under another code. */
export const ALIASES: Record<string, string> = { no: "nb", nn: "nb", iw: "he", in: "id", fil: "tl" };

export const fold = (text: string) =>
  text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .trim();

const BY_NAME = new Map<string, string>();
for (const [code, names] of Object.entries(LANGUAGES))
  for (const name of names) BY_NAME.set(fold(name), code);

/** The English name of a code ("fr" → "French"); the code itself when quill has no name for it. */
export function languageName(code: string): string {
  return LANGUAGES[code]?.[0] ?? code;
}

/** How the prompt names a language: "French (fr)". */
export function languageLabel(code: string): string {
  const name = LANGUAGES[code]?.[0];
  return name ? `${name} (${code})` : code;
}

/**
 * A language as an operator or a locale writes it: an ISO 639-1 code ("de", "pt-BR",
 * "zh_Hant"), an English or native name ("German", "Deutsch", "français"). Undefined when
 * it is none of those.
 */
export function parseLanguage(input: string | null | undefined): string | undefined {
  const text = fold(input ?? "");
  if (!text) return undefined;
  const code = /^([a-z]{2,3})(?:[-_][a-z0-9]+)*$/i.exec(text)?.[1];
  if (code) {
    const canonical = ALIASES[code] ?? code;
    if (LANGUAGES[canonical]) return canonical;
  }
  return BY_NAME.get(text) ?? BY_NAME.get(text.replace(/\s+language$/, ""));
}

/** Every code quill knows, for validation (OPERATOR_LANGUAGE). */
export const knownLanguage = (code: string) => LANGUAGES[code] !== undefined;

/** A language named (not coded: "in it" is no Italian) after in/into/to, one or two words. */
function namedAfter(text: string, pattern: RegExp): string | undefined {
  for (const match of text.matchAll(pattern)) {
    const [first = "", second = ""] = (match[1] ?? "").split(/\s+/);
    const code = BY_NAME.get(fold(`${first} ${second}`)) ?? BY_NAME.get(fold(first));
    if (code) return code;
  }
  return undefined;
}

/**
 * The language an operator's instructions ask the reply to be in: `/translate`'s ("translate
 * the reply into German") or a /redraft's own words ("reply in Spanish", "translate to
 * français"). Undefined when they ask for none, so the customer's language stands.
 */
export function translationTarget(instructions: string | undefined): string | undefined {
  if (!instructions) return undefined;
  return (
    namedAfter(instructions, /\btranslat\w*\b[^.;\n]*?\b(?:in|into|to)\s+(\p{L}+(?:\s+\p{L}+)?)/giu) ??
    namedAfter(instructions, /\b(?:reply|answer|respond|write)\b[^.;\n]*?\bin\s+(\p{L}+(?:\s+\p{L}+)?)/giu)
  );
}

/** OPERATOR_LANGUAGE: unset, or an ISO 639-1 code quill has a name for (a region is dropped: en-GB → en). */
export const operatorLanguage = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const raw = v?.trim();
    if (!raw) return undefined;
    const code = /^[a-z]{2}(?:[-_][a-z0-9]+)?$/i.test(raw) ? parseLanguage(raw) : undefined;
    if (code) return code;
    ctx.addIssue({
      code: "custom",
      message: `expected an ISO 639-1 language code such as en, fr or de, got "${raw}"`,
    });
    return z.NEVER;
  });
