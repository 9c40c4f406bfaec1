import { describe, expect, it } from "vitest";
import type { DraftEngine, DraftRequest } from "../../src/llm/types.ts";
import { operatorSide, startDemo, until } from "../helpers.ts";

/**
 * Languages end to end: the sandbox's web hooks, operators' notes, the job runner and a
 * scripted LLM (or the offline drafter). The customer writes French with an English locale.
 */

const FRENCH_QUESTION =
  "Bonjour, je n'ai toujours pas reçu ma commande, pouvez-vous m'aider ? Mon adresse est ada@example.com";
const FRENCH =
  "Bonjour ! Votre colis est parti hier, vous le recevrez demain. Écrivez-nous à [email 1] si besoin.";
const GERMAN = "Hallo! Ihr Paket wurde gestern verschickt und kommt morgen an.";
const ENGLISH =
  "Hello! Your parcel left yesterday, you will get it tomorrow. Write to us at [email 1] if needed.";
const ENGLISH_OF_GERMAN = "Hello! Your parcel was shipped yesterday and arrives tomorrow.";

const usage = { inputTokens: 1_000, outputTokens: 100, cachedInputTokens: 0 };
/** Drafts in the language it is asked for; translates what it is given into English. */
function scripted(options: { failTranslation?: boolean; french?: string } = {}) {
  const seen: DraftRequest[] = [];
  const llm: DraftEngine = {
    async draft(req) {
      seen.push(req);
      const translating = req.system.startsWith("You translate");
      if (translating && options.failTranslation) throw new Error("model overloaded");
      const text = translating
        ? req.conversation.includes("Paket")
          ? ENGLISH_OF_GERMAN
          : ENGLISH
        : req.language === "de"
          ? GERMAN
          : (options.french ?? FRENCH);
      return {
        text,
        confidence: 0.8,
        intent: translating ? "translation" : "shipping",
        needsHuman: false,
        citations: [],
        usage,
        model: "gpt-4o-mini",
        provider: "openai",
        attempts: [{ provider: "openai", model: "gpt-4o-mini", status: "ok", latencyMs: 1, usage }],
      };
    },
  };
  return { llm, seen };
}

const start = (env: Record<string, string>, llm?: DraftEngine) => startDemo(env, llm ? { llm } : {});

async function conversation(env: Record<string, string>, llm?: DraftEngine, text = FRENCH_QUESTION) {
  const { quill, sandbox } = await start(env, llm);
  const { sessionId } = sandbox.visitorSays({ text });
  const { notes, replies } = operatorSide(sandbox, sessionId);
  await until(() => notes().length > 0);
  // Recorded as posted once Crisp has the note.
  await until(async () => (await quill.services.store.listDrafts({ sessionId }))[0]?.status === "posted");
  const note = (text: string) => sandbox.operatorSays({ sessionId, text, type: "note" });
  const drafts = () => quill.services.store.listDrafts({ sessionId });
  return { quill, sandbox, sessionId, notes, replies, note, drafts };
}

