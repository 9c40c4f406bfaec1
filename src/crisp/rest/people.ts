import { z } from "zod";
import { peopleDataSchema, peopleEventSchema, peopleIdSchema, peopleProfileSchema } from "../schemas.ts";
import type { CallOptions, Transport } from "../transport.ts";

/** The search of `GET website/{id}/people/profiles/{page}`, named as Crisp names it. */
export type PeopleSearch = {
  sort_field?: string;
  sort_order?: "ascending" | "descending";
  search_operator?: "and" | "or";
  search_filter?: string;
  search_text?: string;
};

/** `website/{id}/people/*`: profiles, events and custom data. */
export function peopleResource({ request, get, write }: Transport) {
  return {
    listProfiles: (websiteId: string, page = 1, search: PeopleSearch = {}, call?: CallOptions) =>
      get(
        websiteId,
        ["website", websiteId, "people", "profiles", page],
        z.array(peopleProfileSchema),
        call,
        search,
      ),
    getProfile: (websiteId: string, peopleId: string, call?: CallOptions) =>
      get(websiteId, ["website", websiteId, "people", "profile", peopleId], peopleProfileSchema, call),
    createProfile: (
      websiteId: string,
      profile: { email: string; person: { nickname: string } & Record<string, unknown> } & Record<
        string,
        unknown
      >,
      call?: CallOptions,
    ) =>
      request({
        method: "POST",
        path: ["website", websiteId, "people", "profile"],
        body: profile,
        schema: peopleIdSchema,
        website: websiteId,
        idempotent: false,
        call,
      }).then((r) => r.data),
    updateProfile: (
      websiteId: string,
      peopleId: string,
      profile: Record<string, unknown>,
      call?: CallOptions,
    ) => write("PATCH", websiteId, ["website", websiteId, "people", "profile", peopleId], profile, call),
    addEvent: (
      websiteId: string,
      peopleId: string,
      event: { text: string; data?: Record<string, unknown>; color?: string },
      call?: CallOptions,
    ) => write("POST", websiteId, ["website", websiteId, "people", "events", peopleId], event, call),
    listEvents: (websiteId: string, peopleId: string, page = 1, call?: CallOptions) =>
      get(
        websiteId,
        ["website", websiteId, "people", "events", peopleId, "list", page],
        z.array(peopleEventSchema),
        call,
      ),
    getData: (websiteId: string, peopleId: string, call?: CallOptions) =>
      get(websiteId, ["website", websiteId, "people", "data", peopleId], peopleDataSchema, call).then(
        (d) => d.data,
      ),
    /** PATCH merges keys into the profile data; `replace` PUTs the whole object. */
    updateData: (
      websiteId: string,
      peopleId: string,
      data: Record<string, string | number | boolean>,
      opts: { replace?: boolean } = {},
      call?: CallOptions,
    ) =>
      write(
        opts.replace ? "PUT" : "PATCH",
        websiteId,
        ["website", websiteId, "people", "data", peopleId],
        { data },
        call,
      ),
  };
}
