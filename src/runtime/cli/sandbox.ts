import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { useNativeCrypto } from "../../crypto.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../sandbox/app.ts";
import { createHttpFetch } from "../http-fetch.ts";
import { createLogger } from "../logger.ts";
import { nodeCrypto } from "../node-crypto.ts";
import { onSignals, parsePort, UsageError } from "./shared.ts";

/** `quill sandbox`: the local Crisp sandbox alone, for a quill (or crisp-api client) pointed at it. */

export async function runSandboxCommand(opts: {
  port?: string | undefined;
  webhookUrls: string[];
}): Promise<number> {
  const env = process.env;
  // Hooks are signed synchronously, as quill verifies them: WebCrypto's sign is a thread-pool round trip.
  useNativeCrypto(nodeCrypto);
  const port = parsePort(opts.port ?? "8787");
  const useEnv = Boolean(env.CRISP_IDENTIFIER && env.CRISP_KEY);
  const sandbox = createSandbox({
    ...(useEnv ? { identifier: env.CRISP_IDENTIFIER as string, key: env.CRISP_KEY as string } : {}),
    ...(env.CRISP_WEBSITE_ID ? { websiteId: env.CRISP_WEBSITE_ID } : {}),
    ...(env.CRISP_WEBHOOK_SECRET ? { webhookSecret: env.CRISP_WEBHOOK_SECRET } : {}),
    tier: (env.CRISP_TIER as "plugin" | "website" | "user" | undefined) ?? "plugin",
    webhookUrls: opts.webhookUrls,
    seed: true,
    log: createLogger(env.LOG_LEVEL ?? "info"),
    // Keep-alive node:http, as quill's Crisp client: the global fetch costs several times the CPU per hook.
    fetch: createHttpFetch(),
  });
  const server = serve({ fetch: sandbox.app.fetch, port, hostname: env.HOST ?? "127.0.0.1" });
  await new Promise<void>((done, fail) => {
    server.once("listening", () => done());
    server.once("error", (error: NodeJS.ErrnoException) =>
      fail(
        new UsageError(
          error.code === "EADDRINUSE"
            ? `--port: ${port} is already in use; pick another --port`
            : `--port: cannot listen on ${port} (${error.message})`,
        ),
      ),
    );
  });
  const actual = (server.address() as AddressInfo).port;
  const c = sandbox.credentials;
  console.log(
    [
      `Crisp sandbox on http://127.0.0.1:${actual}  (inbox page at /, REST at /v1)`,
      `  CRISP_API_URL=http://127.0.0.1:${actual}/v1`,
      `  CRISP_IDENTIFIER=${c.identifier}`,
      `  CRISP_KEY=${useEnv ? "(from your environment)" : c.key}`,
      `  CRISP_WEBSITE_ID=${c.websiteId}`,
      `  CRISP_TIER=${c.tier}`,
      `  CRISP_WEBHOOK_SECRET=${env.CRISP_WEBHOOK_SECRET ? "(from your environment)" : DEMO_CREDENTIALS.webhookSecret}`,
      opts.webhookUrls.length
        ? `  web hooks → ${opts.webhookUrls.join(", ")}`
        : "  web hooks: none (add --webhook-url)",
    ].join("\n"),
  );
  onSignals(async () => {
    await sandbox.flushWebhooks();
    await new Promise<void>((done) => server.close(() => done()));
  });
  await new Promise(() => {});
  return 0;
}