describe("a French customer with an English locale", () => {
  it("gets a French draft; the note shows an English translation for the operator; /approve sends the French text only", async () => {
    const { llm, seen } = scripted();
    const { quill, sandbox, sessionId, notes, replies, note, drafts } = await conversation(
      { OPERATOR_LANGUAGE: "en" },
      llm,
    );
    expect(sandbox.state.conversations.get(sessionId)?.meta.device.locales).toEqual(["en"]);
    const [draftRequest, translationRequest] = seen;
    expect(draftRequest?.language).toBe("fr");
    expect(draftRequest?.system).toContain("Reply in French (fr)");
    // The translation is one more call, on the redacted draft: the address never leaves.
    expect(translationRequest?.system).toMatch(
      /^You translate a customer support reply from French \(fr\) into English \(en\)/,
    );
    expect(translationRequest?.conversation).toContain(FRENCH);
    expect(translationRequest?.conversation).not.toContain("ada@example.com");
    expect(seen).toHaveLength(2);

    const [first] = notes();
    const frenchShown = FRENCH.replace("[email 1]", "ada@example.com");
    const englishShown = ENGLISH.replace("[email 1]", "ada@example.com");
    expect(first).toContain(`💬 Suggested reply (/approve sends exactly this):\n${frenchShown}\n`);
    expect(first).toContain(
      `🌐 English translation, for you, not sent (/approve sends the reply above, in French):\n${englishShown}\n`,
    );

    const draft = await until(async () => (await drafts()).find((d) => d.status === "posted"));
    expect(draft).toMatchObject({ language: "fr", text: frenchShown });
    // Its cost is the draft's and the translation's: two calls, recorded with the draft.
    const calls = await quill.services.store.llmCallsForJob(draft?.jobId ?? "");
    expect(calls.map((c) => [c.status, c.draftId])).toEqual([
      ["ok", draft?.id],
      ["ok", draft?.id],
    ]);
    const perCall = (1_000 * 0.15 + 100 * 0.6) / 1_000_000;
    expect(draft?.costUsd).toBeCloseTo(2 * perCall, 10);

    note("/approve");
    await until(() => notes().some((n) => n.startsWith("✅")));
    expect(replies()).toEqual([frenchShown]);
    expect(
      sandbox.messagesOf(sessionId).some((m) => m.type === "text" && String(m.content).includes("Hello")),
    ).toBe(false);
  });

  it("/translate de drafts again in German, recorded as a redraft; the old draft is discarded", async () => {
    const { llm, seen } = scripted();
    const { quill, notes, replies, note, drafts } = await conversation({ OPERATOR_LANGUAGE: "en" }, llm);
    note("/translate de");
    await until(() => notes().some((n) => n.includes(GERMAN)));
    const redraft = seen.find((r) => r.instructions);
    expect(redraft?.instructions).toBe("translate the reply into German");
    expect(redraft?.language).toBe("de");
    expect(redraft?.system).toContain("Reply in German (de)");
    expect(redraft?.conversation).toContain(
      "Instructions from the operator for this draft: translate the reply into German",
    );
    const germanNote = notes().find((n) => n.includes(GERMAN)) ?? "";
    expect(germanNote).toContain(
      `🌐 English translation, for you, not sent (/approve sends the reply above, in German):\n${ENGLISH_OF_GERMAN}`,
    );
    // The old draft is discarded once the new one is posted.
    const [latest, old] = await until(async () => {
      const list = await drafts();
      return list[1]?.status === "discarded" && list;
    });
    expect(latest).toMatchObject({ text: GERMAN, language: "de", status: "posted" });
    const [feedback] = await quill.services.store.feedbackForDraft(old?.id ?? "");
    expect(feedback).toMatchObject({ kind: "redraft", reason: "translate the reply into German" });

    // /translate German now says it is already German, and drafts nothing.
    note("/translate German");
    await until(() => notes().some((n) => n === "⚠️ quill: the latest draft is already in German."));
    note("/approve");
    await until(() => notes().some((n) => n.startsWith("✅")));
    expect(replies()).toEqual([GERMAN]);
    expect(await drafts()).toHaveLength(2);
  });

  it("an unknown or missing language is a clear note; commands a visitor writes or an operator sends as a reply are ignored", async () => {
    const { llm, seen } = scripted();
    const { sandbox, sessionId, notes, replies, note, drafts } = await conversation({}, llm);
    note("/translate klingon");
    await until(() =>
      notes().includes(
        "⚠️ quill: /translate did not understand the language “klingon”; write a language name or its ISO 639-1 code, e.g. /translate fr or /translate German.",
      ),
    );
    note("/translate");
    await until(() =>
      notes().includes("⚠️ quill: /translate needs a language, e.g. /translate fr or /translate German."),
    );
    const calls = seen.length;
    sandbox.visitorSays({ sessionId, text: "/translate de" });
    sandbox.operatorSays({ sessionId, text: "/shorter" }); // a visible reply, not a note
    await sandbox.flushWebhooks();
    await new Promise((r) => setTimeout(r, 300));
    expect(replies()).toEqual(["/shorter"]);
    expect(seen.slice(calls).some((r) => r.instructions)).toBe(false);
    expect((await drafts()).every((d) => d.language !== "de")).toBe(true);
  });

  it("a translation that fails leaves the draft posted, with one line saying so", async () => {
    const { llm } = scripted({ failTranslation: true });
    const { notes, drafts } = await conversation({ OPERATOR_LANGUAGE: "en" }, llm);
    const [first] = notes();
    expect(first).toContain(FRENCH.replace("[email 1]", "ada@example.com"));
    expect(first).toContain("🌐 English translation unavailable: the LLM provider failed.");
    await until(async () => (await drafts())[0]?.status === "posted");
  });

  it("no translation when the draft is already in the operators' language, or with no OPERATOR_LANGUAGE", async () => {
    const { llm, seen } = scripted();
    const { notes } = await conversation({ OPERATOR_LANGUAGE: "fr" }, llm);
    expect(seen).toHaveLength(1);
    expect(notes()[0]).not.toContain("🌐");
    const other = scripted();
    const unset = await conversation({}, other.llm);
    expect(other.seen).toHaveLength(1);
    expect(unset.notes()[0]).not.toContain("🌐");
  });
});

