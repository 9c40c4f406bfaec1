import { ConfigError } from "../../config.ts";
import { PromptError } from "../../drafting/prompt.ts";
import { DatasetError } from "../../eval/dataset.ts";
import { McpTokenError } from "../../mcp/tokens.ts";
import { RulesError } from "../../triage/rules.ts";
import { WebsiteSettingsError } from "../../websites.ts";

/** What the commands share: exit codes and error messages, option parsing, tables, signals. */

/** A command used wrongly (a bad option value, a missing argument): exit 2 with the message. */
export class UsageError extends Error {}

/**
 * The one mapping from a failure to the exit code: 78 (EX_CONFIG) for the configuration and
 * the prompt and rules files it names, 2 for usage and unreadable input files, 1 otherwise.
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError || error instanceof PromptError || error instanceof RulesError) return 78;
  if (error instanceof UsageError || error instanceof DatasetError || error instanceof McpTokenError)
    return 2;
  return 1;
}

/**
 * What the user reads for a failure: known errors as they are (they name the variable, file or
 * option), anything else in one line; the stack only with QUILL_DEBUG=1, for bug reports.
 */
export function errorMessage(error: unknown, command: string, env = process.env): string {
  if (error instanceof ConfigError || error instanceof PromptError || error instanceof RulesError)
    return error.message;
  if (error instanceof DatasetError) return error.message;
  if (error instanceof WebsiteSettingsError) return `quill ${command}: ${error.problems.join("\n  ")}`;
  if (error instanceof UsageError || error instanceof McpTokenError)
    return `quill ${command}: ${error.message}`;
  if (env.QUILL_DEBUG === "1" && error instanceof Error && error.stack)
    return `quill ${command}: ${error.stack}`;
  const message = error instanceof Error ? error.message : String(error);
  return `quill ${command}: ${message.split("\n")[0]} (QUILL_DEBUG=1 shows the stack trace)`;
}

/** Prints the failure's message and returns its exit code. */
export function reportError(error: unknown, command: string): number {
  console.error(errorMessage(error, command));
  return exitCodeFor(error);
}

export const positiveInt = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${name}: expected a positive integer, got "${raw}"`);
  return n;
};

/** A --port value: an integer 0-65535 (0 picks a free port). */
export function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: expected an integer 0-65535, got "${raw}"`);
  return port;
}

/** Rows as columns padded to their widest cell, the header first; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function onSignals(stop: () => Promise<void>) {
  let count = 0;
  const handler = () => {
    count++;
    if (count > 1) process.exit(1);
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
}
