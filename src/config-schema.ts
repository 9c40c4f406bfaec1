import { z } from "zod";
import { operatorLanguage } from "./language/names.ts";

/**
 * The environment's zod schema and its small parsers: each variable's type, range and
 * default. src/config.ts turns the parsed values into Config and checks how they combine.
 */

/** What an auto-sent reply says of itself unless a team words it (AUTO_SEND_DISCLOSURE). */
export const DEFAULT_DISCLOSURE =
  "(This reply was sent automatically by our assistant. Write to us if you would like a person to help.)";

const bool = (fallback: boolean) =>
  z
    .enum(["1", "0", "true", "false", "yes", "no", "on", "off", ""])
    .default(fallback ? "true" : "false")
    .transform((v) => (v === "" ? fallback : ["1", "true", "yes", "on"].includes(v)));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = v.trim() === "" ? fallback : Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `expected an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const num = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = v.trim() === "" ? fallback : Number(v);
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `expected a number from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** Days to keep conversation data: a whole number of days, or "off"/0 to keep it forever. */
const retentionDays = z
  .string()
  .default("90")
  .transform((v, ctx) => {
    const raw = v.trim().toLowerCase();
    if (raw === "off" || raw === "0") return undefined;
    const n = raw === "" ? 90 : Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 36_500) {
      ctx.addIssue({
        code: "custom",
        message: `expected a whole number of days from 1 to 36500, or "off" (keep forever), got "${v}"`,
      });
      return z.NEVER;
    }
    return n;
  });

const list = z
  .string()
  .default("")
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** "default:70,concise:30" → [{name, weight}]; a bare name weighs 1. */
const variants = z
  .string()
  .default("")
  .transform((v, ctx) => {
    const out: Array<{ name: string; weight: number }> = [];
    for (const part of v
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)) {
      const match = /^([a-z0-9][a-z0-9_.-]*)(?::(\d+(?:\.\d+)?))?$/i.exec(part);
      const weight = Number(match?.[2] ?? 1);
      if (!match || !(weight > 0)) {
        ctx.addIssue({
          code: "custom",
          message: `expected name[:weight] pairs like "default:70,concise:30", got "${part}"`,
        });
        return z.NEVER;
      }
      out.push({ name: match[1] as string, weight });
    }
    return out;
  });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

const url = (fallback?: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v?.trim() ? v.trim() : fallback;
      if (value === undefined) return undefined;
      try {
        const parsed = new URL(value);
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("protocol");
        return value.replace(/\/+$/, "");
      } catch {
        ctx.addIssue({ code: "custom", message: `expected an http(s) URL, got "${v}"` });
        return z.NEVER;
      }
    });

/** The scopes of an agent's MCP token and of Hugo's calls (HUGO_MCP_SCOPES); `mcp/tokens.ts` says what each allows. */
export const MCP_SCOPES = ["read", "draft", "note", "reply", "route", "profile", "pii"] as const;
export type McpScope = (typeof MCP_SCOPES)[number];

/** "read, draft" → its scopes, or what is wrong with the list. */
export function readScopes(text: string): { scopes: McpScope[] } | { problem: string } {
  const scopes = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(MCP_SCOPES as readonly string[]).includes(s));
  if (unknown.length)
    return { problem: `unknown scope ${unknown.join(", ")}: expected some of ${MCP_SCOPES.join(", ")}` };
  if (scopes.length === 0) return { problem: `no scopes: give some of ${MCP_SCOPES.join(", ")}` };
  return { scopes: [...new Set(scopes)] as McpScope[] };
}

export const llmProviders = ["openai", "anthropic", "compatible", "offline"] as const;
export type LlmProviderName = (typeof llmProviders)[number];

/** USD per million tokens, keyed by model name; overridable with LLM_PRICES (JSON). */
const defaultPrices: Record<string, { input: number; output: number }> = {
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1": { input: 2, output: 8 },
  "claude-3-5-haiku-latest": { input: 0.8, output: 4 },
  "claude-haiku-4-5": { input: 1, output: 5 },
  "claude-sonnet-4-5": { input: 3, output: 15 },
};

const prices = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (!v?.trim()) return defaultPrices;
    try {
      const parsed = z
        .record(z.string(), z.object({ input: z.number().min(0), output: z.number().min(0) }))
        .parse(JSON.parse(v));
      return { ...defaultPrices, ...parsed };
    } catch {
      ctx.addIssue({
        code: "custom",
        message: 'expected JSON like {"model":{"input":0.15,"output":0.6}} (USD per million tokens)',
      });
      return z.NEVER;
    }
  });

