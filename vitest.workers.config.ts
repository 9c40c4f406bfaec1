import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/** The Worker inside workerd, with the real migrations applied to a local D1. */
export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // A second database for the store contract, emptied before each of its tests.
        d1Databases: { STORE_DB: "quill-store-contract" },
        // wrangler.toml's consumers, with a batch window of 50 ms instead of 1 s and 5 s: each
        // test through the real queue would otherwise wait out the window.
        queueConsumers: {
          "quill-jobs": {
            maxBatchSize: 10,
            maxBatchTimeout: 0.05,
            maxRetries: 5,
            deadLetterQueue: "quill-jobs-dead",
          },
          "quill-jobs-dead": { maxBatchSize: 10, maxBatchTimeout: 0.05, maxRetries: 3 },
        },
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations("./migrations"),
          CRISP_IDENTIFIER: "7a3f1c2e-quill-demo-identifier",
          CRISP_KEY: "quill-demo-key-0123456789abcdef0123456789abcdef",
          CRISP_WEBSITE_ID: "42b1a8c6-5d3e-4f7a-9b2c-1e0d9f8a7b6c",
          CRISP_WEBHOOK_SECRET: "quill-demo-webhook-secret",
          CRISP_API_URL: "http://crisp.sandbox.test/v1",
          QUIET_PERIOD_MS: "0",
          LOG_LEVEL: "error",
        },
      },
    }),
  ],
  test: {
    name: "workers",
    include: ["test/worker/**/*.test.ts"],
    setupFiles: ["./test/worker/apply-migrations.ts"],
    testTimeout: 30_000,
  },
}));
