import { z } from "zod";
import type { Clock } from "../clock.ts";
import { signWebhook } from "../crisp/webhook.ts";
import type { Logger } from "../log.ts";
import type { Delivery } from "./state.ts";

/**
 * Emits web hooks like a Crisp plugin: `{website_id, event, data, timestamp}` bodies
 * signed with the shared secret, re-attempted on failure. Tests and the chaos suite
 * can duplicate or reorder deliveries, and `flush()` waits for everything in flight.
 */

export interface WebhookEmitterOptions {
  websiteId: string;
  secret: string;
  urls: string[];
  clock: Clock;
  log: Logger;
  fetch?: typeof fetch;
  /** Total attempts per delivery (Crisp's X-Delivery-Attempt-Limit). */
  attempts?: number;
  /** Delay before the second attempt; doubled for each further one. */
  retryBaseMs?: number;
  timeoutMs?: number;
  random?: () => number;
}

export interface WebhookFaults {
  /** Probability that a delivery is sent twice. */
  duplicateRate: number;
  /** Up to this many ms of random delay before a delivery, so deliveries arrive out of order. */
  reorderMs: number;
}

/** The part of a hook body a delivery record keeps: the conversation it is about, if any. */
const hookSessionSchema = z.object({ data: z.object({ session_id: z.string().optional() }).optional() });

/** The session_id of a hook body; throws naming the problem when the body is not one. */
function sessionIdOf(rawBody: string): string | undefined {
  const parsed = hookSessionSchema.safeParse(JSON.parse(rawBody));
  if (!parsed.success)
    throw new Error(
      `sandbox web hook body: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  return parsed.data.data?.session_id;
}

type Resolved = Required<Pick<WebhookEmitterOptions, "attempts" | "timeoutMs">> & WebhookEmitterOptions;

/** One signed POST of a web hook body; recorded in `deliveries`, true on a 2xx. */
async function deliverOnce(
  options: Resolved,
  deliveries: Delivery[],
  delivery: { url: string; event: string; rawBody: string; attempt: number },
) {
  const { url, event, rawBody, attempt } = delivery;
  const timestamp = String(options.clock.now());
  const signature = await signWebhook(options.secret, timestamp, rawBody);
  // When the request leaves (signing is the sender's work): what a receiver's latency is measured from.
  const sentAt = options.clock.now();
  const doFetch = options.fetch ?? fetch;
  let status: number | "error";
  try {
    const response = await doFetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Crisp-Sandbox-Webhooks/1.0",
        "x-crisp-hook-origin": "plugin/sandbox production",
        "x-crisp-request-timestamp": timestamp,
        "x-crisp-signature": signature,
        "x-delivery-attempt-count": String(attempt),
        "x-delivery-attempt-limit": String(options.attempts),
      },
      body: rawBody,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    status = response.status;
    await response.text().catch(() => undefined);
  } catch (error) {
    status = "error";
    options.log.debug({ url, event, err: error }, "sandbox web hook delivery failed");
  }
  const sessionId = sessionIdOf(rawBody);
  deliveries.push({ url, event, sessionId, status, attempt, sentAt, at: options.clock.now() });
  return typeof status === "number" && status >= 200 && status < 300;
}

/** Ordered lanes of tasks (one per URL and conversation), a pause gate, and tracking for `flush()`. */
function createLanes(log: Logger) {
  const pending = new Set<Promise<void>>();
  const queues = new Map<string, Promise<void>>();
  const held: Array<() => void> = [];
  let paused = false;
  /** While paused, queued deliveries wait here until `resume()`. */
  const gate = () => (paused ? new Promise<void>((resolve) => held.push(resolve)) : undefined);

  function track(task: () => Promise<void>) {
    const promise: Promise<void> = task()
      .catch((error) => log.error({ err: error }, "sandbox web hook task crashed"))
      .finally(() => pending.delete(promise));
    pending.add(promise);
  }

  return {
    track,
    enqueue(lane: string, task: () => Promise<void>) {
      const next = (queues.get(lane) ?? Promise.resolve()).then(gate).then(task);
      queues.set(
        lane,
        next.catch(() => undefined),
      );
      track(() => next);
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const release of held.splice(0)) release();
    },
    async flush() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

export function createWebhookEmitter(emitterOptions: WebhookEmitterOptions) {
  const options: Resolved = {
    ...emitterOptions,
    attempts: emitterOptions.attempts ?? 4,
    timeoutMs: emitterOptions.timeoutMs ?? 10_000,
  };
  const { attempts } = options;
  const urls = [...options.urls];
  const retryBaseMs = options.retryBaseMs ?? 250;
  const random = options.random ?? Math.random;
  const deliveries: Delivery[] = [];
  const faults: WebhookFaults = { duplicateRate: 0, reorderMs: 0 };
  const lanes = createLanes(options.log);
  const once = (url: string, event: string, rawBody: string, attempt: number) =>
    deliverOnce(options, deliveries, { url, event, rawBody, attempt });

  /** Retries run beside the queue, so one failing delivery does not hold back the next. */
  async function retry(url: string, event: string, rawBody: string) {
    for (let attempt = 2; attempt <= attempts; attempt++) {
      await options.clock.sleep(retryBaseMs * 2 ** (attempt - 2));
      if (await once(url, event, rawBody, attempt)) return;
    }
    options.log.warn({ url, event, attempts }, "sandbox web hook gave up");
  }

  /** First attempts go out in emission order per conversation, unless the reorder fault shuffles them. */
  async function deliver(url: string, event: string, rawBody: string) {
    if (faults.reorderMs > 0) {
      lanes.track(async () => {
        await options.clock.sleep(Math.floor(random() * faults.reorderMs));
        if (!(await once(url, event, rawBody, 1)) && attempts > 1)
          lanes.track(() => retry(url, event, rawBody));
      });
      return;
    }
    if (!(await once(url, event, rawBody, 1)) && attempts > 1) lanes.track(() => retry(url, event, rawBody));
  }

  return {
    deliveries,
    faults,
    urls,
    addUrl(url: string) {
      if (!urls.includes(url)) urls.push(url);
    },
    /** Queues the event for every configured URL; returns at once, like Crisp. */
    emit(event: string, data: Record<string, unknown>) {
      if (urls.length === 0) return;
      const rawBody = JSON.stringify({
        website_id: options.websiteId,
        event,
        data: { website_id: options.websiteId, ...data },
        timestamp: options.clock.now(),
      });
      // In order per conversation and URL; conversations do not wait for each other.
      const lane = (url: string) => `${url} ${String(data.session_id ?? "")}`;
      for (const url of urls) {
        lanes.enqueue(lane(url), () => deliver(url, event, rawBody));
        if (faults.duplicateRate > 0 && random() < faults.duplicateRate) {
          lanes.enqueue(lane(url), () => deliver(url, event, rawBody));
        }
      }
    },
    /** Holds new deliveries until `resume()`, to build races in tests. */
    pause: lanes.pause,
    resume: lanes.resume,
    /** Resolves when every queued delivery (and its retries) has finished. */
    flush: lanes.flush,
  };
}

export type WebhookEmitter = ReturnType<typeof createWebhookEmitter>;
