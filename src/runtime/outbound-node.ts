import dns from "node:dns";
import type { LookupFunction } from "node:net";
import { nonPublicAddress, OutboundRefused, type Resolve } from "../outbound.ts";
import { createHttpFetch } from "./http-fetch.ts";

/**
 * Node's side of the outbound rules (src/outbound.ts): the addresses a name resolves to, and
 * a fetch whose connections check the address they actually dial, so a name that resolves
 * to a public address for the check and to 127.0.0.1 a moment later (DNS rebinding) still
 * reaches nothing private.
 */

/** Every address of a name, as the connection would see them (node:dns lookup, not a DNS query). */
export const resolveHost: Resolve = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** A lookup for node:net that fails when any answer is not a public address. */
export function guardedLookup(lookup: typeof dns.lookup = dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = addresses as unknown as dns.LookupAddress[];
      const bad = list.find((a) => nonPublicAddress(a.address));
      if (bad || list.length === 0) {
        const refused = new OutboundRefused(
          bad
            ? `${hostname} resolves to ${bad.address}, a ${nonPublicAddress(bad.address)} address`
            : `${hostname} resolves to no address`,
        );
        return callback(refused as NodeJS.ErrnoException, "", 0);
      }
      if (options.all) return callback(null, list);
      const first = list[0] as dns.LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/** The outbound fetch on Node: node:http (no redirects followed) with the guarded lookup. */
export function createOutboundFetch(allowPrivate: boolean): typeof fetch {
  return allowPrivate ? createHttpFetch() : createHttpFetch({ lookup: guardedLookup() });
}
