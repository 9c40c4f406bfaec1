import type { Clock } from "../clock.ts";

/**
 * The sandbox's in-memory Crisp: websites, conversations, messages, people, and the
 * records tests assert on (compose events, web hook deliveries).
 */

export interface SandboxMessage {
  session_id: string;
  website_id: string;
  type: string;
  from: "user" | "operator";
  origin: string;
  content: unknown;
  fingerprint: number;
  timestamp: number;
  user: { type?: string; user_id?: string; nickname?: string; avatar?: string };
  mentions: string[];
  stamped: boolean;
  automated?: boolean;
  edited?: boolean;
  read: string;
  delivered: string;
}

export interface SandboxConversation {
  session_id: string;
  website_id: string;
  inbox_id: string | null;
  people_id?: string;
  state: "pending" | "unresolved" | "resolved";
  is_verified: boolean;
  is_blocked: boolean;
  availability: "online" | "offline";
  active: { now: boolean; last: number };
  last_message: string;
  preview_message?: { type: string; from: string; excerpt: string; fingerprint: number };
  mentions: string[];
  participants: Array<{ type: string; target: string }>;
  compose: {
    operator?: { type: string; excerpt?: string; timestamp: number; automated?: boolean; stealth?: boolean };
    visitor?: { type: string; excerpt?: string; timestamp: number };
  };
  unread: { operator: number; visitor: number };
  assigned?: { user_id: string };
  meta: {
    nickname: string;
    email: string;
    phone: string;
    subject: string;
    ip: string;
    avatar: string;
    origin: string;
    segments: string[];
    data: Record<string, unknown>;
    device: { locales: string[]; timezone: number };
  };
  created_at: number;
  updated_at: number;
  waiting_since: number;
}

export interface ComposeEvent {
  sessionId: string;
  type: "start" | "stop";
  from: "operator" | "user";
  excerpt?: string;
  automated?: boolean;
  /** Operator-facing activity the visitor is not meant to see. */
  stealth?: boolean;
  at: number;
}

export interface SandboxWebsite {
  website_id: string;
  name: string;
  domain: string;
  logo: string | null;
  settings: Record<string, unknown>;
  /** The plugin subscription's token (Crisp adds it to the plugin's Settings URL). */
  plugin_token: string;
  operators: Array<{
    type: "operator";
    details: Record<string, unknown> & { user_id: string; email: string };
  }>;
}

export interface Delivery {
  url: string;
  event: string;
  /** Session of the event, when it has one. */
  sessionId?: string | undefined;
  status: number | "error";
  attempt: number;
  /** When the request left, and when its answer came back. */
  sentAt: number;
  at: number;
}

export interface SandboxPeopleProfile {
  people_id: string;
  email: string;
  person: Record<string, unknown> & { nickname?: string };
  segments: string[];
  active: { now: boolean; last: number };
  created_at: number;
  updated_at: number;
  [key: string]: unknown;
}

export type PeopleEvent = { text: string; data?: unknown; color?: string; timestamp: number };

/** A message as its sender gives it; the sandbox stamps the rest. */
export type NewMessage = Omit<
  SandboxMessage,
  "session_id" | "website_id" | "fingerprint" | "timestamp" | "read" | "delivered" | "stamped" | "mentions"
> & { fingerprint?: number | undefined; mentions?: string[] | undefined };

/** A website as Crisp creates one: default settings and two operators (an owner and an agent). */
function newWebsite(init: { websiteId?: string; name: string; domain: string }): SandboxWebsite {
  return {
    website_id: init.websiteId ?? crypto.randomUUID(),
    name: init.name,
    domain: init.domain,
    logo: null,
    plugin_token: crypto.randomUUID().replaceAll("-", ""),
    settings: {
      name: init.name,
      domain: init.domain,
      contact: { email: `support@${init.domain}` },
      inbox: { lock_removal: false, force_operator_token: false },
      chatbox: { locale: "en", color_theme: "default", welcome_message: "default" },
    },
    operators: [
      {
        type: "operator",
        details: {
          user_id: "5b1e2c1a-0c6f-4d5e-9a4e-0d1f2a3b4c5d",
          email: `owner@${init.domain}`,
          avatar: null,
          first_name: "Sam",
          last_name: "Owner",
          role: "owner",
          title: "Support lead",
          availability: "online",
          has_token: true,
        },
      },
      {
        type: "operator",
        details: {
          user_id: "7c2f3d2b-1d70-4e6f-8b5f-1e2a3b4c5d6e",
          email: `agent@${init.domain}`,
          avatar: null,
          first_name: "Alex",
          last_name: "Agent",
          role: "member",
          title: "Agent",
          availability: "online",
          has_token: false,
        },
      },
    ],
  };
}

function newConversation(
  websiteId: string,
  sessionId: string,
  init: { nickname?: string | undefined; email?: string | undefined },
  now: number,
): SandboxConversation {
  return {
    session_id: sessionId,
    website_id: websiteId,
    inbox_id: null,
    state: "pending",
    is_verified: false,
    is_blocked: false,
    availability: "online",
    active: { now: true, last: now },
    last_message: "",
    mentions: [],
    participants: [],
    compose: {},
    unread: { operator: 0, visitor: 0 },
    meta: {
      nickname: init.nickname ?? `visitor${sessionId.slice(-4)}`,
      email: init.email ?? "",
      phone: "",
      subject: "",
      ip: "127.0.0.1",
      avatar: "",
      origin: "chat",
      segments: [],
      data: {},
      device: { locales: ["en"], timezone: 0 },
    },
    created_at: now,
    updated_at: now,
    waiting_since: 0,
  };
}

