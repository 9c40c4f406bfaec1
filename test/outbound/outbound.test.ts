import { BlockList, isIP } from "node:net";
import fc from "fast-check";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import {
  createOutbound,
  nonPublicAddress,
  OutboundRefused,
  parseIPv4,
  parseIPv6,
  refuseUrl,
} from "../../src/outbound.ts";

/** The address rules of outbound requests (crmUrl), each with the attacker's next try. */

const strict = { allowPrivate: false };

describe("refuseUrl: the URL as written", () => {
  it.each([
    ["http://127.0.0.1/hook", /loopback/],
    ["http://127.1.2.3:8080/", /loopback/],
    ["http://10.0.0.5/", /private/],
    ["http://172.16.0.1/", /private/],
    ["http://172.31.255.255/", /private/],
    ["http://192.168.1.1/", /private/],
    ["http://169.254.169.254/latest/meta-data/", /metadata/],
    ["http://100.64.0.1/", /carrier-grade NAT/],
    ["http://100.100.100.200/", /carrier-grade NAT/], // Alibaba's metadata service
    ["http://0.0.0.0:3000/", /this-network/],
    ["http://[::1]/", /loopback/],
    ["http://[::]/", /unspecified/],
    ["http://[fc00::1]/", /unique-local/],
    ["http://[fd00:ec2::254]/", /unique-local/], // AWS's IPv6 metadata
    ["http://[fe80::1]/", /link-local/],
    ["http://[febf:ffff::1]/", /link-local/],
    ["http://[::ffff:127.0.0.1]/", /IPv4-mapped/],
    ["http://[::ffff:7f00:1]/", /IPv4-mapped/],
    ["http://[::ffff:169.254.169.254]/", /IPv4-mapped/],
    ["http://[0:0:0:0:0:ffff:a00:1]/", /IPv4-mapped/],
    ["http://[::127.0.0.1]/", /IPv4-compatible/],
    ["http://[64:ff9b::127.0.0.1]/", /NAT64/],
    ["http://[2002:7f00:1::]/", /6to4.*loopback/],
    ["http://[ff02::1]/", /multicast/],
    // Other spellings of 127.0.0.1 that fetch would reach all the same.
    ["http://2130706433/", /loopback/],
    ["http://0x7f000001/", /loopback/],
    ["http://0x7f.1/", /loopback/],
    ["http://0177.0.0.1/", /loopback/],
    ["http://017700000001/", /loopback/],
    ["http://127.1/", /loopback/],
    ["http://0/", /this-network/],
    ["http://0xa9fea9fe/", /metadata/], // 169.254.169.254
    ["http://%31%32%37.0.0.1/", /loopback/], // percent-encoded digits
    ["http://１２７.０.０.１/", /loopback/], // fullwidth digits
    ["http://127.0.0.1./", /loopback/], // trailing dot
    ["http://user:pw@127.0.0.1@crm.example/", /credentials/],
    ["http://crm.example@127.0.0.1/", /loopback/],
    ["http://localhost:8080/", /this machine/],
    ["http://LOCALHOST./", /this machine/],
    ["http://crm.localhost/", /this machine/],
    ["http://metadata.google.internal/computeMetadata/v1/", /metadata/],
    ["ftp://crm.example/", /ftp: URLs/],
    ["file:///etc/passwd", /file: URLs/],
    ["not a url", /not a URL/],
  ])("refuses %s", (url, reason) => {
    expect(refuseUrl(url, strict)).toMatch(reason);
  });

  it.each([
    "https://crm.example.com/hooks/quill",
    "https://93.184.216.34/hook",
    "http://[2606:4700:4700::1111]/",
    "https://172.32.0.1/", // just outside 172.16.0.0/12
    "https://100.128.0.1/", // just outside 100.64.0.0/10
    "https://169.255.0.1/",
    "https://[2a00:1450:4007::200e]/",
    "https://[64:ff9b::808:808]/", // NAT64 of 8.8.8.8
  ])("allows %s", (url) => {
    expect(refuseUrl(url, strict)).toBeUndefined();
  });

  it("allows private addresses with OUTBOUND_ALLOW_PRIVATE, never other schemes", () => {
    expect(refuseUrl("http://127.0.0.1:9000/crm", { allowPrivate: true })).toBeUndefined();
    expect(refuseUrl("http://[::1]/", { allowPrivate: true })).toBeUndefined();
    expect(refuseUrl("gopher://127.0.0.1/", { allowPrivate: true })).toMatch(/gopher/);
  });
});

