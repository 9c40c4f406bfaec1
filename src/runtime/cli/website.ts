import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { systemClock } from "../../clock.ts";
import { loadConfig } from "../../config.ts";
import { serverSecret } from "../../http/admin/session.ts";
import { availableProviders } from "../../llm/providers.ts";
import { createStore } from "../../store/store.ts";
import {
  createWebsiteDirectory,
  WEBSITE_LIST_KEYS,
  WEBSITE_SETTING_KEYS,
  type WebsiteDirectory,
  type WebsiteSettingKey,
  WebsiteSettingsError,
} from "../../websites.ts";
import { openDatabase } from "./open.ts";
import { reportError, table } from "./shared.ts";

/**
 * `quill website list | show <id> | set <id> key=value …`: plugin mode's per-website
 * settings, written to the database the running quill reads (changes apply within seconds).
 */

/** `key=value` to a settings patch; `key=` removes the key, `rules=@file` reads a file. */
async function parseAssignments(args: string[]): Promise<Record<string, unknown>> {
  const patch: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    const key = (eq > 0 ? arg.slice(0, eq) : "") as WebsiteSettingKey;
    if (!WEBSITE_SETTING_KEYS.includes(key)) {
      throw new WebsiteSettingsError([
        `"${arg}": expected key=value with a key among ${WEBSITE_SETTING_KEYS.join(", ")}`,
      ]);
    }
    const raw = arg.slice(eq + 1);
    if (raw === "") {
      patch[key] = undefined;
    } else if (key === "rules" && raw.startsWith("@")) {
      patch.rules = readFileSync(raw.slice(1), "utf8");
    } else if (key === "enabled") {
      if (raw !== "true" && raw !== "false")
        throw new WebsiteSettingsError(["enabled: expected true or false"]);
      patch.enabled = raw === "true";
    } else if (key === "autoSendMinConfidence") {
      patch[key] = Number(raw);
    } else if (WEBSITE_LIST_KEYS.includes(key)) {
      patch[key] = raw
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);
    } else {
      patch[key] = raw;
    }
  }
  return patch;
}

/** Settings as shown: secrets become "(set)", never their value or hash. */
function shown(settings: Record<string, unknown>): Record<string, unknown> {
  const { adminTokenHash, adminTokenMac, crmSecret, hugoMcpSecret, ...rest } = settings;
  return {
    ...rest,
    ...(crmSecret ? { crmSecret: "(set)" } : {}),
    ...(hugoMcpSecret ? { hugoMcpSecret: "(set)" } : {}),
    ...(adminTokenHash || adminTokenMac ? { adminToken: "(set)" } : {}),
  };
}

/** One table cell: lists joined, unset as "-". */
const cell = (value: unknown): string =>
  value === undefined || value === null || value === ""
    ? "-"
    : Array.isArray(value)
      ? value.join(",")
      : String(value);

/** `quill website list`: one row per website, its overrides summed up in ALSO. */
async function listWebsites(websites: WebsiteDirectory, options: { json?: boolean }): Promise<number> {
  const rows = (await websites.list()).map((row) => ({
    websiteId: row.websiteId,
    settings: shown(row.settings as Record<string, unknown>),
  }));
  if (options.json) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  if (rows.length === 0) {
    console.log("no website settings yet (quill website set <id> key=value …)");
    return 0;
  }
  console.log(
    table(
      ["WEBSITE", "NAME", "ENABLED", "REPLY MODE", "PROMPT", "PROVIDER", "ALSO"],
      rows.map(({ websiteId, settings: s }) => [
        websiteId,
        cell(s.name),
        cell(s.enabled ?? true),
        cell(s.replyMode),
        cell(s.prompt),
        cell(s.provider),
        [
          s.shadowPrompt || s.shadowProvider
            ? `shadow ${[s.shadowPrompt, s.shadowProvider].filter(Boolean).join("/")}`
            : "",
          s.autoSendIntents ? `auto-send ${cell(s.autoSendIntents)}` : "",
          s.rules ? "own rules" : "",
          s.kbDir ? `knowledge base ${s.kbDir}` : "",
          s.crmUrl ? `CRM ${s.crmUrl}` : "",
          s.crmSecret ? "CRM secret" : "",
          s.hugoMcpSecret ? "Hugo secret" : "",
          s.adminToken ? "dashboard token" : "",
        ]
          .filter(Boolean)
          .join(", ") || "-",
      ]),
    ),
  );
  return 0;
}

/** `quill website show <id>`: every setting, "-" where the server's own applies. */
async function showWebsite(
  websites: WebsiteDirectory,
  id: string,
  options: { json?: boolean },
): Promise<number> {
  const settings = await websites.get(id);
  if (!settings) {
    console.error(`no settings for website ${id}`);
    return 1;
  }
  const s = shown(settings as Record<string, unknown>);
  if (options.json) {
    console.log(JSON.stringify(s, null, 2));
    return 0;
  }
  const rules = typeof s.rules === "string" ? s.rules : undefined;
  console.log(
    table(
      ["SETTING", "VALUE"],
      WEBSITE_SETTING_KEYS.map((key) => [
        key,
        key === "rules" && rules
          ? `own rules, ${rules.trimEnd().split("\n").length} line(s) (--json prints them)`
          : cell(s[key]),
      ]),
    ),
  );
  console.log(`\nwebsite ${id}; "-": the server's own setting applies`);
  return 0;
}

export async function websiteCommand(
  action: string | undefined,
  args: string[],
  options: { json?: boolean } = {},
): Promise<number> {
  // A ConfigError goes up to main(), which prints it and exits 78 like every command.
  const config = loadConfig(process.env);
  const database = openDatabase(config);
  try {
    const prompts = readdirSync(resolve(config.drafting.promptsDir))
      .filter((f) => f.endsWith(".md"))
      .map((f) => f.replace(/\.md$/, ""));
    const store = createStore(database.db);
    const websites = createWebsiteDirectory({
      store,
      // The same secret the server stores website tokens under (SESSION_SECRET or the stored one).
      secret: serverSecret(store, config.sessionSecret),
      clock: systemClock,
      primaryWebsiteId: config.crisp.websiteId ?? "",
      tier: config.crisp.tier,
      knownPrompts: prompts,
      knownProviders: availableProviders(config),
      allowPrivate: config.outbound.allowPrivate,
    });
    const [id, ...rest] = args;
    switch (action) {
      case "list":
        return await listWebsites(websites, options);
      case "show":
        if (!id) break;
        return await showWebsite(websites, id, options);
      case "set": {
        if (!id || rest.length === 0) break;
        const saved = await websites.update(id, await parseAssignments(rest));
        console.log(`saved settings of ${id}: ${Object.keys(saved).join(", ")}`);
        return 0;
      }
    }
    console.error(
      "Usage: quill website list [--json] | show <website_id> [--json] | set <website_id> key=value …",
    );
    return 2;
  } catch (error) {
    if (error instanceof WebsiteSettingsError) return reportError(error, "website");
    throw error;
  } finally {
    database.close();
  }
}
