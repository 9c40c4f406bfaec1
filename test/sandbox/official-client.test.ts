import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Crisp } from "crisp-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";

/**
 * Crisp's official Node client, pointed at the sandbox over real HTTP with
 * `setRestHost`, works unchanged: proof that paths, auth, tier and envelope match.
 */

const sandbox = createSandbox();
const W = sandbox.website.website_id;
let server: ReturnType<typeof serve>;
// biome-ignore lint/suspicious/noExplicitAny: crisp-api's service map is untyped at runtime
let official: any;

beforeAll(async () => {
  server = serve({ fetch: sandbox.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  official = new Crisp();
  official.setRestHost(`http://127.0.0.1:${port}`);
  official.authenticateTier("plugin", DEMO_CREDENTIALS.identifier, DEMO_CREDENTIALS.key);
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("crisp-api against the sandbox", () => {
  it("runs a support conversation end to end", async () => {
    const { sessionId } = sandbox.visitorSays({ text: "My parcel is late", nickname: "Ada" });

    const conversations = await official.website.listConversations(W, 1);
    expect(conversations.map((c: { session_id: string }) => c.session_id)).toContain(sessionId);

    await official.website.composeMessageInConversation(W, sessionId, { type: "start", from: "operator" });
    const sent = await official.website.sendMessageInConversation(W, sessionId, {
      type: "note",
      from: "operator",
      origin: "chat",
      content: "Draft: it ships tomorrow",
      user: { nickname: "quill" },
    });
    expect(typeof sent.fingerprint).toBe("number");
    await official.website.composeMessageInConversation(W, sessionId, { type: "stop", from: "operator" });

    const one = await official.website.getMessageInConversation(W, sessionId, sent.fingerprint);
    expect(one).toMatchObject({ type: "note", content: "Draft: it ships tomorrow", from: "operator" });
    const messages = await official.website.getMessagesInConversation(W, sessionId);
    expect(messages.map((m: { type: string }) => m.type)).toEqual(["text", "note"]);

    await official.website.updateMessageInConversation(W, sessionId, sent.fingerprint, "Draft: ships today");
    expect((await official.website.getMessageInConversation(W, sessionId, sent.fingerprint)).content).toBe(
      "Draft: ships today",
    );

    await official.website.changeConversationState(W, sessionId, "resolved");
    expect(await official.website.getConversationState(W, sessionId)).toEqual({ state: "resolved" });
    await official.website.updateConversationMetas(W, sessionId, { segments: ["shipping"] });
    expect((await official.website.getConversationMetas(W, sessionId)).segments).toEqual(["shipping"]);
    await official.website.markMessagesReadInConversation(W, sessionId, { from: "operator", origin: "chat" });
    expect((await official.website.getConversation(W, sessionId)).unread.operator).toBe(0);

    const operators = await official.website.listWebsiteOperators(W);
    await official.website.assignConversationRouting(W, sessionId, {
      assigned: { user_id: operators[0].details.user_id },
    });
    expect((await official.website.getConversationRoutingAssign(W, sessionId)).assigned.user_id).toBe(
      operators[0].details.user_id,
    );

    const { people_id } = await official.website.addNewPeopleProfile(W, {
      email: "ada@example.com",
      person: { nickname: "Ada" },
    });
    await official.website.addPeopleEvent(W, people_id, { text: "quill:draft_posted" });
    expect((await official.website.listPeopleEvents(W, people_id, 1))[0].text).toBe("quill:draft_posted");
    await official.website.updatePeopleData(W, people_id, { data: { plan: "pro" } });
    expect((await official.website.getPeopleData(W, people_id)).data).toEqual({ plan: "pro" });
  });

  it("surfaces the sandbox's errors like Crisp's: reason and status", async () => {
    const bad = new Crisp();
    bad.setRestHost(official._rest.host);
    bad.authenticateTier("plugin", DEMO_CREDENTIALS.identifier, "wrong");
    await expect(bad.website.getWebsite(W)).rejects.toMatchObject({ message: "invalid_session", code: 401 });
    await expect(official.website.getConversation(W, "session_missing")).rejects.toMatchObject({
      message: "session_not_found",
      code: 404,
    });
  });
});
