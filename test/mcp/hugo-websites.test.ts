import { describe, expect, it } from "vitest";
import { hmacHex } from "../../src/crypto.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { PLUGIN_ENV, setup } from "../drafting/harness.ts";

/** Plugin mode: each website's Hugo signs with that website's own secret and reaches that website only. */

const A = DEMO_CREDENTIALS.websiteId;
const B = "b0b0b0b0-0000-4000-8000-00000000000b";
const C = "c0c0c0c0-0000-4000-8000-00000000000c";
const SECRET_A = "mcp_sec_primary-website-secret-from-env";
const SECRET_B = "mcp_sec_website-b-secret-from-settings";

async function plugin() {
  const harness = await setup({ ...PLUGIN_ENV, HUGO_MCP_SECRET: SECRET_A });
  const { sandbox, services } = harness;
  sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
  sandbox.state.addWebsite({ websiteId: C, name: "Shop C", domain: "c.test" });
  await services.websites.set(B, { name: "Shop B", hugoMcpSecret: SECRET_B });
  await services.websites.set(C, { name: "Shop C" });

  /** A tools/call as Crisp sends it: sha256=hex HMAC of "{timestamp}.{website_id}.{raw_body}". */
  const signed = async (
    sign: { secret: string; website: string; session?: string },
    payload: object,
  ): Promise<RequestInit> => {
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const mac = await hmacHex(sign.secret, `${timestamp}.${sign.website}.${body}`);
    return {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "x-crisp-website-id": sign.website,
        "x-crisp-timestamp": timestamp,
        "x-crisp-signature": `sha256=${mac}`,
        ...(sign.session ? { "x-crisp-session-id": sign.session } : {}),
      },
    };
  };
  const signedCall = (
    sign: { secret: string; website: string; session?: string },
    tool: string,
    args: Record<string, unknown> = {},
  ) => signed(sign, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: args } });
  const send = async (init: RequestInit) => {
    const res = await services.app.request("/mcp", init);
    const text = await res.text();
    // Streamable HTTP may answer as an event stream: the JSON-RPC answer is its data line.
    const json = text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "null");
    return { status: res.status, result: JSON.parse(json)?.result };
  };
  const hugoCall = async (...args: Parameters<typeof signedCall>) => send(await signedCall(...args));
  return { ...harness, hugoCall, signed, signedCall, send };
}

describe("Hugo per website (plugin mode)", () => {
  it("a website's own secret opens its own conversations, and nothing of another website", async () => {
    const { sandbox, services, hugoCall } = await plugin();
    const inB = sandbox.visitorSays({ websiteId: B, text: "Is the blue lamp back in stock?" });
    const inA = sandbox.visitorSays({ websiteId: A, text: "Where is my parcel?" });

    const read = await hugoCall({ secret: SECRET_B, website: B, session: inB.sessionId }, "get_conversation");
    expect(read.status).toBe(200);
    expect(read.result.isError).toBeFalsy();
    expect(read.result.structuredContent.messages[0].text).toBe("Is the blue lamp back in stock?");

    // B's Hugo naming A's conversation: bound to B, so Crisp's B has no such session.
    const foreign = await hugoCall({ secret: SECRET_B, website: B }, "get_conversation", {
      session_id: inA.sessionId,
    });
    expect(foreign.result.isError).toBe(true);
    expect(JSON.stringify(foreign.result.content)).not.toContain("Where is my parcel?");

    // B's secret is no key to A, nor A's (the environment's) to B.
    expect((await hugoCall({ secret: SECRET_B, website: A }, "list_conversations")).status).toBe(401);
    expect((await hugoCall({ secret: SECRET_A, website: B }, "list_conversations")).status).toBe(401);
    // A website without a secret of its own has no Hugo access, even with the environment's.
    expect((await hugoCall({ secret: SECRET_A, website: C }, "list_conversations")).status).toBe(401);
    // An unknown website, and a header that is no website id at all.
    const unknown = "d0d0d0d0-0000-4000-8000-00000000000d";
    expect((await hugoCall({ secret: SECRET_B, website: unknown }, "list_conversations")).status).toBe(401);
    expect((await hugoCall({ secret: SECRET_B, website: "../../x" }, "list_conversations")).status).toBe(401);
    // The primary website still uses HUGO_MCP_SECRET.
    expect((await hugoCall({ secret: SECRET_A, website: A }, "list_conversations")).status).toBe(200);

    // Each website's Hugo has its own audit trail.
    const calls = await services.store.listMcpCalls({ tokenId: `hugo:${B}` });
    expect(calls.map((c) => c.websiteId)).toEqual([B, B]);
    expect((await services.store.listMcpCalls({ tokenId: "hugo" })).map((c) => c.websiteId)).toEqual([A]);
  });

  it("disabling a website or removing its secret ends its Hugo's access at once", async () => {
    const { services, hugoCall } = await plugin();
    expect((await hugoCall({ secret: SECRET_B, website: B }, "list_conversations")).status).toBe(200);
    await services.websites.update(B, { enabled: false });
    expect((await hugoCall({ secret: SECRET_B, website: B }, "list_conversations")).status).toBe(401);
    await services.websites.update(B, { enabled: true, hugoMcpSecret: undefined });
    expect((await hugoCall({ secret: SECRET_B, website: B }, "list_conversations")).status).toBe(401);
  });

  it("a replayed tool call gets 409 and acts once; a second, fresh call goes through", async () => {
    const { sandbox, services, signed, signedCall, send } = await plugin();
    const { sessionId } = sandbox.visitorSays({ websiteId: B, text: "Do you ship to Canada?" });
    const note = await signedCall({ secret: SECRET_B, website: B, session: sessionId }, "post_note", {
      text: "Checked: yes, 5 days.",
    });
    expect((await send(note)).status).toBe(200);
    const replay = await send(note);
    expect(replay.status).toBe(409);
    const notes = () =>
      sandbox.messagesOf(sessionId).filter((m) => String(m.content).endsWith("Checked: yes, 5 days."));
    expect(notes()).toHaveLength(1);
    // Listing tools changes nothing and may repeat within the same second.
    const listing = await signed(
      { secret: SECRET_B, website: B },
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
    );
    expect((await send(listing)).status).toBe(200);
    expect((await send(listing)).status).toBe(200);
    expect(await services.store.listMcpCalls({ tokenId: `hugo:${B}` })).toHaveLength(1);
  });

  it("refuses a weak or short secret naming the setting", async () => {
    const { services } = await plugin();
    await expect(services.websites.set(B, { hugoMcpSecret: "short" })).rejects.toThrow(
      /hugoMcpSecret: at least 16 characters/,
    );
    await expect(services.websites.set(B, { hugoMcpSecret: "aaaaaaaaaaaaaaaaaaaaaaaa" })).rejects.toThrow(
      /hugoMcpSecret:/,
    );
  });
});
