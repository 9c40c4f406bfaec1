import { z } from "zod";
import { sessionId, ToolRefusal, type ToolSpec } from "./spec.ts";

/** Routing tools: who handles a conversation and its state. */

export const assignConversation: ToolSpec = {
  name: "assign_conversation",
  title: "Assign a conversation",
  description: "Routes the conversation to an operator of the website, named by email or Crisp user id.",
  scope: "route",
  intents: ["assign to an operator", "route the conversation", "hand over to a colleague", "escalate"],
  input: z.object({
    session_id: sessionId,
    operator: z.string().min(1).max(200).describe("The operator's email or Crisp user id"),
  }),
  output: z.object({ assignedTo: z.string() }),
  writes: true,
  async run({ session_id, operator }, who, deps) {
    const userId = await deps.operators.resolve(who.websiteId, operator as string);
    if (!userId) throw new ToolRefusal(`no operator ${operator as string} on this website`);
    await deps.crisp.conversations.assign(who.websiteId, session_id as string, userId);
    return { assignedTo: userId };
  },
};

export const setState: ToolSpec = {
  name: "set_conversation_state",
  title: "Set a conversation's state",
  description: "Marks the conversation pending, unresolved or resolved.",
  scope: "route",
  intents: ["resolve the conversation", "close the chat", "reopen a conversation", "mark as pending"],
  input: z.object({ session_id: sessionId, state: z.enum(["pending", "unresolved", "resolved"]) }),
  output: z.object({ state: z.string() }),
  writes: true,
  async run({ session_id, state }, who, deps) {
    await deps.crisp.conversations.setState(
      who.websiteId,
      session_id as string,
      state as "pending" | "unresolved" | "resolved",
    );
    return { state: state as string };
  },
};
