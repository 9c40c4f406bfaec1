import { defineConfig } from "drizzle-kit";

// One migrations/ folder for `quill migrate` (drizzle migrator) and `wrangler d1 migrations apply`.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/store/schema.ts",
  out: "./migrations",
});
