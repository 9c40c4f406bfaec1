import { resolve } from "node:path";
import { systemClock } from "../../clock.ts";
import { type Config, ConfigError, loadConfig } from "../../config.ts";
import { buildServices, type Services } from "../../services.ts";
import { createLogger, markdownStamp, readMarkdown, readRules } from "../node.ts";
import { createOutboundFetch, resolveHost } from "../outbound-node.ts";
import { openSqlite } from "../sqlite.ts";

/** What several commands share: signal handling, config errors, opening the store or the services. */

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

export function reportConfigError(error: unknown): number {
  if (error instanceof ConfigError) {
    console.error(error.message);
    return 78; // EX_CONFIG, as every command
  }
  throw error;
}

/** Builds services without a server, for one-shot commands. */
export async function withServices<T>(fn: (services: Services, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  if (config.demo) {
    throw new ConfigError([
      "CRISP_IDENTIFIER, CRISP_KEY, CRISP_WEBSITE_ID: this command talks to a real Crisp website (or `quill sandbox`); set them first",
    ]);
  }
  const log = createLogger(config.logLevel);
  const database = openSqlite(config.databasePath);
  database.migrate();
  try {
    const services = await buildServices({
      config,
      db: database.db,
      clock: systemClock,
      log,
      kbFiles: readMarkdown(resolve(config.drafting.kbDir)),
      promptFiles: readMarkdown(resolve(config.drafting.promptsDir)),
      loadKb: (dir) => readMarkdown(resolve(dir)),
      kbStamp: (dir) => markdownStamp(resolve(dir)),
      rules: readRules(config),
      outboundFetch: createOutboundFetch(config.outbound.allowPrivate),
      resolveHost,
    });
    return await fn(services, config);
  } finally {
    database.close();
  }
}

export const positiveInt = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ConfigError([`${name}: expected a positive integer, got "${raw}"`]);
  return n;
};

/** Opens the configured database (migrated) for a read-mostly command. */
export async function withStore<T>(
  fn: (store: import("../../store/store.ts").Store) => Promise<T>,
): Promise<T> {
  const config = loadConfig(process.env);
  const { createStore } = await import("../../store/store.ts");
  const database = openSqlite(config.databasePath);
  try {
    database.migrate();
    return await fn(createStore(database.db));
  } finally {
    database.close();
  }
}
