import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { McpScope } from "../../src/config-schema.ts";
import { hmacHex } from "../../src/crypto.ts";
import type { DraftEngine } from "../../src/llm/types.ts";
import { type Logger, silentLogger } from "../../src/log.ts";
import { type QuillHandle, startQuill } from "../../src/runtime/node.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { until } from "../helpers.ts";

/**
 * An AI agent works the inbox through quill's MCP server with the official client SDKs, over
 * real HTTP, against the sandbox: it never holds the Crisp key and cannot go past its scopes.
 */

const llm: DraftEngine = {
  async draft() {
    return {
      text: "Your parcel left our warehouse today.",
      confidence: 0.9,
      intent: "shipping",
      needsHuman: false,
      citations: [],
      usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 },
      model: "scripted",
      provider: "openai",
      attempts: [{ provider: "openai", model: "scripted", status: "ok", latencyMs: 1 }],
    };
  },
};

const HUGO_SECRET = "mcp_sec_hugo-secret-of-the-mcp-tests";
let quill: QuillHandle;
let dir: string;
const logLines: string[] = [];
const open: Array<{ close(): Promise<void> }> = [];
/** Keeps every log line, to show none of them carries the Crisp key. */
const capture = (bindings: Record<string, unknown> = {}): Logger => {
  const keep = (obj: object, msg?: string) => logLines.push(JSON.stringify({ ...bindings, ...obj, msg }));
  return { debug: keep, info: keep, warn: keep, error: keep, child: (b) => capture({ ...bindings, ...b }) };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "quill-mcp-"));
  quill = await startQuill({
    env: {
      DATABASE_PATH: join(dir, "q.db"),
      QUIET_PERIOD_MS: "0",
      POLL_INTERVAL_SECONDS: "0",
      PUBLIC_URL: "http://quill.test",
      AUTO_SEND_DISCLOSURE: "(automated reply)",
      AUTO_SEND_MAX_IN_A_ROW: "2",
      MCP_RATE_PER_MINUTE: "1000",
      HUGO_MCP_SECRET: HUGO_SECRET,
    },
    port: 0,
    host: "127.0.0.1",
    log: capture(),
    llm,
    sandbox: { seed: false, webhookRetryBaseMs: 20 },
  });
});

afterAll(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await quill.stop(1_000);
  rmSync(dir, { recursive: true, force: true });
});

const sandbox = () => {
  if (!quill.sandbox) throw new Error("demo mode expected");
  return quill.sandbox;
};

async function token(scopes: McpScope[], extra: { expiresInMs?: number } = {}) {
  const name = `agent ${Math.random().toString(36).slice(2, 8)}`;
  const { token: text, row } = await quill.services.mcpTokens.create({
    name,
    scopes,
    websiteId: null,
    ...extra,
  });
  return { text, id: row.id, name };
}

async function connect(bearer: string) {
  const client = new Client({ name: "quill-test-agent", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${quill.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
    }),
  );
  open.push(client);
  return client;
}

