import { Hono } from "hono";
import { WEBSITE_FORM_KEYS, type WebsiteDirectory, WebsiteSettingsError } from "../../../websites.ts";
import { formField, settingsFromForm } from "../../settings-form.ts";
import { choices, Field, NoticeList, Select, Table } from "../components.tsx";
import type { AdminContext, AdminEnv } from "../context.ts";
import { BASE, Layout } from "../layout.tsx";

/** Plugin mode: per-website settings. Only ADMIN_TOKEN sessions may see or change them. */

const ADMIN_ONLY = "Only the ADMIN_TOKEN may manage websites.";

type Rows = Awaited<ReturnType<WebsiteDirectory["list"]>>;
type Values = Record<string, unknown>;

function WebsitesTable(props: { rows: Rows }) {
  const head = [
    "Website",
    "Name",
    "Enabled",
    "Prompt",
    "Provider",
    "Shadow",
    "Mode",
    "Rules",
    "CRM",
    "Dashboard token",
  ];
  return (
    <Table head={head}>
      {props.rows.map((r) => {
        const w = r.settings as Values;
        return (
          <tr>
            <td>
              <a href={`${BASE}/websites?id=${encodeURIComponent(r.websiteId)}`}>{r.websiteId}</a>
            </td>
            <td>{String(w.name ?? "—")}</td>
            <td>{w.enabled === false ? "no" : "yes"}</td>
            <td>{String(w.prompt ?? "default")}</td>
            <td>{String(w.provider ?? "default")}</td>
            <td>
              {w.shadowPrompt || w.shadowProvider
                ? [w.shadowPrompt, w.shadowProvider].filter(Boolean).join(" / ")
                : "—"}
            </td>
            <td>{String(w.replyMode ?? "default")}</td>
            <td>{w.rules ? "own" : "default"}</td>
            <td>{w.crmUrl ? "own hook" : w.crmSecret ? "inbound only" : "—"}</td>
            <td>{w.adminTokenMac || w.adminTokenHash ? "set" : "—"}</td>
          </tr>
        );
      })}
    </Table>
  );
}

/** The drafting fields: what the website drafts with and when a draft may go out alone. */
function SettingsFields(props: { current: Values; known: WebsiteDirectory["known"] }) {
  const { current } = props;
  const text = (key: string) =>
    Array.isArray(current[key]) ? (current[key] as string[]).join(", ") : String(current[key] ?? "");
  return (
    <>
      <Field label="Name" name="name" value={text("name")} />
      <Select
        label="Enabled"
        name="enabled"
        options={[
          ["true", "yes"],
          ["false", "no"],
        ]}
        selected={(v) => (v === "false") === (current.enabled === false)}
      />
      <Select
        label="Prompt"
        name="prompt"
        empty="default"
        options={choices(props.known.prompts)}
        value={current.prompt}
      />
      <Select
        label="Provider"
        name="provider"
        empty="default"
        options={choices(props.known.providers)}
        value={current.provider}
      />
      <Select
        label="Shadow prompt (drafted and recorded, never posted)"
        name="shadowPrompt"
        empty="none"
        options={choices(props.known.prompts)}
        value={current.shadowPrompt}
      />
      <Select
        label="Shadow provider"
        name="shadowProvider"
        empty="none"
        options={choices(props.known.providers)}
        value={current.shadowProvider}
      />
      <Select
        label="Reply mode"
        name="replyMode"
        empty="default"
        options={choices(["note", "auto"])}
        value={current.replyMode}
      />
      <Field
        label="Auto-send intents (comma-separated)"
        name="autoSendIntents"
        value={text("autoSendIntents")}
      />
      <Field
        label="Auto-send minimum confidence"
        name="autoSendMinConfidence"
        inputmode="decimal"
        value={text("autoSendMinConfidence")}
      />
      <Field label="Link allowlist (comma-separated)" name="linkAllowlist" value={text("linkAllowlist")} />
      <Field label="Knowledge base folder (Node)" name="kbDir" value={text("kbDir")} />
      <label>
        Triage rules (YAML or JSON)
        <textarea name="rules" rows={8} cols={80}>
          {text("rules")}
        </textarea>
      </label>
      <Field
        label="CRM hook URL (outcome summaries of this website)"
        name="crmUrl"
        type="url"
        value={text("crmUrl")}
      />
    </>
  );
}

