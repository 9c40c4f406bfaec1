/** One error type for every Crisp failure, so callers branch on fields, not on message text. */
export class CrispError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(init: {
    status: number;
    reason: string;
    method: string;
    path: string;
    retryable: boolean;
    retryAfterMs?: number | undefined;
    message?: string;
    cause?: unknown;
  }) {
    super(
      init.message ??
        `Crisp ${init.method} ${init.path} failed: ${init.status || ""} ${init.reason}`.replace("  ", " "),
      {
        cause: init.cause,
      },
    );
    this.name = "CrispError";
    this.status = init.status;
    this.reason = init.reason;
    this.method = init.method;
    this.path = init.path;
    this.retryable = init.retryable;
    this.retryAfterMs = init.retryAfterMs;
  }
}

export function isCrispError(error: unknown): error is CrispError {
  return error instanceof CrispError;
}

/**
 * A non-idempotent request timed out or lost its connection, or a message send answered 5xx,
 * after it may have reached Crisp: the caller must look the message up before sending again.
 */
export const OUTCOME_UNKNOWN = "outcome_unknown";
