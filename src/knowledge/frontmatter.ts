/**
 * The front matter most articles have, read without a YAML parser: `key: plain text` lines
 * and `key:` followed by `- plain text` items, with comments and blank lines. Anything else
 * (quotes, flow lists, block scalars, continuation lines, numbers, tabs, CR) returns
 * undefined and is left to js-yaml, so the result is always what js-yaml would give
 * (test/knowledge/frontmatter.test.ts compares them).
 */
export function simpleFrontMatter(text: string): Record<string, string | string[]> | undefined {
  if (!plainCharacters(text)) return undefined;
  const meta: Record<string, string | string[]> = {};
  /** The list the last `key:` opened, while its items may follow. */
  let list: string[] | undefined;
  let listIndent = -1;
  const n = text.length;
  for (let pos = 0; pos <= n; ) {
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = n;
    let at = pos;
    while (at < eol && text.charCodeAt(at) === 32) at++;
    const c = text.charCodeAt(at);
    if (at === eol || c === 35) {
      // Blank or comment line.
    } else if (c === 45 && (at + 1 === eol || text.charCodeAt(at + 1) === 32)) {
      // "- item": only under a `key:` and all at one indent (more would nest).
      if (!list || (listIndent >= 0 && at - pos !== listIndent)) return undefined;
      listIndent = at - pos;
      const item = plainScalar(text, at + 1, eol);
      if (item === undefined) return undefined;
      list.push(item);
    } else {
      // "key: value" or "key:" at the start of the line; indented text would continue a value.
      if (at !== pos) return undefined;
      let k = pos;
      while (k < eol && isKeyChar(text.charCodeAt(k))) k++;
      const key = text.slice(pos, k);
      const after = text.charCodeAt(k + 1);
      if (
        k === pos ||
        text.charCodeAt(k) !== 58 ||
        (k + 1 < eol && after !== 32) ||
        !isPlainKey(key) ||
        Object.hasOwn(meta, key) ||
        (list && list.length === 0)
      )
        return undefined;
      let v = k + 1;
      while (v < eol && text.charCodeAt(v) === 32) v++;
      if (v === eol || text.charCodeAt(v) === 35) {
        list = [];
        listIndent = -1;
        meta[key] = list;
      } else {
        const value = plainScalar(text, v, eol);
        if (value === undefined) return undefined;
        meta[key] = value;
        list = undefined;
      }
    }
    pos = eol + 1;
  }
  // A `key:` with no items is null in YAML.
  return list && list.length === 0 ? undefined : meta;
}

/** Printable text without tabs, CR, BOM or line separators (js-yaml reads those its own way). */
function plainCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c >= 32 && c < 127)) continue;
    if (c < 32 || c <= 0x9f || c === 0xfeff || c >= 0xfffe || c === 0x2028 || c === 0x2029) return false;
    if (c >= 0xd800 && c <= 0xdfff) {
      // Only a high surrogate followed by a low one (an emoji) is a character.
      const next = text.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    }
  }
  return true;
}

const isKeyChar = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45;

/** A key YAML keeps as written: not a number, null or boolean, not `__proto__`. */
const isPlainKey = (key: string) => !/^[-0-9]/.test(key) && !NOT_STRINGS.has(key) && key !== "__proto__";

const NOT_STRINGS = new Set(["null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"]);

/** Characters a plain scalar may not start with (YAML indicators). */
const INDICATORS = new Set("-?:,[]{}#&*!|>'\"%@`");

/**
 * The scalar in [start, end): plain up to a " #" comment with trailing spaces dropped, or
 * quoted on one line without escapes; undefined when YAML would read it as anything but
 * that string (empty, a number, null, a mapping, an escape).
 */
function plainScalar(text: string, start: number, end: number): string | undefined {
  while (start < end && text.charCodeAt(start) === 32) start++;
  const first = text[start] as string;
  if (first === '"' || first === "'") return quoted(text, start, end);
  if (start === end || INDICATORS.has(first)) return undefined;
  let stop = end;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 35 && text.charCodeAt(i - 1) === 32) {
      stop = i;
      break;
    }
    if (c === 58 && (i + 1 === end || text.charCodeAt(i + 1) === 32)) return undefined;
  }
  while (stop > start && text.charCodeAt(stop - 1) === 32) stop--;
  const value = text.slice(start, stop);
  // What JSON_SCHEMA resolves to something else: ~, null, booleans, numbers (a superset).
  if (value === "~" || NOT_STRINGS.has(value) || NUMBER.test(value)) return undefined;
  return value;
}

const NUMBER =
  /^[-+]?(?:0[bBoOxX][0-9a-fA-F_]*|[0-9_]*\.?[0-9_]*(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|INF|nan|NaN|NAN))$/;

/** `"text"` or `'text'` closed on its line, with nothing after it but spaces and a comment. */
function quoted(text: string, start: number, end: number): string | undefined {
  const quote = text[start] as string;
  const close = text.indexOf(quote, start + 1);
  if (close < 0 || close >= end) return undefined;
  const value = text.slice(start + 1, close);
  // Escapes ("\n" in double quotes, '' in single ones) need a real parser.
  if (quote === '"' && value.includes("\\")) return undefined;
  let i = close + 1;
  while (i < end && text.charCodeAt(i) === 32) i++;
  if (i < end && (text.charCodeAt(i) !== 35 || i === close + 1)) return undefined;
  return value;
}
