import { z } from "zod";

/**
 * Response shapes of Crisp REST v1 (wire names). Every object is loose: Crisp adds fields
 * over time and the client must keep working; only what quill relies on is required.
 */

const user = z.looseObject({
  type: z.string().optional(),
  user_id: z.string().optional(),
  nickname: z.string().optional(),
  avatar: z.string().nullable().optional(),
});

export const messageSchema = z.looseObject({
  session_id: z.string(),
  website_id: z.string(),
  type: z.string(),
  from: z.enum(["user", "operator"]),
  origin: z.string().default("chat"),
  content: z.unknown(),
  fingerprint: z.number(),
  timestamp: z.number(),
  user: user.optional(),
  automated: z.boolean().optional(),
  stamped: z.boolean().optional(),
  edited: z.boolean().optional(),
  mentions: z.array(z.string()).optional(),
  read: z.string().optional(),
  delivered: z.string().optional(),
});
export type CrispMessage = z.infer<typeof messageSchema>;

const composeState = z.looseObject({
  type: z.string().optional(),
  excerpt: z.string().optional(),
  timestamp: z.number().optional(),
});

export const metaSchema = z.looseObject({
  nickname: z.string().optional(),
  email: z.string().optional(),
  phone: z.string().optional(),
  address: z.string().optional(),
  subject: z.string().optional(),
  ip: z.string().optional(),
  avatar: z.string().optional(),
  origin: z.string().optional(),
  segments: z.array(z.string()).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  device: z
    .looseObject({ locales: z.array(z.string()).optional(), timezone: z.number().optional() })
    .optional(),
});
export type CrispMeta = z.infer<typeof metaSchema>;

export const conversationSchema = z.looseObject({
  session_id: z.string(),
  website_id: z.string(),
  inbox_id: z.string().nullable().optional(),
  people_id: z.string().nullable().optional(),
  state: z.enum(["pending", "unresolved", "resolved"]).optional(),
  is_verified: z.boolean().optional(),
  is_blocked: z.boolean().optional(),
  availability: z.string().optional(),
  last_message: z.string().optional(),
  preview_message: z
    .looseObject({
      type: z.string().optional(),
      from: z.string().optional(),
      excerpt: z.string().optional(),
      fingerprint: z.number().optional(),
    })
    .optional(),
  topic: z.string().optional(),
  mentions: z.array(z.string()).optional(),
  compose: z.looseObject({ operator: composeState.optional(), visitor: composeState.optional() }).optional(),
  unread: z.looseObject({ operator: z.number().optional(), visitor: z.number().optional() }).optional(),
  assigned: z.looseObject({ user_id: z.string().nullable().optional() }).nullable().optional(),
  meta: metaSchema.optional(),
  created_at: z.number().optional(),
  updated_at: z.number().optional(),
  waiting_since: z.number().optional(),
});
export type CrispConversation = z.infer<typeof conversationSchema>;

