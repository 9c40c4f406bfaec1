import {
  type EnvSettings,
  envSchema,
  type LlmProviderName,
  llmProviders,
  type McpScope,
  readScopes,
} from "./config-schema.ts";
import { refuseUrl } from "./outbound.ts";

/**
 * Every setting quill reads, parsed once at start. A bad value fails fast with
 * the variable's name and what is expected, never later at first use. The schema
 * of each variable is in config-schema.ts; this module checks how they combine.
 */

export { DEFAULT_DISCLOSURE, type LlmProviderName, llmProviders } from "./config-schema.ts";

export type Env = Record<string, string | undefined>;

/**
 * Why a secret is too weak to stand in front of the network, or undefined: short or
 * repetitive values fall to online guessing, whatever the rate limit.
 */
export function weakSecret(value: string, minLength = 16): string | undefined {
  if (value.length < minLength)
    return `at least ${minLength} characters, got ${value.length} (\`quill token\` prints a strong one)`;
  if (new Set(value).size < 8)
    return "too repetitive: use at least 8 different characters (`quill token` prints a strong one)";
  return undefined;
}

/** A dashboard user of ADMIN_USERS: the name their approvals and rejections are credited to. */
export type AdminUser = { name: string; token: string };

/**
 * ADMIN_USERS, `name:token,name:token`: each token opens a full dashboard session that
 * names its user. Names and tokens must be unique (a token names exactly one person), and
 * problems never quote a token.
 */
function parseAdminUsers(
  raw: string | undefined,
  options: { demo: boolean; adminToken: string | undefined },
  problems: string[],
): AdminUser[] {
  if (raw === undefined) return [];
  const users: AdminUser[] = [];
  raw.split(",").forEach((entry, i) => {
    const item = entry.trim();
    if (!item) return;
    const colon = item.indexOf(":");
    const name = colon < 0 ? "" : item.slice(0, colon).trim();
    const token = colon < 0 ? "" : item.slice(colon + 1).trim();
    const where = `ADMIN_USERS: entry ${i + 1}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/.test(name) || !token) {
      problems.push(
        `${where}: expected name:token (a name of letters, digits, . _ - up to 40 characters), e.g. alice:<token>`,
      );
      return;
    }
    const weak = options.demo ? undefined : weakSecret(token);
    if (weak) problems.push(`${where} (${name}): token ${weak}`);
    if (users.some((u) => u.name.toLowerCase() === name.toLowerCase()))
      problems.push(`${where}: the name ${name} is used twice`);
    else if (users.some((u) => u.token === token) || token === options.adminToken)
      problems.push(
        `${where} (${name}): its token is also another login's token; give each person their own`,
      );
    else users.push({ name, token });
  });
  return users;
}

/**
 * SHADOW_*: either variable turns shadow mode on (the other stays the live one); the
 * candidate provider needs its key here, not at its first job. SHADOW_PROMPT's file is
 * checked with the prompts (src/shadow/shadow.ts), like PROMPT_VARIANTS.
 */
