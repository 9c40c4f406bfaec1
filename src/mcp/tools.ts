import { z } from "zod";
import { createKnowledgeBase } from "../knowledge/kb.ts";
import { addProfileEvent, updateProfile } from "./tools/profile.ts";
import { getConversation, listConversations, searchKnowledge } from "./tools/read.ts";
import { draftReply, postNote, sendReply } from "./tools/reply.ts";
import { assignConversation, setState } from "./tools/routing.ts";
import type { ToolSpec } from "./tools/spec.ts";

/**
 * The registry of the tools an AI agent gets (one file per group under `tools/`), and
 * find_operations, which searches it by intent.
 */

export { sessionId, type ToolDeps, ToolRefusal, type ToolSpec } from "./tools/spec.ts";

export const TOOLS: ToolSpec[] = [
  listConversations,
  getConversation,
  searchKnowledge,
  draftReply,
  postNote,
  sendReply,
  assignConversation,
  setState,
  updateProfile,
  addProfileEvent,
];

/** The catalogue as a small knowledge base, so intent search uses quill's own retrieval. */
const catalogue = createKnowledgeBase(
  TOOLS.map((t) => ({
    name: `${t.name}.md`,
    content: `---\nid: ${t.name}\ntitle: ${t.title}\nquestions:\n${t.intents.map((q) => `  - ${q}`).join("\n")}\n---\n\n## Answer\n\n${t.description}\n`,
  })),
);

export const findOperations: ToolSpec = {
  name: "find_operations",
  title: "Find an operation by intent",
  description:
    'Which of quill\'s tools does what you mean (e.g. "send a chat reply"), with its input schema and the scope it needs; tools your token lacks the scope for are marked.',
  scope: "read",
  intents: ["find a tool", "what can you do"],
  input: z.object({ intent: z.string().min(2).max(500) }),
  output: z.object({
    operations: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        scope: z.string(),
        allowed: z.boolean(),
        inputSchema: z.record(z.string(), z.unknown()),
      }),
    ),
  }),
  writes: false,
  async run({ intent }, who) {
    const hits = catalogue.search(intent as string, 3);
    return {
      operations: hits.flatMap((h) => {
        const tool = TOOLS.find((t) => t.name === h.id);
        if (!tool) return [];
        return [
          {
            name: tool.name,
            description: tool.description,
            scope: tool.scope,
            allowed: who.scopes.has(tool.scope),
            inputSchema: z.toJSONSchema(tool.input) as Record<string, unknown>,
          },
        ];
      }),
    };
  },
};

export const ALL_TOOLS: ToolSpec[] = [findOperations, ...TOOLS];
