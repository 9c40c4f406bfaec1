/**
 * Outbound requests to URLs someone other than the operator can set (a website's crmUrl in
 * plugin mode, future tool calls): never to private, loopback, link-local, CGNAT, unique-local
 * or metadata addresses, never following a redirect. OUTBOUND_ALLOW_PRIVATE=true lifts the
 * address rule for a self-hosted CRM; redirects are refused either way.
 *
 * Checked twice: when the URL is saved or configured (its host as written), and before each
 * send (on Node also every address its name resolves to, and again at connect time, see
 * runtime/node.ts). Runs on Node and Workers alike: no node: imports here, the resolver is
 * injected.
 */

/** A URL or address quill refuses to send to; retrying does not change the answer. */
export class OutboundRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutboundRefused";
  }
}

/** Parses canonical dotted-decimal IPv4 ("127.0.0.1"); anything else is undefined. */
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    // No leading zeros: "010" is octal 8 to inet_aton and 10 to others, so it is no address here.
    if (!/^(?:0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

/** Parses an IPv6 address (brackets, "::", a dotted IPv4 tail) into 16 bytes; zone ids are refused. */
export function parseIPv6(text: string): number[] | undefined {
  let s = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (s.includes("%") || !s.includes(":")) return undefined;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    s = s.slice(0, lastColon + 1);
    // "1:2:3:4:5:6:" loses its separator; a "::" before the tail stays.
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const wanted = tail.length ? 6 : 8;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0] ?? "");
  const rest = halves.length === 2 ? groups(halves[1] ?? "") : [];
  let words: string[];
  if (halves.length === 1) {
    if (head.length !== wanted) return undefined;
    words = head;
  } else {
    // "::" stands for one group or more.
    const zeros = wanted - head.length - rest.length;
    if (zeros < 1) return undefined;
    words = [...head, ...Array<string>(zeros).fill("0"), ...rest];
  }
  const bytes: number[] = [];
  for (const g of words) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const w = Number.parseInt(g, 16);
    bytes.push(w >> 8, w & 0xff);
  }
  bytes.push(...tail);
  return bytes;
}

