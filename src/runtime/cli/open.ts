import { systemClock } from "../../clock.ts";
import { type Config, ConfigError, loadConfig } from "../../config.ts";
import type { Services } from "../../services.ts";
import { openSqlite } from "../sqlite.ts";

/**
 * The store or the services of a one-shot command, opened from the configuration and closed
 * after. The services' modules load on demand, so a store-only command starts quickly.
 */

/** The configured database, migrated; one that cannot be opened is DATABASE_PATH's fault. */
export function openDatabase(config: Config): ReturnType<typeof openSqlite> {
  let database: ReturnType<typeof openSqlite> | undefined;
  try {
    database = openSqlite(config.databasePath);
    database.migrate();
    return database;
  } catch (error) {
    database?.close();
    throw new ConfigError([
      `DATABASE_PATH: cannot open ${config.databasePath} (${(error as Error).message})`,
    ]);
  }
}

/**
 * Without Crisp credentials, the Crisp of a one-shot command is the sandbox inside the running
 * demo (`npm start`), at QUILL_URL or this machine's PORT, so `quill draft` can be tried there.
 */
async function demoCrisp(config: Config, env: Record<string, string | undefined>) {
  const { DEMO_CREDENTIALS } = await import("../../sandbox/app.ts");
  const base = (env.QUILL_URL ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, "");
  const inbox = await fetch(`${base}/sandbox/`, { signal: AbortSignal.timeout(5_000) }).then(
    (response) => response.ok,
    () => false,
  );
  if (!inbox) {
    throw new ConfigError([
      `QUILL_URL: no demo quill answers at ${base} (start it with \`npm start\`, or set QUILL_URL to where it runs); without CRISP_IDENTIFIER, CRISP_KEY and CRISP_WEBSITE_ID this command works on the demo's sandbox`,
    ]);
  }
  return {
    apiUrl: `${base}/sandbox/v1`,
    identifier: DEMO_CREDENTIALS.identifier,
    key: DEMO_CREDENTIALS.key,
    websiteId: DEMO_CREDENTIALS.websiteId,
    webhookSecret: DEMO_CREDENTIALS.webhookSecret,
  };
}

/** Builds services without a server, for one-shot commands. */
export async function withServices<T>(fn: (services: Services, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const [{ buildServices }, { createLogger }, { configuredFiles }, outbound] = await Promise.all([
    import("../../services.ts"),
    import("../logger.ts"),
    import("../files.ts"),
    import("../outbound-node.ts"),
  ]);
  const crisp = config.demo ? await demoCrisp(config, process.env) : undefined;
  const log = createLogger(config.logLevel);
  const database = openDatabase(config);
  try {
    const services = await buildServices({
      config,
      db: database.db,
      clock: systemClock,
      log,
      ...configuredFiles(config),
      outboundFetch: outbound.createOutboundFetch(config.outbound.allowPrivate),
      resolveHost: outbound.resolveHost,
      ...(crisp ? { crisp } : {}),
    });
    return await fn(services, config);
  } finally {
    database.close();
  }
}

/** Opens the configured database (migrated) for a read-mostly command. */
export async function withStore<T>(
  fn: (store: import("../../store/store.ts").Store) => Promise<T>,
): Promise<T> {
  const config = loadConfig(process.env);
  const { createStore } = await import("../../store/store.ts");
  const database = openDatabase(config);
  try {
    return await fn(createStore(database.db));
  } finally {
    database.close();
  }
}
