import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { CrispClient, CrispTier } from "../../src/crisp/client.ts";
import { CrispError } from "../../src/crisp/errors.ts";
import type { CrispConversation, CrispMessage, CrispOperator } from "../../src/crisp/schemas.ts";

/**
 * One behaviour suite for the Crisp client, run against every backend quill talks to: nock
 * serving recorded Crisp payloads (test/crisp/client.test.ts) and the sandbox
 * (test/sandbox/client-suite.test.ts). Both hold the same recorded world below, so every case
 * asserts the same values on both.
 */

export const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/crisp/${name}`, import.meta.url), "utf8"));
export const data = <T>(name: string) => (fixture(name) as { data: T }).data;

export const WEBSITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc";
/** Ada: pending, assigned to Grace, five messages of every kind. */
export const ADA = "session_700c65e1-85e2-465a-b9ac-ecb5ec2c9881";
/** Jean: resolved, 25 messages, so the history takes more than one page. */
export const JEAN = "session_2b7f3a10-4c9d-4e8b-8f1a-6c5d4e3b2a19";
export const GRACE = "a2b3c4d5-e6f7-4a8b-9c0d-1e2f3a4b5c6d";
export const ALAN = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9";
/** The recorded history came in batches of 10; the sandbox is set to the same size. */
export const HISTORY_PAGE = 10;

type SendBody = Parameters<CrispClient["messages"]["send"]>[2];

export const recorded = {
  conversation: data<CrispConversation>("conversation.get.json"),
  conversations: data<CrispConversation[]>("conversations.list.json"),
  messages: data<CrispMessage[]>("messages.list.json"),
  history: data<CrispMessage[]>("messages.history.json"),
  operators: data<CrispOperator[]>("operators.list.json"),
  sendText: fixture("message.send.text.request.json") as SendBody & {
    content: string;
    user: { nickname: string };
  },
  sendNote: fixture("message.send.request.json") as SendBody & { content: string; mentions: string[] },
  read: fixture("read.patch.request.json") as { from: "operator"; origin: string; fingerprints: number[] },
};
/** A client-chosen fingerprint, the one Crisp dispatched the recorded note with. */
export const NOTE_FINGERPRINT = 176400001777;
export const MISSING_SESSION = "session_00000000-0000-4000-8000-000000000000";
export const MISSING_WEBSITE = "00000000-0000-4000-8000-000000000000";
export const MISSING_FINGERPRINT = 123;
export const VIP_SEGMENTS = ["customer", "vip"];
export const META_UPDATE = { segments: VIP_SEGMENTS, data: { plan: "pro", seats: 3 } };
export const EVENT = { text: "quill:draft_posted", data: { intent: "password_reset" } };
export const CHARLES = { email: "charles@example.com", person: { nickname: "Charles Babbage" } };

export type CaseId =
  | "auth"
  | "list"
  | "create"
  | "state"
  | "routing"
  | "meta"
  | "read"
  | "last-page"
  | "history"
  | "send"
  | "compose"
  | "operators"
  | "people-search"
  | "people-create"
  | "not-found"
  | "unauthorized";

export interface ClientBackend {
  /**
   * Called first in every case: afterwards `crisp` talks to a backend holding the recorded world
   * (nock: serving that case's recorded exchanges). `as` builds a client with other credentials.
   */
  start(
    id: CaseId,
  ): Promise<{ crisp: CrispClient; as(credentials: { key?: string; tier?: CrispTier }): CrispClient }>;
}

const fingerprints = (messages: CrispMessage[]) => messages.map((m) => m.fingerprint);

export function clientSuite(name: string, backend: ClientBackend) {
  describe(`Crisp client against ${name}`, () => {
    it("authenticates with Basic auth and the tier header and unwraps the conversation", async () => {
      const { crisp } = await backend.start("auth");
      const conversation = await crisp.conversations.get(WEBSITE, ADA);
      expect(conversation).toMatchObject({
        session_id: ADA,
        website_id: WEBSITE,
        state: "pending",
        assigned: { user_id: GRACE },
        meta: {
          nickname: "Ada Lovelace",
          email: "ada@example.com",
          segments: ["customer"],
          data: { plan: "pro" },
        },
        preview_message: { from: "user", excerpt: recorded.messages.at(-1)?.content },
      });
    });

    it("lists conversations by page, filtered (not resolved, search) and ordered by update", async () => {
      const { crisp } = await backend.start("list");
      const ids = (list: CrispConversation[]) => list.map((c) => [c.session_id, c.state]);
      expect(ids(await crisp.conversations.list(WEBSITE, 1, { order_date_updated: true }))).toEqual([
        [ADA, "pending"],
        [JEAN, "resolved"],
      ]);
      const open = await crisp.conversations.list(WEBSITE, 1, {
        filter_not_resolved: true,
        order_date_updated: true,
      });
      expect(ids(open)).toEqual([[ADA, "pending"]]);
      const found = await crisp.conversations.list(WEBSITE, 1, {
        search_query: "Merci",
        search_type: "text",
      });
      expect(ids(found)).toEqual([[JEAN, "resolved"]]);
      expect(await crisp.conversations.list(WEBSITE, 2, { order_date_updated: true })).toEqual([]);
    });

    it("creates an empty pending conversation and reads it back", async () => {
      const { crisp } = await backend.start("create");
      const { session_id } = await crisp.conversations.create(WEBSITE);
      expect(session_id).toMatch(/^session_/);
      expect([ADA, JEAN]).not.toContain(session_id);
      expect(await crisp.conversations.get(WEBSITE, session_id)).toMatchObject({
        session_id,
        website_id: WEBSITE,
        state: "pending",
        unread: { operator: 0, visitor: 0 },
      });
      expect(await crisp.messages.list(WEBSITE, session_id)).toEqual({ messages: [], hasMore: false });
    });

    it("reads and changes the conversation state", async () => {
      const { crisp } = await backend.start("state");
      expect(await crisp.conversations.getState(WEBSITE, ADA)).toBe("pending");
      await crisp.conversations.setState(WEBSITE, ADA, "resolved");
      expect(await crisp.conversations.getState(WEBSITE, ADA)).toBe("resolved");
    });

    it("reads and changes who the conversation is assigned to", async () => {
      const { crisp } = await backend.start("routing");
      expect(await crisp.conversations.getRouting(WEBSITE, ADA)).toEqual({ assigned: { user_id: GRACE } });
      await crisp.conversations.assign(WEBSITE, ADA, ALAN, { silent: false });
      expect(await crisp.conversations.getRouting(WEBSITE, ADA)).toEqual({ assigned: { user_id: ALAN } });
    });

    it("reads and updates the conversation meta", async () => {
      const { crisp } = await backend.start("meta");
      expect(await crisp.conversations.getMeta(WEBSITE, ADA)).toMatchObject({
        nickname: "Ada Lovelace",
        email: "ada@example.com",
        segments: ["customer"],
        data: { plan: "pro" },
      });
      await crisp.conversations.updateMeta(WEBSITE, ADA, META_UPDATE);
      expect(await crisp.conversations.getMeta(WEBSITE, ADA)).toMatchObject({
        email: "ada@example.com",
        ...META_UPDATE,
      });
    });

    it("marks the visitor's messages read, clearing the operator's unread count", async () => {
      const { crisp } = await backend.start("read");
      expect((await crisp.conversations.get(WEBSITE, ADA)).unread?.operator).toBeGreaterThan(0);
      await crisp.conversations.markRead(WEBSITE, ADA, recorded.read);
      expect((await crisp.conversations.get(WEBSITE, ADA)).unread?.operator).toBe(0);
    });

    it("lists the last page of messages, every type, oldest first, and stops on a 200", async () => {
      const { crisp } = await backend.start("last-page");
      const expected = recorded.messages.map((m) => ({
        type: m.type,
        from: m.from,
        content: m.content,
        fingerprint: m.fingerprint,
      }));
      const page = await crisp.messages.list(WEBSITE, ADA);
      expect(page.hasMore).toBe(false);
      expect(page.messages).toMatchObject(expected);
      expect(page.messages[3]?.content).toMatchObject({ name: "screenshot.png", type: "image/png" });
      const last = await crisp.messages.listLast(WEBSITE, ADA, 20);
      expect(last).toMatchObject({ hasMore: false, messages: expected });
    });

    it("pages back with timestamp_before while Crisp answers 206, up to the last 20 messages", async () => {
      const { crisp } = await backend.start("history");
      const newest = await crisp.messages.list(WEBSITE, JEAN);
      expect(newest.hasMore).toBe(true);
      expect(fingerprints(newest.messages)).toEqual(fingerprints(recorded.history.slice(-HISTORY_PAGE)));
      const last = await crisp.messages.listLast(WEBSITE, JEAN, 20);
      expect(last.hasMore).toBe(true);
      expect(fingerprints(last.messages)).toEqual(fingerprints(recorded.history.slice(-20)));
      expect(last.messages.at(-1)?.content).toBe("Merci !");
    });

    it("sends a text and a private note, and gets each back by its fingerprint", async () => {
      const { crisp } = await backend.start("send");
      const sentText = await crisp.messages.send(WEBSITE, ADA, recorded.sendText);
      const sentNote = await crisp.messages.send(WEBSITE, ADA, {
        ...recorded.sendNote,
        fingerprint: NOTE_FINGERPRINT,
      });
      expect(sentNote.fingerprint).toBe(NOTE_FINGERPRINT);
      expect(sentText.fingerprint).not.toBe(NOTE_FINGERPRINT);
      expect(await crisp.messages.get(WEBSITE, ADA, sentText.fingerprint)).toMatchObject({
        fingerprint: sentText.fingerprint,
        type: "text",
        from: "operator",
        content: recorded.sendText.content,
        user: { nickname: recorded.sendText.user.nickname },
      });
      expect(await crisp.messages.get(WEBSITE, ADA, NOTE_FINGERPRINT)).toMatchObject({
        fingerprint: NOTE_FINGERPRINT,
        type: "note",
        from: "operator",
        content: recorded.sendNote.content,
        automated: true,
        mentions: recorded.sendNote.mentions,
      });
    });

    it("starts and stops the operator's compose state", async () => {
      const { crisp } = await backend.start("compose");
      await crisp.compose.start(WEBSITE, ADA, { excerpt: "Hi Ada, you can reset" });
      expect((await crisp.conversations.get(WEBSITE, ADA)).compose?.operator).toMatchObject({
        type: "start",
        excerpt: "Hi Ada, you can reset",
      });
      await crisp.compose.stop(WEBSITE, ADA);
      expect((await crisp.conversations.get(WEBSITE, ADA)).compose?.operator).toMatchObject({ type: "stop" });
    });

    it("lists the website's operators", async () => {
      const { crisp } = await backend.start("operators");
      const operators = await crisp.websites.listOperators(WEBSITE);
      expect(operators.map((o) => [o.details.user_id, o.details.email, o.details.role])).toEqual([
        [GRACE, "grace@example.com", "owner"],
        [ALAN, "alan@example.com", "member"],
      ]);
    });

    it("finds a people profile by email and updates its segments", async () => {
      const { crisp } = await backend.start("people-search");
      const found = await crisp.people.listProfiles(WEBSITE, 1, { search_text: "ada@example.com" });
      expect(found.map((p) => [p.email, p.person?.nickname])).toEqual([["ada@example.com", "Ada Lovelace"]]);
      const peopleId = found[0]?.people_id ?? "";
      await crisp.people.updateProfile(WEBSITE, peopleId, { segments: VIP_SEGMENTS });
      expect(await crisp.people.getProfile(WEBSITE, peopleId)).toMatchObject({
        people_id: peopleId,
        email: "ada@example.com",
        segments: VIP_SEGMENTS,
      });
    });

    it("creates a people profile and keeps its events and data (PATCH merges, PUT replaces)", async () => {
      const { crisp } = await backend.start("people-create");
      const { people_id } = await crisp.people.createProfile(WEBSITE, CHARLES);
      expect(await crisp.people.getProfile(WEBSITE, people_id)).toMatchObject({ people_id, ...CHARLES });
      await crisp.people.addEvent(WEBSITE, people_id, EVENT);
      expect(await crisp.people.listEvents(WEBSITE, people_id)).toMatchObject([EVENT]);
      await crisp.people.updateData(WEBSITE, people_id, { plan: "pro" });
      await crisp.people.updateData(WEBSITE, people_id, { seats: 3 });
      expect(await crisp.people.getData(WEBSITE, people_id)).toEqual({ plan: "pro", seats: 3 });
      await crisp.people.updateData(WEBSITE, people_id, { seats: 4 }, { replace: true });
      expect(await crisp.people.getData(WEBSITE, people_id)).toEqual({ seats: 4 });
    });

    it("surfaces a 404 as a CrispError with status, reason and route, not retried", async () => {
      const { crisp } = await backend.start("not-found");
      const failures = [
        [
          () => crisp.conversations.get(WEBSITE, MISSING_SESSION),
          `/website/${WEBSITE}/conversation/${MISSING_SESSION}`,
        ],
        [
          () => crisp.messages.get(WEBSITE, ADA, MISSING_FINGERPRINT),
          `/website/${WEBSITE}/conversation/${ADA}/message/${MISSING_FINGERPRINT}`,
        ],
        [() => crisp.websites.get(MISSING_WEBSITE), `/website/${MISSING_WEBSITE}`],
      ] as const;
      for (const [call, path] of failures) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CrispError);
        expect(error).toMatchObject({ status: 404, method: "GET", path, retryable: false });
        // Crisp's confirmed reason is not_found; the sandbox names what was missing.
        expect((error as CrispError).reason).toMatch(/^(\w+_)?not_found$/);
      }
    });

    it("answers a wrong key or a wrong tier with 401 invalid_session, not retried", async () => {
      const { as } = await backend.start("unauthorized");
      for (const credentials of [{ key: "wrong-key" }, { tier: "user" as const }]) {
        await expect(as(credentials).conversations.get(WEBSITE, ADA)).rejects.toMatchObject({
          status: 401,
          reason: "invalid_session",
          retryable: false,
        });
      }
    });
  });
}
