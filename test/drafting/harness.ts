import { readFileSync } from "node:fs";
import { onTestFinished } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import type { DraftEngine, DraftRequest, DraftResult } from "../../src/llm/types.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { buildServices, type ServiceInputs } from "../../src/services.ts";
import { inProcessFetch } from "../helpers.ts";

/** The pipeline against the in-process sandbox and an in-memory database, with a scripted LLM. */

export const answer = (over: Partial<DraftResult> = {}): DraftResult => ({
  text: "You can start a return from your orders page.",
  confidence: 0.95,
  intent: "returns",
  needsHuman: false,
  citations: [],
  usage: { inputTokens: 1_000, outputTokens: 100, cachedInputTokens: 0 },
  model: "gpt-4o-mini",
  provider: "openai",
  ...over,
});

/** A real (non-demo) configuration over the sandbox's credentials: plugin tier, one admin token. */
export const PLUGIN_ENV = {
  CRISP_IDENTIFIER: DEMO_CREDENTIALS.identifier,
  CRISP_KEY: DEMO_CREDENTIALS.key,
  CRISP_WEBSITE_ID: DEMO_CREDENTIALS.websiteId,
  CRISP_WEBHOOK_SECRET: DEMO_CREDENTIALS.webhookSecret,
  ADMIN_TOKEN: "root-token-of-the-tests",
  PEOPLE_SYNC: "off",
};

export async function setup(
  env: Record<string, string> = {},
  llm?: (req: DraftRequest) => Promise<DraftResult>,
  // `llm: undefined` drafts with the provider chain the config builds instead of the script.
  extra: Omit<Partial<ServiceInputs>, "llm"> & { llm?: DraftEngine | undefined } = {},
) {
  const sandbox = createSandbox({ webhookUrls: [] });
  const database = openSqlite(":memory:");
  database.migrate();
  // Closed with the test that opened it (a hook at the top would serve only the first file).
  onTestFinished(() => database.close());
  const requests: DraftRequest[] = [];
  const engine: DraftEngine = {
    async draft(req) {
      requests.push(req);
      const result = await (llm ?? (async () => answer()))(req);
      return {
        ...result,
        attempts: [
          { provider: result.provider, model: result.model, status: "ok", latencyMs: 5, usage: result.usage },
        ],
      };
    },
  };
  const inProcess = inProcessFetch(sandbox.app);
  const services = await buildServices({
    config: loadConfig({ DATABASE_PATH: ":memory:", ...env }),
    db: database.db,
    clock: systemClock,
    log: silentLogger,
    kbFiles: [],
    promptFiles: ["default.md", "concise.md"].map((name) => ({
      name,
      content: readFileSync(new URL(`../../prompts/${name}`, import.meta.url), "utf8"),
    })),
    crisp: {
      apiUrl: "http://sandbox.test/v1",
      identifier: DEMO_CREDENTIALS.identifier,
      key: DEMO_CREDENTIALS.key,
      websiteId: sandbox.website.website_id,
      webhookSecret: DEMO_CREDENTIALS.webhookSecret,
    },
    fetch: inProcess,
    llm: engine,
    ...(extra as Partial<ServiceInputs>),
  });
  const enqueue = async (
    sessionId: string,
    fingerprint: number,
    timestamp: number,
    websiteId = sandbox.website.website_id,
  ) =>
    (
      await services.intake.enqueueForMessage({
        websiteId,
        sessionId,
        fingerprint,
        messageAt: timestamp,
        trigger: "webhook",
        delayMs: 0,
      })
    ).job;
  const runNext = async (owner = "test") => {
    const [job] = await services.store.leaseJobs({ owner, leaseMs: 60_000, limit: 1 });
    if (!job) throw new Error("nothing to run");
    return { job, outcome: await services.pipeline.run(job, owner, new AbortController().signal) };
  };
  return { sandbox, services, requests, enqueue, runNext, inProcess };
}
