import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { WIDGET_ITEMS, WIDGET_SECTION } from "../../src/http/widget.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { answer, PLUGIN_ENV, setup } from "../drafting/harness.ts";

/**
 * The Crisp sidebar widget: signed requests like Crisp's (`[timestamp;body]` HMAC with the
 * plugin's signing secret) for each button, against the sandbox, and every way to forge one.
 */

const A = DEMO_CREDENTIALS.websiteId;
const B = "b0b0b0b0-0000-4000-8000-00000000000b";
const ENV = PLUGIN_ENV;
const ARTICLE = {
  name: "returns.md",
  content:
    "---\nid: returns\ntitle: Returns and exchanges\nintent: returns\n---\n# Returns and exchanges\n\n## Answer\nYou can return any item within 30 days.\n",
};

type Item = (typeof WIDGET_ITEMS)[keyof typeof WIDGET_ITEMS];

/** A widget request body as Crisp sends it to the Action URL. */
function widgetBody(
  item: Item | string,
  where: { websiteId?: string; sessionId: string },
  extra: { type?: "button" | "data"; value?: unknown; data?: Record<string, unknown> } = {},
) {
  return {
    origin: { website_id: where.websiteId ?? A, session_id: where.sessionId, token: "subscription-token" },
    action: {
      type: extra.type ?? (item === WIDGET_ITEMS.status || item.endsWith("_reason") ? "data" : "button"),
    },
    widget: { section_id: WIDGET_SECTION, item_id: item },
    payload: {
      data: extra.data ?? { operator_id: "op-sam", operator_name: "Sam" },
      ...(extra.value !== undefined ? { value: extra.value } : {}),
    },
  };
}

async function signed(
  body: unknown,
  options: { secret?: string; timestamp?: number; alter?: (raw: string) => string } = {},
) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const timestamp = String(options.timestamp ?? Date.now());
  const signature = await signWebhook(options.secret ?? DEMO_CREDENTIALS.webhookSecret, timestamp, raw);
  return {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-crisp-request-timestamp": timestamp,
      "x-crisp-signature": signature,
    },
    body: options.alter ? options.alter(raw) : raw,
  } satisfies RequestInit;
}

async function withDraft(env: Record<string, string> = ENV) {
  const harness = await setup(
    env,
    async (req) =>
      answer({
        text: req.instructions
          ? `Shorter: returns within 30 days.`
          : "You can return any item within 30 days.",
        citations: ["returns"],
        confidence: 0.87,
      }),
    { kbFiles: [ARTICLE] },
  );
  const { sandbox, services } = harness;
  const said = sandbox.visitorSays({ text: "Can I return my shoes?" });
  await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
  expect((await harness.runNext()).outcome).toEqual({ status: "done", outcome: "note" });
  const sessionId = said.sessionId;
  const press = async (init: RequestInit) => services.app.request("/plugin/widget", init);
  const latest = () => services.store.latestDraftForSession(A, sessionId);
  const jobs = async () => (await services.store.listJobs({ sessionId })).filter((j) => j.kind === "command");
  return { ...harness, sessionId, press, latest, jobs };
}

const texts = (messages: Array<{ type: string; content: unknown }>) =>
  messages.filter((m) => m.type === "text").map((m) => String(m.content));

