import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { Clock } from "../clock.ts";
import { jsonDeeperThan, MAX_WEBHOOK_DEPTH, verifyWebhook } from "../crisp/webhook.ts";
import { type Command, type CommandJobPayload, commandProblem } from "../drafting/commands.ts";
import { translateButton } from "../drafting/rewrite.ts";
import type { Logger } from "../log.ts";
import type { Draft } from "../store/store.ts";
import { jsonError } from "./errors.ts";

/**
 * POST /plugin/widget: the Marketplace "Action URL" of quill's Generic widget in the Crisp
 * operator sidebar (docs/crisp-widget.json). Crisp signs each request like a plugin hook
 * (hex HMAC-SHA256 of `[X-Crisp-Request-Timestamp;body]` with the plugin's signing secret,
 * CRISP_WEBHOOK_SECRET) and names the conversation in `origin`; the buttons enqueue the same
 * command job as the /approve, /redraft and /reject notes, on that conversation's latest
 * draft only, and the data item shows that draft's status.
 */

export const WIDGET_SECTION = "quill";
/** Every item of docs/crisp-widget.json, by what quill does with it. */
export const WIDGET_ITEMS = {
  status: "draft_status",
  approve: "approve",
  redraftInstructions: "redraft_instructions",
  redraft: "redraft",
  rejectReason: "reject_reason",
  reject: "reject",
  translate: "translate",
} as const;

const BUTTONS: Record<string, Button> = {
  [WIDGET_ITEMS.approve]: { name: "approve" },
  [WIDGET_ITEMS.translate]: { name: "translate" },
  [WIDGET_ITEMS.redraft]: { name: "redraft", field: WIDGET_ITEMS.redraftInstructions },
  [WIDGET_ITEMS.reject]: { name: "reject", field: WIDGET_ITEMS.rejectReason },
};
const FIELDS = new Set<string>([WIDGET_ITEMS.redraftInstructions, WIDGET_ITEMS.rejectReason]);
const MAX_WIDGET_BYTES = 64 * 1024;
const MAX_ARG = 2_000;

const widgetRequest = z.looseObject({
  origin: z.looseObject({
    website_id: z.string().min(1).max(100),
    session_id: z.string().min(1).max(200),
  }),
  action: z.looseObject({ type: z.enum(["button", "data"]) }),
  widget: z.looseObject({ section_id: z.string().max(100), item_id: z.string().max(100) }),
  payload: z
    .looseObject({
      data: z.record(z.string(), z.unknown()).nullish(),
      value: z.unknown().optional(),
    })
    .nullish(),
});

/** One line for the sidebar: what happened to the latest draft, how sure it was, what it cites. */
export function describeDraft(draft: Draft | undefined): string {
  if (!draft) return "No quill draft in this conversation yet.";
  const status =
    draft.mode === "reply" || draft.status === "sent"
      ? "sent to the customer"
      : ((
          {
            posted: "waiting for review",
            approved: "being sent",
            rejected: "rejected",
            failed: "failed (redraft to try again)",
            superseded: "superseded (the customer wrote again)",
          } as Record<string, string>
        )[draft.status] ?? draft.status);
  const parts = [`Latest draft: ${status}`];
  if (draft.confidence !== null) parts.push(`confidence ${draft.confidence.toFixed(2)}`);
  const cited = draft.citations.map((c) => c.title).filter(Boolean);
  parts.push(cited.length ? `cites ${cited.join(", ")}` : "no article cited");
  if (draft.needsHuman) parts.push("needs a human");
  if (draft.flags.length) parts.push(`${draft.flags.length} flag${draft.flags.length > 1 ? "s" : ""}`);
  return parts.join(" · ");
}

/** A binding Crisp left unresolved (`{operator.user_id}`) or an empty value credits nobody. */
const bound = (value: unknown) =>
  typeof value === "string" && value.trim() && !/^\{.*\}$/.test(value.trim())
    ? value.trim().slice(0, 200)
    : undefined;

export interface WidgetDeps {
  /** Only a Crisp plugin has widgets; off, every widget request is refused. */
  enabled: boolean;
  /** The plugin's signing secret (CRISP_WEBHOOK_SECRET) and the replay window. */
  secret: string;
  toleranceSeconds: number;
  serves: (websiteId: string) => Promise<boolean>;
  latestDraft: (websiteId: string, sessionId: string) => Promise<Draft | undefined>;
  /** OPERATOR_LANGUAGE: what the Translate button translates the draft into (English when unset). */
  operatorLanguage?: string | undefined;
  /** The note commands' job (intake.enqueueCommand with trigger "widget"). */
  enqueueCommand: (input: {
    websiteId: string;
    sessionId: string;
    sourceFingerprint: number;
    at: number;
    payload: CommandJobPayload;
  }) => Promise<{ job: { id: string }; created: boolean }>;
  /** Signatures seen within the window (the store's signed-request record): a replay answers 409. */
  replay: {
    claim: (key: string, websiteId: string, expiresAt: number) => Promise<boolean>;
    release: (key: string) => Promise<void>;
  };
  clock: Clock;
  log: Logger;
}

type WidgetRequest = z.infer<typeof widgetRequest>;
type Button = { name: "approve" | "redraft" | "reject" | "translate"; field?: string };
type Refusal = { ok: false; status: 400 | 401 | 403 | 404 | 409 | 413; reason: string };
const refuse = (status: Refusal["status"], reason: string): Refusal => ({ ok: false, status, reason });

