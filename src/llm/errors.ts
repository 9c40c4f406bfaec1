import type { LlmAttempt } from "./types.ts";

/** Why a provider call failed; every kind except "aborted" falls through to the next provider. */
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

export class LlmError extends Error {
  readonly provider: string;
  readonly kind: LlmErrorKind;
  readonly status: number | undefined;
  /** Set on the chain's final error: every call that was tried. */
  attempts: LlmAttempt[] = [];

  constructor(
    provider: string,
    kind: LlmErrorKind,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(`${provider}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LlmError";
    this.provider = provider;
    this.kind = kind;
    this.status = options.status;
  }
}

/** Maps an SDK or fetch error (OpenAI and Anthropic SDKs share the shape) to an LlmError. */
export function toLlmError(provider: string, error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  const e = error as { name?: string; status?: number; message?: string; constructor?: { name?: string } };
  const name = `${e?.constructor?.name ?? ""} ${e?.name ?? ""}`;
  const message = e?.message ?? String(error);
  const status = typeof e?.status === "number" ? e.status : undefined;
  const opts = { cause: error, ...(status !== undefined ? { status } : {}) };
  if (/UserAbort|AbortError/.test(name)) return new LlmError(provider, "aborted", "aborted", opts);
  if (/Timeout/i.test(name) || /timed? ?out/i.test(message))
    return new LlmError(provider, "timeout", "timeout", opts);
  if (status === 429) return new LlmError(provider, "rate_limited", "rate limited (429)", opts);
  if (status === 401 || status === 403)
    return new LlmError(provider, "auth", `authentication failed (${status})`, opts);
  if (status !== undefined && status >= 500)
    return new LlmError(provider, "server", `server error (${status})`, opts);
  if (status !== undefined && status >= 400)
    return new LlmError(provider, "bad_request", `rejected (${status}): ${message}`, opts);
  if (/Connection/i.test(name))
    return new LlmError(provider, "server", `connection failed: ${message}`, opts);
  return new LlmError(provider, "server", message, opts);
}
