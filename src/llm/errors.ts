import { scrubSecrets } from "./scrub.ts";
import type { LlmAttempt } from "./types.ts";

export { registerSecrets, scrubSecrets } from "./scrub.ts";

/** Why a provider call failed; every kind except a caller's "aborted" falls through to the next provider. */
export type LlmErrorKind =
  | "timeout"
  | "rate_limited"
  | "server"
  | "auth"
  | "bad_request"
  | "malformed"
  | "refusal"
  | "empty"
  | "unavailable"
  | "aborted";

/** A cause safe to keep: the SDK's errors carry the raw message, body and headers. */
function safeCause(cause: unknown): unknown {
  if (cause === undefined || cause instanceof LlmError) return cause;
  if (cause instanceof Error) {
    const safe = new Error(scrubSecrets(cause.message));
    safe.name = cause.name;
    return safe;
  }
  return typeof cause === "string" ? scrubSecrets(cause) : undefined;
}

/** Kinds where the same call may succeed later (the SDKs retry these themselves first). */
const RETRYABLE: ReadonlySet<LlmErrorKind> = new Set(["timeout", "rate_limited", "server", "unavailable"]);

export class LlmError extends Error {
  readonly provider: string;
  readonly kind: LlmErrorKind;
  readonly retryable: boolean;
  readonly status?: number;
  /** Set on the chain's final error: every call that was tried. */
  attempts: LlmAttempt[] = [];

  constructor(
    provider: string,
    kind: LlmErrorKind,
    message: string,
    options: { status?: number | undefined; cause?: unknown; retryable?: boolean } = {},
  ) {
    super(
      `${provider}: ${scrubSecrets(message)}`,
      options.cause === undefined ? undefined : { cause: safeCause(options.cause) },
    );
    this.name = "LlmError";
    this.provider = provider;
    this.kind = kind;
    this.retryable = options.retryable ?? RETRYABLE.has(kind);
    if (options.status !== undefined) this.status = options.status;
  }
}

interface ErrorLike {
  name?: unknown;
  status?: unknown;
  message?: unknown;
}

/** The error classes of an SDK (OpenAI's or Anthropic's default export carries them). */
export interface SdkErrors {
  APIUserAbortError: abstract new (...args: never[]) => Error;
  APIConnectionTimeoutError: abstract new (...args: never[]) => Error;
  APIConnectionError: abstract new (...args: never[]) => Error;
  RateLimitError: abstract new (...args: never[]) => Error;
}

/**
 * Maps an OpenAI or Anthropic SDK error (or a plain fetch/abort error) to an LlmError.
 * Checked in this order: abort, timeout, connection failure, then the HTTP status. The SDK's
 * classes come from the provider that loaded it, so this module never loads an SDK itself.
 */
export function fromSdkError(provider: string, error: unknown, sdk?: SdkErrors): LlmError {
  if (error instanceof LlmError) return error;
  const e = (typeof error === "object" && error !== null ? error : {}) as ErrorLike;
  const message = typeof e.message === "string" && e.message ? e.message : String(error);
  const status = typeof e.status === "number" ? e.status : undefined;
  const opts = { cause: error, status };
  const is = (type: keyof SdkErrors) => sdk !== undefined && error instanceof sdk[type];
  if (is("APIUserAbortError") || e.name === "AbortError")
    return new LlmError(provider, "aborted", "aborted", opts);
  if (is("APIConnectionTimeoutError") || e.name === "TimeoutError")
    return new LlmError(provider, "timeout", "timed out", opts);
  // The body of a 200 answer did not parse: the API's output is unusable, not the server down.
  if (error instanceof SyntaxError) {
    return new LlmError(provider, "malformed", "answer body is not valid JSON", opts);
  }
  if (is("APIConnectionError"))
    return new LlmError(provider, "server", `connection failed: ${message}`, opts);
  if (status === 429 || is("RateLimitError")) {
    return new LlmError(provider, "rate_limited", "rate limited (429)", opts);
  }
  if (status === 401 || status === 403) {
    return new LlmError(provider, "auth", `authentication failed (${status})`, opts);
  }
  if (status === 408) return new LlmError(provider, "timeout", "request timeout (408)", opts);
  if (status !== undefined && status >= 500) {
    return new LlmError(provider, "server", `server error (${status})`, opts);
  }
  if (status !== undefined && status >= 400) {
    return new LlmError(provider, "bad_request", `rejected (${status}): ${message}`, opts);
  }
  return new LlmError(provider, "server", message, opts);
}
