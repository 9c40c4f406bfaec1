import { hmacHex, safeEqual } from "../crypto.ts";

/**
 * Crisp's AI agent (Hugo) calling quill as an external MCP server signs every request:
 * X-Crisp-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{website_id}.{raw_body}")>.
 * A valid signature stands in for a quill token, for the website the secret belongs to only.
 */

export const HUGO_WINDOW_MS = 300_000;

export async function verifyHugoRequest(input: {
  headers: { get(name: string): string | null };
  rawBody: string;
  secret: string;
  websiteId: string;
  now: number;
}): Promise<boolean> {
  const signature = /^sha256=([0-9a-f]{64})$/i.exec(input.headers.get("x-crisp-signature") ?? "")?.[1];
  const timestamp = input.headers.get("x-crisp-timestamp") ?? "";
  const website = input.headers.get("x-crisp-website-id") ?? "";
  if (!signature || !/^\d{9,14}$/.test(timestamp)) return false;
  // Crisp documents both units: seconds and milliseconds.
  const at = Number(timestamp) < 1e12 ? Number(timestamp) * 1000 : Number(timestamp);
  if (Math.abs(input.now - at) > HUGO_WINDOW_MS) return false;
  // The secret is one website's: a request naming another is not signed for this one.
  if (website !== input.websiteId) return false;
  const expected = await hmacHex(input.secret, `${timestamp}.${website}.${input.rawBody}`);
  return safeEqual(expected, signature.toLowerCase());
}

/** The conversation Hugo is in (not covered by the signature: a hint, checked by Crisp's 404). */
export function hugoSessionHint(headers: { get(name: string): string | null }): string | undefined {
  const hint = headers.get("x-crisp-session-id") ?? "";
  return /^session_[0-9a-f-]{36}$/.test(hint) ? hint : undefined;
}
