import { pluginAccountSchema, subscriptionSettingsSchema } from "../schemas.ts";
import type { CallOptions, Transport } from "../transport.ts";

/** `plugin/*` and `plugins/subscription/*`: the plugin's own account and a website's subscription. */
export function pluginResource({ get }: Transport) {
  return {
    /** The plugin these credentials belong to (plugin tier). */
    account: (call?: CallOptions) =>
      get("global", ["plugin", "connect", "account"], pluginAccountSchema, call),
    /** A website's subscription to the plugin; its `token` is what the Settings URL carries. */
    subscriptionSettings: (websiteId: string, pluginId: string, call?: CallOptions) =>
      get(
        websiteId,
        ["plugins", "subscription", websiteId, pluginId, "settings"],
        subscriptionSettingsSchema,
        call,
      ),
  };
}

/** `bucket/*`: upload URLs. */
export function bucketResource({ write }: Transport) {
  return {
    /** The signed URL arrives asynchronously as the `bucket:url:upload:generated` event. */
    generateUrl: (
      body: {
        namespace: string;
        id?: string;
        file: { name: string; type: string };
        resource?: { type: string; id: string };
      },
      call?: CallOptions,
    ) => write("POST", "global", ["bucket", "url", "generate"], body, call),
  };
}