type ToolResult = { isError?: boolean; structuredContent?: unknown; content?: unknown };
const call = async (client: Client, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as ToolResult;
const structured = <T>(result: ToolResult) => {
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as T;
};
const errorText = (result: ToolResult) => {
  expect(result.isError).toBe(true);
  return (result.content as Array<{ text: string }>).map((c) => c.text).join(" ");
};

const customerMessages = (sessionId: string) =>
  sandbox()
    .messagesOf(sessionId)
    .filter((m) => m.from === "operator" && m.type === "text")
    .map((m) => String(m.content));

describe("quill's MCP server, as an agent meets it", () => {
  it("lists its tools, finds one by intent and works a conversation end to end", async () => {
    const all = await token(["read", "draft", "note", "reply", "route"]);
    const agent = await connect(all.text);
    const { tools } = await agent.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        "assign_conversation",
        "draft_reply",
        "find_operations",
        "get_conversation",
        "list_conversations",
        "post_note",
        "add_profile_event",
        "search_knowledge",
        "send_reply",
        "set_conversation_state",
        "update_profile",
      ].sort(),
    );
    expect(tools.find((t) => t.name === "send_reply")?.outputSchema).toBeDefined();

    const found = structured<{ operations: Array<{ name: string; allowed: boolean }> }>(
      await call(agent, "find_operations", { intent: "send a chat reply" }),
    );
    expect(found.operations[0]).toMatchObject({ name: "send_reply", allowed: true });

    const older = sandbox().visitorSays({ text: "Thanks, all good now." });
    sandbox().operatorSays({ sessionId: older.sessionId, text: "Glad to help!" });
    const { sessionId } = sandbox().visitorSays({
      text: "Where is my parcel? Write to ada@example.com",
      email: "ada@example.com",
    });
    const listed = structured<{ conversations: Array<{ sessionId: string; waiting: boolean }> }>(
      await call(agent, "list_conversations", {}),
    );
    expect(listed.conversations[0]).toMatchObject({ sessionId, waiting: true });
    expect(listed.conversations.map((c) => c.sessionId)).toContain(older.sessionId);

    const meta = sandbox().state.conversations.get(sessionId)?.meta;
    if (meta) meta.data = { plan: "pro", backup_email: "ada.l@example.org", quill_resumed_at: "1" };
    const read = structured<{
      visitor: { email: string; data: Record<string, string> };
      messages: Array<{ from: string; text: string }>;
    }>(await call(agent, "get_conversation", { session_id: sessionId }));
    expect(read.visitor.data).toEqual({ plan: "pro", backup_email: expect.stringMatching(/^\[email/) });
    // Without the pii scope the agent works with the question, not the customer's address.
    expect(JSON.stringify(read)).not.toContain("ada@example.com");
    expect(read.messages.find((m) => m.from === "user")?.text).toMatch(
      /^Where is my parcel\? Write to \[email/,
    );

    const articles = structured<{ articles: Array<{ id: string; answer: string }> }>(
      await call(agent, "search_knowledge", { query: "where is my parcel, how do I track my order" }),
    );
    expect(articles.articles.length).toBeGreaterThan(0);
    expect(articles.articles[0]?.answer.length).toBeGreaterThan(20);

    const dry = structured<{ status: string; text: string; flags: string[] }>(
      await call(agent, "draft_reply", { session_id: sessionId, dry_run: true }),
    );
    expect(dry).toMatchObject({ status: "drafted", text: "Your parcel left our warehouse today." });
    const posted = structured<{ status: string; detail: string }>(
      await call(agent, "draft_reply", { session_id: sessionId, dry_run: false }),
    );
    expect(posted).toMatchObject({ status: "posted", detail: "posted as a private note" });

    structured(await call(agent, "post_note", { session_id: sessionId, text: "Checked the carrier site." }));
    const notes = sandbox()
      .messagesOf(sessionId)
      .filter((m) => m.type === "note")
      .map((m) => String(m.content));
    expect(notes.some((n) => n.includes(`🤖 ${all.name}: Checked the carrier site.`))).toBe(true);

    // A reply that fails quill's checks is refused with the reasons, and nothing reaches the customer.
    const phishing = errorText(
      await call(agent, "send_reply", {
        session_id: sessionId,
        text: "Please log in at evil-shop-login.com and reply with your card number and CVV.",
      }),
    );
    expect(phishing).toMatch(/fails quill's checks/);
    expect(phishing).toMatch(/link/i);
    expect(customerMessages(sessionId)).toEqual([]);

    const sent = structured<{ sent: string }>(
      await call(agent, "send_reply", {
        session_id: sessionId,
        text: "Your parcel is on its way; the tracking link is in your confirmation email.",
      }),
    );
    expect(customerMessages(sessionId)).toEqual([sent.sent]);
    expect(sent.sent).toContain("(automated reply)");
    // The same reply again (give or take a word) would be read twice: refused.
    const again = errorText(
      await call(agent, "send_reply", {
        session_id: sessionId,
        text: "Your parcel is on its way: the tracking link is in your confirmation e-mail.",
      }),
    );
    expect(again).toMatch(/repeat: the customer already received this reply/);
    // Money an agent offers waits for a person, as auto-send's does, even when its article offers it.
    const refund = errorText(
      await call(agent, "send_reply", {
        session_id: sessionId,
        text: "I'm sorry your purchase didn't work out — I can get a refund started for you.",
        citations: ["product-defect--initiate-refund"],
      }),
    );
    expect(refund).toMatch(/commitment: the reply undertakes to give refund/);
    expect(refund).not.toMatch(/unsupported promise/);
    expect(customerMessages(sessionId)).toEqual([sent.sent]);

    const owner = sandbox().website.operators[1]?.details;
    const assigned = structured<{ assignedTo: string }>(
      await call(agent, "assign_conversation", { session_id: sessionId, operator: owner?.email }),
    );
    expect(assigned.assignedTo).toBe(owner?.user_id);
    expect(
      errorText(await call(agent, "assign_conversation", { session_id: sessionId, operator: "x@y.z" })),
    ).toMatch(/no operator/);

    structured(await call(agent, "set_conversation_state", { session_id: sessionId, state: "resolved" }));
    expect(sandbox().state.conversations.get(sessionId)?.state).toBe("resolved");
    // A resolved conversation takes no more automated replies.
    expect(
      errorText(await call(agent, "send_reply", { session_id: sessionId, text: "One more thing." })),
    ).toMatch(/resolved/);

    // Every call is in the audit, tied to the token, with its outcome.
    const audit = await quill.services.store.listMcpCalls({ tokenId: all.id });
    expect(audit.length).toBeGreaterThanOrEqual(13);
    expect(audit.find((a) => a.tool === "send_reply" && !a.ok)?.outcome).toMatch(/^refused: /);
    expect(audit.every((a) => a.sessionId === null || a.sessionId.startsWith("session_"))).toBe(true);
  });

  it("a token without the reply scope cannot reach the customer; read-only cannot write", async () => {
    const { sessionId } = sandbox().visitorSays({ text: "Can I change my delivery address?" });
    const noReply = await connect((await token(["read", "draft", "note"])).text);
    expect(
      errorText(await call(noReply, "send_reply", { session_id: sessionId, text: "Sure, done." })),
    ).toMatch(/lacks the "reply" scope/);
    const readOnly = await connect((await token(["read"])).text);
    expect(errorText(await call(readOnly, "post_note", { session_id: sessionId, text: "hi" }))).toMatch(
      /lacks the "note" scope/,
    );
    expect(
      errorText(await call(readOnly, "set_conversation_state", { session_id: sessionId, state: "resolved" })),
    ).toMatch(/lacks the "route" scope/);
    const found = structured<{ operations: Array<{ name: string; allowed: boolean }> }>(
      await call(readOnly, "find_operations", { intent: "send a chat reply" }),
    );
    expect(found.operations[0]).toMatchObject({ name: "send_reply", allowed: false });
    expect(customerMessages(sessionId)).toEqual([]);
    expect(sandbox().state.conversations.get(sessionId)?.state).not.toBe("resolved");
  });

  it("refuses invalid arguments with an error naming the argument, before any Crisp call", async () => {
    const { sessionId } = sandbox().visitorSays({ text: "Is my parcel lost?" });
    const agent = await connect((await token(["read", "draft", "note", "reply", "route"])).text);
    // quill drafts the visitor's message on its own: counted once that has settled.
    let crispCalls = -1;
    while (crispCalls !== sandbox().requests.length) {
      crispCalls = sandbox().requests.length;
      await new Promise((r) => setTimeout(r, 300));
    }
    const notesBefore = sandbox().messagesOf(sessionId).length;
    const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
      ["post_note", { session_id: sessionId, text: 42 }, /text/],
      ["post_note", { session_id: sessionId }, /text/],
      ["send_reply", { session_id: sessionId, text: "" }, /text/],
      ["send_reply", { session_id: sessionId, text: "Hi", citations: "returns" }, /citations/],
      ["set_conversation_state", { session_id: sessionId, state: "closed" }, /state/],
      ["assign_conversation", { session_id: sessionId }, /operator/],
      ["list_conversations", { page: 0 }, /page/],
      ["search_knowledge", { query: "x".repeat(3000) }, /query/],
      ["get_conversation", { session_id: 12 }, /session_id/],
    ];
    for (const [tool, args, argument] of invalid) {
      const text = errorText(await call(agent, tool, args));
      expect(text, `${tool} ${JSON.stringify(args).slice(0, 80)}`).toMatch(argument);
    }
    expect(sandbox().requests.length).toBe(crispCalls);
    expect(sandbox().messagesOf(sessionId)).toHaveLength(notesBefore);
    expect(sandbox().state.conversations.get(sessionId)?.state).not.toBe("closed");
  });

  it("the automated-reply caps and /quill off hold for agents too", async () => {
    const agent = await connect((await token(["read", "reply"])).text);
    const { sessionId } = sandbox().visitorSays({ text: "Do you ship to Canada?" });
    for (const text of ["Yes, we ship to Canada.", "Delivery takes 5 to 7 business days."])
      structured(await call(agent, "send_reply", { session_id: sessionId, text }));
    expect(
      errorText(await call(agent, "send_reply", { session_id: sessionId, text: "Anything else?" })),
    ).toMatch(/AUTO_SEND_MAX_IN_A_ROW/);

    const other = sandbox().visitorSays({ text: "Hello?" });
    sandbox().operatorSays({ sessionId: other.sessionId, text: "/quill off", type: "note" });
    await until(
      async () =>
        (await quill.services.store.conversationState(quill.services.websiteId, other.sessionId))?.paused,
    );
    expect(
      errorText(await call(agent, "send_reply", { session_id: other.sessionId, text: "Hi there!" })),
    ).toMatch(/quill is off/);
    expect(customerMessages(other.sessionId)).toEqual([]);
  });

  it("updates the profile of the conversation's visitor only, never quill's own keys", async () => {
    const agent = await connect((await token(["read", "profile"])).text);
    const { sessionId } = sandbox().visitorSays({ text: "I'd like a refund", email: "grace@example.com" });
    const peopleId = sandbox().state.conversations.get(sessionId)?.people_id ?? "";
    expect(peopleId).not.toBe("");
    const updated = structured<{ segments: string[] }>(
      await call(agent, "update_profile", {
        session_id: sessionId,
        add_segments: ["refund-request"],
        data: { plan: "pro", orders: 3 },
      }),
    );
    expect(updated.segments).toContain("refund-request");
    expect(sandbox().state.people.get(peopleId)?.segments).toContain("refund-request");
    expect(sandbox().state.peopleData.get(peopleId)).toMatchObject({ plan: "pro", orders: 3 });
    structured(await call(agent, "add_profile_event", { session_id: sessionId, text: "refund requested" }));
    expect(sandbox().state.peopleEvents.get(peopleId)?.[0]).toMatchObject({
      text: "refund requested",
      data: { source: "quill-mcp" },
    });

    const quillKey = await call(agent, "update_profile", {
      session_id: sessionId,
      data: { quill_language: "xx" },
    });
    expect(quillKey.isError).toBe(true);
    expect(sandbox().state.peopleData.get(peopleId)).not.toHaveProperty("quill_language");
    const anonymous = sandbox().visitorSays({ text: "hello" });
    expect(
      errorText(await call(agent, "add_profile_event", { session_id: anonymous.sessionId, text: "x" })),
    ).toMatch(/no Crisp profile/);
    const reader = await connect((await token(["read"])).text);
    expect(
      errorText(await call(reader, "update_profile", { session_id: sessionId, add_segments: ["vip"] })),
    ).toMatch(/lacks the "profile" scope/);
  });

  it("Crisp's Hugo calls with signed requests instead of a token, in the conversation it comes from", async () => {
    const websiteId = quill.services.websiteId;
    const { sessionId } = sandbox().visitorSays({ text: "Do you have the red scarf in stock?" });
    type Tamper = { secret?: string; website?: string; ageMs?: number; unit?: "s" | "ms" };
    /** Headers as Crisp signs them: sha256=hex HMAC of "{timestamp}.{website_id}.{raw_body}". */
    const signatureOf = async (body: string, session?: string, tamper: Tamper = {}) => {
      const ms = Date.now() - (tamper.ageMs ?? 0);
      const timestamp = tamper.unit === "s" ? String(Math.floor(ms / 1000)) : String(ms);
      const website = tamper.website ?? websiteId;
      const mac = await hmacHex(tamper.secret ?? HUGO_SECRET, `${timestamp}.${website}.${body}`);
      return {
        "x-crisp-website-id": website,
        "x-crisp-timestamp": timestamp,
        "x-crisp-signature": `sha256=${mac}`,
        ...(session ? { "x-crisp-session-id": session } : {}),
      };
    };
    const signed = (session?: string, tamper: Tamper = {}) =>
      (async (input: string | URL | Request, init?: RequestInit) => {
        const headers = new Headers(init?.headers);
        const body = typeof init?.body === "string" ? init.body : "";
        for (const [k, v] of Object.entries(await signatureOf(body, session, tamper))) headers.set(k, v);
        return fetch(input, { ...init, headers });
      }) as typeof fetch;
    const hugo = new Client({ name: "hugo", version: "2026.11" });
    await hugo.connect(
      new StreamableHTTPClientTransport(new URL(`${quill.url}/mcp`), {
        fetch: signed(sessionId, { unit: "s" }),
      }),
    );
    open.push(hugo);
    const read = structured<{ sessionId: string; messages: Array<{ text: string }> }>(
      await call(hugo, "get_conversation", {}),
    );
    expect(read.sessionId).toBe(sessionId);
    expect(read.messages[0]?.text).toBe("Do you have the red scarf in stock?");
    structured(await call(hugo, "post_note", { text: "Stock checked: 4 left." }));
    expect(
      sandbox()
        .messagesOf(sessionId)
        .some((m) => m.content === "🤖 Hugo: Stock checked: 4 left."),
    ).toBe(true);
    // Hugo gets HUGO_MCP_SCOPES (read,note by default), nothing more.
    expect(errorText(await call(hugo, "send_reply", { text: "Yes!" }))).toMatch(/lacks the "reply" scope/);
    expect((await quill.services.store.listMcpCalls({ tokenId: "hugo" })).length).toBe(3);

    const attempt = async (f: typeof fetch, body?: string) => {
      const payload = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
      const r = await f(`${quill.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: payload,
        ...(body ? { body } : {}),
      });
      return r.status;
    };
    expect(await attempt(signed())).toBe(200);
    expect(await attempt(signed(undefined, { ageMs: 301_000 }))).toBe(401);
    expect(await attempt(signed(undefined, { secret: "mcp_sec_guessed-secret" }))).toBe(401);
    // Signed for another website: the secret is this website's only.
    expect(await attempt(signed(undefined, { website: "00000000-0000-4000-8000-000000000000" }))).toBe(401);
    // The body changed after signing (the signature covers the raw bytes).
    const tampering = (async (input: string | URL | Request, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(await signatureOf(String(init?.body)))) headers.set(k, v);
      return fetch(input, { ...init, headers, body: String(init?.body).replace('"id":1', '"id":2') });
    }) as typeof fetch;
    expect(await attempt(tampering)).toBe(401);
    // A session hint of another website's conversation only reaches a Crisp 404.
    const elsewhere = new Client({ name: "hugo", version: "2026.11" });
    await elsewhere.connect(
      new StreamableHTTPClientTransport(new URL(`${quill.url}/mcp`), {
        fetch: signed("session_00000000-0000-4000-8000-000000000000"),
      }),
    );
    open.push(elsewhere);
    expect(errorText(await call(elsewhere, "get_conversation", {}))).toMatch(/Crisp answered 404/);
  });

  it("unknown, revoked and expired tokens get one uniform 401", async () => {
    const post = (bearer?: string) =>
      fetch(`${quill.url}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
      });
    const live = await token(["read"]);
    const expired = await token(["read"], { expiresInMs: 1 });
    const revoked = await token(["read"]);
    expect((await post(live.text)).status).toBe(200);
    expect(await quill.services.store.revokeMcpToken(revoked.name)).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    const answers = await Promise.all(
      [undefined, "qmcp_guess", `${live.text}x`, expired.text, revoked.text, DEMO_CREDENTIALS.key].map(
        async (b) => {
          const r = await post(b);
          return { status: r.status, auth: r.headers.get("www-authenticate"), body: await r.text() };
        },
      ),
    );
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]?.status).toBe(401);
    expect(answers[0]?.auth).toMatch(/^Bearer /);
    // The one HTTP error envelope, its reason led by the word clients match on.
    expect(JSON.parse(answers[0]?.body ?? "")).toEqual({
      error: true,
      reason: expect.stringMatching(/^unauthorized: /),
    });
    // The official client surfaces it as an error on connect.
    await expect(connect(revoked.text)).rejects.toThrow(/401|unauthorized/i);
  });

  it("answers 2025-era clients (@modelcontextprotocol/sdk 1.x) statelessly", async () => {
    const legacy = new LegacyClient({ name: "legacy-agent", version: "1.0.0" });
    await legacy.connect(
      new LegacyTransport(new URL(`${quill.url}/mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${(await token(["read"])).text}` } },
      }),
    );
    open.push(legacy);
    const { tools } = await legacy.listTools();
    expect(tools.length).toBe(11);
    const result = await legacy.callTool({
      name: "find_operations",
      arguments: { intent: "resolve the chat" },
    });
    expect(result.isError).toBeFalsy();
    expect(JSON.stringify(result.structuredContent)).toContain("set_conversation_state");
  });

  it("serves the same tools over stdio (`quill mcp`), holding only the quill token", async () => {
    const { sessionId } = sandbox().visitorSays({ text: "Is the blue jacket waterproof?" });
    const desktop = new Client({ name: "desktop-app", version: "1.0.0" });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["dist/quill.mjs", "mcp"],
      // What a desktop app's configuration holds: where quill runs and a quill token, no Crisp key.
      env: {
        ...getDefaultEnvironment(),
        QUILL_URL: quill.url,
        QUILL_MCP_TOKEN: (await token(["read", "note"])).text,
      },
      stderr: "pipe",
    });
    await desktop.connect(transport);
    open.push(desktop);
    const { tools } = await desktop.listTools();
    expect(tools.length).toBe(11);
    const read = (await desktop.callTool({
      name: "get_conversation",
      arguments: { session_id: sessionId },
    })) as ToolResult;
    expect(JSON.stringify(structured(read))).toContain("Is the blue jacket waterproof?");
    const refused = (await desktop.callTool({
      name: "send_reply",
      arguments: { session_id: sessionId, text: "Yes." },
    })) as ToolResult;
    expect(errorText(refused)).toMatch(/lacks the "reply" scope/);
  }, 20_000);

  it("`quill mcp` with a revoked token tells the desktop client why", async () => {
    const revoked = await token(["read"]);
    await quill.services.store.revokeMcpToken(revoked.id);
    const desktop = new Client({ name: "desktop-app", version: "1.0.0" });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["dist/quill.mjs", "mcp"],
      env: { ...getDefaultEnvironment(), QUILL_URL: quill.url, QUILL_MCP_TOKEN: revoked.text },
      stderr: "pipe",
    });
    open.push(desktop);
    await expect(desktop.connect(transport)).rejects.toThrow(/QUILL_MCP_TOKEN/);
  }, 20_000);

  it("refuses requests naming another host or sent from another site's page (DNS rebinding)", async () => {
    const bearer = (await token(["read"])).text;
    const attempt = (headers: Record<string, string>) =>
      quill.services.app.request("http://quill.test/mcp", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: `Bearer ${bearer}`,
          ...headers,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
      });
    expect((await attempt({ host: "quill.test" })).status).toBe(200);
    expect((await attempt({ host: "attacker.example" })).status).toBe(403);
    expect((await attempt({ host: "quill.test", origin: "http://attacker.example" })).status).toBe(403);
    expect((await attempt({ host: "quill.test", origin: "http://quill.test" })).status).toBe(200);
  });

  it("limits tool calls per token per minute with a 429", async () => {
    const limited = await startQuill({
      env: {
        DATABASE_PATH: join(dir, "limited.db"),
        POLL_INTERVAL_SECONDS: "0",
        MCP_RATE_PER_MINUTE: "3",
      },
      port: 0,
      host: "127.0.0.1",
      log: silentLogger,
      llm,
      sandbox: { seed: false },
    });
    try {
      const { token: text } = await limited.services.mcpTokens.create({
        name: "busy",
        scopes: ["read"],
        websiteId: null,
      });
      const other = await limited.services.mcpTokens.create({
        name: "calm",
        scopes: ["read"],
        websiteId: null,
      });
      const rpc = (bearer: string, id: number) =>
        fetch(`${limited.url}/mcp`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            authorization: `Bearer ${bearer}`,
          },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id,
            method: "tools/call",
            params: { name: "find_operations", arguments: { intent: "list conversations" } },
          }),
        });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await rpc(text, i)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const last = await rpc(text, 9);
      expect(last.headers.get("retry-after")).toBe("60");
      // Another agent's budget is its own.
      expect((await rpc(other.token, 1)).status).toBe(200);
    } finally {
      await limited.stop(1_000);
    }
  });

  it("no tool result, audit row or log line carries the Crisp key", async () => {
    const stored = JSON.stringify(await quill.services.store.listMcpCalls({ limit: 1000 }));
    expect(stored.length).toBeGreaterThan(100);
    expect(stored).not.toContain(DEMO_CREDENTIALS.key);
    expect(logLines.join("\n")).not.toContain(DEMO_CREDENTIALS.key);
    const agent = await connect((await token(["read", "draft"])).text);
    const results = [
      await call(agent, "list_conversations", {}),
      await call(agent, "get_conversation", { session_id: "session_00000000-0000-0000-0000-000000000000" }),
      await call(agent, "find_operations", { intent: "what is the Crisp key" }),
    ];
    expect(errorText(results[1] as ToolResult)).toMatch(/Crisp answered 404/);
    expect(JSON.stringify(results)).not.toContain(DEMO_CREDENTIALS.key);
    expect(JSON.stringify(results)).not.toContain(DEMO_CREDENTIALS.identifier);
  });
});
