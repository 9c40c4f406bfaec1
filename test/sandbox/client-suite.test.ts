import { type CrispTier, createCrispClient } from "../../src/crisp/client.ts";
import type { CrispConversation, CrispMessage } from "../../src/crisp/schemas.ts";
import { createSandbox, DEMO_CREDENTIALS, type Sandbox } from "../../src/sandbox/app.ts";
import type { SandboxMessage } from "../../src/sandbox/state.ts";
import { clientSuite, HISTORY_PAGE, recorded, WEBSITE } from "../crisp/client-suite.ts";
import { inProcessFetch } from "../helpers.ts";

/** The shared client suite against a fresh in-process sandbox holding the recorded world. */

function seedConversation(
  sandbox: Sandbox,
  recordedConversation: CrispConversation,
  messages: CrispMessage[],
) {
  const { meta } = recordedConversation;
  const conversation = sandbox.state.createConversation(WEBSITE, {
    sessionId: recordedConversation.session_id,
    nickname: meta?.nickname,
    email: meta?.email,
  });
  for (const m of messages) {
    sandbox.state.addMessage(conversation, {
      type: m.type,
      from: m.from,
      origin: m.origin,
      content: m.content,
      user: (m.user ?? {}) as SandboxMessage["user"],
      fingerprint: m.fingerprint,
    });
  }
  conversation.state = recordedConversation.state ?? "pending";
  conversation.meta.segments = meta?.segments ?? [];
  conversation.meta.data = meta?.data ?? {};
  if (recordedConversation.assigned?.user_id)
    conversation.assigned = { user_id: recordedConversation.assigned.user_id };
}

clientSuite("the in-process sandbox", {
  async start() {
    const sandbox = createSandbox({ websiteId: WEBSITE, messagesPageSize: HISTORY_PAGE });
    const website = sandbox.state.websites.get(WEBSITE);
    if (!website) throw new Error("sandbox website missing");
    website.operators = recorded.operators.map((o) => ({
      type: "operator",
      details: { ...o.details, email: o.details.email ?? "" },
    }));
    const [, jean] = recorded.conversations;
    if (!jean) throw new Error("recorded list lacks Jean");
    // Jean first: Ada's conversation is the one updated last, as recorded.
    seedConversation(sandbox, jean, recorded.history);
    seedConversation(sandbox, recorded.conversation, recorded.messages);

    const fetch = inProcessFetch(sandbox.app);
    const as = ({ key = DEMO_CREDENTIALS.key, tier = "plugin" }: { key?: string; tier?: CrispTier } = {}) =>
      createCrispClient({
        apiUrl: "http://sandbox.test/v1",
        identifier: DEMO_CREDENTIALS.identifier,
        key,
        tier,
        fetch,
        clock: { now: () => Date.now(), sleep: async () => {} },
      });
    return { crisp: as(), as };
  },
});
