import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    exclude: ["test/worker/**", "node_modules/**"],
    globalSetup: ["test/setup/chromium.ts", "test/setup/build.ts"],
    // One module graph per worker, not per file; test/setup/shared-worker.ts resets what files share.
    isolate: false,
    // One more worker than the 2 cores: many tests wait on timers, child processes and sockets.
    maxWorkers: 3,
    setupFiles: ["test/setup/shared-worker.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
