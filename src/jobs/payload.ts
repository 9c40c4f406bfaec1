import { z } from "zod";

/** A job's payload column: JSON for commands and sync jobs, operator text (or none) for drafts. */

/** The payload of a kind stored as JSON: parsed, then checked against its schema. */
export function jsonPayload<T extends z.ZodType>(schema: T) {
  return z
    .string({ error: "the job has no payload" })
    .transform((text, ctx) => {
      try {
        const value: unknown = JSON.parse(text);
        return value;
      } catch {
        ctx.addIssue({ code: "custom", message: "the payload is not JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** Draft and redraft jobs: the operator's instructions, if any. */
export const textPayload = z.string().nullable();

/** A schema failure as one line: the first issues, each with its path. */
export function describePayloadError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}
