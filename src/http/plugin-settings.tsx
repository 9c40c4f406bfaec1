import { type Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Child } from "hono/jsx";
import type { Clock } from "../clock.ts";
import type { CrispClient } from "../crisp/client.ts";
import { CrispError } from "../crisp/errors.ts";
import { hmac, randomToken, safeEqual } from "../crypto.ts";
import type { Logger } from "../log.ts";
import {
  WEBSITE_TEAM_KEYS,
  type WebsiteDirectory,
  type WebsiteSettings,
  WebsiteSettingsError,
} from "../websites.ts";
import { choices, ErrorNotice, Field, NoticeList, Select } from "./admin/components.tsx";
import { Document } from "./admin/layout.tsx";
import { pageHeaders, secureRequest } from "./headers.ts";
import { formField, settingsFromForm } from "./settings-form.ts";

/**
 * GET/POST /plugin/settings: the Marketplace "Settings URL" of the quill plugin. Crisp opens
 * it with `?website_id=…&token=…`; nothing is shown or saved until `token` equals that
 * website's plugin subscription token, read from Crisp (plugins/subscription/…/settings).
 * The form carries the token and a CSRF value (an HMAC under the server secret of a random
 * cookie), and offers only the settings a website's own team should choose.
 */

const PATH = "/plugin/settings";
const CSRF_COOKIE = "quill_plugin_csrf";
const WEBSITE_ID = /^[A-Za-z0-9-]{1,100}$/;