export const operatorSchema = z.looseObject({
  type: z.string(),
  details: z.looseObject({
    user_id: z.string(),
    email: z.string().optional(),
    avatar: z.string().nullable().optional(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    role: z.string().optional(),
    title: z.string().nullable().optional(),
    availability: z.string().optional(),
    has_token: z.boolean().optional(),
  }),
});
export type CrispOperator = z.infer<typeof operatorSchema>;

export const websiteSchema = z.looseObject({
  website_id: z.string(),
  name: z.string().optional(),
  domain: z.string().optional(),
  logo: z.string().nullable().optional(),
});
export type CrispWebsite = z.infer<typeof websiteSchema>;

export const pluginAccountSchema = z.looseObject({ plugin_id: z.string() });
export const subscriptionSettingsSchema = z.looseObject({
  plugin_id: z.string().optional(),
  website_id: z.string().optional(),
  token: z.string().optional(),
  settings: z.unknown().optional(),
});

export const peopleProfileSchema = z.looseObject({
  people_id: z.string(),
  email: z.string().optional(),
  person: z
    .looseObject({
      nickname: z.string().optional(),
      avatar: z.string().nullable().optional(),
      phone: z.string().optional(),
      locales: z.array(z.string()).optional(),
    })
    .optional(),
  company: z.looseObject({ name: z.string().optional() }).optional(),
  segments: z.array(z.string()).optional(),
  notepad: z.string().optional(),
  active: z.looseObject({ now: z.boolean().optional(), last: z.number().optional() }).optional(),
  score: z.number().optional(),
  created_at: z.number().optional(),
  updated_at: z.number().optional(),
});
export type CrispPeopleProfile = z.infer<typeof peopleProfileSchema>;

export const peopleEventSchema = z.looseObject({
  text: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
  color: z.string().optional(),
  timestamp: z.number().optional(),
});
export type CrispPeopleEvent = z.infer<typeof peopleEventSchema>;

export const anyObject = z.looseObject({});
export const fingerprintSchema = z.looseObject({ fingerprint: z.number() });
export const sessionIdSchema = z.looseObject({ session_id: z.string() });
export const peopleIdSchema = z.looseObject({ people_id: z.string() });
export const stateSchema = z.looseObject({ state: z.enum(["pending", "unresolved", "resolved"]) });
export const routingSchema = z.looseObject({
  assigned: z.looseObject({ user_id: z.string().nullable().optional() }).nullable().optional(),
});
export const peopleDataSchema = z.looseObject({ data: z.record(z.string(), z.unknown()).default({}) });

/**
 * Request bodies Crisp REST v1 accepts, as far as quill and the sandbox rely on them. A field
 * Crisp ignores when malformed is caught to undefined rather than failing the request.
 */
const lenient = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);
const plainObject = z.record(z.string(), z.unknown());
const TEXT_TYPES = new Set(["text", "note"]);

export const messageTypes = [
  "text",
  "note",
  "file",
  "animation",
  "audio",
  "picker",
  "field",
  "carousel",
  "event",
] as const;

export const sendMessageBody = z
  .looseObject({
    type: z.enum(messageTypes),
    from: z.enum(["user", "operator"]),
    origin: z.string().min(1),
    content: z.unknown(),
    fingerprint: z.number().int().optional(),
    user: lenient(user),
    mentions: lenient(z.array(z.string())),
    automated: lenient(z.boolean()),
  })
  // Text and notes carry a non-empty string; other types an object of their own shape.
  .refine((m) =>
    TEXT_TYPES.has(m.type) ? typeof m.content === "string" && m.content.length > 0 : m.content != null,
  );
export const editMessageBody = z.looseObject({ content: z.custom<unknown>((v) => v !== undefined) });
export const composeBody = z.looseObject({
  type: z.enum(["start", "stop"]),
  from: z.enum(["user", "operator"]),
  excerpt: lenient(z.string()),
  stealth: lenient(z.boolean()),
  automated: lenient(z.boolean()),
});
export const readBody = z.looseObject({
  from: z.enum(["user", "operator"]),
  origin: z.string(),
  fingerprints: lenient(z.array(z.number())),
});
export const routingBody = z.looseObject({ assigned: z.looseObject({ user_id: z.string() }).nullable() });
export const metaBody = z.looseObject({
  segments: z.array(z.string()).optional(),
  data: plainObject.optional(),
});
export const newWebsiteBody = z.looseObject({ name: z.string(), domain: z.string() });
export const deleteWebsiteBody = z.looseObject({
  verify: z.looseObject({ method: z.string(), secret: z.string() }),
});
export const newPeopleProfileBody = z.looseObject({
  email: z.string().includes("@"),
  person: z.looseObject({}),
  segments: z.array(z.string()).catch([]),
});
export const peopleProfileBody = z.looseObject({ person: lenient(z.looseObject({})) });
export const newPeopleEventBody = z.looseObject({
  text: z.string().min(1),
  data: lenient(z.looseObject({})),
  color: lenient(z.string()),
});
export const writePeopleDataBody = z.looseObject({ data: plainObject });
export const bucketUrlBody = z.looseObject({
  namespace: z.string(),
  id: lenient(z.string()),
  file: z.looseObject({ name: z.string() }),
});
