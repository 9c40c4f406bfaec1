import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import type { Store } from "../../src/store/store.ts";
import { manualClock, seedConversation } from "./contract.ts";

/** Shadow mode's store methods, on SQLite and D1 (called from the store contract). */
export function shadowContract(open: (clock?: Clock) => Promise<Store>) {
  describe("shadow drafts", () => {
    it("keeps one shadow per live draft", async () => {
      const store = await open();
      const { noteId } = await seedConversation(store, "w1", "s1", "hello");
      // seedConversation records one shadow for the note already
      const again = await store.insertShadow({
        draftId: noteId,
        websiteId: "w1",
        sessionId: "s1",
        provider: "openai",
        text: "second",
      });
      expect(again.inserted).toBe(false);
      expect((await store.shadowForDraft(noteId))?.text).toBe("hello shadow");
      expect(await store.shadowForDraft("missing")).toBeUndefined();
    });

    it("pairs shadows with their live draft and its latest sent text, by website and time", async () => {
      const { clock, advance } = manualClock(5_000_000);
      const store = await open(clock);
      const old = await seedConversation(store, "w1", "s-old", "old", clock.now());
      advance(10_000);
      const since = clock.now();
      const mine = await seedConversation(store, "w1", "s1", "mine", clock.now());
      advance(1_000);
      const other = await seedConversation(store, "w2", "s2", "theirs", clock.now());
      // A later rejection is not a sent text: the sent edit stays the one compared.
      await store.insertFeedback({
        draftId: mine.noteId,
        websiteId: "w1",
        sessionId: "s1",
        kind: "rejected",
      });
      const pairs = await store.shadowPairs({ websiteId: "w1", since, limit: 10 });
      expect(pairs).toHaveLength(1);
      expect(pairs[0]).toMatchObject({
        shadow: { draftId: mine.noteId, text: "mine shadow", websiteId: "w1" },
        live: { text: "mine draft", query: "mine", costUsd: 0.01 },
        sent: { kind: "sent_edited", finalText: "mine final" },
      });
      const all = await store.shadowPairs({ since: 0, limit: 10 });
      expect(all.map((p) => p.shadow.draftId)).toEqual([other.noteId, mine.noteId, old.noteId]);
      expect((await store.shadowPairs({ since: 0, limit: 1 })).length).toBe(1);
    });
  });
}
