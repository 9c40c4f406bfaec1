import { readFileSync } from "node:fs";
import { expect, onTestFinished } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { buildServices } from "../../src/services.ts";
import { manualClock } from "../store/contract.ts";

/** The dashboard pages' tests: services on an in-memory database at a fixed time, and a login. */

export const NOW = Date.parse("2026-12-10T15:00:00Z");
export const DAY = 86_400_000;
/** Crisp credentials that are never called: the dashboard outside demo mode. */
export const REAL = {
  CRISP_IDENTIFIER: "id",
  CRISP_KEY: "key",
  CRISP_WEBSITE_ID: "w1",
  CRISP_WEBHOOK_SECRET: "hook-secret-of-the-dashboard-tests",
  CRISP_API_URL: "http://crisp.invalid/v1",
  ADMIN_TOKEN: "admin-token-of-the-dashboard-tests",
  PEOPLE_SYNC: "off",
};
export const W2 = "w2w2w2w2-0000-4000-8000-000000000002";
export const W2_TOKEN = "dashboard-token-of-website-two";

/** Services at NOW on their own in-memory database, closed when the test finishes. */
export async function dashboardServices(env: Record<string, string> = {}) {
  const database = openSqlite(":memory:");
  database.migrate();
  onTestFinished(() => database.close());
  const services = await buildServices({
    config: loadConfig({ DATABASE_PATH: ":memory:", PEOPLE_SYNC: "off", ...env }),
    db: database.db,
    clock: manualClock(NOW).clock,
    log: silentLogger,
    kbFiles: [],
    promptFiles: [
      {
        name: "default.md",
        content: readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8"),
      },
    ],
  });
  return Object.assign(services, { database });
}

/** Logs in through the form (cookie and CSRF token as a browser sends them); the session cookie. */
export async function loginAs(
  app: { request: (url: string, init?: RequestInit) => Response | Promise<Response> },
  token: string,
  website = "",
) {
  const page = await app.request("/admin/login");
  const cookie = page.headers.get("set-cookie")?.split(";")[0] ?? "";
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
  const res = await app.request("/admin/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    body: new URLSearchParams({ token, website, _csrf: csrf }).toString(),
  });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/admin/");
  return /quill_session=[^;]+/.exec(res.headers.get("set-cookie") ?? "")?.[0] ?? "";
}

/** A page's text, without its style sheet and tags. */
export const pageText = (html: string) =>
  html
    .replace(/<style>[\s\S]*?<\/style>/, "")
    .replace(/<[^>]+>/g, " ")
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, " ");