describe("auto-send", () => {
  it("sends the customer's language and makes no translation call: there is no note to read it in", async () => {
    const ask = "Bonjour ! Pouvez-vous m'envoyer votre numéro de commande, s'il vous plaît ?";
    const { llm, seen } = scripted({ french: ask });
    const { sandbox } = await start(
      {
        OPERATOR_LANGUAGE: "en",
        REPLY_MODE: "auto",
        AUTO_SEND_INTENTS: "shipping",
        AUTO_SEND_MIN_CONFIDENCE: "0.5",
        AUTO_SEND_DISCLOSURE: "off",
      },
      llm,
    );
    const { sessionId } = sandbox.visitorSays({
      text: "Bonjour, je n'ai toujours pas reçu ma commande, pouvez-vous m'aider ?",
    });
    const sent = await until(() =>
      sandbox.messagesOf(sessionId).find((m) => m.type === "text" && m.from === "operator"),
    );
    expect(String(sent.content)).toBe(ask);
    expect(seen).toHaveLength(1);
    expect(sandbox.messagesOf(sessionId).filter((m) => m.type === "note")).toEqual([]);
  });
});

describe("with the offline drafter", () => {
  const QUESTION = "Bonjour, je voudrais retourner un article, la taille ne va pas. Comment faire ?";

  it("says plainly it cannot translate, make friendlier or more formal, and never writes to the customer", async () => {
    const { notes, replies, note, drafts } = await conversation(
      { OPERATOR_LANGUAGE: "de" },
      undefined,
      QUESTION,
    );
    const [first] = notes();
    expect(first).toContain("from the knowledge base (no AI model)");
    // No English article matches a French question: the hand-over is in French, and the note says why.
    expect(first).toContain(
      "Merci pour votre message ! Un membre de notre équipe va s'en occuper et vous répondra très vite.",
    );
    expect(first).toContain(
      "ℹ️ The customer writes French: the offline drafter finds articles by their words, so a question in another language than the knowledge base's rarely finds its article: EMBEDDINGS with a multilingual model finds it, and an LLM provider (LLM_PROVIDER) answers in the customer's language.",
    );
    expect(first?.split("\n").filter((l) => l.startsWith("🌐"))).toEqual([
      "🌐 German translation needs an LLM provider (LLM_PROVIDER).",
    ]);
    const before = await drafts();
    for (const [command, what] of [
      ["/translate de", "translate a draft into German"],
      ["/friendlier", "make a draft friendlier"],
      ["/formal", "make a draft more formal"],
    ] as const) {
      note(command);
      const expected = `⚠️ quill: the offline drafter cannot ${what}: it only answers from the knowledge base. An LLM provider (LLM_PROVIDER) is needed for /${command.slice(1).split(" ")[0]}; nothing was sent, and you can write the reply yourself with /send <text>.`;
      await until(() => notes().includes(expected));
    }
    expect(replies()).toEqual([]);
    expect((await drafts()).map((d) => [d.id, d.status])).toEqual(before.map((d) => [d.id, d.status]));
  });

  it("/shorter keeps the first sentences, as a new draft", async () => {
    const { notes, note, drafts } = await conversation(
      {},
      undefined,
      "Hi! I need to return an item, I got the wrong size.",
    );
    const [original] = await drafts();
    note("/shorter");
    await until(() =>
      notes().some((n) => n.includes("ℹ️ Shortened to the first two sentences of the answer.")),
    );
    const [latest, old] = await until(async () => {
      const list = await drafts();
      return list[1]?.status === "discarded" && list;
    });
    expect(old?.id).toBe(original?.id);
    const sentences = original?.text.match(/[^.!?]+[.!?]+/g) ?? [];
    expect(latest?.text.startsWith(sentences.slice(0, 2).join("").trim())).toBe(true);
    expect(latest?.text.length).toBeLessThan((original?.text.length ?? 0) / 2);
  });
});
