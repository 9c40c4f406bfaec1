import type { WebhookFaults } from "./webhooks.ts";

export type SandboxFault = "429" | "500" | "lost";

export interface SandboxFaults extends WebhookFaults {
  /** Added before every REST answer. */
  latencyMs: number;
  /** Probability of a 429 (with Retry-After) / a 500 instead of handling the request. */
  rate429: number;
  rate500: number;
  /** Probability that a write is applied but its response never arrives. */
  lostResponseRate: number;
  retryAfterSeconds: number;
  /** How long a "lost" response is held before the connection gives up (504). */
  lostResponseHoldMs: number;
  /** Deterministic faults, consumed first match first: e.g. the next POST message answers 500. */
  script: Array<{ method?: string; path?: string; fault: SandboxFault; times?: number }>;
  /**
   * Store a message once per client fingerprint. Off by default: Crisp is not known to dedupe,
   * and a sandbox that did would hide double posts from every exactly-once test.
   */
  dedupeFingerprints: boolean;
}

/** The REST knobs, all off, added to the web hook emitter's own (one object, one control endpoint). */
export function withRestFaults(hookFaults: WebhookFaults): SandboxFaults {
  return Object.assign(hookFaults, {
    latencyMs: 0,
    rate429: 0,
    rate500: 0,
    lostResponseRate: 0,
    retryAfterSeconds: 1,
    lostResponseHoldMs: 15_000,
    script: [] as SandboxFaults["script"],
    dedupeFingerprints: false,
  });
}

/** The fault this request meets: a scripted one first (consumed), else a random draw. */
export function pickFault(
  faults: SandboxFaults,
  random: () => number,
  method: string,
  path: string,
): SandboxFault | undefined {
  const index = faults.script.findIndex(
    (f) => (!f.method || f.method.toUpperCase() === method) && (!f.path || path.includes(f.path)),
  );
  if (index >= 0) {
    const entry = faults.script[index] as SandboxFaults["script"][number];
    const times = (entry.times ?? 1) - 1;
    if (times <= 0) faults.script.splice(index, 1);
    else entry.times = times;
    return entry.fault;
  }
  if (faults.rate429 > 0 && random() < faults.rate429) return "429";
  if (faults.rate500 > 0 && random() < faults.rate500) return "500";
  if (method !== "GET" && faults.lostResponseRate > 0 && random() < faults.lostResponseRate) return "lost";
  return undefined;
}

/** Why a `POST /_sandbox/faults` entry is refused, or undefined when it is a known knob of the right type. */
export function faultError(faults: SandboxFaults, name: string, value: unknown): string | undefined {
  if (!(name in faults)) return `unknown fault ${name}`;
  if (name === "script") return Array.isArray(value) ? undefined : `${name} must be an array`;
  if (name === "dedupeFingerprints")
    return typeof value === "boolean" ? undefined : `${name} must be a boolean`;
  return typeof value === "number" && value >= 0 ? undefined : `${name} must be a number >= 0`;
}
