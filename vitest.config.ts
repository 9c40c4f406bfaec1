import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    exclude: ["test/worker/**", "node_modules/**"],
    globalSetup: ["test/setup/chromium.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