describe("Crisp widget buttons", () => {
  it("Approve sends the draft to the customer as text, credited to the operator in the request", async () => {
    const { press, sessionId, sandbox, services, runNext, latest } = await withDraft();
    const draft = await latest();
    const res = await press(await signed(widgetBody(WIDGET_ITEMS.approve, { sessionId })));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      reason: "queued",
      data: { command: "approve", draft_id: draft?.id },
    });
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "command:approve" });
    const messages = sandbox.messagesOf(sessionId);
    expect(texts(messages)).toEqual(["Can I return my shoes?", "You can return any item within 30 days."]);
    expect(messages.at(-1)?.content).toBe("✅ quill: the draft was sent to the customer.");
    expect((await latest())?.status).toBe("sent");
    const [feedback] = await services.store.feedbackForDraft(draft?.id ?? "");
    expect(feedback).toMatchObject({ kind: "approved", operatorId: "op-sam", operatorName: "Sam" });
    const [job] = (await services.store.listJobs({ sessionId })).filter((j) => j.kind === "command");
    expect(job?.trigger).toBe("widget");

    // Pressed again (a new, validly signed request): the job refuses, nothing is sent twice.
    const again = await press(await signed(widgetBody(WIDGET_ITEMS.approve, { sessionId })));
    expect(again.status).toBe(409);
    expect((await again.json()).reason).toBe("the latest draft was already sent");
    expect(texts(sandbox.messagesOf(sessionId))).toHaveLength(2);
  });

  it("an unresolved operator binding credits the widget, not a literal {operator.user_id}", async () => {
    const { press, sessionId, services, runNext, latest } = await withDraft();
    const draft = await latest();
    const body = widgetBody(
      WIDGET_ITEMS.approve,
      { sessionId },
      { data: { operator_id: "{operator.user_id}" } },
    );
    expect((await press(await signed(body))).status).toBe(202);
    await runNext();
    const [feedback] = await services.store.feedbackForDraft(draft?.id ?? "");
    expect(feedback).toMatchObject({ operatorId: null, operatorName: "Crisp widget" });
  });

  it("Reject records the rejection with the typed reason; without one it is refused and nothing is queued", async () => {
    const { press, sessionId, sandbox, services, runNext, latest, jobs } = await withDraft();
    const draft = await latest();
    const empty = await press(
      await signed(widgetBody(WIDGET_ITEMS.reject, { sessionId }, { value: { reject_reason: "  " } })),
    );
    expect(empty.status).toBe(400);
    expect((await empty.json()).reason).toBe("reject needs a reason");
    expect(await jobs()).toHaveLength(0);

    const res = await press(
      await signed(
        widgetBody(WIDGET_ITEMS.reject, { sessionId }, { value: { reject_reason: "wrong article" } }),
      ),
    );
    expect(res.status).toBe(202);
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "command:reject" });
    expect((await latest())?.status).toBe("rejected");
    const [feedback] = await services.store.feedbackForDraft(draft?.id ?? "");
    expect(feedback).toMatchObject({ kind: "rejected", reason: "wrong article", operatorName: "Sam" });
    expect(sandbox.messagesOf(sessionId).at(-1)?.content).toBe("👎 quill: draft rejected (wrong article).");
    expect(texts(sandbox.messagesOf(sessionId))).toEqual(["Can I return my shoes?"]);
  });

  it("Redraft posts a new draft note following the instructions; it becomes the latest", async () => {
    const { press, sessionId, sandbox, runNext, latest, requests } = await withDraft();
    const first = await latest();
    const res = await press(
      await signed(
        widgetBody(WIDGET_ITEMS.redraft, { sessionId }, { value: { redraft_instructions: "shorter" } }),
      ),
    );
    expect(res.status).toBe(202);
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "command:redraft" });
    expect(requests.at(-1)?.instructions).toBe("shorter");
    const notes = sandbox.messagesOf(sessionId).filter((m) => m.type === "note");
    expect(notes).toHaveLength(2);
    expect(String(notes.at(-1)?.content)).toContain("Shorter: returns within 30 days.");
    const second = await latest();
    expect(second?.id).not.toBe(first?.id);
    expect(second?.text).toBe("Shorter: returns within 30 days.");
    expect(texts(sandbox.messagesOf(sessionId))).toEqual(["Can I return my shoes?"]);
  });

  it("the data item shows the latest draft's status, confidence and cited article", async () => {
    const { press, sessionId, runNext } = await withDraft();
    const status = async () =>
      (await (await press(await signed(widgetBody(WIDGET_ITEMS.status, { sessionId })))).json()).data.value;
    expect(await status()).toBe(
      "Latest draft: waiting for review · confidence 0.87 · cites Returns and exchanges",
    );
    await press(await signed(widgetBody(WIDGET_ITEMS.approve, { sessionId })));
    await runNext();
    expect(await status()).toMatch(/^Latest draft: sent to the customer · confidence 0\.87/);
    const none = await press(await signed(widgetBody(WIDGET_ITEMS.status, { sessionId: "session_none" })));
    expect((await none.json()).data.value).toBe("No quill draft in this conversation yet.");
  });
});

