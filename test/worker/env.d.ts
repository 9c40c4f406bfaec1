declare module "cloudflare:test" {
  interface ProvidedEnv {
    DB: D1Database;
    JOBS: Queue;
    TEST_MIGRATIONS: D1Migration[];
  }
}