export const envSchema = z.object({
  CRISP_IDENTIFIER: optionalString,
  CRISP_KEY: optionalString,
  CRISP_WEBSITE_ID: optionalString,
  CRISP_TIER: z.enum(["plugin", "website", "user"]).default("plugin"),
  CRISP_API_URL: url("https://api.crisp.chat/v1"),
  CRISP_WEBHOOK_SECRET: optionalString,
  CRISP_TIMEOUT_MS: int(10_000, 100, 120_000),
  CRISP_MAX_RETRIES: int(3, 0, 10),
  CRISP_CONCURRENCY: int(4, 1, 512),
  WEBHOOK_TOLERANCE_SECONDS: int(300, 1, 86_400),

  LLM_PROVIDER: z.enum(llmProviders).optional(),
  LLM_MODEL: optionalString,
  LLM_BASE_URL: url(),
  LLM_FALLBACK: list,
  LLM_TIMEOUT_MS: int(15_000, 100, 300_000),
  LLM_RETRIES: int(1, 0, 5),
  LLM_PRICES: prices,
  DRAFT_DEADLINE_MS: int(25_000, 1_000, 600_000),
  LLM_BREAKER_FAILURES: int(5, 1, 1_000),
  LLM_BREAKER_COOLDOWN_SECONDS: int(30, 1, 86_400),
  OPENAI_API_KEY: optionalString,
  ANTHROPIC_API_KEY: optionalString,
  COMPATIBLE_API_KEY: optionalString,
  LLM_API_KEY: optionalString,

  REPLY_MODE: z.enum(["note", "auto"]).default("note"),
  AUTO_SEND_INTENTS: list,
  AUTO_SEND_MIN_CONFIDENCE: num(0.85, 0, 1),
  LINK_ALLOWLIST: list,
  // "off" turns the line off; anything else is appended to every auto-sent reply.
  AUTO_SEND_DISCLOSURE: z.string().max(300).default(DEFAULT_DISCLOSURE),
  AUTO_SEND_MAX_IN_A_ROW: int(3, 1, 100),
  AUTO_SEND_MAX_PER_HOUR: int(60, 0, 100_000),
  PII_REDACTION: bool(true),
  QUIET_PERIOD_MS: int(3_000, 0, 60_000),
  TYPING_GRACE_MS: int(300, 0, 60_000),
  TYPING: z.enum(["auto", "stealth", "visible", "off"]).default("auto"),
  OPERATOR_LANGUAGE: operatorLanguage,
  POLL_INTERVAL_SECONDS: int(30, 0, 3_600),
  JOB_CONCURRENCY: int(4, 1, 2048),
  JOB_LEASE_SECONDS: int(60, 5, 3_600),
  SKIP_SEGMENTS: list,
  SKIP_ASSIGNED: bool(false),
  SKIP_OPERATORS: list,
  SKIP_INBOXES: list,
  NEEDS_HUMAN_SEGMENT: optionalString,
  NEEDS_HUMAN_ASSIGN: optionalString,
  KB_DIR: z.string().default("kb"),
  MCP_RATE_PER_MINUTE: int(60, 1, 100_000),
  MCP_ALLOWED_HOSTS: list,
  HUGO_MCP_SECRET: optionalString,
  HUGO_MCP_SCOPES: z.string().default("read,note"),
  EMBEDDINGS: z.enum(["off", "openai", "compatible"]).default("off"),
  EMBEDDING_MODEL: optionalString,
  EMBEDDING_BASE_URL: url(),
  EMBEDDING_WEIGHT: num(0.4, 0, 1),
  PROMPTS_DIR: z.string().default("prompts"),
  PROMPT_VARIANTS: variants,
  // Shadow mode (src/shadow/): a candidate prompt and/or provider drafts the same conversations, never posted.
  SHADOW_PROMPT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]*$/i, "expected a prompt file name in PROMPTS_DIR, without .md")
    .optional(),
  SHADOW_PROVIDER: z.enum(llmProviders).optional(),
  SHADOW_MODEL: optionalString,
  SHADOW_SHARE: num(1, 0, 1),
  RULES_FILE: optionalString,
  PEOPLE_SYNC: z.enum(["off", "events", "profile"]).default("events"),
  CRM_WEBHOOK_URL: url(),
  CRM_WEBHOOK_SECRET: optionalString,
  OUTBOUND_ALLOW_PRIVATE: bool(false),
  RULES: optionalString,

  RETENTION_DAYS: retentionDays,

  DATABASE_PATH: z.string().min(1).default("./data/quill.db"),
  PORT: int(3000, 0, 65_535),
  HTTP_MAX_CONNECTIONS: int(1_024, 1, 1_000_000),
  HTTP_REQUEST_TIMEOUT_SECONDS: int(30, 1, 3_600),
  HOST: z.string().default("0.0.0.0"),
  PUBLIC_URL: url(),
  ADMIN_TOKEN: optionalString,
  ADMIN_USERS: optionalString,
  METRICS_TOKEN: optionalString,
  SESSION_SECRET: optionalString,
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** The environment after parsing: every variable typed and defaulted. */
export type EnvSettings = z.infer<typeof envSchema>;
