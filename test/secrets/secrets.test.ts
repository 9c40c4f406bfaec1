import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import Database from "better-sqlite3";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { exportCommand } from "../../src/runtime/cli/export.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { type QuillHandle, startQuill } from "../../src/runtime/node.ts";
import { createSandbox, type Sandbox } from "../../src/sandbox/app.ts";

/**
 * Secrets never leave: with a canary value in every secret, nothing quill logs, answers,
 * renders, stores or exports contains one (nor its Basic-auth or URL encoding) — even when
 * the LLM provider's error message echoes the key back, as OpenAI's 401 does.
 */

const CANARY = {
  CRISP_IDENTIFIER: "canary-ident-4c1d7e",
  CRISP_KEY: "canary-crisp-key-7f3a9b2e",
  CRISP_WEBHOOK_SECRET: "canary-hook-secret-88e2c4",
  OPENAI_API_KEY: "sk-canary-openai-5b7d1f9a",
  ANTHROPIC_API_KEY: "sk-ant-canary-91c3e7f2",
  ADMIN_TOKEN: "canary-admin-token-3d9a6c",
  CRM_WEBHOOK_SECRET: "canary-crm-secret-0aa4f1",
  METRICS_TOKEN: "canary-metrics-token-6e2b08",
  COMPATIBLE_API_KEY: "canary-compatible-key-2f8c51",
  HUGO_MCP_SECRET: "mcp_sec_canary-hugo-9d4e17",
};
const needles = [
  ...Object.values(CANARY),
  btoa(`${CANARY.CRISP_IDENTIFIER}:${CANARY.CRISP_KEY}`),
  encodeURIComponent(CANARY.CRISP_KEY),
];
const leaks = (haystack: string) => needles.filter((n) => haystack.includes(n));

/** Everything the production logger (pino, at debug level) writes. */
const emitted: string[] = [];
const logger = createLogger("debug", { write: (line: string) => void emitted.push(line) });

let llm: Server;
let sandbox: Sandbox;
let sandboxServer: ReturnType<typeof serve>;
let quill: QuillHandle;
let dir: string;
const seen: string[] = [];
/** What was searched for canaries, by surface, for the summary line. */
const surfaces = new Map<string, { items: number; leaks: number }>();
const searched = (surface: string, texts: string[]) => {
  const tally = surfaces.get(surface) ?? { items: 0, leaks: 0 };
  surfaces.set(surface, tally);
  tally.items += texts.length;
  tally.leaks += texts.reduce((n, text) => n + leaks(text).length, 0);
};
afterAll(() => {
  const all = [...surfaces.values()].reduce((n, s) => n + s.leaks, 0);
  const parts = [...surfaces].map(([name, s]) => `${s.items} ${name}${s.leaks ? ` (${s.leaks} leaks)` : ""}`);
  console.log(
    `secrets: ${Object.keys(CANARY).length} canaries (${needles.length} needles with encodings) × ` +
      `${surfaces.size} surfaces (${parts.join(", ")}), ${all} leaks`,
  );
});

beforeAll(async () => {
  // An LLM API that echoes the key it was sent in its 401, as OpenAI does.
  llm = createServer((req, res) => {
    const key = String(req.headers.authorization ?? "").replace(/^Bearer /, "");
    res.writeHead(401, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        error: {
          message: `Incorrect API key provided: ${key}.`,
          type: "invalid_request_error",
          code: "invalid_api_key",
        },
      }),
    );
  });
  await new Promise<void>((resolve) => llm.listen(0, "127.0.0.1", resolve));
  dir = mkdtempSync(join(tmpdir(), "quill-secrets-"));
  const quillPortHolder = { port: 0 };
  sandbox = createSandbox({
    identifier: CANARY.CRISP_IDENTIFIER,
    key: CANARY.CRISP_KEY,
    webhookSecret: CANARY.CRISP_WEBHOOK_SECRET,
    webhookUrls: [],
    seed: false,
    webhookRetryBaseMs: 20,
  });
  sandboxServer = serve({ fetch: sandbox.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => sandboxServer.once("listening", resolve));
  const sandboxPort = (sandboxServer.address() as AddressInfo).port;
  quill = await startQuill({
    env: {
      ...CANARY,
      CRISP_WEBSITE_ID: sandbox.website.website_id,
      CRISP_API_URL: `http://127.0.0.1:${sandboxPort}/v1`,
      LLM_PROVIDER: "openai",
      LLM_BASE_URL: `http://127.0.0.1:${(llm.address() as AddressInfo).port}/v1`,
      LLM_FALLBACK: "anthropic",
      LLM_RETRIES: "0",
      CRM_WEBHOOK_URL: "http://127.0.0.1:9/crm",
      OUTBOUND_ALLOW_PRIVATE: "true",
      DATABASE_PATH: join(dir, "q.db"),
      QUIET_PERIOD_MS: "0",
      POLL_INTERVAL_SECONDS: "0",
      LOG_LEVEL: "debug",
    },
    port: 0,
    host: "127.0.0.1",
    log: logger,
  });
  quillPortHolder.port = quill.port;
  sandbox.addWebhookUrl(`${quill.url}/webhooks/crisp`);
  // Anthropic (the fallback) is unreachable here: its error is logged and stored too.
  vi.stubGlobal("fetch", fetch);
}, 30_000);