describe("address parsing", () => {
  it("parses canonical IPv4 only: no octal, hex, short or padded forms", () => {
    expect(parseIPv4("192.168.0.1")).toEqual([192, 168, 0, 1]);
    for (const bad of [
      "010.0.0.1",
      "0x7f.0.0.1",
      "127.1",
      "256.0.0.1",
      "1.2.3.4.5",
      "1.2.3.",
      " 1.2.3.4",
      "1.2.3.4 ",
    ])
      expect(parseIPv4(bad)).toBeUndefined();
  });

  it("parses IPv6 in every notation, refusing zone ids and malformed text", () => {
    expect(parseIPv6("::1")).toEqual([...Array(15).fill(0), 1]);
    expect(parseIPv6("[::ffff:127.0.0.1]")).toEqual([...Array(10).fill(0), 255, 255, 127, 0, 0, 1]);
    expect(parseIPv6("1:2:3:4:5:6:7:8")).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    expect(parseIPv6("1:2:3:4:5:6:1.2.3.4")).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]);
    for (const bad of [
      "fe80::1%eth0",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "1:2:3:4:5:6:7",
      "12345::",
      ":1::",
      "1::2:",
      "::1.2.3",
      "1:2:3:4:5:6:7:1.2.3.4",
      "1:2:3:4:5:6:7::8",
      "g::1",
      "",
    ])
      expect(parseIPv6(bad), bad).toBeUndefined();
  });

  it("reads every address as Node does, uncompressed and compressed (fuzzed)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
        const bytes = [...raw];
        const full = Array.from({ length: 8 }, (_, i) =>
          (((bytes[i * 2] ?? 0) << 8) | (bytes[i * 2 + 1] ?? 0)).toString(16),
        ).join(":");
        const compressed = new URL(`http://[${full}]/`).hostname; // the WHATWG serialisation
        expect(isIP(compressed.slice(1, -1))).toBe(6);
        expect(parseIPv6(full)).toEqual(bytes);
        expect(parseIPv6(compressed)).toEqual(bytes);
      }),
      { numRuns: 2_000 },
    );
  });

  it("agrees with node:net's BlockList on every IPv4 range (fuzzed, range edges weighted)", () => {
    const ranges: Array<[string, number]> = [
      ["0.0.0.0", 8],
      ["10.0.0.0", 8],
      ["100.64.0.0", 10],
      ["127.0.0.0", 8],
      ["169.254.0.0", 16],
      ["172.16.0.0", 12],
      ["192.0.0.0", 24],
      ["192.0.2.0", 24],
      ["192.168.0.0", 16],
      ["198.18.0.0", 15],
      ["198.51.100.0", 24],
      ["203.0.113.0", 24],
      ["224.0.0.0", 3], // multicast and reserved: 224.0.0.0/4 + 240.0.0.0/4
    ];
    const list = new BlockList();
    for (const [net, bits] of ranges) list.addSubnet(net, bits, "ipv4");
    const edges = ranges.flatMap(([net, bits]) => {
      const base = net.split(".").reduce((n, p) => n * 256 + Number(p), 0);
      const size = 2 ** (32 - bits);
      return [base - 1, base, base + size - 1, base + size].filter((n) => n >= 0 && n < 2 ** 32);
    });
    const address = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(...edges));
    fc.assert(
      fc.property(address, (n) => {
        const text = [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
        expect(nonPublicAddress(text) !== undefined, text).toBe(list.check(text, "ipv4"));
      }),
      { numRuns: 5_000 },
    );
  });

  it("refuses what is no address at all (fail closed on an odd resolver answer)", () => {
    expect(nonPublicAddress("crm.example")).toBe("not an IP address");
    expect(nonPublicAddress("0177.0.0.1")).toBe("not an IP address");
    expect(nonPublicAddress("8.8.8.8")).toBeUndefined();
  });
});

