import { WEBSITE_LIST_KEYS } from "../websites.ts";

/** A posted HTML form's fields, trimmed; anything that is not text reads as "". */
export function formField(body: Record<string, unknown>) {
  return (name: string) => (typeof body[name] === "string" ? (body[name] as string).trim() : "");
}

/**
 * Website settings from a posted form, for the keys a page edits: comma lists, a number, the
 * enabled switch, the rest as text; an empty field leaves the key undefined (removed on save).
 */
export function settingsFromForm<K extends string>(
  body: Record<string, unknown>,
  keys: readonly K[],
): Record<K, unknown> {
  const field = formField(body);
  const read = (key: string): unknown => {
    const text = field(key);
    switch (key) {
      case "enabled":
        return text !== "false";
      case "autoSendMinConfidence":
        return text ? Number(text) : undefined;
      default:
        if (!(WEBSITE_LIST_KEYS as readonly string[]).includes(key)) return text || undefined;
        return text
          ? text
              .split(",")
              .map((v) => v.trim())
              .filter(Boolean)
          : undefined;
    }
  };
  return Object.fromEntries(keys.map((key) => [key, read(key)])) as Record<K, unknown>;
}