afterAll(async () => {
  await quill?.stop(1_000);
  await new Promise((resolve) => sandboxServer?.close(resolve));
  await new Promise((resolve) => llm?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const until = async (probe: () => boolean, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
};

it("no log line, response, page, stored row or export contains a secret", async () => {
  // A draft whose providers both fail (the OpenAI 401 echoes the key), with Crisp errors on the way.
  sandbox.faults.script.push({ method: "GET", path: "/messages", fault: "500", times: 1 });
  const { sessionId } = sandbox.visitorSays({ text: "Where is my parcel?", email: "ann@example.com" });
  await until(() => sandbox.messagesOf(sessionId).some((m) => m.type === "note"));
  const note = sandbox.messagesOf(sessionId).find((m) => m.type === "note");
  seen.push(JSON.stringify(note));
  searched("Crisp conversations", [JSON.stringify(sandbox.messagesOf(sessionId))]);
  expect(String(note?.content)).toMatch(/draft unavailable/);

  const get = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${quill.url}${path}`, init);
    seen.push(`${path} ${response.status} ${JSON.stringify([...response.headers])} ${await response.text()}`);
    searched(path.startsWith("/admin/") ? "dashboard responses" : "HTTP responses", seen.slice(-1));
    return response;
  };
  await get("/healthz");
  await get("/metrics");
  expect(
    (await get("/metrics", { headers: { authorization: `Bearer ${CANARY.METRICS_TOKEN}` } })).status,
  ).toBe(200);
  await get("/nowhere");
  await get("/webhooks/crisp", {
    method: "POST",
    body: "{}",
    headers: { "x-crisp-signature": "nope", "x-crisp-request-timestamp": String(Date.now()) },
  });
  await get("/crm/people", {
    method: "POST",
    body: "{}",
    headers: { "x-quill-signature": "v1=nope", "x-quill-timestamp": String(Date.now()) },
  });
  // The login form's cookie and signed field (login CSRF), as a browser would post them.
  const form = await get("/admin/login");
  const loginCookie = form.headers.get("set-cookie")?.split(";")[0] ?? "";
  const _csrf = /name="_csrf" value="([^"]+)"/.exec(seen.at(-1) ?? "")?.[1] ?? "";
  await get("/admin/login", {
    method: "POST",
    body: new URLSearchParams({ token: "wrong", _csrf }),
    headers: { cookie: loginCookie },
  });
  const login = await fetch(`${quill.url}/admin/login`, {
    method: "POST",
    body: new URLSearchParams({ token: CANARY.ADMIN_TOKEN, _csrf }),
    headers: { cookie: loginCookie },
    redirect: "manual",
  });
  const cookie = login.headers.get("set-cookie")?.split(";")[0] ?? "";
  expect(cookie).toMatch(/^quill_session=/);
  seen.push(JSON.stringify([...login.headers]));
  searched("dashboard responses", seen.slice(-1));
  const [draft] = await quill.services.store.listDrafts({});
  for (const page of ["drafts", `drafts/${draft?.id}`, "prompts", "gaps", "triage", "health", "websites"]) {
    const response = await get(`/admin/${page}`, { headers: { cookie } });
    expect(response.status).toBe(200);
  }

  // Let the outcome's CRM sync fail against a closed port, then look at everything.
  const deadline = Date.now() + 10_000;
  while (!(await quill.services.store.listJobs({ kind: "sync" })).some((j) => j.lastError)) {
    if (Date.now() > deadline) throw new Error("the CRM sync never failed");
    await new Promise((r) => setTimeout(r, 50));
  }
  const out = join(dir, "export.jsonl");
  vi.stubEnv("DATABASE_PATH", join(dir, "q.db"));
  vi.spyOn(console, "error").mockImplementation(() => {});
  expect(await exportCommand({ out, includePii: true })).toBe(0);
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  seen.push(readFileSync(out, "utf8"));
  searched("export lines", (seen.at(-1) ?? "").split("\n").filter(Boolean));

  const db = new Database(join(dir, "q.db"), { readonly: true });
  for (const { name } of db.prepare("select name from sqlite_master where type = 'table'").all() as Array<{
    name: string;
  }>) {
    seen.push(JSON.stringify(db.prepare(`select * from "${name}"`).all()));
    searched("database tables", seen.slice(-1));
  }
  db.close();

  // The test can fail: the provider's 401 really was logged, with what the provider said.
  searched("log lines", emitted);
  expect(emitted.join("\n")).toMatch(/401/);
  expect(leaks(emitted.join("\n"))).toEqual([]);
  expect(leaks(seen.join("\n"))).toEqual([]);
});

it("a configuration error names variables, never another variable's secret", () => {
  const attempt = () =>
    loadConfig({
      CRISP_KEY: CANARY.CRISP_KEY,
      CRISP_IDENTIFIER: CANARY.CRISP_IDENTIFIER,
      OPENAI_API_KEY: CANARY.OPENAI_API_KEY,
      LLM_PROVIDER: "anthropic",
    });
  expect(attempt).toThrow(ConfigError);
  try {
    attempt();
  } catch (error) {
    expect((error as Error).message).toMatch(/CRISP_WEBSITE_ID: required/);
    expect((error as Error).message).toMatch(/ANTHROPIC_API_KEY: required/);
    searched("configuration errors", [(error as Error).message]);
    expect(leaks((error as Error).message)).toEqual([]);
  }
});
