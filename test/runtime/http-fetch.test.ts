import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCrispClient } from "../../src/crisp/client.ts";
import { createHttpFetch } from "../../src/runtime/http-fetch.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";

/** The Crisp client's node:http fetch against a real server: what the client relies on. */

let server: Server;
let base = "";
const seen: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.url?.startsWith("/slow")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"error":false,');
        return; // never ends
      }
      if (req.url?.startsWith("/limited")) {
        res.writeHead(429, { "retry-after": "7", "content-type": "application/json" });
        res.end('{"error":true,"reason":"rate_limited"}');
        return;
      }
      res.writeHead(200, { "content-type": "application/json", "x-multi": ["a", "b"] });
      res.end(JSON.stringify({ error: false, reason: "ok", data: { echo: body, héllo: "wörld" } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("createHttpFetch", () => {
  const fetch = createHttpFetch();

  it("sends method, headers and a UTF-8 body with its byte length; answers status, headers and text", async () => {
    const body = JSON.stringify({ content: "déjà vu 🙂" });
    const response = await fetch(`${base}/v1/thing?x=1`, {
      method: "POST",
      headers: { Authorization: "Basic abc", "Content-Type": "application/json" },
      body,
    });
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.headers.get("Content-Type")).toBe("application/json");
    expect(response.headers.get("x-multi")).toBe("a, b");
    expect(response.headers.get("retry-after")).toBeNull();
    expect(JSON.parse(await response.text())).toEqual({
      error: false,
      reason: "ok",
      data: { echo: body, héllo: "wörld" },
    });
    const request = seen.at(-1);
    expect(request).toMatchObject({ method: "POST", url: "/v1/thing?x=1", body });
    expect(request?.headers.authorization).toBe("Basic abc");
    expect(request?.headers["content-length"]).toBe(String(Buffer.byteLength(body)));
  });

  it("rejects when its signal aborts mid-answer, and at once for a signal already aborted", async () => {
    const slow = fetch(`${base}/slow`, { signal: AbortSignal.timeout(100) });
    await expect(slow).rejects.toMatchObject({ name: expect.stringMatching(/AbortError|TimeoutError/) });
    const before = seen.length;
    await expect(fetch(`${base}/v1/x`, { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(seen.length).toBe(before);
  });

  it("rejects on a refused connection", async () => {
    await expect(fetch("http://127.0.0.1:9/v1/x")).rejects.toThrow();
  });

  it("hands a 429's Retry-After through", async () => {
    const response = await fetch(`${base}/limited`);
    expect(response).toMatchObject({ status: 429, ok: false });
    expect(response.headers.get("Retry-After")).toBe("7");
  });

  it("carries the Crisp client against the sandbox: reads, a sent note, and a call timeout", async () => {
    const sandbox = createSandbox({ seed: false, webhookUrls: [] });
    const served = serve({ fetch: sandbox.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((resolve) => served.once("listening", resolve));
    try {
      const client = createCrispClient({
        apiUrl: `http://127.0.0.1:${(served.address() as AddressInfo).port}/v1`,
        identifier: DEMO_CREDENTIALS.identifier,
        key: DEMO_CREDENTIALS.key,
        tier: "plugin",
        fetch,
        maxRetries: 0,
      });
      const website = sandbox.website.website_id;
      const { sessionId } = sandbox.visitorSays({ text: "Où est mon colis ?" });
      expect((await client.conversations.get(website, sessionId)).session_id).toBe(sessionId);
      await client.messages.send(website, sessionId, {
        type: "note",
        from: "operator",
        origin: "chat",
        content: "Brouillon prêt ✓",
      });
      expect(sandbox.messagesOf(sessionId).map((m) => m.content)).toEqual([
        "Où est mon colis ?",
        "Brouillon prêt ✓",
      ]);
      sandbox.faults.latencyMs = 500;
      await expect(client.conversations.get(website, sessionId, { timeoutMs: 50 })).rejects.toMatchObject({
        reason: "timeout",
      });
    } finally {
      served.close();
    }
  });
});
