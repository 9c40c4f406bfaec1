import { z } from "zod";
import { anyObject, operatorSchema, websiteSchema } from "../schemas.ts";
import type { CallOptions, Transport } from "../transport.ts";

/** `website/*`: create, read, delete a website, its settings and its operators. */
export function websitesResource({ request, get, write }: Transport) {
  return {
    create: (data: { name: string; domain: string }, call?: CallOptions) =>
      request({
        method: "POST",
        path: ["website"],
        body: data,
        schema: websiteSchema,
        website: "global",
        idempotent: false,
        call,
      }).then((r) => r.data),
    get: (websiteId: string, call?: CallOptions) =>
      get(websiteId, ["website", websiteId], websiteSchema, call),
    delete: (
      websiteId: string,
      verify: { method: "password" | "token" | "google"; secret: string },
      call?: CallOptions,
    ) => write("DELETE", websiteId, ["website", websiteId], { verify }, call),
    getSettings: (websiteId: string, call?: CallOptions) =>
      get(websiteId, ["website", websiteId, "settings"], anyObject, call),
    updateSettings: (websiteId: string, settings: Record<string, unknown>, call?: CallOptions) =>
      write("PATCH", websiteId, ["website", websiteId, "settings"], settings, call),
    listOperators: (websiteId: string, call?: CallOptions) =>
      get(websiteId, ["website", websiteId, "operators", "list"], z.array(operatorSchema), call),
  };
}
