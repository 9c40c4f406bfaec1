import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.ts";
import { type QuillHandle, startQuill } from "../../src/runtime/node.ts";
import { CHROMIUM } from "../setup/chromium.ts";

/** The dashboard in a real browser: log in, open a draft, approve it, see it in the sandbox. */

let browser: Browser;
let quill: QuillHandle;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "quill-browser-"));
  quill = await startQuill({
    env: {
      DATABASE_PATH: join(dir, "q.db"),
      QUIET_PERIOD_MS: "0",
      POLL_INTERVAL_SECONDS: "0",
      ADMIN_TOKEN: "browser-test-token",
    },
    port: 0,
    host: "127.0.0.1",
    log: silentLogger,
    sandbox: { seed: false },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await quill?.stop(1_000);
  rmSync(dir, { recursive: true, force: true });
});

describe("admin dashboard in Chromium", () => {
  it("logs in, opens a draft, approves it, and the customer receives it", async () => {
    const sandbox = quill.sandbox;
    if (!sandbox) throw new Error("demo mode expected");
    const { sessionId } = sandbox.visitorSays({
      text: "Hi! I need to return an item, I got the wrong size.",
    });
    const deadline = Date.now() + 10_000;
    while (!sandbox.messagesOf(sessionId).some((m) => m.type === "note")) {
      if (Date.now() > deadline) throw new Error("no draft note");
      await new Promise((r) => setTimeout(r, 25));
    }

    const page = await browser.newPage();
    await page.goto(`${quill.url}/admin/drafts`);
    expect(page.url()).toContain("/admin/login");
    await page.getByLabel("Admin token").fill("wrong");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("That token is not right.").waitFor();
    await page.getByLabel("Admin token").fill("browser-test-token");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Drafts" }).waitFor();

    await page.getByRole("link", { name: /I'm sorry it doesn't fit/ }).click();
    await page.getByRole("button", { name: "Approve and send" }).click();
    await page.getByRole("status").getByText("Sending").waitFor();

    const sent = await new Promise<string>((resolve, reject) => {
      const until = Date.now() + 10_000;
      const timer = setInterval(() => {
        const reply = sandbox.messagesOf(sessionId).find((m) => m.type === "text" && m.from === "operator");
        if (reply) {
          clearInterval(timer);
          resolve(String(reply.content));
        } else if (Date.now() > until) {
          clearInterval(timer);
          reject(new Error("the customer never got the reply"));
        }
      }, 25);
    });
    // the customer answer, never the handbook's steps for agents
    expect(sent).toContain("Gold members can return items at any time");
    expect(sent).not.toMatch(/the customer|Pull up Account|Guidance/);

    // the sandbox inbox shows it to a person too
    await page.goto(`${quill.url}/sandbox/?session=${sessionId}`);
    await page.locator("li.msg.operator").getByText("Gold members can return items at any time").waitFor();
    await page.goto(`${quill.url}/admin/drafts`);
    await page.getByRole("cell", { name: "sent" }).first().waitFor();
  }, 60_000);
});
