import type { z } from "zod";
import { type Clock, systemClock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import { CrispError, OUTCOME_UNKNOWN } from "./errors.ts";
import { createKeyedLimiter, type KeyedLimiter } from "./limit.ts";

/**
 * The Crisp REST v1 transport over `fetch`, so the same code runs on Node, Workers and
 * against the sandbox. One place owns auth, the envelope, timeouts, retries and the
 * per-website concurrency limit; the resource files under `rest/` only name paths.
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

export type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE" | "HEAD";
export type Query = Record<string, string | number | boolean | undefined>;
export type Path = (string | number)[];

export interface RequestSpec<T> {
  method: Method;
  path: Path;
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

export type Reply<T> = { data: T; status: number };
type Retry = { error: CrispError; retryAfterMs: number | undefined };
type Outcome<T> = Reply<T> | Retry;
type Fail = (init: Omit<ConstructorParameters<typeof CrispError>[0], "method" | "path">) => CrispError;

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
 * and left a timer behind each call.
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

/** What every request of one client shares. */
interface TransportDeps {
  options: CrispClientOptions;
  apiUrl: string;
  timeoutMs: number;
  maxRetries: number;
  clock: Clock;
  log: Logger;
  random: () => number;
  limiter: KeyedLimiter;
  authorization: string;
}

/** One request in flight: its spec, resolved URL and path, and its error factory. */
interface Attempting<T> {
  spec: RequestSpec<T>;
  url: string;
  path: string;
  fail: Fail;
}

function parseBody(text: string): { error?: boolean; reason?: string; data?: unknown } | undefined {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** A fetch that threw: aborted, outcome unknown for a write, or a retryable network error. */
function fetchFailure<T>(
  deps: TransportDeps,
  { spec, fail }: Attempting<T>,
  attempt: number,
  timedOut: boolean,
  cause: unknown,
): Outcome<T> {
  if (spec.call?.signal?.aborted) throw fail({ status: 0, reason: "aborted", retryable: false, cause });
  // The request may have reached Crisp: repeating a send could post twice (that Crisp
  // dedupes on a client fingerprint is unconfirmed), so the caller looks it up first.
  if (!spec.idempotent) {
    throw fail({ status: 0, reason: OUTCOME_UNKNOWN, retryable: false, cause });
  }
  const error = fail({ status: 0, reason: timedOut ? "timeout" : "network_error", retryable: true, cause });
  if (attempt >= deps.maxRetries) throw error;
  return { error, retryAfterMs: undefined };
}

/** A 2xx with `error` unset: the data, checked against the schema when there is one. */
function successReply<T>(
  { spec, path, fail }: Attempting<T>,
  status: number,
  text: string,
  body: { data?: unknown } | undefined,
): Reply<T> {
  if (spec.method === "HEAD") return { data: undefined as T, status };
  if (body === undefined && text) throw fail({ status, reason: "invalid_response", retryable: false });
  const data = body?.data ?? {};
  if (!spec.schema) return { data: data as T, status };
  const parsed = spec.schema.safeParse(data);
  if (!parsed.success) {
    throw fail({
      status,
      reason: "invalid_response",
      retryable: false,
      message: `Crisp ${spec.method} ${path} answered an unexpected shape: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join(".")}: ${i.message}`)
        .join("; ")}`,
    });
  }
  return { data: parsed.data, status };
}

/** An error answer: thrown when final, else handed back with its Retry-After to back off from. */
function errorReply<T>(
  deps: TransportDeps,
  { spec, path, fail }: Attempting<T>,
  attempt: number,
  response: Response,
  body: { reason?: string; data?: unknown } | undefined,
): Outcome<T> {
  const status = response.status;
  const reason = body?.reason ?? "http_error";
  // Crisp's error data may say which field it refused: kept, bounded, in the error's message.
  const said = (body?.data as { message?: unknown } | undefined)?.message;
  const detail = typeof said === "string" && said ? ` (${said.slice(0, 200)})` : "";
  const rateLimited = status === 429 || status === 420;
  const serverError = status >= 500;
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), deps.clock.now());
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
  const error = fail({
    status,
    reason,
    retryable: rateLimited || serverError,
    retryAfterMs,
    ...(detail ? { message: `Crisp ${spec.method} ${path} failed: ${status} ${reason}${detail}` } : {}),
  });
  if (!safeToRepeat || attempt >= deps.maxRetries) throw error;
  if (retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS) throw error;
  return { error, retryAfterMs };
}

/** One request: its result, a retryable error to back off from, or a thrown final error. */
async function attemptOnce<T>(deps: TransportDeps, req: Attempting<T>, attempt: number): Promise<Outcome<T>> {
  const { spec } = req;
  const signals = attemptSignal(spec.call?.signal, spec.call?.timeoutMs ?? deps.timeoutMs);
  let response: Response;
  try {
    const doFetch = deps.options.fetch ?? globalThis.fetch;
    const headers: Record<string, string> = {
      Authorization: deps.authorization,
      "X-Crisp-Tier": deps.options.tier,
      Accept: "application/json",
      "User-Agent": deps.options.userAgent ?? "quill",
    };
    if (spec.body !== undefined) headers["Content-Type"] = "application/json";
    response = await doFetch(req.url, {
      method: spec.method,
      headers,
      body: spec.body === undefined ? null : JSON.stringify(spec.body),
      signal: signals.signal,
    });
  } catch (cause) {
    signals.done();
    return fetchFailure(deps, req, attempt, signals.timedOut(), cause);
  }
  const text = await response.text().catch(() => "");
  signals.done();
  const body = parseBody(text);
  if (response.ok && body?.error !== true) return successReply(req, response.status, text, body);
  return errorReply(deps, req, attempt, response, body);
}

async function backoff<T>(
  deps: TransportDeps,
  req: Attempting<T>,
  attempt: number,
  { error, retryAfterMs }: Retry,
) {
  const jittered = deps.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  const delay = retryAfterMs ?? jittered;
  deps.log.warn(
    { method: req.spec.method, path: error.path, status: error.status, reason: error.reason, delay },
    "crisp retry",
  );
  try {
    await deps.clock.sleep(delay, req.spec.call?.signal);
  } catch (cause) {
    throw req.fail({ status: 0, reason: "aborted", retryable: false, cause });
  }
}

async function request<T>(deps: TransportDeps, spec: RequestSpec<T>): Promise<Reply<T>> {
  const path = `/${spec.path.map((p) => encodeURIComponent(String(p))).join("/")}`;
  const req: Attempting<T> = {
    spec,
    path,
    url: `${deps.apiUrl}${path}${toQuery(spec.query)}`,
    fail: (init) => new CrispError({ ...init, method: spec.method, path }),
  };
  // Each attempt holds a concurrency slot only while it is on the wire: a request waiting
  // out its backoff (or its caller's beforeRetry check) leaves the slot to the others.
  for (let attempt = 0; ; attempt++) {
    // A send goes ahead of queued reads: its caller has just checked that it is still wanted.
    const outcome = await deps.limiter.run(
      spec.website,
      () => attemptOnce(deps, req, attempt),
      spec.call?.signal,
      spec.send,
    );
    if ("data" in outcome) return outcome;
    await backoff(deps, req, attempt, outcome);
    if ((await spec.call?.beforeRetry?.()) === false) throw outcome.error;
  }
}

export interface Transport {
  request<T>(spec: RequestSpec<T>): Promise<Reply<T>>;
  /** An idempotent GET of a website's resource, its data checked by `schema`. */
  get<T>(website: string, path: Path, schema: z.ZodType<T>, call?: CallOptions, query?: Query): Promise<T>;
  /** A write whose answer is not read; only a POST counts as not idempotent. */
  write(
    method: Exclude<Method, "GET" | "HEAD">,
    website: string,
    path: Path,
    body: unknown,
    call?: CallOptions,
  ): Promise<undefined>;
}

export function createTransport(options: CrispClientOptions): Transport {
  const deps: TransportDeps = {
    options,
    apiUrl: options.apiUrl.replace(/\/+$/, ""),
    timeoutMs: options.timeoutMs ?? 10_000,
    maxRetries: options.maxRetries ?? 3,
    clock: options.clock ?? systemClock,
    log: options.log ?? silentLogger,
    random: options.random ?? Math.random,
    limiter: createKeyedLimiter(options.concurrency ?? 4),
    authorization: `Basic ${btoa(`${options.identifier}:${options.key}`)}`,
  };
  return {
    request: (spec) => request(deps, spec),
    get: (website, path, schema, call, query) =>
      request(deps, { method: "GET", path, schema, website, idempotent: true, call, query }).then(
        (r) => r.data,
      ),
    write: (method, website, path, body, call) =>
      request(deps, { method, path, body, website, idempotent: method !== "POST", call }).then(
        () => undefined,
      ),
  };
}

/** `website/{id}/conversation/{session}/…`, the prefix of every conversation resource. */
export const conversationPath = (websiteId: string, sessionId: string, ...rest: Path): Path => [
  "website",
  websiteId,
  "conversation",
  sessionId,
  ...rest,
];
