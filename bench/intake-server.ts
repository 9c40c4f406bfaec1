import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { silentLogger } from "../src/log.ts";
import { startQuill } from "../src/runtime/node.ts";

/**
 * The servers bench/intake.ts drives: `quill` (web hook intake only; drafting is not
 * running) or `bare` (a Hono route that reads the body and answers 200). Prints the port.
 */

if (process.argv[2] === "bare") {
  const app = new Hono();
  app.post("/webhooks/crisp", async (c) => {
    await c.req.text();
    return c.json({ ok: true });
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  server.once("listening", () => console.log(`port=${(server.address() as { port: number }).port}`));
} else {
  const quill = await startQuill({
    env: {
      DATABASE_PATH: join(mkdtempSync(join(tmpdir(), "quill-intake-")), "q.db"),
      CRISP_IDENTIFIER: "id",
      CRISP_KEY: "key",
      CRISP_WEBSITE_ID: "42b1a8c6-5d3e-4f7a-9b2c-1e0d9f8a7b6c",
      CRISP_WEBHOOK_SECRET: "bench-webhook-secret",
      CRISP_API_URL: "http://127.0.0.1:9/v1",
      POLL_INTERVAL_SECONDS: "0",
      LOG_LEVEL: "silent",
    },
    port: 0,
    host: "127.0.0.1",
    log: silentLogger,
    runJobs: false,
  });
  console.log(`port=${quill.port}`);
}

// A normal exit on SIGTERM, so `node --cpu-prof bench/intake-server.bundle.mjs quill` writes its profile.
process.once("SIGTERM", () => process.exit(0));