describe("Crisp widget: Translate", () => {
  it("redrafts the latest draft into OPERATOR_LANGUAGE through the note command's job; the customer gets nothing", async () => {
    const { press, sessionId, sandbox, runNext, latest, requests, jobs } = await withDraft({
      ...ENV,
      OPERATOR_LANGUAGE: "de",
    });
    const first = await latest();
    const res = await press(await signed(widgetBody(WIDGET_ITEMS.translate, { sessionId })));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      reason: "queued",
      data: { command: "redraft", draft_id: first?.id },
    });
    const [job] = await jobs();
    expect(job?.trigger).toBe("widget");
    expect(JSON.parse(job?.instructions ?? "{}")).toMatchObject({
      name: "redraft",
      arg: "translate the reply into German",
      rewrite: { kind: "translate", language: "de" },
      operatorName: "Sam",
    });
    expect((await runNext()).outcome).toEqual({ status: "done", outcome: "command:redraft" });
    expect(requests.at(-1)).toMatchObject({
      instructions: "translate the reply into German",
      language: "de",
    });
    expect(requests.at(-1)?.system).toContain("German (de)");
    expect((await latest())?.language).toBe("de");
    expect(sandbox.messagesOf(sessionId).filter((m) => m.type === "note")).toHaveLength(2);
    expect(texts(sandbox.messagesOf(sessionId))).toEqual(["Can I return my shoes?"]);
  });

  it("translates into English when OPERATOR_LANGUAGE is unset: an English draft is refused with 409, nothing queued", async () => {
    const { press, sessionId, jobs } = await withDraft();
    const res = await press(await signed(widgetBody(WIDGET_ITEMS.translate, { sessionId })));
    expect(res.status).toBe(409);
    expect((await res.json()).reason).toBe("the latest draft is already in English");
    expect(await jobs()).toHaveLength(0);
  });

  it("refuses an unsigned or wrongly signed press, and one for a conversation with no draft", async () => {
    const { press, sessionId, jobs } = await withDraft({ ...ENV, OPERATOR_LANGUAGE: "fr" });
    const body = widgetBody(WIDGET_ITEMS.translate, { sessionId });
    const unsigned = await signed(body);
    delete (unsigned.headers as Record<string, string>)["x-crisp-signature"];
    expect((await press(unsigned)).status).toBe(401);
    expect((await press(await signed(body, { secret: "another-plugin-signing-secret" }))).status).toBe(401);
    const none = await press(await signed(widgetBody(WIDGET_ITEMS.translate, { sessionId: "session_none" })));
    expect(none.status).toBe(404);
    expect((await none.json()).reason).toBe("there is no draft to redo");
    expect(await jobs()).toHaveLength(0);
  });

  it("with the offline drafter, the job answers with a note that it cannot translate", async () => {
    const harness = await setup({ ...ENV, OPERATOR_LANGUAGE: "de" }, undefined, {
      kbFiles: [ARTICLE],
      llm: undefined,
    });
    const said = harness.sandbox.visitorSays({ text: "Can I return my shoes?" });
    await harness.enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    await harness.runNext();
    const res = await harness.services.app.request(
      "/plugin/widget",
      await signed(widgetBody(WIDGET_ITEMS.translate, { sessionId: said.sessionId })),
    );
    expect(res.status).toBe(202);
    expect((await harness.runNext()).outcome).toEqual({ status: "done", outcome: "command:refused" });
    const messages = harness.sandbox.messagesOf(said.sessionId);
    expect(String(messages.at(-1)?.content)).toMatch(
      /^⚠️ quill: the offline drafter cannot translate a draft into German: .* An LLM provider \(LLM_PROVIDER\) is needed for \/translate;/,
    );
    expect(texts(messages)).toEqual(["Can I return my shoes?"]);
  });
});

