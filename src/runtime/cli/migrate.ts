import { loadConfig } from "../../config.ts";
import { openDatabase } from "./open.ts";

/** `quill migrate`: the migrations of migrations/ applied to DATABASE_PATH. */

export async function migrateCommand(): Promise<number> {
  const config = loadConfig(process.env);
  const database = openDatabase(config);
  database.close();
  console.log(`migrations applied to ${config.databasePath}`);
  return 0;
}
