import { expect, it } from "vitest";
import { createLogger } from "../../src/runtime/logger.ts";
import { setup } from "../drafting/harness.ts";
import { inProcessFetch } from "../helpers.ts";

/**
 * A provider's 400 that echoes the key it was sent (a proxy or a local server may) never
 * reaches llm_calls.error, a log line, the job, the failure note or the dashboard: every
 * provider error text goes through scrubSecrets. The compatible key has no key-like shape,
 * so only the verbatim rule can catch it; the OpenAI key is caught either way.
 */

const COMPATIBLE_KEY = "plain-words-compatible-canary";
const OPENAI_KEY = "sk-canary-openai-echoed-1a2b3c";

it("a 400 echoing the key leaves it in no llm_calls row, log line, job, note or dashboard page", async () => {
  const lines: string[] = [];
  const log = createLogger("debug", { write: (line: string) => void lines.push(line) });
  let sandboxApp: Parameters<typeof inProcessFetch>[0] | undefined;
  const llmCalls: string[] = [];
  const fetchAll: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (request.url.startsWith("http://llm.local/") || request.url.startsWith("https://api.openai.com/")) {
      const sent = (request.headers.get("authorization") ?? "").replace(/^Bearer /, "");
      llmCalls.push(request.url);
      return Response.json(
        {
          error: {
            message: `Invalid request: the key ${sent} may not use model llama3.1`,
            type: "invalid_request_error",
          },
        },
        { status: 400 },
      );
    }
    if (!sandboxApp) throw new Error("sandbox not ready");
    return inProcessFetch(sandboxApp)(input, init);
  };
  const { sandbox, services, enqueue, runNext } = await setup(
    {
      LLM_PROVIDER: "compatible",
      LLM_BASE_URL: "http://llm.local/v1",
      COMPATIBLE_API_KEY: COMPATIBLE_KEY,
      LLM_FALLBACK: "openai",
      OPENAI_API_KEY: OPENAI_KEY,
      LLM_RETRIES: "0",
    },
    undefined,
    // The real provider chain (no scripted engine) and the production logger.
    { llm: undefined, log, fetch: fetchAll },
  );
  sandboxApp = sandbox.app;
  const said = sandbox.visitorSays({ text: "Where is my parcel?" });
  await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
  const { job, outcome } = await runNext();
  expect(llmCalls).toHaveLength(2);
  expect(outcome).toMatchObject({ status: "failed" });

  const calls = await services.store.llmCallsForJob(job.id);
  expect(calls.map((c) => c.status)).toEqual(["bad_request", "bad_request"]);
  // The provider's text is kept, minus the key.
  for (const call of calls) expect(call.error).toMatch(/Invalid request: the key \[redacted\] may not use/);
  const [draft] = await services.store.listDrafts({});
  const page = await services.app.request(`/admin/drafts/${draft?.id}`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain("[redacted]");
  const [stored] = await services.store.listJobs({ limit: 10 });

  const surfaces = {
    llm_calls: JSON.stringify(calls),
    logs: lines.join("\n"),
    dashboard: html,
    job: JSON.stringify(stored),
    draft: JSON.stringify(draft),
    crisp: JSON.stringify(sandbox.messagesOf(said.sessionId)),
  };
  expect(lines.some((l) => l.includes("LLM provider failed"))).toBe(true);
  for (const [surface, text] of Object.entries(surfaces)) {
    expect(text.includes(COMPATIBLE_KEY), `${surface} holds the compatible key`).toBe(false);
    expect(text.includes(OPENAI_KEY), `${surface} holds the OpenAI key`).toBe(false);
  }
});
