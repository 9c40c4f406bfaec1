import { conversationsResource } from "./rest/conversations.ts";
import { composeResource, messagesResource } from "./rest/messages.ts";
import { peopleResource } from "./rest/people.ts";
import { bucketResource, pluginResource } from "./rest/plugin.ts";
import { websitesResource } from "./rest/websites.ts";
import { type CrispClientOptions, createTransport } from "./transport.ts";

/**
 * Typed Crisp REST v1 client: the transport (`transport.ts`) owns auth, the envelope,
 * timeouts, retries and the per-website limit; each resource group lives in `rest/`.
 */

export type { ConversationListFilters } from "./rest/conversations.ts";
export type { OutgoingMessage } from "./rest/messages.ts";
export type { PeopleSearch } from "./rest/people.ts";
export type { CallOptions, CrispClientOptions, CrispTier } from "./transport.ts";

export function createCrispClient(options: CrispClientOptions) {
  const transport = createTransport(options);
  return {
    websites: websitesResource(transport),
    conversations: conversationsResource(transport),
    messages: messagesResource(transport),
    compose: composeResource(transport),
    people: peopleResource(transport),
    plugin: pluginResource(transport),
    bucket: bucketResource(transport),
  };
}

export type CrispClient = ReturnType<typeof createCrispClient>;
