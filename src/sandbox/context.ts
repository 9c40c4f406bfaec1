import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { SandboxActions } from "./actions.ts";
import type { SandboxFaults } from "./faults.ts";
import type { SandboxState, SandboxWebsite } from "./state.ts";
import type { WebhookEmitter } from "./webhooks.ts";

export const DEMO_CREDENTIALS = {
  identifier: "7a3f1c2e-quill-demo-identifier",
  key: "quill-demo-key-0123456789abcdef0123456789abcdef",
  websiteId: "42b1a8c6-5d3e-4f7a-9b2c-1e0d9f8a7b6c",
  webhookSecret: "quill-demo-webhook-secret",
  pluginId: "c7d1e2f3-quill-demo-plugin",
} as const;

export type SandboxTier = "plugin" | "website" | "user";

/** One REST request as seen, for tests that count Crisp calls (e.g. the poll cost bench). */
export interface SandboxRequest {
  method: string;
  path: string;
  status: number;
  at: number;
  ms: number;
}

/** What the REST routes, the control endpoints and the page share. */
export interface SandboxContext {
  state: SandboxState;
  hooks: WebhookEmitter;
  faults: SandboxFaults;
  actions: SandboxActions;
  website: SandboxWebsite;
  credentials: { identifier: string; key: string; tier: SandboxTier };
  clock: Clock;
  log: Logger;
  random: () => number;
  /** Messages per page of the messages list. */
  pageSize: number;
  basePath: string;
  requests: SandboxRequest[];
}
