import { z } from "zod";
import type { Clock } from "./clock.ts";
import { ConfigError, llmProviders, weakSecret } from "./config.ts";
import { hmac, safeEqual, sha256Hex } from "./crypto.ts";
import { refuseUrl } from "./outbound.ts";
import type { Store } from "./store/store.ts";
import { parseRules, RulesError, type RulesFile } from "./triage/rules.ts";

/**
 * Plugin mode: one quill serves many Crisp websites. Each website may override the
 * process defaults — prompt, provider, reply mode, auto-send rules, link allowlist,
 * triage rules, knowledge base folder, CRM hook — and may have its own dashboard token, which
 * opens a dashboard that sees that website only. Settings live in the database
 * (website_settings), set with `quill website set` or on the dashboard's Websites page.
 */

const list = z.array(z.string().min(1).max(200)).max(200);

export const websiteSettingsSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  /** false: quill ignores this website's hooks and does not poll it. */
  enabled: z.boolean().default(true),
  /** A prompt file in PROMPTS_DIR, without ".md". */
  prompt: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/i, "a prompt file name without .md")
    .optional(),
  provider: z.enum(llmProviders).optional(),
  /** Shadow mode for this website: a candidate prompt and/or provider, drafted and recorded, never posted. */
  shadowPrompt: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/i, "a prompt file name without .md")
    .optional(),
  shadowProvider: z.enum(llmProviders).optional(),
  replyMode: z.enum(["note", "auto"]).optional(),
  autoSendIntents: list.optional(),
  autoSendMinConfidence: z.number().min(0).max(1).optional(),
  linkAllowlist: list.optional(),
  /** Triage rules (YAML or JSON text), validated on save. */
  rules: z.string().max(200_000).optional(),
  /** A folder of markdown articles (Node only; Workers use the bundled knowledge base). */
  kbDir: z.string().min(1).max(500).optional(),
  /** The website's CRM: outbound outcome hooks go here, signed with crmSecret. */
  crmUrl: z
    .url({ protocol: /^https?$/ })
    .max(2_000)
    .optional(),
  /** Signs outbound hooks and verifies POST /crm/people for this website (kept, never shown). */
  crmSecret: z.string().min(16, "at least 16 characters").max(500).optional(),
  /** Verifies Crisp's Hugo calling /mcp for this website (Hugo's mcp_sec_… secret; kept, never shown). */
  hugoMcpSecret: z.string().min(16, "at least 16 characters").max(500).optional(),
  /** The website's dashboard token as tokenMac(); the token itself is never stored. */
  adminTokenMac: z
    .string()
    .regex(/^[\w-]{43}$/)
    .optional(),
  /** Older rows: the token's SHA-256 (hex), replaced by adminTokenMac at the next token check. */
  adminTokenHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

export type WebsiteSettings = z.infer<typeof websiteSettingsSchema>;

/**
 * Every setting a person writes, in the order `quill website set` lists them: the schema's
 * keys, with the dashboard token as `adminToken` (stored as adminTokenMac, never itself).
 * The CLI, the dashboard's Websites page and the plugin settings page all read this list.
 */
export const WEBSITE_SETTING_KEYS = [
  "name",
  "enabled",
  "prompt",
  "provider",
  "shadowPrompt",
  "shadowProvider",
  "replyMode",
  "autoSendIntents",
  "autoSendMinConfidence",
  "linkAllowlist",
  "rules",
  "kbDir",
  "crmUrl",
  "crmSecret",
  "hugoMcpSecret",
  "adminToken",
] as const;
export type WebsiteSettingKey = (typeof WEBSITE_SETTING_KEYS)[number];

/** Settings written as comma-separated lists. */
export const WEBSITE_LIST_KEYS: readonly WebsiteSettingKey[] = ["autoSendIntents", "linkAllowlist"];

/** Write-only settings: never shown again, and an empty form field keeps the stored one. */
export const WEBSITE_SECRET_KEYS: readonly WebsiteSettingKey[] = ["crmSecret", "hugoMcpSecret", "adminToken"];

/** What the dashboard's form reads as plain fields: every setting but the secrets. */
export const WEBSITE_FORM_KEYS = WEBSITE_SETTING_KEYS.filter((key) => !WEBSITE_SECRET_KEYS.includes(key));

/** What a website's own team may set from Crisp (the plugin settings page); the rest stays with quill's admin. */
export const WEBSITE_TEAM_KEYS = [
  "enabled",
  "name",
  "replyMode",
  "autoSendIntents",
  "autoSendMinConfidence",
  "linkAllowlist",
  "prompt",
] as const satisfies readonly WebsiteSettingKey[];