describe("createOutbound: at send time", () => {
  afterEach(() => nock.cleanAll());

  const resolving =
    (table: Record<string, string[]>) =>
    async (host: string): Promise<string[]> =>
      table[host] ?? [];

  it("refuses a name that resolves to the metadata service, or to a private address among public ones", async () => {
    let fetched = 0;
    const outbound = createOutbound({
      allowPrivate: false,
      resolve: resolving({
        "crm.evil.test": ["169.254.169.254"],
        "mixed.evil.test": ["93.184.216.34", "10.0.0.7"],
        "v6.evil.test": ["::ffff:127.0.0.1"],
        "ula.evil.test": ["fd12:3456::1"],
      }),
      fetch: (async () => {
        fetched++;
        return new Response("ok");
      }) as typeof fetch,
    });
    await expect(outbound.fetch("https://crm.evil.test/hook")).rejects.toThrow(
      "refused https://crm.evil.test/hook: crm.evil.test resolves to 169.254.169.254, a link-local / cloud metadata (169.254.0.0/16) address",
    );
    await expect(outbound.fetch("https://mixed.evil.test/")).rejects.toThrow(/10\.0\.0\.7, a private/);
    await expect(outbound.fetch("https://v6.evil.test/")).rejects.toThrow(/IPv4-mapped/);
    await expect(outbound.fetch("https://ula.evil.test/")).rejects.toThrow(/unique-local/);
    await expect(outbound.fetch("https://nowhere.evil.test/")).rejects.toThrow(/resolves to no address/);
    await expect(outbound.fetch("http://2130706433/")).rejects.toBeInstanceOf(OutboundRefused);
    expect(fetched).toBe(0);
  });

  it("on Workers (no resolver) checks the text only; OUTBOUND_ALLOW_PRIVATE skips the resolver", async () => {
    const seen: string[] = [];
    const fetchImpl = (async (url: string) => {
      seen.push(url);
      return new Response("ok");
    }) as typeof fetch;
    await createOutbound({ allowPrivate: false, fetch: fetchImpl }).fetch("https://crm.example/");
    const resolve = async () => {
      throw new Error("must not resolve");
    };
    await createOutbound({ allowPrivate: true, resolve, fetch: fetchImpl }).fetch("http://10.1.2.3/");
    expect(seen).toEqual(["https://crm.example/", "http://10.1.2.3/"]);
  });

  it("never follows a redirect to 127.0.0.1: the 302 is the answer, with its Location", async () => {
    const crm = nock("https://crm.example")
      .post("/hook")
      .reply(302, "", { location: "http://127.0.0.1:9/steal" });
    const internal = nock("http://127.0.0.1:9").post("/steal").reply(200, "stolen");
    const outbound = createOutbound({ allowPrivate: false, resolve: async () => ["93.184.216.34"] });
    await expect(
      outbound.fetch("https://crm.example/hook", {
        method: "POST",
        body: "{}",
        headers: { "x-sig": "v1=abc" },
      }),
    ).rejects.toThrow(
      "https://crm.example/hook answered 302 to http://127.0.0.1:9/steal: redirects are never followed",
    );
    expect(crm.isDone()).toBe(true);
    expect(internal.isDone()).toBe(false);
  });

  it("refuses 307/308 too, which would repeat the POST body and signature", async () => {
    for (const status of [301, 303, 307, 308]) {
      nock("https://crm.example").post("/hook").reply(status, "", { location: "https://crm.example/other" });
      const other = nock("https://crm.example").post("/other").reply(200);
      await expect(
        createOutbound({ allowPrivate: false }).fetch("https://crm.example/hook", {
          method: "POST",
          body: "{}",
        }),
      ).rejects.toThrow(new RegExp(`answered ${status} .*never followed`));
      expect(other.isDone()).toBe(false);
      nock.cleanAll();
    }
  });

  it("asks fetch not to follow redirects (a fetch that would is told so)", async () => {
    let redirect: RequestRedirect | undefined;
    const fetchImpl = (async (_url: string, init?: RequestInit) => {
      redirect = init?.redirect;
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    await createOutbound({ allowPrivate: false, fetch: fetchImpl }).fetch("https://crm.example/");
    expect(redirect).toBe("manual");
  });
});
