import { hmac, randomToken, safeEqual, sha256Hex } from "../../crypto.ts";
import type { Store } from "../../store/store.ts";

/**
 * Dashboard sessions: the cookie carries a random id and its HMAC under the server secret
 * (SESSION_SECRET, or a random key kept in the store), never a key derived from a token. The
 * store holds the id's hash, subject and expiry, so logout, a new website token or a disabled
 * website end sessions at once, on Node (SQLite) and Workers (D1) alike. CSRF values are
 * HMACs under the same secret: they reveal nothing about any token.
 */

export const SESSION_COOKIE = "quill_session";
/**
 * A live session: `id` (the cookie's random part) binds CSRF values; `scope` is "*" or a
 * website; `user` is the ADMIN_USERS name that logged in (stored as the subject `user:<name>`).
 */
export type Session = { id: string; scope: string; user?: string | undefined };
const USER_PREFIX = "user:";

export function createSessions(options: {
  store: Store;
  /** The server secret, resolved once (the store may need a first write to create it). */
  secret: () => Promise<string>;
  /** A new ADMIN_TOKEN ends the sessions the previous one opened. */
  adminToken?: string | undefined;
  /** ADMIN_USERS: a user's new token ends that user's sessions; a removed user's sessions are refused. */
  users?: ReadonlyArray<{ name: string; token: string }> | undefined;
  ttlMs: number;
  now: () => number;
}) {
  // The store keeps an HMAC of the ADMIN_TOKEN its "*" sessions were opened with, not the token.
  // Each ADMIN_USERS entry likewise under `admin-user:<name>`.
  const users = options.users ?? [];
  let adminChecked: Promise<void> | undefined;
  const checkAdminToken = () => {
    const credentials = [
      ...(options.adminToken ? [{ secret: "admin-token", subject: "*", token: options.adminToken }] : []),
      ...users.map((u) => ({
        secret: `admin-user:${u.name}`,
        subject: `${USER_PREFIX}${u.name}`,
        token: u.token,
      })),
    ];
    adminChecked ??= (async () => {
      for (const credential of credentials) {
        const mac = await hmac(await options.secret(), `${credential.secret}:${credential.token}`);
        if ((await options.store.ensureSecret(credential.secret, mac)) === mac) continue;
        await options.store.revokeAdminSessionsOf(credential.subject);
        await options.store.setSecret(credential.secret, mac);
      }
    })().catch((error: unknown) => {
      adminChecked = undefined;
      throw error;
    });
    return adminChecked;
  };
  const sign = async (purpose: string, value: string) => hmac(await options.secret(), `${purpose}:${value}`);
  const parse = async (cookie: string | undefined) => {
    const [id, signature, ...rest] = (cookie ?? "").split(".");
    if (!id || !signature || rest.length) return undefined;
    return safeEqual(signature, await sign("session", id)) ? id : undefined;
  };
  return {
    ttlMs: options.ttlMs,
    /** A new session of `scope` ("*" or a website id), or of an ADMIN_USERS user: the cookie value. */
    async issue(scope: string, user?: string): Promise<string> {
      await checkAdminToken();
      const id = randomToken();
      const now = options.now();
      await options.store.insertAdminSession({
        idHash: await sha256Hex(id),
        subject: user ? `${USER_PREFIX}${user}` : scope,
        createdAt: now,
        expiresAt: now + options.ttlMs,
      });
      return `${id}.${await sign("session", id)}`;
    },
    /** The session when the cookie is authentic and the store has it live (not expired, not revoked). */
    async verify(cookie: string | undefined): Promise<Session | undefined> {
      const id = await parse(cookie);
      if (!id) return undefined;
      await checkAdminToken();
      const row = await options.store.liveAdminSession(await sha256Hex(id));
      if (!row) return undefined;
      if (!row.subject.startsWith(USER_PREFIX)) return { id, scope: row.subject };
      // A user taken out of ADMIN_USERS is logged out everywhere, without a revocation.
      const name = row.subject.slice(USER_PREFIX.length);
      return users.some((u) => u.name === name) ? { id, scope: "*", user: name } : undefined;
    },
    async revoke(cookie: string | undefined): Promise<void> {
      const id = await parse(cookie);
      if (id) await options.store.revokeAdminSession(await sha256Hex(id));
    },
    csrfToken: (sessionId: string) => sign("csrf", sessionId),
    async checkCsrf(sessionId: string, token: string | undefined): Promise<boolean> {
      return typeof token === "string" && safeEqual(token, await sign("csrf", sessionId));
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;

/**
 * The server secret, resolved on first use: SESSION_SECRET when set, else the random one the
 * first process stored (every process and isolate then shares it, and it survives restarts).
 */
export function serverSecret(store: Store, configured: string | undefined): () => Promise<string> {
  let secret: Promise<string> | undefined;
  return () => {
    secret ??= configured
      ? Promise.resolve(configured)
      : store.ensureSecret("session", randomToken()).catch((error: unknown) => {
          secret = undefined;
          throw error;
        });
    return secret;
  };
}
