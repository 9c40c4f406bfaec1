declare module "cloudflare:test" {
  interface ProvidedEnv {
    DB: D1Database;
    STORE_DB: D1Database;
    JOBS: Queue;
    TEST_MIGRATIONS: D1Migration[];
  }
}
