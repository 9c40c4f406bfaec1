import { z } from "zod";
import { sessionId, type ToolDeps, ToolRefusal, type ToolSpec } from "./spec.ts";

/** Profile tools: the conversation's visitor profile data and events. */

/** The conversation's visitor profile: tools name a conversation, never a profile, so an agent reaches only visitors it talks to. */
async function profileOf(deps: ToolDeps, websiteId: string, session: string): Promise<string> {
  const conversation = await deps.crisp.conversations.get(websiteId, session);
  if (!conversation.people_id)
    throw new ToolRefusal("the visitor has no Crisp profile yet (Crisp makes one once they give an email)");
  return conversation.people_id;
}

const segment = z
  .string()
  .regex(/^[\p{L}\p{N}_ -]{1,64}$/u, "1 to 64 letters, digits, spaces, dashes or underscores");
const dataKey = z.string().regex(/^[a-z0-9_]{1,64}$/, "lowercase letters, digits and underscores");
const dataValue = z.union([z.string().max(500), z.number(), z.boolean()]);

export const updateProfile: ToolSpec = {
  name: "update_profile",
  title: "Update the visitor's profile",
  description:
    "Adds or removes segments and sets data keys on the Crisp profile of the conversation's visitor (the CRM pattern). The visitor's identity (name, email, phone) cannot be changed, nor quill's own quill_* keys.",
  scope: "profile",
  intents: ["update the visitor profile", "tag the customer", "add a segment", "save customer data", "crm"],
  input: z.object({
    session_id: sessionId,
    add_segments: z.array(segment).max(20).default([]),
    remove_segments: z.array(segment).max(20).default([]),
    data: z
      .record(dataKey, dataValue)
      .default({})
      .refine((d) => Object.keys(d).length <= 20, "at most 20 keys")
      .refine((d) => !Object.keys(d).some((k) => k.startsWith("quill_")), "quill_* keys are quill's own")
      .describe("Keys merged into the profile's data"),
  }),
  output: z.object({ peopleId: z.string(), segments: z.array(z.string()), dataKeys: z.array(z.string()) }),
  writes: true,
  async run({ session_id, add_segments, remove_segments, data }, who, deps) {
    const add = add_segments as string[];
    const remove = new Set(remove_segments as string[]);
    const values = data as Record<string, string | number | boolean>;
    if (!add.length && !remove.size && !Object.keys(values).length)
      throw new ToolRefusal("nothing to update: give add_segments, remove_segments or data");
    const peopleId = await profileOf(deps, who.websiteId, session_id as string);
    let segments: string[] = [];
    if (add.length || remove.size) {
      const profile = await deps.crisp.people.getProfile(who.websiteId, peopleId);
      segments = [...new Set([...(profile.segments ?? []), ...add])].filter((s) => !remove.has(s));
      await deps.crisp.people.updateProfile(who.websiteId, peopleId, { segments });
    }
    if (Object.keys(values).length) await deps.crisp.people.updateData(who.websiteId, peopleId, values);
    return { peopleId, segments, dataKeys: Object.keys(values) };
  },
};

export const addProfileEvent: ToolSpec = {
  name: "add_profile_event",
  title: "Add an event to the visitor's profile",
  description:
    'Records an event (e.g. "refund requested") on the Crisp profile of the conversation\'s visitor, with optional data; it is marked as written by this agent.',
  scope: "profile",
  intents: ["add a profile event", "log an event on the customer", "record what happened", "timeline"],
  input: z.object({
    session_id: sessionId,
    text: z.string().min(1).max(200),
    data: z.record(dataKey, dataValue).default({}),
    color: z
      .enum(["red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "grey", "black"])
      .optional(),
  }),
  output: z.object({ peopleId: z.string() }),
  writes: true,
  async run({ session_id, text, data, color }, who, deps) {
    const peopleId = await profileOf(deps, who.websiteId, session_id as string);
    await deps.crisp.people.addEvent(who.websiteId, peopleId, {
      text: text as string,
      // Who wrote it stays visible in Crisp, whatever the agent put in its data.
      data: { ...(data as Record<string, unknown>), source: "quill-mcp", agent: who.name },
      ...(color ? { color: color as string } : {}),
    });
    return { peopleId };
  },
};