function shadowSettings(e: EnvSettings, problems: string[]) {
  const provider = e.SHADOW_PROVIDER;
  const needs: Record<LlmProviderName, [string, string | undefined] | undefined> = {
    openai: ["OPENAI_API_KEY", e.OPENAI_API_KEY],
    anthropic: ["ANTHROPIC_API_KEY", e.ANTHROPIC_API_KEY],
    compatible: ["LLM_BASE_URL", e.LLM_BASE_URL],
    offline: undefined,
  };
  const need = provider ? needs[provider] : undefined;
  if (need && !need[1]) problems.push(`SHADOW_PROVIDER: ${provider} needs ${need[0]}, which is not set`);
  return {
    on: Boolean(e.SHADOW_PROMPT || provider),
    prompt: e.SHADOW_PROMPT,
    provider,
    model: e.SHADOW_MODEL,
    /** The share of conversations shadowed, by a stable hash of the session like the A/B split. */
    share: e.SHADOW_SHARE,
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Crisp credentials come as a set of three; none at all is demo mode. */
function checkCrisp(e: EnvSettings, problems: string[]): boolean {
  const crispSet = [e.CRISP_IDENTIFIER, e.CRISP_KEY, e.CRISP_WEBSITE_ID].filter(Boolean).length;
  if (crispSet > 0 && crispSet < 3) {
    for (const name of ["CRISP_IDENTIFIER", "CRISP_KEY", "CRISP_WEBSITE_ID"] as const) {
      if (!e[name])
        problems.push(
          `${name}: required when any Crisp credential is set (or unset all three for demo mode)`,
        );
    }
  }
  return crispSet === 0;
}

/** The live provider and its fallbacks, each of which needs its key or URL now, not at its first draft. */
function checkProviders(e: EnvSettings, problems: string[]): LlmProviderName {
  // With no explicit provider, pick the first one that has a key, else the offline drafter.
  const provider: LlmProviderName =
    e.LLM_PROVIDER ?? (e.ANTHROPIC_API_KEY ? "anthropic" : e.OPENAI_API_KEY ? "openai" : "offline");
  const chain = [provider, ...e.LLM_FALLBACK];
  for (const name of chain) {
    if (!(llmProviders as readonly string[]).includes(name)) {
      problems.push(`LLM_FALLBACK: unknown provider "${name}", expected one of ${llmProviders.join(", ")}`);
    }
  }
  for (const name of new Set(chain)) {
    if (name === "openai" && !e.OPENAI_API_KEY)
      problems.push("OPENAI_API_KEY: required for the openai provider");
    if (name === "anthropic" && !e.ANTHROPIC_API_KEY)
      problems.push("ANTHROPIC_API_KEY: required for the anthropic provider");
    if (name === "compatible" && !e.LLM_BASE_URL)
      problems.push("LLM_BASE_URL: required for the compatible provider (e.g. http://127.0.0.1:11434/v1)");
  }
  return provider;
}

/** Hook secrets, the CRM URL and the tokens that face the network (checked in this order). */
function checkNetwork(e: EnvSettings, demo: boolean, problems: string[]): void {
  // Without a secret any forged hook would verify (HMAC with an empty key), whatever the tier.
  if (!demo && !e.CRISP_WEBHOOK_SECRET) {
    problems.push(
      "CRISP_WEBHOOK_SECRET: required outside demo mode (the plugin's hook signing secret, or the ?key= of a website hook URL)",
    );
  }
  if (e.CRM_WEBHOOK_URL && !e.CRM_WEBHOOK_SECRET) {
    problems.push("CRM_WEBHOOK_SECRET: required with CRM_WEBHOOK_URL (outbound hooks are signed with it)");
  }
  const crmRefused =
    e.CRM_WEBHOOK_URL && refuseUrl(e.CRM_WEBHOOK_URL, { allowPrivate: e.OUTBOUND_ALLOW_PRIVATE });
  if (crmRefused) {
    problems.push(
      `CRM_WEBHOOK_URL: ${crmRefused} (set OUTBOUND_ALLOW_PRIVATE=true for a CRM on a private network)`,
    );
  }
  // Outside demo mode these face the network: a guessable one opens the dashboard or forges hooks.
  if (!demo) {
    for (const name of [
      "ADMIN_TOKEN",
      "CRISP_WEBHOOK_SECRET",
      "CRM_WEBHOOK_SECRET",
      "METRICS_TOKEN",
    ] as const) {
      const value = e[name];
      const weak = value === undefined ? undefined : weakSecret(value);
      if (weak) problems.push(`${name}: ${weak}`);
    }
  }
}

/** Hugo's MCP scopes and secret, and the session secret; returns the scopes. */
function checkMcpAndSession(e: EnvSettings, problems: string[]): McpScope[] {
  const scopes = readScopes(e.HUGO_MCP_SCOPES);
  if ("problem" in scopes) problems.push(`HUGO_MCP_SCOPES: ${scopes.problem}`);
  const hugoScopes = "scopes" in scopes ? scopes.scopes : [];
  if (e.HUGO_MCP_SECRET !== undefined) {
    const weak = weakSecret(e.HUGO_MCP_SECRET);
    if (weak) problems.push(`HUGO_MCP_SECRET: ${weak}`);
  }
  // The key of every session and CSRF value: it must be out of reach of guessing, demo or not.
  const sessionWeak = e.SESSION_SECRET === undefined ? undefined : weakSecret(e.SESSION_SECRET, 32);
  if (sessionWeak) problems.push(`SESSION_SECRET: ${sessionWeak}`);
  return hugoScopes;
}

/** Settings that are each valid alone but not together: job lease, key alias, embeddings. */
function checkCombinations(e: EnvSettings, problems: string[]): void {
  // A job is aborted before its lease ends, so no other worker can take it while it runs.
  if (e.JOB_LEASE_SECONDS * 1000 < e.DRAFT_DEADLINE_MS + 5_000) {
    problems.push(
      `JOB_LEASE_SECONDS: must be at least DRAFT_DEADLINE_MS + 5 s (${Math.ceil(e.DRAFT_DEADLINE_MS / 1000) + 5}), got ${e.JOB_LEASE_SECONDS}`,
    );
  }
  // LLM_API_KEY is an alias: two different values would leave which one is sent to chance.
  if (e.COMPATIBLE_API_KEY && e.LLM_API_KEY && e.COMPATIBLE_API_KEY !== e.LLM_API_KEY)
    problems.push("LLM_API_KEY: an alias of COMPATIBLE_API_KEY with a different value; set only one");
  if (e.EMBEDDINGS === "openai" && !e.OPENAI_API_KEY)
    problems.push("OPENAI_API_KEY: required for EMBEDDINGS=openai");
  if (e.EMBEDDINGS === "compatible") {
    if (!e.EMBEDDING_BASE_URL && !e.LLM_BASE_URL)
      problems.push("EMBEDDING_BASE_URL: required for EMBEDDINGS=compatible (or LLM_BASE_URL)");
    if (!e.EMBEDDING_MODEL)
      problems.push("EMBEDDING_MODEL: required for EMBEDDINGS=compatible (e.g. nomic-embed-text)");
  }
}

function crispSettings(e: EnvSettings) {
  return {
    identifier: e.CRISP_IDENTIFIER,
    key: e.CRISP_KEY,
    websiteId: e.CRISP_WEBSITE_ID,
    tier: e.CRISP_TIER,
    apiUrl: e.CRISP_API_URL ?? "https://api.crisp.chat/v1",
    webhookSecret: e.CRISP_WEBHOOK_SECRET,
    timeoutMs: e.CRISP_TIMEOUT_MS,
    maxRetries: e.CRISP_MAX_RETRIES,
    concurrency: e.CRISP_CONCURRENCY,
    webhookToleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
  };
}

function llmSettings(e: EnvSettings, provider: LlmProviderName) {
  return {
    provider,
    fallback: [...new Set(e.LLM_FALLBACK.filter((p) => p !== provider))] as LlmProviderName[],
    model: e.LLM_MODEL,
    baseUrl: e.LLM_BASE_URL,
    timeoutMs: e.LLM_TIMEOUT_MS,
    retries: e.LLM_RETRIES,
    deadlineMs: e.DRAFT_DEADLINE_MS,
    /** A provider is skipped after this many consecutive failures, for the cool-down. */
    breaker: { failures: e.LLM_BREAKER_FAILURES, halfOpenAfterMs: e.LLM_BREAKER_COOLDOWN_SECONDS * 1000 },
    prices: e.LLM_PRICES,
    openaiApiKey: e.OPENAI_API_KEY,
    anthropicApiKey: e.ANTHROPIC_API_KEY,
    /** The compatible server's own key (chat and embeddings), never the OpenAI one; unset: no Authorization header. */
    compatibleApiKey: e.COMPATIBLE_API_KEY ?? e.LLM_API_KEY,
  };
}

function draftingSettings(e: EnvSettings) {
  return {
    replyMode: e.REPLY_MODE,
    autoSendIntents: e.AUTO_SEND_INTENTS,
    autoSendMinConfidence: e.AUTO_SEND_MIN_CONFIDENCE,
    linkAllowlist: e.LINK_ALLOWLIST,
    /** EU AI Act art. 50: a chatbot says it is one. Caps stop a loop of automated replies. */
    autoSend: {
      disclosure: ["", "off"].includes(e.AUTO_SEND_DISCLOSURE.trim()) ? "" : e.AUTO_SEND_DISCLOSURE.trim(),
      maxInARow: e.AUTO_SEND_MAX_IN_A_ROW,
      maxPerHour: e.AUTO_SEND_MAX_PER_HOUR,
    },
    piiRedaction: e.PII_REDACTION,
    quietPeriodMs: e.QUIET_PERIOD_MS,
    /** With the visitor's typing reported by web hook: how long a message waits for typing to start (at most the quiet period). */
    typingGraceMs: e.TYPING_GRACE_MS,
    /** auto: operators-only ("stealth") while drafting, visible just before an auto-sent reply. */
    typing: e.TYPING,
    /** ISO 639-1: drafts in another language carry a translation into it in their note (LLM providers). */
    operatorLanguage: e.OPERATOR_LANGUAGE,
    pollIntervalSeconds: e.POLL_INTERVAL_SECONDS,
    jobConcurrency: e.JOB_CONCURRENCY,
    jobLeaseMs: e.JOB_LEASE_SECONDS * 1000,
    skipSegments: e.SKIP_SEGMENTS,
    /** Routing that keeps quill out: any assignee, these operators' (user ids), these inboxes. */
    skipRouting: { assigned: e.SKIP_ASSIGNED, operators: e.SKIP_OPERATORS, inboxes: e.SKIP_INBOXES },
    needsHumanSegment: e.NEEDS_HUMAN_SEGMENT,
    needsHumanAssign: e.NEEDS_HUMAN_ASSIGN,
    kbDir: e.KB_DIR,
    /** Hybrid retrieval: lexical + embeddings; off keeps retrieval lexical and local. */
    embeddings:
      e.EMBEDDINGS === "off"
        ? undefined
        : {
            provider: e.EMBEDDINGS,
            model: e.EMBEDDING_MODEL ?? "text-embedding-3-small",
            baseUrl: e.EMBEDDINGS === "compatible" ? (e.EMBEDDING_BASE_URL ?? e.LLM_BASE_URL) : undefined,
            weight: e.EMBEDDING_WEIGHT,
          },
    promptsDir: e.PROMPTS_DIR,
    /** A/B test: prompts/<name>.md and weights; empty means prompts/default.md for everyone. */
    promptVariants: e.PROMPT_VARIANTS,
    /** Triage rules: a YAML/JSON file (Node), or the same text inline (Workers). */
    rulesFile: e.RULES_FILE,
    rulesInline: e.RULES,
  };
}

function syncSettings(e: EnvSettings) {
  return {
    /** People events on each draft outcome; "profile" also writes the last intent and language. */
    people: e.PEOPLE_SYNC,
    crm:
      e.CRM_WEBHOOK_URL && e.CRM_WEBHOOK_SECRET
        ? { url: e.CRM_WEBHOOK_URL, secret: e.CRM_WEBHOOK_SECRET }
        : undefined,
    /** Verifies POST /crm/people from the CRM. */
    crmSecret: e.CRM_WEBHOOK_SECRET,
  };
}

/** Every check runs before any throw, so one start lists every problem at once. */
function buildConfig(e: EnvSettings) {
  const problems: string[] = [];
  const demo = checkCrisp(e, problems);
  const provider = checkProviders(e, problems);
  checkNetwork(e, demo, problems);
  const adminUsers = parseAdminUsers(e.ADMIN_USERS, { demo, adminToken: e.ADMIN_TOKEN }, problems);
  const hugoScopes = checkMcpAndSession(e, problems);
  checkCombinations(e, problems);
  const shadow = shadowSettings(e, problems);
  if (problems.length) throw new ConfigError(problems);

  return {
    demo,
    crisp: crispSettings(e),
    llm: llmSettings(e, provider),
    drafting: draftingSettings(e),
    /** Shadow mode: SHADOW_PROMPT / SHADOW_PROVIDER, undefined when neither is set (websites may still set theirs). */
    shadow,
    sync: syncSettings(e),
    /** Outbound URLs (crmUrl): private, loopback and metadata addresses only when allowed. */
    outbound: { allowPrivate: e.OUTBOUND_ALLOW_PRIVATE },
    /** Unset: /metrics is open (keep it off the public network); set: it needs this bearer token. */
    metricsToken: e.METRICS_TOKEN,
    /** Conversation data older than this many days is removed or blanked; undefined keeps it. */
    retentionDays: e.RETENTION_DAYS,
    databasePath: e.DATABASE_PATH,
    port: e.PORT,
    /** Node's server: open sockets at most, and the time a request may take to arrive whole. */
    http: { maxConnections: e.HTTP_MAX_CONNECTIONS, requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_SECONDS * 1000 },
    host: e.HOST,
    publicUrl: e.PUBLIC_URL,
    /** quill's MCP server at /mcp: agents with quill's own tokens, never the Crisp key. */
    mcp: {
      ratePerMinute: e.MCP_RATE_PER_MINUTE,
      allowedHosts: e.MCP_ALLOWED_HOSTS,
      /** Crisp's Hugo: the primary website's secret; in plugin mode a website's hugoMcpSecret. */
      hugo: { secret: e.HUGO_MCP_SECRET, scopes: hugoScopes },
    },
    adminToken: e.ADMIN_TOKEN,
    /** Named dashboard logins (ADMIN_USERS): decisions made in the dashboard are credited to them. */
    adminUsers,
    /** Signs sessions and CSRF values; unset, a random secret kept in the database does. */
    sessionSecret: e.SESSION_SECRET,
    logLevel: e.LOG_LEVEL,
  };
}

export type Config = ReturnType<typeof buildConfig>;

/** Parses the environment; throws ConfigError naming every bad variable at once. */
export function loadConfig(raw: Env): Config {
  // `NAME=` in an env file means "not set", as .env.example writes it.
  const env = Object.fromEntries(Object.entries(raw).filter(([, v]) => v === undefined || v.trim() !== ""));
  const result = envSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? "environment");
        const given = env[name];
        const detail =
          issue.code === "invalid_value"
            ? `expected one of ${issue.values.map(String).join(", ")}, got "${given}"`
            : issue.message;
        return `${name}: ${detail}`;
      }),
    );
  }
  return buildConfig(result.data);
}
