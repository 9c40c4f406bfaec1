import { defineConfig } from "vitest/config";

/** `npm test`: the Node suite and the Worker suite (vitest.workers.config.ts) in one run, side by side. */
export default defineConfig({
  test: {
    // One more worker than the 2 cores: many tests wait on timers, child processes and sockets.
    maxWorkers: 3,
    projects: [
      {
        test: {
          name: "node",
          include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
          exclude: ["test/worker/**", "node_modules/**"],
          globalSetup: ["test/setup/chromium.ts", "test/setup/build.ts"],
          // One module graph per worker, not per file; test/setup/shared-worker.ts resets what files share.
          isolate: false,
          setupFiles: ["test/setup/shared-worker.ts"],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      "./vitest.workers.config.ts",
    ],
  },
});
