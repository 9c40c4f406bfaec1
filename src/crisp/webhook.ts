import { z } from "zod";
import { hmacHex, safeEqual } from "../crypto.ts";

/**
 * Crisp web hook authentication and parsing. Runtime-agnostic (HMAC from ../crypto.ts), so
 * the same code verifies deliveries on Node and on Workers.
 *
 * Plugin hooks are signed: hex(HMAC-SHA256(secret, "[" + X-Crisp-Request-Timestamp + ";" + rawBody + "]")).
 * Website hooks are not signed: they are accepted only with the secret in the URL (`?key=`).
 */

export const MAX_WEBHOOK_BYTES = 1024 * 1024;
/** Crisp's events nest a few levels; a deeper body is refused before parsing (zod and JSON.stringify recurse). */
export const MAX_WEBHOOK_DEPTH = 64;

/** Does the JSON text nest arrays/objects deeper than `limit`? One loop, no recursion, strings skipped. */
export function jsonDeeperThan(raw: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

export type WebhookRejection = {
  ok: false;
  status: 400 | 401 | 413;
  reason: string;
};

const encoder = new TextEncoder();

/** Signature Crisp puts in X-Crisp-Signature for a plugin hook. */
export function signWebhook(secret: string, timestamp: string, rawBody: string): Promise<string> {
  return hmacHex(secret, `[${timestamp};${rawBody}]`);
}

/** Crisp's header is documented in ms; accept seconds too, since the unit is unconfirmed. */
function timestampToMs(raw: string): number | undefined {
  if (!/^\d{9,14}$/.test(raw.trim())) return undefined;
  const n = Number(raw);
  return n < 1e12 ? n * 1000 : n;
}

export interface VerifyInput {
  rawBody: string;
  /** Header lookup (case-insensitive), e.g. `(name) => request.headers.get(name)`. */
  header: (name: string) => string | null | undefined;
  /** The `key` query parameter of the hook URL, for website hooks. */
  urlKey: string | null | undefined;
  /**
   * Website hooks exist outside the plugin tier only; a plugin's hooks are always signed, so
   * there a secret in a URL (leaked by a proxy log) must not stand in for a signature.
   */
  allowUrlKey?: boolean | undefined;
  secret: string;
  toleranceSeconds: number;
  now: number;
}

/**
 * Authenticates one delivery. A signed request must carry a valid, fresh signature;
 * an unsigned one must carry the secret in its URL. Both use the same configured secret.
 */
export async function verifyWebhook(
  input: VerifyInput,
): Promise<{ ok: true; via: "signature" | "url_key" } | WebhookRejection> {
  // An empty key would make any hook signed with "" (or `?key=` with no value) authentic.
  if (!input.secret) return { ok: false, status: 401, reason: "no web hook secret configured" };
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only long bodies need encoding to be measured.
  if (
    input.rawBody.length * 3 > MAX_WEBHOOK_BYTES &&
    encoder.encode(input.rawBody).length > MAX_WEBHOOK_BYTES
  ) {
    return { ok: false, status: 413, reason: `body exceeds ${MAX_WEBHOOK_BYTES} bytes` };
  }
  const signature = input.header("x-crisp-signature")?.trim();
  if (signature) {
    const rawTimestamp = input.header("x-crisp-request-timestamp")?.trim();
    if (!rawTimestamp) return { ok: false, status: 401, reason: "missing X-Crisp-Request-Timestamp header" };
    const at = timestampToMs(rawTimestamp);
    if (at === undefined)
      return { ok: false, status: 401, reason: "malformed X-Crisp-Request-Timestamp header" };
    if (Math.abs(input.now - at) > input.toleranceSeconds * 1000) {
      return { ok: false, status: 401, reason: "stale request timestamp (outside the replay window)" };
    }
    const expected = await signWebhook(input.secret, rawTimestamp, input.rawBody);
    if (safeEqual(expected, signature.toLowerCase())) return { ok: true, via: "signature" };
    // Some senders re-serialise the JSON before signing (the Node wrapper does); accept that form too.
    const reserialised = reserialise(input.rawBody);
    if (reserialised !== undefined && reserialised !== input.rawBody) {
      const alt = await signWebhook(input.secret, rawTimestamp, reserialised);
      if (safeEqual(alt, signature.toLowerCase())) return { ok: true, via: "signature" };
    }
    return { ok: false, status: 401, reason: "invalid signature" };
  }
  if (input.urlKey) {
    if (input.allowUrlKey === false)
      return {
        ok: false,
        status: 401,
        reason: "?key= is accepted for website hooks only (CRISP_TIER=website); plugin hooks must be signed",
      };
    return safeEqual(input.urlKey, input.secret)
      ? { ok: true, via: "url_key" }
      : { ok: false, status: 401, reason: "invalid hook key" };
  }
  return {
    ok: false,
    status: 401,
    reason: "unsigned request: expected X-Crisp-Signature or ?key= in the hook URL",
  };
}

function reserialise(raw: string): string | undefined {
  if (jsonDeeperThan(raw, MAX_WEBHOOK_DEPTH)) return undefined;
  try {
    return JSON.stringify(JSON.parse(raw));
  } catch {
    return undefined;
  }
}

const hookUser = z.looseObject({
  user_id: z.string().optional(),
  nickname: z.string().optional(),
  type: z.string().optional(),
  avatar: z.string().nullable().optional(),
});

const sessionData = {
  website_id: z.string().min(1),
  session_id: z.string().min(1),
  inbox_id: z.string().nullable().optional(),
};

const messageData = z.looseObject({
  ...sessionData,
  type: z.string().min(1),
  from: z.enum(["user", "operator"]),
  origin: z.string().default("chat"),
  content: z.unknown(),
  fingerprint: z.number().int(),
  timestamp: z.number(),
  user: hookUser.optional(),
  automated: z.boolean().optional(),
  mentions: z.array(z.string()).optional(),
});

const envelope = z.looseObject({
  website_id: z.string().min(1),
  event: z.string().min(1),
  data: z.unknown(),
  timestamp: z.number(),
});

const knownEvents = {
  "message:send": messageData,
  "message:received": messageData,
  "message:compose:send": z.looseObject({
    ...sessionData,
    type: z.enum(["start", "stop"]),
    excerpt: z.string().optional(),
    timestamp: z.number().optional(),
  }),
  "message:updated": z.looseObject({ ...sessionData, fingerprint: z.number().int(), content: z.unknown() }),
  "message:removed": z.looseObject({ ...sessionData, fingerprint: z.number().int() }),
  "session:set_state": z.looseObject({
    ...sessionData,
    state: z.enum(["pending", "unresolved", "resolved"]),
  }),
  "session:set_routing": z.looseObject({
    ...sessionData,
    routing_id: z.string().nullable().optional(),
    previous_routing_id: z.string().nullable().optional(),
  }),
  "session:removed": z.looseObject(sessionData),
} as const;

type KnownEvents = typeof knownEvents;
export type KnownWebhookEventName = keyof KnownEvents;
export type HookMessage = z.infer<typeof messageData>;

export type WebhookEvent =
  | {
      [K in KnownWebhookEventName]: {
        known: true;
        event: K;
        websiteId: string;
        timestamp: number;
        data: z.infer<KnownEvents[K]>;
      };
    }[KnownWebhookEventName]
  | { known: false; event: string; websiteId: string; timestamp: number; data: unknown };

/** Parses a verified body into a typed event; unknown events parse fine and are marked `known: false`. */
export function parseWebhookEvent(rawBody: string): { ok: true; event: WebhookEvent } | WebhookRejection {
  if (jsonDeeperThan(rawBody, MAX_WEBHOOK_DEPTH))
    return { ok: false, status: 400, reason: `body nests deeper than ${MAX_WEBHOOK_DEPTH} levels` };
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch (error) {
    // A stack overflow parsing is the body's fault too: a 4xx, never a 500.
    return {
      ok: false,
      status: 400,
      reason: error instanceof RangeError ? "body nests too deeply" : "body is not valid JSON",
    };
  }
  const outer = envelope.safeParse(json);
  if (!outer.success)
    return { ok: false, status: 400, reason: `malformed web hook: ${describe(outer.error)}` };
  const { event, website_id: websiteId, timestamp, data } = outer.data;
  // Own keys only: "constructor" or "__proto__" are in every object, and are unknown events here.
  if (!Object.hasOwn(knownEvents, event))
    return { ok: true, event: { known: false, event, websiteId, timestamp, data } };
  const schema = knownEvents[event as KnownWebhookEventName];
  const inner = schema.safeParse(data);
  if (!inner.success)
    return { ok: false, status: 400, reason: `malformed ${event} data: ${describe(inner.error)}` };
  if ((inner.data as { website_id: string }).website_id !== websiteId) {
    return { ok: false, status: 400, reason: "data.website_id does not match website_id" };
  }
  return { ok: true, event: { known: true, event, websiteId, timestamp, data: inner.data } as WebhookEvent };
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "body"}: ${i.message}`)
    .join("; ");
}

/**
 * The dedupe key of a delivery: a Crisp retry carries the same body, so the same key.
 * Messages are keyed by fingerprint; other events by their emission timestamp.
 */
export function deliveryKey(event: WebhookEvent): string {
  const data = (event.data ?? {}) as { session_id?: unknown; fingerprint?: unknown };
  const session = typeof data.session_id === "string" ? data.session_id : "-";
  if (
    (event.event === "message:send" || event.event === "message:received") &&
    typeof data.fingerprint === "number"
  ) {
    return `${event.websiteId}:${session}:msg:${data.fingerprint}`;
  }
  if (event.event === "message:compose:send" && typeof (data as { type?: unknown }).type === "string") {
    // A start and a stop can leave in the same millisecond: the type keeps them two deliveries.
    return `${visitorComposeKeyPrefix(event.websiteId, session)}${(data as { type: string }).type}:${event.timestamp}`;
  }
  return `${event.websiteId}:${event.event}:${session}:${event.timestamp}`;
}

/** The start of every delivery key of the visitor's compose (typing) events in one conversation. */
export function visitorComposeKeyPrefix(websiteId: string, sessionId: string): string {
  return `${websiteId}:message:compose:send:${sessionId}:`;
}
