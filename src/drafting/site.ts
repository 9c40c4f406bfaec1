import type { KbCache } from "../knowledge/cache.ts";
import type { BreakerState } from "../llm/chain.ts";
import type { ChainCache } from "../llm/providers.ts";
import type { WebsiteDirectory } from "../websites.ts";
import type { SiteOverrides } from "./deps.ts";
import { type PolicyConfig, websitePolicy } from "./policy.ts";

/** Plugin mode: what a website's own settings change in drafting (policy, knowledge base, provider chain, name). */
export function createSiteOverrides(options: {
  websites: WebsiteDirectory;
  kbs: KbCache;
  chains: ChainCache;
  policy: PolicyConfig;
}) {
  const { websites, kbs, chains } = options;

  async function site(websiteId: string): Promise<SiteOverrides> {
    const settings = await websites.get(websiteId);
    if (!settings) return {};
    const kb = kbs.forWebsite(websiteId, settings.kbDir);
    return {
      policy: websitePolicy(options.policy, settings),
      kb,
      llm: chains.forWebsite(websiteId, settings.provider, kb),
      name: settings.name,
    };
  }

  /** Breakers for the health page; resolving each served website builds the chains of those not drafted for yet. */
  async function breakerStates(websiteId?: string): Promise<Record<string, BreakerState>> {
    for (const id of websiteId ? [websiteId] : await websites.served()) await site(id);
    return chains.breakerStates(websiteId);
  }

  return { site, breakerStates };
}
