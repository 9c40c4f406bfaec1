import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { draftCommand } from "../../src/runtime/cli/draft.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { createStore } from "../../src/store/store.ts";

/** `quill draft <session_id>` against the sandbox over HTTP, with an OpenAI-compatible model. */

const sandbox = createSandbox({ webhookUrls: [], seed: false });
let sandboxServer: ReturnType<typeof serve>;
let llm: Server;
const prompts: string[] = [];
const dir = mkdtempSync(join(tmpdir(), "quill-draft-cli-"));
const databasePath = join(dir, "q.db");

beforeAll(async () => {
  // The model writes the placeholder it was shown for the customer's address.
  llm = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      prompts.push(body);
      const reply = {
        reply: "We will send the label to [email 1] today.",
        confidence: 0.8,
        intent: "returns",
        needs_human: false,
        needs_human_reason: null,
        language: "en",
        citations: [],
      };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "chatcmpl-1",
          object: "chat.completion",
          created: 1741569952,
          model: "local-model",
          choices: [
            {
              index: 0,
              message: { role: "assistant", content: JSON.stringify(reply), refusal: null },
              finish_reason: "stop",
            },
          ],
          usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => llm.listen(0, "127.0.0.1", resolve));
  sandboxServer = serve({ fetch: sandbox.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => sandboxServer.once("listening", resolve));
  const env = {
    CRISP_API_URL: `http://127.0.0.1:${(sandboxServer.address() as AddressInfo).port}/v1`,
    CRISP_IDENTIFIER: DEMO_CREDENTIALS.identifier,
    CRISP_KEY: DEMO_CREDENTIALS.key,
    CRISP_WEBSITE_ID: sandbox.website.website_id,
    CRISP_WEBHOOK_SECRET: DEMO_CREDENTIALS.webhookSecret,
    LLM_PROVIDER: "compatible",
    LLM_MODEL: "local-model",
    LLM_BASE_URL: `http://127.0.0.1:${(llm.address() as AddressInfo).port}/v1`,
    LLM_RETRIES: "0",
    DATABASE_PATH: databasePath,
    PEOPLE_SYNC: "off",
    LOG_LEVEL: "silent",
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise((resolve) => sandboxServer.close(resolve));
  await new Promise((resolve) => llm.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(line));
  const error = vi.spyOn(console, "error").mockImplementation((line: string) => void out.push(line));
  return {
    text: () => out.join("\n"),
    restore: () => {
      log.mockRestore();
      error.mockRestore();
    },
  };
}

async function jobs() {
  const database = openSqlite(databasePath);
  try {
    return await createStore(database.db).listJobs({});
  } finally {
    database.close();
  }
}

const posts = (sessionId: string) =>
  sandbox.messagesOf(sessionId).filter((m) => m.type === "note" || m.from === "operator");

describe("quill draft", () => {
  it("a dry run prints the draft with the customer's real data, posts nothing and leaves no job to post", async () => {
    const said = sandbox.visitorSays({ text: "I want to return my shoes, mail me at ada@example.com" });
    const out = capture();
    const code = await draftCommand({ sessionId: said.sessionId, post: false });
    out.restore();
    expect(code).toBe(0);
    expect(out.text()).toContain("We will send the label to ada@example.com today.");
    expect(out.text()).not.toContain("[email 1]");
    expect(out.text()).toContain("not posted (dry run; --post to post it) · intent returns · confidence 0.8");
    // The model saw the placeholder, never the address.
    expect(prompts.at(-1)).toContain("[email 1]");
    expect(prompts.at(-1)).not.toContain("ada@example.com");
    expect(posts(said.sessionId)).toEqual([]);
    // Nothing a running `quill start` could lease and post later.
    expect(await jobs()).toEqual([]);
  }, 30_000);

  it("--post posts the draft and prints the text it posted", async () => {
    const said = sandbox.visitorSays({ text: "Can I return my shoes? I'm ada@example.com" });
    const out = capture();
    const code = await draftCommand({ sessionId: said.sessionId, post: true });
    out.restore();
    expect(code).toBe(0);
    expect(out.text()).toContain("We will send the label to ada@example.com today.");
    expect(out.text()).toContain("posted as a private note · intent returns · confidence 0.8");
    const posted = posts(said.sessionId);
    expect(posted).toHaveLength(1);
    expect(String(posted[0]?.content)).toContain("We will send the label to ada@example.com today.");
    expect((await jobs()).map((j) => [j.sessionId, j.status])).toEqual([[said.sessionId, "done"]]);

    // Asked again, it shows the draft it already posted instead of posting twice.
    const again = capture();
    expect(await draftCommand({ sessionId: said.sessionId, post: true })).toBe(0);
    again.restore();
    expect(again.text()).toContain("already drafted (posted)");
    expect(posts(said.sessionId)).toHaveLength(1);
  }, 30_000);
});
