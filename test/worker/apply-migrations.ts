import { applyD1Migrations, env } from "cloudflare:test";

// The same SQL files drizzle-kit generated and `wrangler d1 migrations apply` uses.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await applyD1Migrations(env.STORE_DB, env.TEST_MIGRATIONS);