describe("Crisp widget: forged, replayed and misdirected requests", () => {
  it("refuses a wrong secret, a missing or stale timestamp, an altered body and ?key=", async () => {
    const { press, sessionId, jobs, sandbox, services } = await withDraft();
    const body = widgetBody(WIDGET_ITEMS.approve, { sessionId });
    const reasons: string[] = [];
    const expect401 = async (init: RequestInit) => {
      const res = await press(init);
      expect(res.status).toBe(401);
      reasons.push((await res.json()).reason);
    };
    await expect401(await signed(body, { secret: "another-plugin-signing-secret" }));
    await expect401(await signed(body, { timestamp: Date.now() - 10 * 60_000 }));
    await expect401(await signed(body, { timestamp: Date.now() + 10 * 60_000 }));
    await expect401(await signed(body, { alter: (raw) => raw.replace(sessionId, "session_someone_else") }));
    await expect401(await signed(body, { alter: (raw) => raw.replace('"approve"', '"reject"') }));
    const noTimestamp = await signed(body);
    delete (noTimestamp.headers as Record<string, string>)["x-crisp-request-timestamp"];
    await expect401(noTimestamp);
    const unsigned = await signed(body);
    delete (unsigned.headers as Record<string, string>)["x-crisp-signature"];
    await expect401(unsigned);
    // A secret in the URL (a website hook's ?key=) never stands in for the signature.
    const withKey = await services.app.request(`/plugin/widget?key=${DEMO_CREDENTIALS.webhookSecret}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(withKey.status).toBe(401);
    expect(reasons).toEqual([
      "invalid signature",
      "stale request timestamp (outside the replay window)",
      "stale request timestamp (outside the replay window)",
      "invalid signature",
      "invalid signature",
      "missing X-Crisp-Request-Timestamp header",
      "unsigned request: expected X-Crisp-Signature or ?key= in the hook URL",
    ]);
    expect(await jobs()).toHaveLength(0);
    expect(texts(sandbox.messagesOf(sessionId))).toHaveLength(1);
  });

  it("a replayed request answers 409 and acts once", async () => {
    const { press, sessionId, jobs, runNext, sandbox } = await withDraft();
    const init = await signed(widgetBody(WIDGET_ITEMS.approve, { sessionId }));
    expect((await press(init)).status).toBe(202);
    const replay = await press(init);
    expect(replay.status).toBe(409);
    expect((await replay.json()).reason).toBe("replayed request: this signature was used already");
    expect(await jobs()).toHaveLength(1);
    await runNext();
    expect(texts(sandbox.messagesOf(sessionId))).toHaveLength(2);
  });

  it("refuses a website quill does not serve, and a session of another website", async () => {
    const { press, sessionId, sandbox, services, runNext, enqueue, jobs } = await withDraft();
    sandbox.state.addWebsite({ websiteId: B, name: "Shop B", domain: "b.test" });
    // Not served yet: no settings, not CRISP_WEBSITE_ID.
    const notServed = await press(
      await signed(widgetBody(WIDGET_ITEMS.approve, { websiteId: B, sessionId })),
    );
    expect(notServed.status).toBe(403);
    expect((await notServed.json()).reason).toBe("quill does not serve this website");

    // Served, with a draft of its own: A's id with B's session acts on nothing.
    await services.websites.set(B, { name: "Shop B" });
    const saidB = sandbox.visitorSays({ websiteId: B, text: "Can I return my shoes?" });
    await enqueue(saidB.sessionId, saidB.fingerprint, saidB.message.timestamp, B);
    await runNext();
    const cross = await press(
      await signed(widgetBody(WIDGET_ITEMS.approve, { websiteId: A, sessionId: saidB.sessionId })),
    );
    expect(cross.status).toBe(404);
    expect((await cross.json()).reason).toBe("there is no draft to approve");
    expect((await services.store.latestDraftForSession(B, saidB.sessionId))?.status).toBe("posted");
    expect(texts(sandbox.messagesOf(saidB.sessionId))).toHaveLength(1);
    expect(await jobs()).toHaveLength(0);
    expect(texts(sandbox.messagesOf(sessionId))).toHaveLength(1);
  });

  it("answers 400 for missing fields or bad JSON and 404 for an item quill does not know", async () => {
    const { press, sessionId } = await withDraft();
    const missing = widgetBody(WIDGET_ITEMS.approve, { sessionId }) as Record<string, unknown>;
    missing.origin = { website_id: A };
    const res = await press(await signed(missing));
    expect(res.status).toBe(400);
    expect((await res.json()).reason).toMatch(/^origin\.session_id: /);
    const noAction = widgetBody(WIDGET_ITEMS.approve, { sessionId }) as Record<string, unknown>;
    delete noAction.action;
    expect((await press(await signed(noAction))).status).toBe(400);
    expect((await press(await signed("{not json"))).status).toBe(400);
    const typed = widgetBody(WIDGET_ITEMS.reject, { sessionId }, { value: { reject_reason: 42 } });
    const wrongType = await press(await signed(typed));
    expect(wrongType.status).toBe(400);
    expect((await wrongType.json()).reason).toBe("payload.value.reject_reason: expected text");
    const unknown = await press(await signed(widgetBody("summarize", { sessionId })));
    expect(unknown.status).toBe(404);
    const buttonAsData = await press(
      await signed(widgetBody(WIDGET_ITEMS.approve, { sessionId }, { type: "data" })),
    );
    expect(buttonAsData.status).toBe(400);
  });

  it("is off outside the plugin tier", async () => {
    const { services } = await setup({ ...ENV, CRISP_TIER: "website" });
    const res = await services.app.request(
      "/plugin/widget",
      await signed(widgetBody(WIDGET_ITEMS.approve, { sessionId: "session_any" })),
    );
    expect(res.status).toBe(404);
    expect((await res.json()).reason).toMatch(/CRISP_TIER=plugin/);
  });
});

describe("docs/crisp-widget.json", () => {
  const schema = JSON.parse(
    readFileSync(new URL("../../docs/crisp-widget.json", import.meta.url), "utf8"),
  ) as {
    version: string;
    sections: Array<{
      id: string;
      title: string;
      items: Array<{ id: string; type: string; value: Record<string, unknown> }>;
    }>;
  };
  const items = schema.sections.flatMap((s) => s.items);

  it("is a Generic widget of exactly the items the route handles", () => {
    expect(schema.version).toBe("1.0");
    expect(schema.sections.map((s) => s.id)).toEqual([WIDGET_SECTION]);
    expect(items.map((i) => i.id).sort()).toEqual(Object.values(WIDGET_ITEMS).sort());
    for (const item of items) {
      expect(["button", "data"]).toContain(item.type);
      if (item.type === "button") {
        // Requests to quill's Action URL, never a link that leaves the sidebar.
        expect(["hook", "submit"]).toContain(item.value.type);
        expect(["black", "blue", "green", "orange", "red", "purple"]).toContain(item.value.color);
        expect(item.value.data).toMatchObject({ operator_id: "{operator.user_id}" });
      }
    }
    // Translate needs nothing typed: it translates into OPERATOR_LANGUAGE (English when unset).
    expect(items.find((i) => i.id === WIDGET_ITEMS.translate)?.value).toMatchObject({ type: "hook" });
    // Each submit button sends the field of its own group.
    for (const [button, field] of [
      [WIDGET_ITEMS.redraft, WIDGET_ITEMS.redraftInstructions],
      [WIDGET_ITEMS.reject, WIDGET_ITEMS.rejectReason],
    ]) {
      const b = items.find((i) => i.id === button);
      const f = items.find((i) => i.id === field);
      expect(b?.value.type).toBe("submit");
      expect(f?.value).toMatchObject({ editable: true });
      expect(b?.value.group).toBe(f?.value.group);
    }
  });

  it("every item, sent as Crisp would, reaches a handler of the route", async () => {
    const { press, sessionId } = await withDraft();
    for (const item of items) {
      const field = items.find(
        (f) => f.type === "data" && f.value.editable && f.value.group === item.value.group,
      );
      const body = widgetBody(
        item.id,
        { sessionId },
        {
          type: item.type === "data" ? "data" : "button",
          data: (item.value.data as Record<string, unknown> | undefined) ?? {},
          ...(field ? { value: { [field.id]: "as typed" } } : {}),
        },
      );
      const res = await press(await signed(body));
      expect([200, 202, 409], `${item.id}: ${res.status}`).toContain(res.status);
    }
  });
});
