import { eq } from "drizzle-orm";
import { websiteSettings } from "./schema.ts";
import type { StoreContext } from "./shared.ts";

/** Per-website settings (plugin mode), one JSON row per website; validated by src/websites.ts. */
export function settingsQueries({ db, clock }: StoreContext) {
  return {
    async getWebsiteSettings(websiteId: string): Promise<Record<string, unknown> | undefined> {
      const rows = await db
        .select()
        .from(websiteSettings)
        .where(eq(websiteSettings.websiteId, websiteId))
        .limit(1);
      return rows[0]?.settings;
    },

    async setWebsiteSettings(websiteId: string, settings: Record<string, unknown>): Promise<void> {
      const now = clock.now();
      await db
        .insert(websiteSettings)
        .values({ websiteId, settings, updatedAt: now })
        .onConflictDoUpdate({ target: websiteSettings.websiteId, set: { settings, updatedAt: now } });
    },

    async listWebsiteSettings() {
      return db.select().from(websiteSettings).orderBy(websiteSettings.websiteId);
    },
  };
}
