import { z } from "zod";
import { type Clock, systemClock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import { CrispError, OUTCOME_UNKNOWN } from "./errors.ts";
import { createKeyedLimiter } from "./limit.ts";
import {
  anyObject,
  type CrispConversation,
  type CrispMessage,
  type CrispMeta,
  conversationSchema,
  fingerprintSchema,
  messageSchema,
  metaSchema,
  operatorSchema,
  peopleDataSchema,
  peopleEventSchema,
  peopleIdSchema,
  peopleProfileSchema,
  pluginAccountSchema,
  routingSchema,
  sessionIdSchema,
  stateSchema,
  subscriptionSettingsSchema,
  websiteSchema,
} from "./schemas.ts";

/**
 * Typed Crisp REST v1 client over `fetch`, so the same code runs on Node, Workers and
 * against the sandbox. One place owns auth, the envelope, timeouts, retries and the
 * per-website concurrency limit.
 */

export type CrispTier = "plugin" | "website" | "user";

export interface CrispClientOptions {
  apiUrl: string;
  identifier: string;
  key: string;
  tier: CrispTier;
  /** Looked up at call time when omitted, so interceptors installed later still apply. */
  fetch?: typeof fetch;
  timeoutMs?: number;
  maxRetries?: number;
  /** Concurrent requests per website. */
  concurrency?: number;
  clock?: Clock;
  log?: Logger;
  userAgent?: string;
  /** Injectable for deterministic backoff in tests. */
  random?: () => number;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /**
   * Runs after a backoff, before the request is repeated; `false` (or a throw) stops the retry
   * with the error backed off from. A send is repeated only after a 429/420, never after a 5xx.
   */
  beforeRetry?: (() => Promise<boolean | undefined>) | undefined;
}

type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE" | "HEAD";
type Query = Record<string, string | number | boolean | undefined>;

interface RequestSpec<T> {
  method: Method;
  path: (string | number)[];
  query?: Query | undefined;
  body?: unknown;
  schema?: z.ZodType<T>;
  /** Concurrency key: the website the request belongs to. */
  website: string;
  /** A repeated request has the same effect (GET, PATCH of a value, PUT, DELETE). */
  idempotent: boolean;
  /**
   * Sending a message: after a 5xx, like after a timeout, it may have landed, and that Crisp
   * dedupes on a client fingerprint is unconfirmed, so the caller looks it up instead of a retry.
   */
  send?: boolean;
  call?: CallOptions | undefined;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
/** A Retry-After longer than this (e.g. a daily quota) is handed to the caller instead of slept through. */
const MAX_RETRY_AFTER_MS = 60_000;

function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function toQuery(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    params.append(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * The signal of one attempt: the caller's, plus a timeout that also covers reading the answer.
 * One controller and one cleared timer: AbortSignal.timeout + AbortSignal.any cost more CPU
 * and left a timer behind each call (bench/profiling.md).
 */
function attemptSignal(callSignal: AbortSignal | undefined, ms: number) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("The operation timed out.", "TimeoutError"));
  }, ms);
  const onAbort = () => controller.abort(callSignal?.reason);
  if (callSignal?.aborted) onAbort();
  else callSignal?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    done() {
      clearTimeout(timer);
      callSignal?.removeEventListener("abort", onAbort);
    },
  };
}

