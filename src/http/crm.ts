import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { Clock } from "../clock.ts";
import type { CrispClient } from "../crisp/client.ts";
import { CrispError } from "../crisp/errors.ts";
import { safeEqual } from "../crypto.ts";
import type { Logger } from "../log.ts";
import { CRM_SIGNATURE, CRM_TIMESTAMP, signCrm } from "../sync/signature.ts";
import { jsonError } from "./errors.ts";

/**
 * POST /crm/people: the team's CRM updates a visitor's Crisp profile (segments, data).
 * Signed like quill's outbound hooks (hex HMAC-SHA256 of `${timestamp}.${body}` with the
 * secret of the website the body names — its crmSecret, or CRM_WEBHOOK_SECRET for
 * CRISP_WEBSITE_ID — timestamp in ms within the web hook tolerance), so one website's secret
 * never updates another's profiles. Every unauthenticated request gets the same 401 (the
 * reason goes to the log only), so the answer tells no one which websites exist or have a
 * secret. A signature is kept for the window (crm_requests): the same request again answers
 * 409. Crisp failures answer 502 and forget the signature, so the CRM may retry the request.
 */

const scalar = z.union([z.string().max(1_000), z.number(), z.boolean()]);
const segment = z.string().min(1).max(100);
const peopleUpdate = z
  .strictObject({
    website_id: z.string().min(1).optional(),
    people_id: z.string().min(1).optional(),
    email: z.email().optional(),
    add_segments: z.array(segment).max(50).optional(),
    remove_segments: z.array(segment).max(50).optional(),
    data: z.record(z.string().min(1).max(100), scalar).optional(),
  })
  .refine((b) => b.people_id || b.email, "people_id or email is required")
  .refine(
    (b) => b.add_segments || b.remove_segments || b.data,
    "nothing to update (add_segments, remove_segments or data)",
  );

/** No profile has the email the CRM named: a 404 with that reason. */
class NotFound extends Error {}

export interface CrmDeps {
  /** The CRM secret of a website, if it has one. */
  secretFor: (websiteId: string) => Promise<string | undefined>;
  toleranceSeconds: number;
  crisp: CrispClient;
  /** The websites this quill serves; a request for another is refused. */
  serves: (websiteId: string) => Promise<boolean>;
  defaultWebsiteId: string;
  clock: Clock;
  log: Logger;
  /** The store's record of signed requests (claimSignedRequest / releaseSignedRequest). */
  replay: {
    claim: (key: string, websiteId: string, expiresAt: number) => Promise<boolean>;
    release: (key: string) => Promise<void>;
  };
}

/** Finds the profile (by id, or by email) and applies the segment and data changes. */
async function apply(deps: CrmDeps, websiteId: string, body: z.infer<typeof peopleUpdate>) {
  let peopleId = body.people_id;
  if (!peopleId && body.email) {
    const email = body.email.toLowerCase();
    const found = await deps.crisp.people.listProfiles(websiteId, 1, { search_text: email });
    peopleId = found.find((p) => p.email?.toLowerCase() === email)?.people_id;
    if (!peopleId) throw new NotFound(`no Crisp profile with email ${body.email}`);
  }
  const id = peopleId as string;
  const updated: string[] = [];
  if (body.add_segments || body.remove_segments) {
    const profile = await deps.crisp.people.getProfile(websiteId, id);
    const remove = new Set(body.remove_segments ?? []);
    const segments = [...new Set([...(profile.segments ?? []), ...(body.add_segments ?? [])])].filter(
      (s) => !remove.has(s),
    );
    await deps.crisp.people.updateProfile(websiteId, id, { segments });
    updated.push("segments");
  }
  if (body.data) {
    await deps.crisp.people.updateData(websiteId, id, body.data);
    updated.push("data");
  }
  deps.log.info({ websiteId, peopleId: id, updated }, "crm updated a profile");
  return { people_id: id, updated };
}

export function createCrmApp(deps: CrmDeps) {
  const app = new Hono();
  const denied = (c: Context, reason: string, websiteId?: string) => {
    deps.log.warn({ websiteId, reason }, "crm request refused");
    return jsonError(c, 401, "unauthenticated");
  };
  // Unknown websites cost an HMAC too, so timing does not tell them from known ones.
  const noSecret = "quill-no-crm-secret-for-this-website";

  app.post(
    "/people",
    bodyLimit({ maxSize: 64 * 1024, onError: (c) => jsonError(c, 413, "body larger than 64 KiB") }),
    async (c) => {
      const raw = await c.req.text();
      const timestamp = c.req.header(CRM_TIMESTAMP) ?? "";
      const signature = c.req.header(CRM_SIGNATURE) ?? "";
      const at = Number(timestamp);
      if (!/^\d{1,16}$/.test(timestamp)) return denied(c, `missing or invalid ${CRM_TIMESTAMP}`);
      if (Math.abs(deps.clock.now() - at) > deps.toleranceSeconds * 1000)
        return denied(c, "timestamp outside the tolerance");

      // The website picks the secret, so it is read before the signature is checked.
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        json = undefined;
      }
      const named = (json as { website_id?: unknown } | null | undefined)?.website_id;
      const websiteId = typeof named === "string" && named ? named : deps.defaultWebsiteId;
      const secret = (await deps.serves(websiteId)) ? await deps.secretFor(websiteId) : undefined;
      const expected = await signCrm(secret ?? noSecret, timestamp, raw);
      if (!secret) return denied(c, "website not served or without a CRM secret", websiteId);
      if (!safeEqual(signature, expected)) return denied(c, "bad signature", websiteId);

      // Only one signature is valid for a (secret, timestamp, body): seeing it again is a replay.
      const replayKey = `${websiteId}:${signature}`;
      if (!(await deps.replay.claim(replayKey, websiteId, at + deps.toleranceSeconds * 1000))) {
        deps.log.warn({ websiteId }, "crm request replayed");
        return jsonError(c, 409, "replayed request: this signature was used already");
      }

      if (json === undefined) return jsonError(c, 400, "body is not JSON");
      const parsed = peopleUpdate.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return jsonError(c, 400, `${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`);
      }

      try {
        return c.json({ ok: true, ...(await apply(deps, websiteId, parsed.data)) });
      } catch (error) {
        if (error instanceof NotFound) return jsonError(c, 404, error.message);
        if (error instanceof CrispError && error.status === 404)
          return jsonError(c, 404, "no such Crisp profile");
        deps.log.warn({ websiteId, err: String(error) }, "crm profile update failed");
        // Nothing was applied: the CRM's retry of this very request must not be a "replay".
        await deps.replay.release(replayKey).catch(() => undefined);
        return jsonError(c, 502, `Crisp: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
  );
  return app;
}
