import type dns from "node:dns";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutbound, OutboundRefused } from "../../src/outbound.ts";
import { createHttpFetch } from "../../src/runtime/http-fetch.ts";
import { guardedLookup, resolveHost } from "../../src/runtime/outbound-node.ts";

/** Node's outbound checks: resolved addresses, and the address a connection really dials. */

let server: Server;
let port = 0;
let hits = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits++;
    res.end("internal data");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A resolver under the attacker's control: every name answers `address`. */
const lookupTo = (address: string) =>
  ((_host: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    const family = address.includes(":") ? 6 : 4;
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as typeof dns.lookup;

describe("outbound requests on Node", () => {
  it("reads what node:dns answers for a name", async () => {
    const addresses = await resolveHost("localhost");
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.every((a) => a === "127.0.0.1" || a === "::1")).toBe(true);
  });

  it("DNS rebinding: a name that is public for the check and 127.0.0.1 at connect time reaches nothing", async () => {
    const url = `http://rebind.evil.test:${port}/hook`;
    // Unguarded, the same resolver does reach the internal server: the test can fail.
    const open = createHttpFetch({ lookup: lookupTo("127.0.0.1") as never });
    expect(await (await open(url)).text()).toBe("internal data");
    const before = hits;

    const outbound = createOutbound({
      allowPrivate: false,
      resolve: async () => ["93.184.216.34"], // the answer at check time
      fetch: createHttpFetch({ lookup: guardedLookup(lookupTo("127.0.0.1")) }),
    });
    const refused = outbound.fetch(url, { method: "POST", body: "{}" });
    await expect(refused).rejects.toBeInstanceOf(OutboundRefused);
    await expect(refused).rejects.toThrow(
      "rebind.evil.test resolves to 127.0.0.1, a loopback (127.0.0.0/8) address",
    );
    expect(hits).toBe(before);
  });

  it("refuses at connect time the metadata address and IPv6 forms of loopback", async () => {
    for (const address of ["169.254.169.254", "::1", "::ffff:127.0.0.1", "fd00:ec2::254"]) {
      const fetchImpl = createHttpFetch({ lookup: guardedLookup(lookupTo(address)) });
      await expect(fetchImpl(`http://evil.test:${port}/`)).rejects.toThrow(`resolves to ${address}`);
    }
  });
});
