import { and, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { type AdminSession, adminSessions, crmRequests, loginFailures, serverSecrets } from "./schema.ts";
import { rowCount, type StoreContext } from "./shared.ts";

type LoginFailure = { key: string; failures: number; lastFailureAt: number };
const live = () => sql`${adminSessions.revokedAt} is null`;

/** Server secrets and dashboard sessions. */
export function sessionQueries({ db, clock }: StoreContext) {
  return {
    /** The stored secret `name`, or `candidate` stored as it when there is none (first writer wins). */
    async ensureSecret(name: string, candidate: string): Promise<string> {
      await db
        .insert(serverSecrets)
        .values({ name, value: candidate, createdAt: clock.now() })
        .onConflictDoNothing({ target: serverSecrets.name });
      const rows = await db.select().from(serverSecrets).where(eq(serverSecrets.name, name)).limit(1);
      return rows[0]?.value ?? candidate;
    },

    async setSecret(name: string, value: string): Promise<void> {
      const now = clock.now();
      await db
        .insert(serverSecrets)
        .values({ name, value, createdAt: now })
        .onConflictDoUpdate({ target: serverSecrets.name, set: { value, createdAt: now } });
    },

    async insertAdminSession(s: Omit<AdminSession, "revokedAt">): Promise<void> {
      await db.insert(adminSessions).values(s);
      // Expired rows go with each login, so the table stays as small as the live sessions.
      await db.delete(adminSessions).where(lt(adminSessions.expiresAt, clock.now() - 86_400_000));
    },

    /** A session that is neither expired nor revoked. */
    async liveAdminSession(idHash: string): Promise<AdminSession | undefined> {
      const rows = await db.select().from(adminSessions).where(eq(adminSessions.idHash, idHash)).limit(1);
      const row = rows[0];
      return row && row.revokedAt === null && row.expiresAt > clock.now() ? row : undefined;
    },

    async revokeAdminSession(idHash: string): Promise<void> {
      await db
        .update(adminSessions)
        .set({ revokedAt: clock.now() })
        .where(and(eq(adminSessions.idHash, idHash), live()));
    },

    /** Ends every session of a subject ("*" or a website id); returns how many were live. */
    async revokeAdminSessionsOf(subject: string): Promise<number> {
      const now = clock.now();
      return rowCount(
        db
          .update(adminSessions)
          .set({ revokedAt: now })
          .where(and(eq(adminSessions.subject, subject), live(), gte(adminSessions.expiresAt, now)))
          .returning({ idHash: adminSessions.idHash }),
      );
    },
  };
}

/** Login throttling and replay keys of signed requests: counters and keys that expire. */
export function throttleQueries({ db, clock }: StoreContext) {
  return {
    /**
     * Counts one failed login under each key, in one statement per key; a count whose last
     * failure is older than `forgetAfterMs` starts again at 1.
     */
    async recordLoginFailure(keys: string[], forgetAfterMs: number): Promise<LoginFailure[]> {
      const now = clock.now();
      const out: LoginFailure[] = [];
      for (const key of keys) {
        const rows = await db
          .insert(loginFailures)
          .values({ key, failures: 1, lastFailureAt: now })
          .onConflictDoUpdate({
            target: loginFailures.key,
            set: {
              failures: sql`case when ${loginFailures.lastFailureAt} < ${now - forgetAfterMs} then 1 else ${loginFailures.failures} + 1 end`,
              lastFailureAt: now,
            },
          })
          .returning();
        if (rows[0]) out.push(rows[0]);
      }
      return out;
    },

    async loginFailuresOf(keys: string[]): Promise<LoginFailure[]> {
      if (keys.length === 0) return [];
      return db.select().from(loginFailures).where(inArray(loginFailures.key, keys));
    },

    async clearLoginFailures(keys: string[]): Promise<void> {
      if (keys.length === 0) return;
      await db.delete(loginFailures).where(inArray(loginFailures.key, keys));
    },

    /**
     * Records a signed request (CRM, Hugo) until `expiresAt`; false when the same key is still
     * recorded (a replay). Expired keys are dropped on the way, so the table stays small.
     */
    async claimSignedRequest(key: string, websiteId: string, expiresAt: number): Promise<boolean> {
      await db.delete(crmRequests).where(lt(crmRequests.expiresAt, clock.now()));
      const claimed = await rowCount(
        db
          .insert(crmRequests)
          .values({ key, websiteId, expiresAt })
          .onConflictDoNothing()
          .returning({ key: crmRequests.key }),
      );
      return claimed > 0;
    },

    /** Forgets a claimed request (it was not applied), so the sender may repeat it. */
    async releaseSignedRequest(key: string): Promise<void> {
      await db.delete(crmRequests).where(eq(crmRequests.key, key));
    },
  };
}
