import { deleteWebsiteBody, newWebsiteBody } from "../../crisp/schemas.ts";
import { DEMO_CREDENTIALS } from "../context.ts";
import {
  fail,
  InvalidData,
  type Json,
  ok,
  parseBody,
  type RestRoutes,
  readJson,
  websiteOf,
} from "./shared.ts";

/** Websites, their settings and operators, and the demo plugin's subscription on each. */
export const websiteRoutes: RestRoutes = (api, ctx) => {
  const { state } = ctx;
  const websitePublic = (id: string) => {
    const w = state.websites.get(id);
    return w ? { website_id: w.website_id, name: w.name, domain: w.domain, logo: w.logo } : undefined;
  };

  api.post("/website", async (c) => {
    const body = await parseBody(c, newWebsiteBody);
    const created = state.addWebsite({ name: body.name, domain: body.domain });
    return ok(c, websitePublic(created.website_id));
  });

  api.get("/website/:website", (c) => ok(c, websitePublic(c.req.param("website"))));

  // The plugin's own routes: every sandbox website has the demo plugin installed.
  api.get("/plugin/connect/account", (c) => ok(c, { plugin_id: DEMO_CREDENTIALS.pluginId }));
  api.get("/plugins/subscription/:website/:plugin/settings", (c) => {
    const site = state.websites.get(c.req.param("website"));
    if (!site || c.req.param("plugin") !== DEMO_CREDENTIALS.pluginId)
      return fail(c, 404, "subscription_not_found");
    return ok(c, {
      plugin_id: DEMO_CREDENTIALS.pluginId,
      website_id: site.website_id,
      token: site.plugin_token,
      schema: {},
      settings: {},
    });
  });
  api.delete("/website/:website", async (c) => {
    await parseBody(c, deleteWebsiteBody);
    const id = c.req.param("website");
    state.websites.delete(id);
    for (const [sessionId, conversation] of state.conversations) {
      if (conversation.website_id === id) state.conversations.delete(sessionId);
    }
    return ok(c, {}, "deleted");
  });
  api.get("/website/:website/settings", (c) => ok(c, websiteOf(ctx, c)?.settings ?? {}));
  api.patch("/website/:website/settings", async (c) => {
    const body = await readJson(c);
    if (!body) throw new InvalidData("the body is not a JSON object", []);
    const site = websiteOf(ctx, c);
    if (site) {
      // One level deep, as Crisp merges a settings section rather than replacing it.
      for (const [k, v] of Object.entries(body)) {
        const current = site.settings[k];
        site.settings[k] =
          current && typeof current === "object" && v && typeof v === "object"
            ? { ...(current as Json), ...(v as Json) }
            : v;
      }
      state.touch();
    }
    return ok(c, {}, "updated");
  });
  api.get("/website/:website/operators/list", (c) => ok(c, websiteOf(ctx, c)?.operators ?? []));
};
