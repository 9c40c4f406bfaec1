import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/crisp/webhook.ts";
import { WIDGET_ITEMS, WIDGET_SECTION } from "../../src/http/widget.ts";
import { silentLogger } from "../../src/log.ts";
import { type QuillHandle, startQuill } from "../../src/runtime/node.ts";
import { DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { CHROMIUM } from "../setup/chromium.ts";

/**
 * The dashboard in a real browser: log in, open a draft, approve it, see it in the sandbox,
 * then walk the overview (saved as docs/overview.png) and the drafts list on a phone; press
 * the Crisp sidebar widget's buttons as Crisp does (signed requests) and save the sandbox's
 * draft note as docs/sandbox-note.png. Both pictures are the README's.
 */

/** `npm run screenshots` writes the README's pictures into docs/; a plain test run keeps them in its temp dir. */
const shot = (name: string) =>
  process.env.SCREENSHOTS === "1" ? new URL(`../../docs/${name}`, import.meta.url).pathname : join(dir, name);

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
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Drafts" }).click();
    await page.getByRole("heading", { name: "Drafts" }).waitFor();
    expect(await page.locator('header a[aria-current="page"]').textContent()).toBe("Drafts");
    await page.getByRole("cell", { name: "Hi! I need to return an item, I got the wrong size." }).waitFor();

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
    await page.getByText("sent as-is").first().waitFor();

    // Two weeks of history, then the overview a support lead opens in the morning.
    await seedHistory(quill);
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(`${quill.url}/admin/?days=30`);
    await page.getByRole("heading", { name: "Outcomes per day" }).waitFor();
    expect(await page.getByTestId("split-as_is").textContent()).toBe("22");
    expect(await page.getByTestId("split-rejected").textContent()).toBe("5");
    await page.getByRole("link", { name: "7 days" }).click();
    await page.waitForURL(/days=7/);
    expect(await page.locator('nav.range a[aria-current="page"]').textContent()).toBe("7 days");
    await page.getByRole("link", { name: "30 days" }).click();
    await page.getByTestId("chart-outcomes").locator("rect").first().waitFor();
    await page.screenshot({ path: shot("overview.png"), fullPage: true });

    // On a phone, wide tables scroll inside themselves: the page is never wider than the screen.
    await page.setViewportSize({ width: 390, height: 800 });
    for (const path of ["/admin/", "/admin/drafts"]) {
      await page.goto(`${quill.url}${path}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    }
  }, 60_000);

  it("the widget's Redraft and Approve buttons act on the note the operator sees", async () => {
    const sandbox = quill.sandbox;
    if (!sandbox) throw new Error("demo mode expected");
    const { sessionId } = sandbox.visitorSays({ text: "Where is my order? It's been two weeks." });
    const notes = () => sandbox.messagesOf(sessionId).filter((m) => m.type === "note");
    await until(() => notes().length === 1, "no draft note");

    const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
    await page.goto(`${quill.url}/sandbox/?session=${sessionId}`);
    await page.getByText("Guidance for you (never sent to the customer)").waitFor();
    await page.screenshot({ path: shot("sandbox-note.png") });
    // Crisp signs each widget request like a plugin hook: [timestamp;body] with the hook secret.
    const press = async (item: string, value?: unknown) => {
      const raw = JSON.stringify({
        origin: { website_id: DEMO_CREDENTIALS.websiteId, session_id: sessionId },
        action: { type: item === WIDGET_ITEMS.status ? "data" : "button" },
        widget: { section_id: WIDGET_SECTION, item_id: item },
        payload: { data: { operator_id: "op-ada", operator_name: "Ada" }, ...(value ? { value } : {}) },
      });
      const timestamp = String(Date.now());
      const response = await page.request.post(`${quill.url}/plugin/widget`, {
        headers: {
          "content-type": "application/json",
          "x-crisp-request-timestamp": timestamp,
          "x-crisp-signature": await signWebhook(DEMO_CREDENTIALS.webhookSecret, timestamp, raw),
        },
        data: raw,
      });
      return { status: response.status(), body: await response.json() };
    };
    expect((await press(WIDGET_ITEMS.status)).body.data.value).toMatch(
      /^Latest draft: waiting for review · confidence 0\.\d+ · cites Missing Item \(Shipping Issue\)/,
    );
    const forged = await page.request.post(`${quill.url}/plugin/widget`, {
      headers: { "content-type": "application/json", "x-crisp-request-timestamp": String(Date.now()) },
      data: "{}",
    });
    expect(forged.status()).toBe(401);

    expect((await press(WIDGET_ITEMS.redraft, { redraft_instructions: "shorter" })).status).toBe(202);
    await until(() => notes().length === 2, "no redraft note");
    // The inbox reloads itself when the conversation changes (a goto here could race that reload).
    await page.getByText("Shortened to the first two sentences of the answer.").waitFor();

    expect((await press(WIDGET_ITEMS.approve)).status).toBe(202);
    await until(
      () => sandbox.messagesOf(sessionId).some((m) => m.type === "text" && m.from === "operator"),
      "the approved reply never reached the customer",
    );
    const sent = sandbox.messagesOf(sessionId).filter((m) => m.type === "text" && m.from === "operator");
    expect(sent.map((m) => m.content)).toEqual([
      // "It's been two weeks": the draft does not ask how long they have waited.
      "I'm sorry your package hasn't arrived. Could you send me your full name or account ID, your username, the email address on your account and the order ID?",
    ]);
    await page.reload();
    await page.locator("li.msg.operator").getByText("I'm sorry your package hasn't arrived.").waitFor();
  }, 60_000);
});

async function until(done: () => boolean, failure: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(failure);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * 14 days of recorded drafts and decisions: a day d (0 = today) has as-is approvals, an edit,
 * and every third day a rejection, by two operators; one sent as-is came from the flow above.
 */
async function seedHistory(q: QuillHandle) {
  const store = q.services.store;
  const websiteId = q.services.websiteId;
  const now = Date.now();
  const kinds = [
    ["approved", null, "Ada"],
    ["edited", 0.82, "Grace"],
    ["sent_edited", 0.35, "Ada"],
    ["ignored", 0.1, "Grace"],
    ["rejected", null, "Ada"],
  ] as const;
  let n = 0;
  for (let d = 13; d >= 0; d--) {
    const plan = [0, 1, ...(d % 2 ? [0] : [2]), ...(d % 3 ? [] : [4]), ...(d % 4 ? [] : [3])];
    for (const k of plan) {
      n++;
      const [kind, similarity, operatorName] = kinds[k] as (typeof kinds)[number];
      const created = now - d * 86_400_000 - 3_600_000;
      const { job } = await store.enqueueJob({
        websiteId,
        sessionId: `history-${n}`,
        fingerprint: 9_000 + n,
        messageAt: created - 3_000 - (n % 5) * 700,
        trigger: "webhook",
        runAfter: created + 86_400_000,
      });
      const draft = await store.insertDraft({
        jobId: job.id,
        websiteId,
        sessionId: `history-${n}`,
        customerFingerprint: 9_000 + n,
        text: "Thanks for reaching out, here is how to track your parcel.",
        mode: "note",
        status: kind === "rejected" ? "rejected" : "sent",
        intent: ["shipping", "returns", "billing"][n % 3] ?? "shipping",
        promptName: "default",
        promptVersion: "0123abcd4567",
        costUsd: 0.0004 + (n % 4) * 0.0001,
        context: {
          transcript: "",
          query: "Where is my parcel?",
          language: "en",
          visitor: { name: "", email: "", segments: [], data: {} },
        },
        postedAt: created,
      });
      await store.updateDraft(draft.id, { createdAt: created });
      await store.insertFeedback({
        draftId: draft.id,
        websiteId,
        sessionId: draft.sessionId,
        kind,
        similarity,
        operatorName,
        delayMs: 20_000 + (n % 7) * 15_000,
      });
    }
  }
}