/** Subscription tokens by website, read from Crisp at most once a minute per website. */
export function createSubscriptionTokens(deps: { crisp: CrispClient; clock: Clock; ttlMs?: number }) {
  const ttlMs = deps.ttlMs ?? 60_000;
  let pluginId: Promise<string> | undefined;
  const cache = new Map<string, { at: number; token: string | undefined }>();
  return async (websiteId: string): Promise<string | undefined> => {
    const hit = cache.get(websiteId);
    if (hit && deps.clock.now() - hit.at < ttlMs) return hit.token;
    pluginId ??= deps.crisp.plugin.account().then(
      (a) => a.plugin_id,
      (error: unknown) => {
        pluginId = undefined;
        throw error;
      },
    );
    let token: string | undefined;
    try {
      token = (await deps.crisp.plugin.subscriptionSettings(websiteId, await pluginId)).token;
    } catch (error) {
      // Not subscribed (or no such website): no token, and the link is refused.
      if (!(error instanceof CrispError && (error.status === 404 || error.status === 403))) throw error;
    }
    if (cache.size > 1_000) cache.clear();
    cache.set(websiteId, { at: deps.clock.now(), token: token || undefined });
    return token || undefined;
  };
}

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7fb; }
main { max-width: 40rem; margin: 2rem auto; padding: 1rem 1.5rem; background: white; border-radius: .5rem; }
label { display: flex; flex-direction: column; gap: .2rem; margin: .8rem 0; font-size: .9rem; }
input, select, button { font: inherit; padding: .35rem .5rem; }
button { border: 1px solid #1558d6; background: #1558d6; color: white; border-radius: .3rem; cursor: pointer; }
.flash { background: #e7f6ec; border: 1px solid #9fd8b0; padding: .5rem .75rem; border-radius: .3rem; }
.error { background: #fdecea; border-color: #f1a9a0; }
small { color: #5b6475; }
`;

export interface PluginSettingsDeps {
  /** Only a Crisp plugin has a Settings URL; off, the page is refused. */
  enabled: boolean;
  websites: WebsiteDirectory;
  subscriptionToken: (websiteId: string) => Promise<string | undefined>;
  /** The server secret the CSRF values are HMACs under. */
  secret: () => Promise<string>;
  log: Logger;
}

type Status = 200 | 400 | 403 | 404 | 502;

function Frame(props: { title: string; children: Child }) {
  return (
    <Document title={props.title} style={STYLE}>
      <main>{props.children}</main>
    </Document>
  );
}

const refused = (c: Context, status: Exclude<Status, 200>, reason: string) =>
  c.html(
    <Frame title="quill settings">
      <h1>quill settings</h1>
      <ErrorNotice error={reason} />
    </Frame>,
    status,
  );

/** The website when `token` is its subscription token; otherwise the page that says why not. */
async function authorise(deps: PluginSettingsDeps, c: Context, websiteId: string, token: string) {
  if (!deps.enabled) return refused(c, 404, "Plugin settings need CRISP_TIER=plugin.");
  if (!websiteId || !token)
    return refused(c, 400, "Open this page from Crisp: the link needs website_id and token.");
  if (!WEBSITE_ID.test(websiteId)) return refused(c, 400, "website_id is not a Crisp website id.");
  let expected: string | undefined;
  try {
    expected = await deps.subscriptionToken(websiteId);
  } catch (error) {
    deps.log.warn({ websiteId, err: String(error) }, "plugin subscription token unavailable");
    return refused(c, 502, "Crisp did not answer; try again in a moment.");
  }
  if (!expected || !safeEqual(token, expected)) {
    deps.log.warn({ websiteId }, "plugin settings refused: token does not match the subscription");
    return refused(c, 403, "This link is not valid for this website. Open the settings again from Crisp.");
  }
  return undefined;
}

type Notice = { ok: boolean; lines: string[] };

const ENABLED: Array<[string, string]> = [
  ["true", "on: draft replies"],
  ["false", "off: ignore this website"],
];
const REPLY_MODES: Array<[string, string]> = [
  ["note", "note: every draft is a private note for an operator"],
  ["auto", "auto: send a draft when every auto-send rule holds"],
];

function SettingsForm(props: {
  websiteId: string;
  token: string;
  csrf: string;
  values: Partial<WebsiteSettings>;
  prompts: readonly string[];
  notice: Notice | undefined;
}) {
  const { values, notice } = props;
  const list = (v: string[] | undefined) => (v ?? []).join(", ");
  return (
    <>
      <h1>quill settings</h1>
      <p>
        Website <code>{props.websiteId}</code>. Empty fields use the defaults of this quill server.
      </p>
      {notice ? <NoticeList ok={notice.ok} lines={notice.lines} /> : null}
      <form method="post" action={PATH}>
        <input type="hidden" name="website_id" value={props.websiteId} />
        <input type="hidden" name="token" value={props.token} />
        <input type="hidden" name="_csrf" value={props.csrf} />
        <Select
          label="quill in this website"
          name="enabled"
          options={ENABLED}
          selected={(v) => (v === "false") === (values.enabled === false)}
        />
        <Field
          label="Company name (used in the prompt)"
          name="name"
          maxlength={200}
          value={values.name ?? ""}
        />
        <Select
          label="Reply mode"
          name="replyMode"
          empty="server default"
          options={REPLY_MODES}
          selected={(v) => values.replyMode === v}
        />
        <Field
          label="Intents that may be sent automatically (comma-separated)"
          name="autoSendIntents"
          value={list(values.autoSendIntents)}
        />
        <Field
          label="Minimum confidence to send automatically (0–1)"
          name="autoSendMinConfidence"
          inputmode="decimal"
          value={values.autoSendMinConfidence?.toString() ?? ""}
        />
        <Field
          label="Domains a reply may link to (comma-separated)"
          name="linkAllowlist"
          value={list(values.linkAllowlist)}
        />
        <Select
          label="Prompt"
          name="prompt"
          empty="server default"
          options={choices(props.prompts)}
          selected={(v) => values.prompt === v}
        />
        <p>
          <button type="submit">Save</button>
        </p>
        <p>
          <small>
            Other settings (provider, rules, CRM, dashboard token) are set by the quill server's admin.
          </small>
        </p>
      </form>
    </>
  );
}

export function createPluginSettingsApp(deps: PluginSettingsDeps) {
  const app = new Hono();
  app.use("/settings", pageHeaders());
  app.use("/settings", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });

  const csrfFor = async (websiteId: string, nonce: string) =>
    hmac(await deps.secret(), `plugin-settings:${websiteId}:${nonce}`);

  const form = async (
    c: Context,
    websiteId: string,
    token: string,
    values: Partial<WebsiteSettings>,
    notice?: Notice,
  ) => {
    const nonce = randomToken(16);
    setCookie(c, CSRF_COOKIE, nonce, {
      httpOnly: true,
      sameSite: "Strict",
      secure: secureRequest(c.req.url),
      path: PATH,
      maxAge: 3600,
    });
    const csrf = await csrfFor(websiteId, nonce);
    const { prompts } = deps.websites.known;
    return c.html(
      <Frame title="quill settings">
        <SettingsForm {...{ websiteId, token, csrf, values, prompts, notice }} />
      </Frame>,
      notice && !notice.ok ? 400 : 200,
    );
  };

  app.get("/settings", async (c) => {
    const websiteId = c.req.query("website_id")?.trim() ?? "";
    const token = c.req.query("token")?.trim() ?? "";
    const refusal = await authorise(deps, c, websiteId, token);
    if (refusal) return refusal;
    return form(c, websiteId, token, (await deps.websites.get(websiteId)) ?? {});
  });

  app.post("/settings", async (c) => {
    const body = await c.req.parseBody();
    const field = formField(body);
    const websiteId = field("website_id");
    const token = field("token");
    const refusal = await authorise(deps, c, websiteId, token);
    if (refusal) return refusal;
    const nonce = getCookie(c, CSRF_COOKIE) ?? "";
    if (!nonce || !safeEqual(field("_csrf"), await csrfFor(websiteId, nonce)))
      return refused(
        c,
        403,
        "The form expired or came from another site. Open the settings again from Crisp.",
      );
    const patch = settingsFromForm(body, WEBSITE_TEAM_KEYS);
    try {
      const saved = await deps.websites.update(websiteId, patch);
      deps.log.info({ websiteId }, "plugin settings saved from Crisp");
      return form(c, websiteId, token, saved, { ok: true, lines: ["Saved."] });
    } catch (error) {
      if (!(error instanceof WebsiteSettingsError)) throw error;
      return form(c, websiteId, token, patch as Partial<WebsiteSettings>, {
        ok: false,
        lines: error.problems,
      });
    }
  });
  return app;
}