/** The people id of this email in the website, creating its profile when there is none. */
function profileFor(
  people: Map<string, SandboxPeopleProfile>,
  websiteId: string,
  email: string,
  conversation: SandboxConversation,
  now: number,
): string {
  const known = [...people.values()].find((p) => p.website_id === websiteId && p.email === email);
  if (known) return known.people_id;
  const peopleId = crypto.randomUUID();
  people.set(peopleId, {
    people_id: peopleId,
    website_id: websiteId,
    email,
    person: { nickname: conversation.meta.nickname },
    segments: [],
    active: { now: true, last: now },
    created_at: now,
    updated_at: now,
  });
  return peopleId;
}

function stamped(
  conversation: SandboxConversation,
  input: NewMessage,
  fingerprint: number,
  timestamp: number,
): SandboxMessage {
  return {
    ...input,
    session_id: conversation.session_id,
    website_id: conversation.website_id,
    fingerprint,
    timestamp,
    mentions: input.mentions ?? [],
    stamped: true,
    read: "",
    delivered: input.type === "note" ? "" : "chat",
  };
}

/** What a new message changes in its conversation: preview, unread counts, waiting time, state. */
function applyMessage(conversation: SandboxConversation, message: SandboxMessage) {
  const excerpt = typeof message.content === "string" ? message.content.slice(0, 200) : `[${message.type}]`;
  conversation.updated_at = message.timestamp;
  if (message.type !== "note") {
    conversation.last_message = excerpt;
    conversation.preview_message = {
      type: message.type,
      from: message.from,
      excerpt,
      fingerprint: message.fingerprint,
    };
    if (message.from === "user") {
      conversation.unread.operator += 1;
      if (!conversation.waiting_since) conversation.waiting_since = message.timestamp;
      // A visitor writing into a resolved conversation reopens it, as in Crisp.
      if (conversation.state === "resolved") conversation.state = "pending";
    } else {
      conversation.unread.visitor += 1;
      conversation.waiting_since = 0;
      if (conversation.state === "pending") conversation.state = "unresolved";
    }
  }
}

/** The sandbox's change counter, timestamps and fingerprints, which all advance together. */
function createStamps(clock: Clock) {
  /** Bumped on every change, so the inbox page knows when to refresh. */
  let version = 0;
  let lastTimestamp = 0;
  let fingerprintSeq = 0;
  /** Crisp timestamps are ms and strictly increase within a conversation; keep them unique here too. */
  const stamp = () => {
    version += 1;
    lastTimestamp = Math.max(clock.now(), lastTimestamp + 1);
    return lastTimestamp;
  };
  return {
    get version() {
      return version;
    },
    touch: () => {
      version += 1;
    },
    stamp,
    /** Large integers like Crisp's (time-based with a counter), unique across the sandbox. */
    newFingerprint: () => Number(`${stamp()}`.slice(-9)) * 1000 + (fingerprintSeq++ % 1000),
  };
}

export function createSandboxState(clock: Clock) {
  const websites = new Map<string, SandboxWebsite>();
  const conversations = new Map<string, SandboxConversation>();
  const messages = new Map<string, SandboxMessage[]>();
  const people = new Map<string, SandboxPeopleProfile>();
  const peopleEvents = new Map<string, PeopleEvent[]>();
  const peopleData = new Map<string, Record<string, unknown>>();
  const composeEvents: ComposeEvent[] = [];
  const clocks = createStamps(clock);
  const { stamp, newFingerprint } = clocks;

  function addWebsite(init: { websiteId?: string; name: string; domain: string }): SandboxWebsite {
    const website = newWebsite(init);
    websites.set(website.website_id, website);
    clocks.touch();
    return website;
  }

  function createConversation(
    websiteId: string,
    init: { sessionId?: string | undefined; nickname?: string | undefined; email?: string | undefined } = {},
  ): SandboxConversation {
    const now = stamp();
    const sessionId = init.sessionId ?? `session_${crypto.randomUUID()}`;
    const conversation = newConversation(websiteId, sessionId, init, now);
    // As in Crisp, a visitor with an email has a people profile the conversation links to.
    if (init.email) conversation.people_id = profileFor(people, websiteId, init.email, conversation, now);
    conversations.set(sessionId, conversation);
    messages.set(sessionId, []);
    return conversation;
  }

  function addMessage(
    conversation: SandboxConversation,
    input: NewMessage,
    /** Answer a repeated client fingerprint with the message already stored (Crisp: unconfirmed). */
    dedupeFingerprint = false,
  ): { message: SandboxMessage; duplicate: boolean } {
    const list = messages.get(conversation.session_id) ?? [];
    if (dedupeFingerprint && input.fingerprint !== undefined) {
      const existing = list.find((m) => m.fingerprint === input.fingerprint);
      if (existing) return { message: existing, duplicate: true };
    }
    // The fingerprint is drawn before the timestamp, as both advance the same clock.
    const message = stamped(conversation, input, input.fingerprint ?? newFingerprint(), stamp());
    list.push(message);
    messages.set(conversation.session_id, list);
    applyMessage(conversation, message);
    return { message, duplicate: false };
  }

  return {
    websites,
    conversations,
    messages,
    people,
    peopleEvents,
    peopleData,
    composeEvents,
    get version() {
      return clocks.version;
    },
    touch: clocks.touch,
    stamp,
    addWebsite,
    createConversation,
    addMessage,
    messagesOf: (sessionId: string) => messages.get(sessionId) ?? [],
  };
}

export type SandboxState = ReturnType<typeof createSandboxState>;