export function createCrispClient(options: CrispClientOptions) {
  const apiUrl = options.apiUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxRetries = options.maxRetries ?? 3;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const random = options.random ?? Math.random;
  const limiter = createKeyedLimiter(options.concurrency ?? 4);
  const authorization = `Basic ${btoa(`${options.identifier}:${options.key}`)}`;

  async function request<T>(spec: RequestSpec<T>): Promise<{ data: T; status: number }> {
    const path = `/${spec.path.map((p) => encodeURIComponent(String(p))).join("/")}`;
    const url = `${apiUrl}${path}${toQuery(spec.query)}`;
    const callSignal = spec.call?.signal;
    const fail = (init: Omit<ConstructorParameters<typeof CrispError>[0], "method" | "path">) =>
      new CrispError({ ...init, method: spec.method, path });

    // Each attempt holds a concurrency slot only while it is on the wire: a request waiting
    // out its backoff (or its caller's beforeRetry check) leaves the slot to the others.
    for (let attempt = 0; ; attempt++) {
      // A send goes ahead of queued reads: its caller has just checked that it is still wanted.
      const outcome = await limiter.run(spec.website, () => attemptOnce(attempt), callSignal, spec.send);
      if ("data" in outcome) return outcome;
      await backoff(attempt, outcome.retryAfterMs, outcome.error);
      if ((await spec.call?.beforeRetry?.()) === false) throw outcome.error;
    }

    /** One request: its result, a retryable error to back off from, or a thrown final error. */
    async function attemptOnce(
      attempt: number,
    ): Promise<{ data: T; status: number } | { error: CrispError; retryAfterMs: number | undefined }> {
      const attemptSignals = attemptSignal(callSignal, spec.call?.timeoutMs ?? timeoutMs);
      const { signal } = attemptSignals;
      let response: Response;
      try {
        const doFetch = options.fetch ?? globalThis.fetch;
        const headers: Record<string, string> = {
          Authorization: authorization,
          "X-Crisp-Tier": options.tier,
          Accept: "application/json",
          "User-Agent": options.userAgent ?? "quill",
        };
        if (spec.body !== undefined) headers["Content-Type"] = "application/json";
        response = await doFetch(url, {
          method: spec.method,
          headers,
          body: spec.body === undefined ? null : JSON.stringify(spec.body),
          signal,
        });
      } catch (cause) {
        attemptSignals.done();
        if (callSignal?.aborted) throw fail({ status: 0, reason: "aborted", retryable: false, cause });
        const timedOut = attemptSignals.timedOut();
        // The request may have reached Crisp: repeating a send could post twice (that Crisp
        // dedupes on a client fingerprint is unconfirmed), so the caller looks it up first.
        if (!spec.idempotent) {
          throw fail({ status: 0, reason: OUTCOME_UNKNOWN, retryable: false, cause });
        }
        const error = fail({
          status: 0,
          reason: timedOut ? "timeout" : "network_error",
          retryable: true,
          cause,
        });
        if (attempt >= maxRetries) throw error;
        return { error, retryAfterMs: undefined };
      }

      const text = await response.text().catch(() => "");
      attemptSignals.done();
      let body: { error?: boolean; reason?: string; data?: unknown } | undefined;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }

      if (response.ok && body?.error !== true) {
        if (spec.method === "HEAD") return { data: undefined as T, status: response.status };
        if (body === undefined && text) {
          throw fail({ status: response.status, reason: "invalid_response", retryable: false });
        }
        const data = body?.data ?? {};
        if (!spec.schema) return { data: data as T, status: response.status };
        const parsed = spec.schema.safeParse(data);
        if (!parsed.success) {
          throw fail({
            status: response.status,
            reason: "invalid_response",
            retryable: false,
            message: `Crisp ${spec.method} ${path} answered an unexpected shape: ${parsed.error.issues
              .slice(0, 3)
              .map((i) => `${i.path.join(".")}: ${i.message}`)
              .join("; ")}`,
          });
        }
        return { data: parsed.data, status: response.status };
      }

      const status = response.status;
      const reason = body?.reason ?? "http_error";
      const rateLimited = status === 429 || status === 420;
      const serverError = status >= 500;
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), clock.now());
      // A rate-limited request was rejected before processing; a 5xx POST may have been applied.
      if (serverError && spec.send) {
        throw fail({
          status,
          reason: OUTCOME_UNKNOWN,
          retryable: false,
          message: `Crisp ${spec.method} ${path} answered ${status} ${reason}: the message may have been posted`,
        });
      }
      const safeToRepeat = rateLimited || (serverError && spec.idempotent);
      const error = fail({ status, reason, retryable: rateLimited || serverError, retryAfterMs });
      if (!safeToRepeat || attempt >= maxRetries) throw error;
      if (retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS) throw error;
      return { error, retryAfterMs };
    }

    async function backoff(attempt: number, retryAfterMs: number | undefined, error: CrispError) {
      const jittered = random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
      const delay = retryAfterMs ?? jittered;
      log.warn(
        { method: spec.method, path: error.path, status: error.status, reason: error.reason, delay },
        "crisp retry",
      );
      try {
        await clock.sleep(delay, callSignal);
      } catch (cause) {
        throw fail({ status: 0, reason: "aborted", retryable: false, cause });
      }
    }
  }

  const get = <T>(
    website: string,
    path: RequestSpec<T>["path"],
    schema: z.ZodType<T>,
    call?: CallOptions,
    query?: Query,
  ) => request({ method: "GET", path, schema, website, idempotent: true, call, query }).then((r) => r.data);
  const write = (
    method: Exclude<Method, "GET" | "HEAD">,
    website: string,
    path: RequestSpec<unknown>["path"],
    body: unknown,
    call?: CallOptions,
  ) => request({ method, path, body, website, idempotent: method !== "POST", call }).then(() => undefined);

  const conversationPath = (websiteId: string, sessionId: string, ...rest: (string | number)[]) => [
    "website",
    websiteId,
    "conversation",
    sessionId,
    ...rest,
  ];

  async function listMessages(
    websiteId: string,
    sessionId: string,
    cursor: { timestampBefore?: number; timestampAfter?: number } = {},
    call?: CallOptions,
  ): Promise<{ messages: CrispMessage[]; hasMore: boolean }> {
    const { data, status } = await request({
      method: "GET",
      path: conversationPath(websiteId, sessionId, "messages"),
      query: { timestamp_before: cursor.timestampBefore, timestamp_after: cursor.timestampAfter },
      schema: z.array(messageSchema),
      website: websiteId,
      idempotent: true,
      call,
    });
    // Crisp answers 206 while older messages remain, 200 on the last page.
    return { messages: [...data].sort((a, b) => a.timestamp - b.timestamp), hasMore: status === 206 };
  }

  return {
    websites: {
      create: (data: { name: string; domain: string }, call?: CallOptions) =>
        request({
          method: "POST",
          path: ["website"],
          body: data,
          schema: websiteSchema,
          website: "global",
          idempotent: false,
          call,
        }).then((r) => r.data),
      get: (websiteId: string, call?: CallOptions) =>
        get(websiteId, ["website", websiteId], websiteSchema, call),
      delete: (
        websiteId: string,
        verify: { method: "password" | "token" | "google"; secret: string },
        call?: CallOptions,
      ) => write("DELETE", websiteId, ["website", websiteId], { verify }, call),
      getSettings: (websiteId: string, call?: CallOptions) =>
        get(websiteId, ["website", websiteId, "settings"], anyObject, call),
      updateSettings: (websiteId: string, settings: Record<string, unknown>, call?: CallOptions) =>
        write("PATCH", websiteId, ["website", websiteId, "settings"], settings, call),
      listOperators: (websiteId: string, call?: CallOptions) =>
        get(websiteId, ["website", websiteId, "operators", "list"], z.array(operatorSchema), call),
    },

    conversations: {
      list: (
        websiteId: string,
        page = 1,
        filters: {
          per_page?: number;
          include_empty?: boolean;
          filter_inbox_id?: string;
          filter_unread?: boolean;
          filter_resolved?: boolean;
          filter_not_resolved?: boolean;
          filter_mention?: boolean;
          filter_assigned?: string;
          filter_unassigned?: boolean;
          filter_date_start?: string;
          filter_date_end?: string;
          order_date_created?: boolean;
          order_date_updated?: boolean;
          order_date_waiting?: boolean;
          search_query?: string;
          search_type?: "text" | "segment" | "filter";
          search_operator?: "and" | "or";
        } = {},
        call?: CallOptions,
      ) =>
        get(
          websiteId,
          ["website", websiteId, "conversations", page],
          z.array(conversationSchema),
          call,
          filters,
        ),
      create: (websiteId: string, call?: CallOptions) =>
        request({
          method: "POST",
          path: ["website", websiteId, "conversation"],
          body: {},
          schema: sessionIdSchema,
          website: websiteId,
          idempotent: false,
          call,
        }).then((r) => r.data),
      get: (websiteId: string, sessionId: string, call?: CallOptions): Promise<CrispConversation> =>
        get(websiteId, conversationPath(websiteId, sessionId), conversationSchema, call),
      delete: (websiteId: string, sessionId: string, call?: CallOptions) =>
        write("DELETE", websiteId, conversationPath(websiteId, sessionId), undefined, call),
      getState: (websiteId: string, sessionId: string, call?: CallOptions) =>
        get(websiteId, conversationPath(websiteId, sessionId, "state"), stateSchema, call).then(
          (d) => d.state,
        ),
      setState: (
        websiteId: string,
        sessionId: string,
        state: "pending" | "unresolved" | "resolved",
        call?: CallOptions,
      ) => write("PATCH", websiteId, conversationPath(websiteId, sessionId, "state"), { state }, call),
      getRouting: (websiteId: string, sessionId: string, call?: CallOptions) =>
        get(websiteId, conversationPath(websiteId, sessionId, "routing"), routingSchema, call),
      assign: (
        websiteId: string,
        sessionId: string,
        userId: string | null,
        opts: { silent?: boolean } = {},
        call?: CallOptions,
      ) =>
        write(
          "PATCH",
          websiteId,
          conversationPath(websiteId, sessionId, "routing"),
          {
            assigned: userId === null ? null : { user_id: userId },
            ...(opts.silent !== undefined ? { silent: opts.silent } : {}),
          },
          call,
        ),
      getMeta: (websiteId: string, sessionId: string, call?: CallOptions): Promise<CrispMeta> =>
        get(websiteId, conversationPath(websiteId, sessionId, "meta"), metaSchema, call),
      updateMeta: (websiteId: string, sessionId: string, meta: Partial<CrispMeta>, call?: CallOptions) =>
        write("PATCH", websiteId, conversationPath(websiteId, sessionId, "meta"), meta, call),
      markRead: (
        websiteId: string,
        sessionId: string,
        read: { from: "operator" | "user"; origin: string; fingerprints?: number[] },
        call?: CallOptions,
      ) => write("PATCH", websiteId, conversationPath(websiteId, sessionId, "read"), read, call),
    },

    messages: {
      list: listMessages,
      /**
       * The newest `count` messages, walking back with `timestamp_before` while Crisp
       * says older ones exist (206), deduped by fingerprint, oldest first.
       */
      async listLast(websiteId: string, sessionId: string, count = 20, call?: CallOptions) {
        const byFingerprint = new Map<number, CrispMessage>();
        let page = await listMessages(websiteId, sessionId, {}, call);
        for (;;) {
          for (const m of page.messages) byFingerprint.set(m.fingerprint, m);
          const oldest = page.messages[0]?.timestamp;
          if (byFingerprint.size >= count || !page.hasMore || oldest === undefined) break;
          page = await listMessages(websiteId, sessionId, { timestampBefore: oldest }, call);
          if (page.messages.length === 0) break;
        }
        const all = [...byFingerprint.values()].sort((a, b) => a.timestamp - b.timestamp);
        return { messages: all.slice(-count), hasMore: page.hasMore || all.length > count };
      },
      /**
       * Never retried after a timeout or a 5xx (the message may have landed): a CrispError
       * with reason `outcome_unknown` tells the caller to look the fingerprint up first.
       */
      send: (
        websiteId: string,
        sessionId: string,
        message: {
          type: "text" | "note" | "file" | "animation" | "audio" | "picker" | "field" | "carousel" | "event";
          from: "operator" | "user";
          origin: string;
          content: unknown;
          user?: { type?: string; nickname?: string; avatar?: string };
          mentions?: string[];
          automated?: boolean;
          stealth?: boolean;
          fingerprint?: number;
          timestamp?: number;
        },
        call?: CallOptions,
      ) =>
        request({
          method: "POST",
          path: conversationPath(websiteId, sessionId, "message"),
          body: message,
          schema: fingerprintSchema,
          website: websiteId,
          idempotent: false,
          send: true,
          call,
        }).then((r) => r.data),
      get: (
        websiteId: string,
        sessionId: string,
        fingerprint: number,
        call?: CallOptions,
      ): Promise<CrispMessage> =>
        get(websiteId, conversationPath(websiteId, sessionId, "message", fingerprint), messageSchema, call),
      update: (
        websiteId: string,
        sessionId: string,
        fingerprint: number,
        content: unknown,
        call?: CallOptions,
      ) =>
        write(
          "PATCH",
          websiteId,
          conversationPath(websiteId, sessionId, "message", fingerprint),
          { content },
          call,
        ),
    },

    compose: {
      /** `excerpt` is visible to operators and possibly to the visitor: never put a draft in it. */
      start: (
        websiteId: string,
        sessionId: string,
        opts: { from?: "operator" | "user"; excerpt?: string; automated?: boolean; stealth?: boolean } = {},
        call?: CallOptions,
      ) =>
        write(
          "PATCH",
          websiteId,
          conversationPath(websiteId, sessionId, "compose"),
          {
            type: "start",
            from: opts.from ?? "operator",
            ...(opts.excerpt ? { excerpt: opts.excerpt } : {}),
            automated: opts.automated ?? true,
            ...(opts.stealth ? { stealth: true } : {}),
          },
          call,
        ),
      stop: (
        websiteId: string,
        sessionId: string,
        opts: { from?: "operator" | "user"; automated?: boolean; stealth?: boolean } = {},
        call?: CallOptions,
      ) =>
        write(
          "PATCH",
          websiteId,
          conversationPath(websiteId, sessionId, "compose"),
          {
            type: "stop",
            from: opts.from ?? "operator",
            automated: opts.automated ?? true,
            ...(opts.stealth ? { stealth: true } : {}),
          },
          call,
        ),
    },

    people: {
      listProfiles: (
        websiteId: string,
        page = 1,
        search: {
          sort_field?: string;
          sort_order?: "ascending" | "descending";
          search_operator?: "and" | "or";
          search_filter?: string;
          search_text?: string;
        } = {},
        call?: CallOptions,
      ) =>
        get(
          websiteId,
          ["website", websiteId, "people", "profiles", page],
          z.array(peopleProfileSchema),
          call,
          search,
        ),
      getProfile: (websiteId: string, peopleId: string, call?: CallOptions) =>
        get(websiteId, ["website", websiteId, "people", "profile", peopleId], peopleProfileSchema, call),
      createProfile: (
        websiteId: string,
        profile: { email: string; person: { nickname: string } & Record<string, unknown> } & Record<
          string,
          unknown
        >,
        call?: CallOptions,
      ) =>
        request({
          method: "POST",
          path: ["website", websiteId, "people", "profile"],
          body: profile,
          schema: peopleIdSchema,
          website: websiteId,
          idempotent: false,
          call,
        }).then((r) => r.data),
      updateProfile: (
        websiteId: string,
        peopleId: string,
        profile: Record<string, unknown>,
        call?: CallOptions,
      ) => write("PATCH", websiteId, ["website", websiteId, "people", "profile", peopleId], profile, call),
      addEvent: (
        websiteId: string,
        peopleId: string,
        event: { text: string; data?: Record<string, unknown>; color?: string },
        call?: CallOptions,
      ) => write("POST", websiteId, ["website", websiteId, "people", "events", peopleId], event, call),
      listEvents: (websiteId: string, peopleId: string, page = 1, call?: CallOptions) =>
        get(
          websiteId,
          ["website", websiteId, "people", "events", peopleId, "list", page],
          z.array(peopleEventSchema),
          call,
        ),
      getData: (websiteId: string, peopleId: string, call?: CallOptions) =>
        get(websiteId, ["website", websiteId, "people", "data", peopleId], peopleDataSchema, call).then(
          (d) => d.data,
        ),
      /** PATCH merges keys into the profile data; `replace` PUTs the whole object. */
      updateData: (
        websiteId: string,
        peopleId: string,
        data: Record<string, string | number | boolean>,
        opts: { replace?: boolean } = {},
        call?: CallOptions,
      ) =>
        write(
          opts.replace ? "PUT" : "PATCH",
          websiteId,
          ["website", websiteId, "people", "data", peopleId],
          { data },
          call,
        ),
    },

    plugin: {
      /** The plugin these credentials belong to (plugin tier). */
      account: (call?: CallOptions) =>
        get("global", ["plugin", "connect", "account"], pluginAccountSchema, call),
      /** A website's subscription to the plugin; its `token` is what the Settings URL carries. */
      subscriptionSettings: (websiteId: string, pluginId: string, call?: CallOptions) =>
        get(
          websiteId,
          ["plugins", "subscription", websiteId, pluginId, "settings"],
          subscriptionSettingsSchema,
          call,
        ),
    },

    bucket: {
      /** The signed URL arrives asynchronously as the `bucket:url:upload:generated` event. */
      generateUrl: (
        body: {
          namespace: string;
          id?: string;
          file: { name: string; type: string };
          resource?: { type: string; id: string };
        },
        call?: CallOptions,
      ) => write("POST", "global", ["bucket", "url", "generate"], body, call),
    },
  };
}

export type CrispClient = ReturnType<typeof createCrispClient>;
