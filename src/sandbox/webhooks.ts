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

export function createWebhookEmitter(options: WebhookEmitterOptions) {
  const urls = [...options.urls];
  const attempts = options.attempts ?? 4;
  const retryBaseMs = options.retryBaseMs ?? 250;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const random = options.random ?? Math.random;
  const deliveries: Delivery[] = [];
  const pending = new Set<Promise<void>>();
  const faults: WebhookFaults = { duplicateRate: 0, reorderMs: 0 };
  let paused = false;
  const held: Array<() => void> = [];

  async function deliverOnce(url: string, event: string, rawBody: string, attempt: number) {
    const sentAt = options.clock.now();
    const timestamp = String(sentAt);
    const signature = await signWebhook(options.secret, timestamp, rawBody);
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
          "x-delivery-attempt-limit": String(attempts),
        },
        body: rawBody,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      await response.arrayBuffer().catch(() => undefined);
    } catch (error) {
      status = "error";
      options.log.debug({ url, event, err: error }, "sandbox web hook delivery failed");
    }
    const sessionId = (JSON.parse(rawBody) as { data?: { session_id?: string } }).data?.session_id;
    deliveries.push({ url, event, sessionId, status, attempt, sentAt, at: options.clock.now() });
    return typeof status === "number" && status >= 200 && status < 300;
  }

  /** Retries run beside the queue, so one failing delivery does not hold back the next. */
  async function retry(url: string, event: string, rawBody: string) {
    for (let attempt = 2; attempt <= attempts; attempt++) {
      await options.clock.sleep(retryBaseMs * 2 ** (attempt - 2));
      if (await deliverOnce(url, event, rawBody, attempt)) return;
    }
    options.log.warn({ url, event, attempts }, "sandbox web hook gave up");
  }

  /** First attempts go out in emission order per conversation, unless the reorder fault shuffles them. */
  async function deliver(url: string, event: string, rawBody: string) {
    if (faults.reorderMs > 0) {
      track(async () => {
        await options.clock.sleep(Math.floor(random() * faults.reorderMs));
        if (!(await deliverOnce(url, event, rawBody, 1)) && attempts > 1)
          track(() => retry(url, event, rawBody));
      });
      return;
    }
    if (!(await deliverOnce(url, event, rawBody, 1)) && attempts > 1) track(() => retry(url, event, rawBody));
  }

  const queues = new Map<string, Promise<void>>();
  /** While paused, queued deliveries wait here until `resume()`. */
  const gate = () => (paused ? new Promise<void>((resolve) => held.push(resolve)) : undefined);

  function enqueue(url: string, task: () => Promise<void>) {
    const next = (queues.get(url) ?? Promise.resolve()).then(gate).then(task);
    queues.set(
      url,
      next.catch(() => undefined),
    );
    track(() => next);
  }

  function track(task: () => Promise<void>) {
    const promise: Promise<void> = task()
      .catch((error) => options.log.error({ err: error }, "sandbox web hook task crashed"))
      .finally(() => pending.delete(promise));
    pending.add(promise);
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
        enqueue(lane(url), () => deliver(url, event, rawBody));
        if (faults.duplicateRate > 0 && random() < faults.duplicateRate) {
          enqueue(lane(url), () => deliver(url, event, rawBody));
        }
      }
    },
    /** Holds new deliveries until `resume()`, to build races in tests. */
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const release of held.splice(0)) release();
    },
    /** Resolves when every queued delivery (and its retries) has finished. */
    async flush() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

export type WebhookEmitter = ReturnType<typeof createWebhookEmitter>;
