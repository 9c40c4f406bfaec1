import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { buildServices } from "../../src/services.ts";

/** Issue 14, data protection: the web hook inbox keeps what quill reads back, never the visitor's text. */

const SECRET = "test_hook_secret";
const WEBSITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc";
const SESSION = "session_700c65e1-85e2-465a-b9ac-ecb5ec2c9881";
const NOW = 1_764_000_000_100;
const clock: Clock = { now: () => NOW, sleep: async () => {} };
const CARD = "4242 4242 4242 4242";
const EMAIL = "grace.hopper@example.org";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

const hook = (event: string, data: Record<string, unknown>) =>
  JSON.stringify({
    website_id: WEBSITE,
    event,
    data: { website_id: WEBSITE, session_id: SESSION, ...data },
    timestamp: NOW - 50,
  });

async function post(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  raw: string,
) {
  const ts = String(NOW);
  return app.request("/webhooks/crisp", {
    method: "POST",
    body: raw,
    headers: {
      "content-type": "application/json",
      "x-crisp-request-timestamp": ts,
      "x-crisp-signature": await signWebhook(SECRET, ts, raw),
    },
  });
}

describe("web hook intake stores no customer text", () => {
  it("leaves neither a card number nor an email in the SQLite file after a signed message hook", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-privacy-"));
    const path = join(dir, "quill.db");
    const database = openSqlite(path, { groupCommit: true });
    database.migrate();
    closers.push(database.close);
    const services = await buildServices({
      config: loadConfig({
        DATABASE_PATH: path,
        CRISP_IDENTIFIER: "id",
        CRISP_KEY: "key",
        CRISP_WEBSITE_ID: WEBSITE,
        CRISP_WEBHOOK_SECRET: SECRET,
        CRISP_API_URL: "http://crisp.invalid/v1",
        PEOPLE_SYNC: "off",
      }),
      db: database.db,
      durable: database.durable,
      clock,
      log: silentLogger,
      kbFiles: [],
      promptFiles: [
        {
          name: "default.md",
          content: readFileSync(new URL("../../prompts/default.md", import.meta.url), "utf8"),
        },
      ],
      fetch: async () => {
        throw new Error("the web hook intake must not call out");
      },
    });
    const text = `My card ${CARD} was charged twice, write to ${EMAIL}`;
    const message = {
      type: "text",
      from: "user",
      origin: "chat",
      content: text,
      fingerprint: 176400000123,
      timestamp: NOW - 100,
      user: { nickname: EMAIL, user_id: SESSION },
    };
    const deliveries = [
      hook("message:send", message),
      hook("message:updated", { fingerprint: 176400000123, content: `${text} (edited)` }),
      hook("message:compose:send", { type: "start", excerpt: `My card ${CARD}`, timestamp: NOW - 120 }),
      hook("people:profile:updated", { email: EMAIL, card: CARD }),
    ];
    for (const raw of deliveries) expect((await post(services.app, raw)).status).toBe(200);

    // The deliveries quill acts on were recorded, with the fields it reads back; the two it
    // ignores (an edit, a profile update) were not recorded at all.
    const rows = database.sqlite
      .prepare("select event, session_id as sessionId, fingerprint, payload from inbox_events order by id")
      .all() as Array<{ event: string; sessionId: string; fingerprint: number | null; payload: string }>;
    expect(rows.map((r) => r.event)).toEqual(["message:send", "message:compose:send"]);
    expect(rows[0]).toMatchObject({ sessionId: SESSION, fingerprint: 176400000123 });
    expect(JSON.parse(rows[0]?.payload ?? "{}")).toEqual({
      timestamp: NOW - 50,
      type: "text",
      from: "user",
      origin: "chat",
      at: NOW - 100,
    });
    expect(await services.store.listJobs()).toHaveLength(1);

    // Every byte quill wrote: the database file after a checkpoint and close, and any WAL left.
    await database.durable();
    database.sqlite.pragma("wal_checkpoint(TRUNCATE)");
    database.close();
    const bytes = readdirSync(dir)
      .map((name) => readFileSync(join(dir, name)).toString("latin1"))
      .join("\n");
    expect(bytes).toContain(SESSION); // the file is readable as text: the check below means something
    for (const secret of [CARD, CARD.replaceAll(" ", ""), EMAIL, "charged twice"]) {
      expect(bytes).not.toContain(secret);
    }
  });
});
