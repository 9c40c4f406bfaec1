import { loadConfig } from "../../config.ts";
import { openSqlite } from "../sqlite.ts";
import { reportConfigError } from "./shared.ts";

/** `quill migrate`: the migrations of migrations/ applied to DATABASE_PATH. */

export async function migrateCommand(): Promise<number> {
  try {
    const config = loadConfig(process.env);
    const database = openSqlite(config.databasePath);
    database.migrate();
    database.close();
    console.log(`migrations applied to ${config.databasePath}`);
    return 0;
  } catch (error) {
    return reportConfigError(error);
  }
}