export class WebsiteSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "WebsiteSettingsError";
  }
}

export { sha256Hex };

/**
 * What a website's dashboard token is stored as: an HMAC under the server secret of its
 * SHA-256, so a copy of the database alone gives nothing to test guesses against, and rows
 * that still hold the SHA-256 (adminTokenHash) convert without knowing the token.
 */
export const tokenMac = (secret: string, sha256: string) => hmac(secret, `website-token:${sha256}`);

/** Validates settings (rules included: their faults with line and column). */
export function validateWebsiteSettings(
  input: unknown,
  known: { prompts: string[]; providers: readonly string[]; kbFolders?: boolean; allowPrivate?: boolean },
): WebsiteSettings {
  const parsed = websiteSettingsSchema.safeParse(input);
  if (!parsed.success) {
    throw new WebsiteSettingsError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "settings"}: ${i.message}`),
    );
  }
  const settings = parsed.data;
  if (settings.kbDir && known.kbFolders === false) {
    throw new WebsiteSettingsError([
      "kbDir: this runtime (Cloudflare Workers) has no folders to read; its drafts use the bundled knowledge base",
    ]);
  }
  const weakCrm = settings.crmSecret === undefined ? undefined : weakSecret(settings.crmSecret);
  if (weakCrm) throw new WebsiteSettingsError([`crmSecret: ${weakCrm}`]);
  const weakHugo = settings.hugoMcpSecret === undefined ? undefined : weakSecret(settings.hugoMcpSecret);
  if (weakHugo) throw new WebsiteSettingsError([`hugoMcpSecret: ${weakHugo}`]);
  if (settings.crmUrl && !settings.crmSecret) {
    throw new WebsiteSettingsError(["crmSecret: required with crmUrl (outbound hooks are signed with it)"]);
  }
  // A website's operator must not aim quill's signed requests at quill's own network.
  const refused =
    settings.crmUrl && refuseUrl(settings.crmUrl, { allowPrivate: known.allowPrivate ?? false });
  if (refused) {
    throw new WebsiteSettingsError([
      `crmUrl: ${refused} (the server's OUTBOUND_ALLOW_PRIVATE=true allows private networks)`,
    ]);
  }
  for (const key of ["prompt", "shadowPrompt"] as const) {
    const name = settings[key];
    if (name && !known.prompts.includes(name))
      throw new WebsiteSettingsError([
        `${key}: no prompt file ${name}.md (known: ${known.prompts.join(", ")})`,
      ]);
  }
  for (const key of ["provider", "shadowProvider"] as const) {
    const name = settings[key];
    if (name && !known.providers.includes(name))
      throw new WebsiteSettingsError([
        `${key}: ${name} has no credentials in this process (available: ${known.providers.join(", ")})`,
      ]);
  }
  if (settings.rules) {
    try {
      parseRules(settings.rules, "rules");
    } catch (error) {
      if (error instanceof RulesError) {
        throw new WebsiteSettingsError(
          error.problems.map((p) => `rules: line ${p.line}, column ${p.column}: ${p.message}`),
        );
      }
      throw error;
    }
  }
  return settings;
}

/** What the directory is made from (see createWebsiteDirectory). */
export interface WebsiteDirectoryDeps {
  store: Store;
  clock: Clock;
  /** The website of CRISP_WEBSITE_ID (served even without a settings row). */
  primaryWebsiteId: string;
  /** CRISP_TIER: only the plugin tier serves more than one website. */
  tier: "plugin" | "website" | "user";
  /** CRM_WEBHOOK_URL / CRM_WEBHOOK_SECRET: the primary website's CRM unless it has its own. */
  primaryCrm?: { url?: string | undefined; secret?: string | undefined };
  /** false on Workers: a kbDir setting is refused. */
  kbFolders?: boolean;
  /** OUTBOUND_ALLOW_PRIVATE: a crmUrl may name a private, loopback or link-local address. */
  allowPrivate?: boolean;
  knownPrompts: string[];
  knownProviders: readonly string[];
  /** The server secret website tokens are stored under (see tokenMac). */
  secret: () => Promise<string>;
  ttlMs?: number;
}

/** The deps with the directory's caches and whether this tier serves many websites. */
interface DirectoryContext extends WebsiteDirectoryDeps {
  cache: Map<string, { at: number; settings: WebsiteSettings | undefined }>;
  rulesCache: Map<string, RulesFile>;
  plugin: boolean;
}