/** Write-only fields: a secret or token is never shown again, and an empty one keeps the stored one. */
function SecretFields() {
  return (
    <>
      <label>
        New CRM secret (signs the hook, verifies POST /crm/people; leave empty to keep)
        <input type="password" name="crmSecret" autocomplete="new-password" />
      </label>
      <label>
        New Hugo MCP secret (Crisp AI agent → External MCP servers, mcp_sec_…; lets Hugo call /mcp for this
        website; leave empty to keep)
        <input type="password" name="hugoMcpSecret" autocomplete="new-password" />
      </label>
      <label>
        New dashboard token for this website (16+ characters, `quill token` prints one; stored as an HMAC;
        leave empty to keep)
        <input type="password" name="adminToken" autocomplete="new-password" />
      </label>
    </>
  );
}

export function createWebsitesApp(deps: { websites: WebsiteDirectory }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const page = async (c: AdminContext, errors: string[] = [], submitted?: { id: string; values: Values }) => {
    if (c.get("scope") !== "*") return c.text(ADMIN_ONLY, 403);
    const rows = await deps.websites.list();
    // After a refused save, the form shows what was typed, not what is stored.
    const edit = submitted?.id ?? c.req.query("id") ?? "";
    const current = submitted?.values ?? ((rows.find((r) => r.websiteId === edit)?.settings ?? {}) as Values);
    return c.html(
      <Layout title="Websites" current="websites" csrf={c.get("csrf")}>
        <h1>Websites</h1>
        <p>{`quill serves ${deps.websites.primaryWebsiteId || "no website"} (CRISP_WEBSITE_ID) and every enabled website below. A website's settings override the defaults from the environment.`}</p>
        {errors.length ? <NoticeList ok={false} lines={errors} /> : null}
        <WebsitesTable rows={rows} />
        <h2>{edit ? `Edit ${edit}` : "Add a website"}</h2>
        <form method="post" action={`${BASE}/websites`} class="settings">
          <input type="hidden" name="_csrf" value={c.get("csrf")} />
          <label>
            Website id
            <input name="websiteId" required value={edit} />
          </label>
          <SettingsFields current={current} known={deps.websites.known} />
          <SecretFields />
          <p>
            <button type="submit">Save</button>
          </p>
        </form>
      </Layout>,
      errors.length ? 400 : 200,
    );
  };

  app.get("/websites", (c) => page(c));
  app.post("/websites", async (c) => {
    if (c.get("scope") !== "*") return c.text(ADMIN_ONLY, 403);
    const body = await c.req.parseBody();
    const field = formField(body);
    const id = field("websiteId");
    if (!/^[A-Za-z0-9-]{1,100}$/.test(id)) return page(c, ["websiteId: expected a Crisp website id"]);
    const token = field("adminToken");
    const crmSecret = field("crmSecret");
    const hugoMcpSecret = field("hugoMcpSecret");
    const values: Values = settingsFromForm(body, WEBSITE_FORM_KEYS);
    try {
      await deps.websites.update(id, {
        ...values,
        ...(crmSecret ? { crmSecret } : {}),
        ...(hugoMcpSecret ? { hugoMcpSecret } : {}),
        ...(token ? { adminToken: token } : {}),
      });
    } catch (error) {
      if (error instanceof WebsiteSettingsError) return page(c, error.problems, { id, values });
      throw error;
    }
    return c.redirect(`${BASE}/websites?id=${encodeURIComponent(id)}`, 303);
  });
  return app;
}
