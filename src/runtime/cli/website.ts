import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { systemClock } from "../../clock.ts";
import { loadConfig } from "../../config.ts";
import { serverSecret } from "../../http/admin/session.ts";
import { availableProviders } from "../../services.ts";
import { createStore } from "../../store/store.ts";
import { createWebsiteDirectory, WebsiteSettingsError } from "../../websites.ts";
import { openDatabase } from "./open.ts";
import { reportError } from "./shared.ts";

/**
 * `quill website list | show <id> | set <id> key=value …`: plugin mode's per-website
 * settings, written to the database the running quill reads (changes apply within seconds).
 */

const LISTS = new Set(["autoSendIntents", "linkAllowlist"]);
const KEYS = [
  "name",
  "enabled",
  "prompt",
  "provider",
  "replyMode",
  "autoSendIntents",
  "autoSendMinConfidence",
  "linkAllowlist",
  "rules",
  "kbDir",
  "crmUrl",
  "crmSecret",
  "adminToken",
];

/** `key=value` to a settings patch; `key=` removes the key, `rules=@file` reads a file. */
async function parseAssignments(args: string[]): Promise<Record<string, unknown>> {
  const patch: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    const key = eq > 0 ? arg.slice(0, eq) : "";
    if (!KEYS.includes(key)) {
      throw new WebsiteSettingsError([`"${arg}": expected key=value with a key among ${KEYS.join(", ")}`]);
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
    } else if (LISTS.has(key)) {
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

export async function websiteCommand(action: string | undefined, args: string[]): Promise<number> {
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
      case "list": {
        const rows = await websites.list();
        if (rows.length === 0) console.log("no website settings yet (quill website set <id> key=value …)");
        for (const row of rows) {
          const { adminTokenHash, adminTokenMac, rules, crmSecret, ...shown } = row.settings as Record<
            string,
            unknown
          >;
          const extra = [
            rules ? "own rules" : "",
            crmSecret ? "CRM secret" : "",
            adminTokenHash || adminTokenMac ? "dashboard token" : "",
          ].filter(Boolean);
          console.log(
            `${row.websiteId}  ${JSON.stringify(shown)}${extra.length ? `  (${extra.join(", ")})` : ""}`,
          );
        }
        return 0;
      }
      case "show": {
        if (!id) break;
        const settings = await websites.get(id);
        if (!settings) {
          console.error(`no settings for website ${id}`);
          return 1;
        }
        const { adminTokenHash, adminTokenMac, crmSecret, ...shown } = settings;
        const secrets = {
          ...(crmSecret ? { crmSecret: "(set)" } : {}),
          ...(adminTokenHash || adminTokenMac ? { adminToken: "(set)" } : {}),
        };
        console.log(JSON.stringify({ ...shown, ...secrets }, null, 2));
        return 0;
      }
      case "set": {
        if (!id || rest.length === 0) break;
        const saved = await websites.update(id, await parseAssignments(rest));
        console.log(`saved settings of ${id}: ${Object.keys(saved).join(", ")}`);
        return 0;
      }
    }
    console.error("Usage: quill website list | show <website_id> | set <website_id> key=value …");
    return 2;
  } catch (error) {
    if (error instanceof WebsiteSettingsError) return reportError(error, "website");
    throw error;
  } finally {
    database.close();
  }
}