const inV4 = (b: number[], prefix: number[], bits: number) => {
  for (let i = 0; i < 4; i++) {
    const take = Math.min(8, Math.max(0, bits - i * 8));
    if (take === 0) break;
    const mask = (0xff << (8 - take)) & 0xff;
    if (((b[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
};

/** IPv4 ranges that are not the public internet (RFC 6890 and friends). */
const v4Ranges: Array<[number[], number, string]> = [
  [[0, 0, 0, 0], 8, "this-network (0.0.0.0/8)"],
  [[10, 0, 0, 0], 8, "private (10.0.0.0/8)"],
  [[100, 64, 0, 0], 10, "carrier-grade NAT (100.64.0.0/10)"],
  [[127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"],
  [[169, 254, 0, 0], 16, "link-local / cloud metadata (169.254.0.0/16)"],
  [[172, 16, 0, 0], 12, "private (172.16.0.0/12)"],
  [[192, 0, 0, 0], 24, "IETF protocol assignments (192.0.0.0/24)"],
  [[192, 0, 2, 0], 24, "documentation (192.0.2.0/24)"],
  [[192, 168, 0, 0], 16, "private (192.168.0.0/16)"],
  [[198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"],
  [[198, 51, 100, 0], 24, "documentation (198.51.100.0/24)"],
  [[203, 0, 113, 0], 24, "documentation (203.0.113.0/24)"],
  [[224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"],
  [[240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"],
];

function v4Reason(b: number[]): string | undefined {
  return v4Ranges.find(([prefix, bits]) => inV4(b, prefix, bits))?.[2];
}

function v6Reason(b: number[]): string | undefined {
  const word = (i: number) => ((b[i * 2] ?? 0) << 8) | (b[i * 2 + 1] ?? 0);
  const zeroUpTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(15) && b[15] === 0) return "unspecified (::)";
  if (zeroUpTo(15) && b[15] === 1) return "loopback (::1)";
  // The IPv4 inside these forms is what a dual-stack host or a NAT64 gateway would reach.
  if (zeroUpTo(10) && word(5) === 0xffff) return "IPv4-mapped (::ffff:0:0/96)";
  if (zeroUpTo(12)) return "IPv4-compatible (::/96)";
  if (word(0) === 0x64 && word(1) === 0xff9b) {
    const inner = v4Reason(b.slice(12));
    if (word(2) !== 0 || inner) return `NAT64 (64:ff9b::/96)${inner ? ` of ${inner}` : ""}`;
  }
  if (word(0) === 0x2002) {
    const inner = v4Reason(b.slice(2, 6));
    if (inner) return `6to4 (2002::/16) of ${inner}`;
  }
  if (word(0) === 0x2001 && word(1) === 0) return "Teredo (2001::/32)";
  if (word(0) === 0x2001 && word(1) === 0xdb8) return "documentation (2001:db8::/32)";
  if (word(0) === 0x100 && word(1) === 0 && word(2) === 0 && word(3) === 0) return "discard (100::/64)";
  if ((b[0] ?? 0) >= 0xfc && (b[0] ?? 0) <= 0xfd) return "unique-local (fc00::/7)";
  if (b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80) return "link-local (fe80::/10)";
  if (b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0xc0) return "site-local (fec0::/10)";
  if (b[0] === 0xff) return "multicast (ff00::/8)";
  return undefined;
}

/**
 * Why an IP address is not a public one, or undefined for a public address. Text that is
 * neither canonical IPv4 nor IPv6 is refused too: a resolver answer quill cannot read is
 * not one to connect to.
 */
export function nonPublicAddress(address: string): string | undefined {
  const v4 = parseIPv4(address);
  if (v4) return v4Reason(v4);
  const v6 = parseIPv6(address);
  if (v6) return v6Reason(v6);
  return "not an IP address";
}

/** Is this host text an IP literal (after URL parsing)? */
const isIpLiteral = (host: string) => parseIPv4(host) !== undefined || parseIPv6(host) !== undefined;

/** Names that always mean this machine or the cloud's metadata service. */
function internalName(host: string): boolean {
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "metadata.google.internal" ||
    host === "metadata.goog" ||
    host === "metadata"
  );
}

/**
 * Why quill must not send to this URL, judged by the text alone (no DNS), or undefined.
 * The WHATWG URL parser turns 2130706433, 0x7f.1 and 0177.0.0.1 into 127.0.0.1 first, as
 * every fetch does, so those forms are judged as the address they reach.
 */
export function refuseUrl(raw: string, options: { allowPrivate: boolean }): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${raw} is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `${url.protocol} URLs are not allowed`;
  if (options.allowPrivate)
    return url.username || url.password ? "credentials in the URL are not allowed" : undefined;
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  if (isIpLiteral(host)) {
    const reason = nonPublicAddress(host);
    return reason ? `${url.host} is a ${reason} address` : undefined;
  }
  if (internalName(host)) return `${url.host} names this machine or a metadata service`;
  // fetch refuses them anyway; "https://crm.example@10.0.0.1/" reads as one host and is another.
  if (url.username || url.password) return "credentials in the URL are not allowed";
  return undefined;
}

/** What the send path needs from a runtime: the addresses a name resolves to (Node). */
export type Resolve = (hostname: string) => Promise<string[]>;

export interface OutboundDeps {
  allowPrivate: boolean;
  /**
   * Node: every address the name resolves to (node:dns lookup), each checked. Absent on
   * Workers: a Worker's fetch cannot reach private addresses or the machine it runs on, so
   * only the URL's own text is checked there.
   */
  resolve?: Resolve | undefined;
  fetch?: typeof fetch | undefined;
}

/**
 * A fetch for untrusted URLs: refuses them by text and (with `resolve`) by every resolved
 * address, sends with redirect "manual" and turns any 3xx into an error, so a body and its
 * signature never follow a Location header to an address quill would refuse.
 */
export function createOutbound(deps: OutboundDeps) {
  async function check(raw: string, signal?: AbortSignal): Promise<void> {
    const reason = refuseUrl(raw, { allowPrivate: deps.allowPrivate });
    if (reason) throw new OutboundRefused(`refused ${raw}: ${reason}`);
    if (deps.allowPrivate || !deps.resolve) return;
    const host = new URL(raw).hostname.replace(/\.+$/, "");
    if (isIpLiteral(host)) return;
    const addresses = await deps.resolve(host);
    signal?.throwIfAborted();
    if (addresses.length === 0) throw new OutboundRefused(`refused ${raw}: ${host} resolves to no address`);
    for (const address of addresses) {
      const bad = nonPublicAddress(address);
      if (bad) throw new OutboundRefused(`refused ${raw}: ${host} resolves to ${address}, a ${bad} address`);
    }
  }

  return {
    check,
    async fetch(raw: string, init: RequestInit = {}): Promise<Response> {
      await check(raw, init.signal ?? undefined);
      const response = await (deps.fetch ?? fetch)(raw, { ...init, redirect: "manual" });
      // "opaqueredirect" (status 0) is what a browser-like fetch answers for a manual redirect.
      if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
        await response.body?.cancel().catch(() => undefined);
        const location = response.headers.get("location");
        throw new Error(
          `${raw} answered ${response.status || "a redirect"}${location ? ` to ${location}` : ""}: redirects are never followed`,
        );
      }
      return response;
    },
  };
}

export type Outbound = ReturnType<typeof createOutbound>;