/** A website's settings, from the cache while younger than ttlMs; unreadable settings read as none. */
async function cachedSettings(
  ctx: DirectoryContext,
  websiteId: string,
): Promise<WebsiteSettings | undefined> {
  const hit = ctx.cache.get(websiteId);
  if (hit && ctx.clock.now() - hit.at < (ctx.ttlMs ?? 10_000)) return hit.settings;
  const raw = await ctx.store.getWebsiteSettings(websiteId);
  const parsed = raw ? websiteSettingsSchema.safeParse(raw) : undefined;
  const settings = parsed?.success ? parsed.data : undefined;
  ctx.cache.set(websiteId, { at: ctx.clock.now(), settings });
  return settings;
}

/** Why this tier refuses more websites than the primary one. */
const oneWebsiteOnly = (ctx: DirectoryContext, others: string[]) =>
  `CRISP_TIER=${ctx.tier} serves one website (CRISP_WEBSITE_ID ${ctx.primaryWebsiteId || "unset"}); ` +
  `set CRISP_TIER=plugin to also serve ${others.join(", ")}, or disable ${others.length > 1 ? "them" : "it"} (enabled=false)`;

/** Every enabled website: the primary one and each enabled website with settings. */
async function enabledWebsites(ctx: DirectoryContext): Promise<string[]> {
  const rows = await ctx.store.listWebsiteSettings();
  const ids = new Set<string>(ctx.primaryWebsiteId ? [ctx.primaryWebsiteId] : []);
  for (const row of rows) {
    const parsed = websiteSettingsSchema.safeParse(row.settings);
    if (parsed.success && !parsed.data.enabled) ids.delete(row.websiteId);
    else ids.add(row.websiteId);
  }
  return [...ids];
}

/** Validates and stores a website's whole settings; a changed token or a disabled website ends its sessions. */
async function saveSettings(
  ctx: DirectoryContext,
  websiteId: string,
  input: unknown,
): Promise<WebsiteSettings> {
  const settings = validateWebsiteSettings(input, {
    prompts: ctx.knownPrompts,
    providers: ctx.knownProviders,
    ...(ctx.kbFolders === undefined ? {} : { kbFolders: ctx.kbFolders }),
    allowPrivate: ctx.allowPrivate ?? false,
  });
  if (!ctx.plugin && settings.enabled && websiteId !== ctx.primaryWebsiteId)
    throw new WebsiteSettingsError([oneWebsiteOnly(ctx, [websiteId])]);
  const before = websiteSettingsSchema.safeParse((await ctx.store.getWebsiteSettings(websiteId)) ?? {});
  await ctx.store.setWebsiteSettings(websiteId, settings);
  ctx.cache.delete(websiteId);
  // A new or removed token, or a disabled website, ends that website's dashboard sessions now.
  const old = before.success ? before.data : undefined;
  const tokenChanged =
    (old?.adminTokenMac ?? old?.adminTokenHash) !== (settings.adminTokenMac ?? settings.adminTokenHash);
  if (tokenChanged || !settings.enabled) await ctx.store.revokeAdminSessionsOf(websiteId);
  return settings;
}

/**
 * Merges `patch` into the stored settings (undefined values remove a key). `adminToken`
 * takes the token itself, checked for strength and stored as its tokenMac only.
 */
async function updateSettings(
  ctx: DirectoryContext,
  websiteId: string,
  patch: Record<string, unknown>,
): Promise<WebsiteSettings> {
  const current = (await ctx.store.getWebsiteSettings(websiteId)) ?? {};
  const { adminToken, ...rest } = patch;
  const next: Record<string, unknown> = { ...current, ...rest };
  if ("adminToken" in patch) {
    delete next.adminTokenHash;
    next.adminTokenMac = undefined;
    if (typeof adminToken === "string" && adminToken !== "") {
      const weak = weakSecret(adminToken);
      if (weak) throw new WebsiteSettingsError([`adminToken: ${weak}`]);
      next.adminTokenMac = await tokenMac(await ctx.secret(), await sha256Hex(adminToken));
    }
  }
  for (const [key, value] of Object.entries(next)) if (value === undefined) delete next[key];
  return saveSettings(ctx, websiteId, next);
}

/**
 * The enabled website whose dashboard token this is, if any (only `websiteId` when given).
 * A row still holding the token's bare SHA-256 is converted to its tokenMac on the way.
 */
