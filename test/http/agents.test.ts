import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { buildServices } from "../../src/services.ts";

/** The dashboard's AI agents page as an admin and a website's own operator use it. */

const ADMIN = "admin-token-of-the-agents-tests";
const W1 = "w1w1w1w1-0000-4000-8000-000000000001";
const W2 = "w2w2w2w2-0000-4000-8000-000000000002";
const W2_TOKEN = "dashboard-token-of-website-two";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function quill() {
  const database = openSqlite(":memory:");
  database.migrate();
  closers.push(database.close);
  const services = await buildServices({
    config: loadConfig({
      DATABASE_PATH: ":memory:",
      CRISP_IDENTIFIER: "id",
      CRISP_KEY: "key",
      CRISP_WEBSITE_ID: W1,
      CRISP_WEBHOOK_SECRET: "hook-secret-of-the-agents-tests",
      CRISP_API_URL: "http://crisp.invalid/v1",
      ADMIN_TOKEN: ADMIN,
      PEOPLE_SYNC: "off",
    }),
    db: database.db,
    clock: systemClock,
    log: silentLogger,
    kbFiles: [],
    promptFiles: [
      {
        name: "default.md",
        content: readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8"),
      },
    ],
  });
  await services.websites.update(W2, { adminToken: W2_TOKEN });
  const app = services.app;
  const login = async (token: string, website = "") => {
    const page = await app.request("/admin/login");
    const cookie = page.headers.get("set-cookie")?.split(";")[0] ?? "";
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
    const res = await app.request("/admin/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: new URLSearchParams({ token, _csrf: csrf, website }).toString(),
    });
    const session = /quill_session=[^;]+/.exec(res.headers.get("set-cookie") ?? "")?.[0];
    if (!session) throw new Error(`login failed: ${res.status}`);
    return session;
  };
  const page = async (session: string) => {
    const res = await app.request("/admin/agents", { headers: { cookie: session } });
    expect(res.status).toBe(200);
    return res.text();
  };
  const post = async (path: string, session: string, fields: Array<[string, string]>) => {
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page(session))?.[1] ?? "";
    return app.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: session },
      body: new URLSearchParams([...fields, ["_csrf", csrf]]).toString(),
    });
  };
  const createdToken = (html: string) => /data-testid="new-token">(qmcp_[\w-]+)</.exec(html)?.[1];
  return { services, app, login, page, post, createdToken };
}

const rpc = (name: string, args: Record<string, unknown>) =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } });

describe("the AI agents page", () => {
  it("creates a token shown once, lists its use and the audit of its calls, and revokes it", async () => {
    const q = await quill();
    const admin = await q.login(ADMIN);
    const res = await q.post("/admin/agents", admin, [
      ["name", "cursor"],
      ["scopes", "read"],
      ["scopes", "draft"],
      ["expires", "30d"],
    ]);
    expect(res.status).toBe(200);
    const token = q.createdToken(await res.text());
    expect(token).toBeDefined();
    const who = await q.services.mcpTokens.verify(token ?? "", W1);
    expect([...(who?.scopes ?? [])]).toEqual(["read", "draft"]);
    expect(who?.websiteId).toBe(W1);

    const call = await q.app.request("http://localhost/mcp", {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: rpc("find_operations", { intent: "send a chat reply" }),
    });
    expect(call.status).toBe(200);

    const listed = await q.page(admin);
    expect(listed).not.toContain(token);
    expect(listed).toMatch(/<td>cursor<\/td><td>w1w1[\w-]+<\/td><td>read, draft<\/td>/);
    expect(listed).toContain("<td>live</td>");
    // The audit names the token and the tool; last use is set.
    expect(listed).toMatch(/<td>cursor<\/td><td>find_operations<\/td><td>—<\/td><td>ok<\/td>/);
    expect(listed).not.toMatch(/<td>—<\/td><td>live<\/td>/);

    const id = who?.tokenId ?? "";
    const revoke = await q.post(`/admin/agents/${id}/revoke`, admin, []);
    expect(revoke.status).toBe(303);
    expect(await q.services.mcpTokens.verify(token ?? "", W1)).toBeUndefined();
    expect(await q.page(admin)).toContain("<td>revoked</td>");
  });

  it("a website's own session sees and mints only its website's tokens", async () => {
    const q = await quill();
    const admin = await q.login(ADMIN);
    const adminMade = q.createdToken(
      await (
        await q.post("/admin/agents", admin, [
          ["name", "primary agent"],
          ["scopes", "read"],
        ])
      ).text(),
    );
    const w2 = await q.login(W2_TOKEN, W2);
    expect(await q.page(w2)).not.toContain("primary agent");
    // It asks for the primary website: the form has no such field for it, and the post is ignored.
    const own = q.createdToken(
      await (
        await q.post("/admin/agents", w2, [
          ["name", "w2 agent"],
          ["scopes", "read"],
          ["scopes", "reply"],
          ["website", W1],
        ])
      ).text(),
    );
    expect((await q.services.mcpTokens.verify(own ?? "", W1))?.websiteId).toBe(W2);
    const adminId = (await q.services.mcpTokens.verify(adminMade ?? "", W1))?.tokenId ?? "";
    expect((await q.post(`/admin/agents/${adminId}/revoke`, w2, [])).status).toBe(404);
    expect(await q.services.mcpTokens.verify(adminMade ?? "", W1)).toBeDefined();
    // The admin sees every website's tokens.
    expect(await q.page(admin)).toContain("w2 agent");
  });

  it("refuses bad forms with the reason and keeps nothing", async () => {
    const q = await quill();
    const admin = await q.login(ADMIN);
    const cases: Array<[Array<[string, string]>, RegExp]> = [
      [[["name", "x"]], /Tick at least one scope/],
      [
        [
          ["name", "x"],
          ["scopes", "read"],
          ["scopes", "admin"],
        ],
        /Tick at least one scope/,
      ],
      [
        [
          ["name", "<script>"],
          ["scopes", "read"],
        ],
        /name: 1 to 64 letters/,
      ],
      [
        [
          ["name", "x"],
          ["scopes", "read"],
          ["expires", "forever"],
        ],
        /--expires (&quot;|")forever/,
      ],
      [
        [
          ["name", "x"],
          ["scopes", "read"],
          ["website", "../../etc"],
        ],
        /expected a Crisp website id/,
      ],
    ];
    for (const [fields, reason] of cases) {
      const res = await q.post("/admin/agents", admin, fields);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(reason);
    }
    expect(await q.services.store.listMcpTokens()).toEqual([]);
    const forged = await q.app.request("/admin/agents", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: admin },
      body: "name=x&scopes=read",
    });
    expect(forged.status).toBe(403);
    expect(await q.services.store.listMcpTokens()).toEqual([]);
  });
});