/** A signed, well-formed request for a known item of a website quill serves, or why not. */
async function readRequest(
  deps: WidgetDeps,
  c: Context,
  raw: string,
): Promise<{ ok: true; request: WidgetRequest } | Refusal> {
  // Widget requests are always signed: a `?key=` never stands in for the signature.
  const verified = await verifyWebhook({
    rawBody: raw,
    header: (name) => c.req.header(name),
    urlKey: undefined,
    allowUrlKey: false,
    secret: deps.secret,
    toleranceSeconds: deps.toleranceSeconds,
    now: deps.clock.now(),
  });
  if (!verified.ok) {
    deps.log.warn({ reason: verified.reason }, "widget request refused");
    return refuse(verified.status, verified.reason);
  }
  if (jsonDeeperThan(raw, MAX_WEBHOOK_DEPTH)) return refuse(400, "body nests too deeply");
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return refuse(400, "body is not valid JSON");
  }
  const parsed = widgetRequest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse(400, `${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`);
  }
  const { origin, widget } = parsed.data;
  const item = widget.item_id;
  if (widget.section_id !== WIDGET_SECTION || !Object.values(WIDGET_ITEMS).includes(item as never))
    return refuse(404, `unknown widget item ${widget.section_id}/${item} (see docs/crisp-widget.json)`);
  if (!(await deps.serves(origin.website_id))) {
    deps.log.warn({ websiteId: origin.website_id }, "widget request for a website quill does not serve");
    return refuse(403, "quill does not serve this website");
  }
  return { ok: true, request: parsed.data };
}

/** What the operator typed for a button that takes text ("" for one that takes none), or why not. */
function typedArg(button: Button, payload: WidgetRequest["payload"]): string | Refusal {
  const values = payload?.value;
  const typed =
    button.field === undefined
      ? ""
      : typeof values === "string"
        ? values
        : values && typeof values === "object"
          ? (values as Record<string, unknown>)[button.field]
          : undefined;
  if (typed !== undefined && typeof typed !== "string")
    return refuse(400, `payload.value.${button.field}: expected text`);
  const arg = (typed ?? "").trim();
  if (arg.length > MAX_ARG) return refuse(400, `${button.field} is longer than ${MAX_ARG} characters`);
  return arg;
}

/** A button press: the command job on the conversation's latest draft, once per signature. */
async function press(deps: WidgetDeps, c: Context, request: WidgetRequest, button: Button) {
  const websiteId = request.origin.website_id;
  const sessionId = request.origin.session_id;
  const arg = typedArg(button, request.payload);
  if (typeof arg !== "string") return jsonError(c, arg.status, arg.reason);
  // Translate is `/translate <OPERATOR_LANGUAGE or en>`: a redraft in that language.
  const command: Command =
    button.name === "translate" ? translateButton(deps.operatorLanguage) : { name: button.name, arg };
  // Only this website's own conversation: a session of another website has no draft here.
  const draft = await deps.latestDraft(websiteId, sessionId);
  const problem = commandProblem(command, draft, undefined);
  if (problem) {
    const status = arg === "" && button.field ? 400 : !draft ? 404 : 409;
    return jsonError(c, status, problem.replace(`/${button.name} needs`, `${button.name} needs`));
  }
  const signature = (c.req.header("x-crisp-signature") ?? "").trim().toLowerCase();
  const at = deps.clock.now();
  const replayKey = `widget:${websiteId}:${signature}`;
  if (!(await deps.replay.claim(replayKey, websiteId, at + deps.toleranceSeconds * 1000))) {
    deps.log.warn({ websiteId, sessionId }, "widget request replayed");
    return jsonError(c, 409, "replayed request: this signature was used already");
  }
  const data = request.payload?.data ?? {};
  try {
    const { job, created } = await deps.enqueueCommand({
      websiteId,
      sessionId,
      // The signature names this one press: a retried delivery of it is the same job.
      sourceFingerprint: Number.parseInt(signature.slice(0, 13), 16),
      at,
      payload: {
        ...command,
        operatorId: bound(data.operator_id),
        operatorName: bound(data.operator_name) ?? "Crisp widget",
      },
    });
    deps.log.info({ websiteId, sessionId, command: command.name, jobId: job.id }, "widget command");
    return c.json(
      {
        error: false,
        reason: created ? "queued" : "already_queued",
        data: { command: command.name, draft_id: draft?.id, job_id: job.id },
      },
      202,
    );
  } catch (error) {
    // Nothing was queued: Crisp's retry of this very press must not count as a replay.
    await deps.replay.release(replayKey).catch(() => undefined);
    throw error;
  }
}

export function createWidgetApp(deps: WidgetDeps) {
  const app = new Hono();
  app.post(
    "/widget",
    bodyLimit({ maxSize: MAX_WIDGET_BYTES, onError: (c) => jsonError(c, 413, "body larger than 64 KiB") }),
    async (c) => {
      if (!deps.enabled)
        return jsonError(c, 404, "the Crisp widget needs CRISP_TIER=plugin and CRISP_WEBHOOK_SECRET");
      const read = await readRequest(deps, c, await c.req.text());
      if (!read.ok) return jsonError(c, read.status, read.reason);
      const { request } = read;
      const item = request.widget.item_id;
      if (request.action.type === "data") {
        // The editable fields hold what the operator types; Crisp sends them with the button.
        if (FIELDS.has(item)) return c.json({ data: { value: "" } });
        if (item !== WIDGET_ITEMS.status) return jsonError(c, 400, `${item} is a button, not a data item`);
        const draft = await deps.latestDraft(request.origin.website_id, request.origin.session_id);
        return c.json({ data: { value: describeDraft(draft) } });
      }
      const button = BUTTONS[item];
      if (!button) return jsonError(c, 400, `${item} is a data item, not a button`);
      return press(deps, c, request, button);
    },
  );
  return app;
}
