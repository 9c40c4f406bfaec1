/** Configured secrets, removed verbatim from every provider text (providers and services register theirs). */
const knownSecrets = new Set<string>();

/** Adds secrets for scrubSecrets to remove verbatim; values shorter than 8 characters are ignored. */
export function registerSecrets(values: Iterable<string | null | undefined>): void {
  for (const value of values) {
    if (typeof value !== "string" || value.length < 8) continue;
    knownSecrets.add(value);
    knownSecrets.add(encodeURIComponent(value));
  }
}

const REDACTED = "[redacted]";
const API_KEY = /\bsk-[A-Za-z0-9_*-]{6,}/g;
const BEARER = /\b(Bearer|Basic)\s+[^\s"',;]+/gi;
const ASSIGNED =
  /\b((?:x-)?api[_-]?key|access[_-]?token|token|secret|password|authorization)(["']?\s*[:=]\s*["']?)([^\s"',;&]+)/gi;
const LONG = /[A-Za-z0-9+/=_-]{24,}/g;

/**
 * A run of 24+ token characters that reads as a credential: hex (keys, UUIDs), or letters and
 * digits mixed as random text is (two digits at least, and mixed case or a 16+ character chunk).
 * Model names (claude-3-5-sonnet-20241022) and URL paths (/v1/chat/completions) are kept.
 */
function looksLikeToken(run: string): boolean {
  if (/^[0-9a-fA-F-]+$/.test(run) && run.replace(/-/g, "").length >= 24) return true;
  const digits = run.replace(/[^0-9]/g, "").length;
  const letters = run.replace(/[^A-Za-z]/g, "").length;
  if (digits < 2 || letters < 2) return false;
  const mixedCase = /[a-z]/.test(run) && /[A-Z]/.test(run);
  const longestChunk = Math.max(...run.split(/[^A-Za-z0-9]/).map((chunk) => chunk.length));
  return mixedCase || longestChunk >= 16;
}

/**
 * The one scrubber of provider texts: every LlmError message (so llm_calls.error, the job's
 * error, log lines and the dashboard) passes here, since providers echo keys in their errors.
 * Removes the configured secrets verbatim, `sk-…` keys, Bearer/Basic credentials,
 * `api_key=…`-style values and long random-looking tokens.
 */
export function scrubSecrets(text: string, extra: Iterable<string> = []): string {
  let out = text;
  // Longest first, so a secret that contains another is removed whole.
  const verbatim = [...knownSecrets, ...[...extra].filter((v) => v.length >= 8)].sort(
    (a, b) => b.length - a.length,
  );
  for (const secret of verbatim) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out
    .replace(API_KEY, REDACTED)
    .replace(BEARER, (_, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(ASSIGNED, (_, name: string, sep: string) => `${name}${sep}${REDACTED}`)
    .replace(LONG, (run) => (looksLikeToken(run) ? REDACTED : run));
}

/** Every secret the configuration holds (8 characters or more): scrubbed from provider texts, and canaries no draft may repeat. */
export function configuredSecrets(
  config: {
    llm: {
      openaiApiKey?: string | undefined;
      anthropicApiKey?: string | undefined;
      compatibleApiKey?: string | undefined;
    };
    adminToken?: string | undefined;
    adminUsers: Array<{ token: string }>;
    sync: { crmSecret?: string | undefined };
    mcp: { hugo: { secret?: string | undefined } };
    metricsToken?: string | undefined;
  },
  crisp: { key: string; webhookSecret: string },
): string[] {
  return [
    crisp.key,
    crisp.webhookSecret,
    config.llm.openaiApiKey,
    config.llm.anthropicApiKey,
    config.llm.compatibleApiKey,
    config.adminToken,
    ...config.adminUsers.map((u) => u.token),
    config.sync.crmSecret,
    config.mcp.hugo.secret,
    config.metricsToken,
  ].filter((v): v is string => typeof v === "string" && v.length >= 8);
}
