import { safeEqual } from "../../crisp/webhook.ts";

/**
 * Dashboard sessions: a signed, expiring cookie value (HMAC-SHA256, Web Crypto) and a
 * CSRF token bound to the session. Nothing is stored server-side, so it works the same
 * on Node and Workers and across restarts (with the same ADMIN_TOKEN).
 */

export const SESSION_COOKIE = "quill_session";
const encoder = new TextEncoder();

async function hmac(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return btoa(String.fromCharCode(...mac))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function createSessions(options: { secret: string; ttlMs: number; now: () => number }) {
  return {
    /** `scope`: "*" (every website) or the one website this session may see. */
    async issue(scope = "*"): Promise<string> {
      const id = `${crypto.randomUUID()}~${scope}`;
      const payload = `${id}.${options.now() + options.ttlMs}`;
      return `${payload}.${await hmac(options.secret, `session:${payload}`)}`;
    },
    /** The session id when the cookie is authentic and not expired. */
    async verify(cookie: string | undefined): Promise<string | undefined> {
      if (!cookie) return undefined;
      const parts = cookie.split(".");
      if (parts.length !== 3) return undefined;
      const [id, expires, signature] = parts as [string, string, string];
      const expected = await hmac(options.secret, `session:${id}.${expires}`);
      if (!safeEqual(signature, expected)) return undefined;
      if (!(Number(expires) > options.now())) return undefined;
      return id;
    },
    csrfToken: (sessionId: string) => hmac(options.secret, `csrf:${sessionId}`),
    async checkCsrf(sessionId: string, token: string | undefined): Promise<boolean> {
      return typeof token === "string" && safeEqual(token, await hmac(options.secret, `csrf:${sessionId}`));
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;

/** The website a session may see ("*" for all), carried (signed) in its id. */
export const scopeOf = (sessionId: string) => sessionId.split("~")[1] || "*";