async function websiteForToken(
  ctx: DirectoryContext,
  token: string,
  websiteId?: string,
): Promise<string | undefined> {
  if (!token) return undefined;
  const secret = await ctx.secret();
  const mac = await tokenMac(secret, await sha256Hex(token));
  let found: string | undefined;
  for (const row of await ctx.store.listWebsiteSettings()) {
    const parsed = websiteSettingsSchema.safeParse(row.settings);
    if (!parsed.success) continue;
    let stored = parsed.data;
    if (stored.adminTokenHash && !stored.adminTokenMac) {
      const { adminTokenHash, ...others } = stored;
      stored = { ...others, adminTokenMac: await tokenMac(secret, adminTokenHash) };
      await ctx.store.setWebsiteSettings(row.websiteId, stored);
      ctx.cache.delete(row.websiteId);
    }
    if (websiteId !== undefined && row.websiteId !== websiteId) continue;
    if (stored.enabled && stored.adminTokenMac && safeEqual(stored.adminTokenMac, mac))
      found ??= row.websiteId;
  }
  if (found && !ctx.plugin && found !== ctx.primaryWebsiteId) return undefined;
  return found;
}

/** A website's own triage rules, parsed once per text. */
async function websiteRules(ctx: DirectoryContext, websiteId: string): Promise<RulesFile | undefined> {
  const text = (await cachedSettings(ctx, websiteId))?.rules;
  if (!text) return undefined;
  let rules = ctx.rulesCache.get(text);
  if (!rules) {
    rules = parseRules(text, `rules of ${websiteId}`);
    if (ctx.rulesCache.size > 100) ctx.rulesCache.clear();
    ctx.rulesCache.set(text, rules);
  }
  return rules;
}

/**
 * Reads website settings with a short cache (a change made by another process shows up
 * within `ttlMs`; one made here, at once).
 */
export function createWebsiteDirectory(deps: WebsiteDirectoryDeps) {
  const ctx: DirectoryContext = {
    ...deps,
    cache: new Map(),
    rulesCache: new Map(),
    plugin: deps.tier === "plugin",
  };
  const { plugin } = ctx;
  return {
    get: (websiteId: string) => cachedSettings(ctx, websiteId),
    primaryWebsiteId: deps.primaryWebsiteId,
    /** Prompt files and providers a website may choose. */
    known: { prompts: deps.knownPrompts, providers: deps.knownProviders },
    set: (websiteId: string, input: unknown) => saveSettings(ctx, websiteId, input),
    update: (websiteId: string, patch: Record<string, unknown>) => updateSettings(ctx, websiteId, patch),
    async list() {
      return deps.store.listWebsiteSettings();
    },
    /** Does quill answer this website's hooks and poll it? */
    async serves(websiteId: string): Promise<boolean> {
      if (!plugin && websiteId !== deps.primaryWebsiteId) return false;
      const settings = await cachedSettings(ctx, websiteId);
      if (settings) return settings.enabled;
      return websiteId === deps.primaryWebsiteId;
    },
    /** Every website quill polls (outside the plugin tier, the primary one at most). */
    async served(): Promise<string[]> {
      const ids = await enabledWebsites(ctx);
      return plugin ? ids : ids.filter((id) => id === deps.primaryWebsiteId);
    },
    /** At start: more than one enabled website needs the plugin tier. */
    async checkTier(): Promise<void> {
      if (plugin) return;
      const others = (await enabledWebsites(ctx)).filter((id) => id !== deps.primaryWebsiteId);
      if (others.length > 0) throw new ConfigError([oneWebsiteOnly(ctx, others)]);
    },
    /**
     * A website's CRM hook and secret. Only the primary website falls back to the environment,
     * so one website's summaries never reach, and its secret never updates, another's CRM.
     */
    async crm(websiteId: string): Promise<{ url: string | undefined; secret: string | undefined }> {
      const own = await cachedSettings(ctx, websiteId);
      if (own?.crmUrl || own?.crmSecret) return { url: own.crmUrl, secret: own.crmSecret };
      const fallback = websiteId === deps.primaryWebsiteId ? deps.primaryCrm : undefined;
      return { url: fallback?.url, secret: fallback?.secret };
    },
    websiteForToken: (token: string, websiteId?: string) => websiteForToken(ctx, token, websiteId),
    rules: (websiteId: string) => websiteRules(ctx, websiteId),
  };
}

export type WebsiteDirectory = ReturnType<typeof createWebsiteDirectory>;
