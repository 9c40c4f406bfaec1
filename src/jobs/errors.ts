import { CrispError } from "../crisp/errors.ts";
import { scrubSecrets } from "../llm/scrub.ts";

/**
 * Whether a job that threw may succeed on a later attempt is the error's own say: CrispError,
 * LlmError, OutboundRefused and JobError carry `retryable`.
 */

/** An error a job handler throws with its retry classification (network failures, a CRM's answer). */
export class JobError extends Error {
  readonly retryable: boolean;
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "JobError";
    this.retryable = options.retryable;
  }
}

/**
 * An error without the flag (a bug, a library's own error) is retried: the job's attempts
 * bound it, and its last error ends on the dead job for the health page.
 */
export function isRetryable(error: unknown): boolean {
  const flag = (error as { retryable?: unknown } | null)?.retryable;
  return typeof flag === "boolean" ? flag : true;
}

/** What a job's error, log line and dashboard say of a failure; scrubbed, as it may be a provider's text. */
export function describeError(error: unknown): string {
  if (error instanceof CrispError)
    return `crisp ${error.status} ${error.reason} (${error.method} ${error.path})`;
  return scrubSecrets(error instanceof Error ? error.message : String(error));
}
