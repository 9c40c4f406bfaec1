import type { Context } from "hono";
import {
  newPeopleEventBody,
  newPeopleProfileBody,
  peopleProfileBody,
  writePeopleDataBody,
} from "../../crisp/schemas.ts";
import type { SandboxContext } from "../context.ts";
import { fail, InvalidData, ok, parseBody, type RestRoutes } from "./shared.ts";

const profileOf = ({ state }: SandboxContext, c: Context) => {
  const profile = state.people.get(c.req.param("people") ?? "");
  return profile && profile.website_id === c.req.param("website") ? profile : undefined;
};

/** People profiles within one website (a profile of another website is not found). */
export const peopleRoutes: RestRoutes = (api, ctx) => {
  const { state } = ctx;
  const known = async (c: Context, next: () => Promise<void>) => {
    if (c.req.param("kind") !== "profiles" && !profileOf(ctx, c)) return fail(c, 404, "people_not_found");
    return next();
  };
  api.use("/website/:website/people/:kind/:people/*", known);
  api.use("/website/:website/people/:kind/:people", known);

  api.get("/website/:website/people/profiles/:page", (c) => {
    const page = Number(c.req.param("page"));
    if (!Number.isInteger(page) || page < 1)
      throw new InvalidData("page: must be an integer from 1", ["page"]);
    const text = (c.req.query("search_text") ?? "").toLowerCase();
    const list = [...state.people.values()]
      .filter((p) => p.website_id === c.req.param("website"))
      .filter(
        (p) =>
          !text ||
          p.email.toLowerCase().includes(text) ||
          String(p.person.nickname ?? "")
            .toLowerCase()
            .includes(text),
      )
      .sort((a, b) => b.updated_at - a.updated_at);
    return ok(c, list.slice((page - 1) * 20, page * 20));
  });
  api.post("/website/:website/people/profile", async (c) => {
    const body = await parseBody(c, newPeopleProfileBody);
    const websiteId = c.req.param("website");
    if ([...state.people.values()].some((p) => p.website_id === websiteId && p.email === body.email)) {
      return fail(c, 409, "people_exists");
    }
    const now = state.stamp();
    const peopleId = crypto.randomUUID();
    state.people.set(peopleId, {
      ...body,
      people_id: peopleId,
      website_id: websiteId,
      active: { now: false, last: now },
      created_at: now,
      updated_at: now,
    });
    return ok(c, { people_id: peopleId }, "added", 201);
  });
  api.get("/website/:website/people/profile/:people", (c) => ok(c, profileOf(ctx, c)));
  api.patch("/website/:website/people/profile/:people", async (c) => {
    const body = await parseBody(c, peopleProfileBody);
    const profile = profileOf(ctx, c);
    if (profile) {
      const { person, ...rest } = body;
      Object.assign(profile, rest);
      if (person) profile.person = { ...profile.person, ...person };
      profile.updated_at = state.stamp();
    }
    return ok(c, {}, "updated");
  });
};

/** What a profile gathers over time: events (newest first) and custom data. */
export const peopleActivityRoutes: RestRoutes = (api, { state }) => {
  api.post("/website/:website/people/events/:people", async (c) => {
    const body = await parseBody(c, newPeopleEventBody);
    const peopleId = c.req.param("people");
    const events = state.peopleEvents.get(peopleId) ?? [];
    events.unshift({
      text: body.text,
      ...(body.data ? { data: body.data } : {}),
      ...(body.color !== undefined ? { color: body.color } : {}),
      timestamp: state.stamp(),
    });
    state.peopleEvents.set(peopleId, events);
    return ok(c, {}, "added");
  });
  api.get("/website/:website/people/events/:people/list/:page", (c) => {
    const page = Math.max(1, Number(c.req.param("page")) || 1);
    const events = state.peopleEvents.get(c.req.param("people")) ?? [];
    return ok(c, events.slice((page - 1) * 20, page * 20));
  });

  api.get("/website/:website/people/data/:people", (c) =>
    ok(c, { data: state.peopleData.get(c.req.param("people")) ?? {} }),
  );
  const writeData = (replace: boolean) => async (c: Context) => {
    const body = await parseBody(c, writePeopleDataBody);
    const peopleId = c.req.param("people") ?? "";
    state.peopleData.set(
      peopleId,
      replace ? { ...body.data } : { ...state.peopleData.get(peopleId), ...body.data },
    );
    state.touch();
    return ok(c, {}, "updated");
  };
  api.patch("/website/:website/people/data/:people", writeData(false));
  api.put("/website/:website/people/data/:people", writeData(true));
};
