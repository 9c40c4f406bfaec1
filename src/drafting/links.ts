import { parse as parseDomain } from "tldts";

/**
 * Everything in a reply that a chat widget or a mail client could turn into a link: URLs of
 * any scheme, markdown and HTML links, protocol-relative and bare domains ("evil-shop.com",
 * recognised with the public suffix list), written with any Unicode dot. Each is checked
 * against the allowlist by its real host (after NFKC and IDNA), so userinfo
 * ("https://shop.example@evil.test") and look-alike letters do not pass.
 */

export interface FoundLink {
  /** As written (after NFKC), for the flag. */
  raw: string;
  /** Lower-case ASCII (punycode) host; undefined when the scheme has none (javascript:, data:). */
  host: string | undefined;
  scheme: string;
}

/** Dots that IDNA treats as label separators, and look-alikes NFKC leaves alone. */
const DOTS = /[\u3002\uff61\uff0e\u2024\ufe52\u00b7\u2027\u2219]/g;
/** A scheme and what follows it: `https://…`, `javascript:…`, `data:…`, `ftp://…`. */
const SCHEMED = /\b([a-z][a-z0-9+.-]{1,15}):(?:\/\/|\\\\|\/(?=[^\s/])|(?=[^\s/]))[^\s<>"'`)\]]*/gi;
/** Schemes that never appear in ordinary prose before a colon ("Note: …" is not a link). */
const LINK_SCHEMES =
  /^(?:https?|ftp|ftps|sftp|file|javascript|vbscript|data|blob|mailto|tel|sms|ws|wss|intent|market|itms|itms-apps|whatsapp|tg|skype|magnet|git|ssh|smb|irc|chrome|about|view-source|jar|ms-[a-z-]+)$/i;
/** Protocol-relative (`//evil.test/x`) and `www.` links. */
const SLASHED = /(?<![:\w/])\/\/([^\s/<>"'`)\]]+)[^\s<>"'`)\]]*/g;
/** Host-looking words: labels of letters, digits and hyphens joined by dots, any script. */
const BARE =
  /(?<![@\p{L}\p{N}._%+-])((?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+[\p{L}\p{N}-]{1,63})(?![\p{L}\p{N}@-])(?:[/?#][^\s<>"'`)\]]*)?/gu;

/** A link as a browser would read it (a bare or protocol-relative one as https), or undefined. */
export function urlOf(raw: string): URL | undefined {
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:/i.test(raw) ? raw : `https://${raw.replace(/^\/\//, "")}`);
  } catch {
    return undefined;
  }
}

/** The ASCII host as a browser would resolve it, or undefined. */
function hostOf(raw: string): string | undefined {
  return urlOf(raw)?.hostname.toLowerCase().replace(/\.$/, "") || undefined;
}

export function hostAllowed(host: string, allowlist: string[]): boolean {
  return allowlist.some((domain) => {
    const d = (hostOf(domain.replace(/^\*\./, "")) ?? domain).toLowerCase();
    return host === d || host.endsWith(`.${d}`);
  });
}

/** NFKC with every dot look-alike made a dot: the text as a link checker must read it. */
function linkText(text: string): string {
  return text.normalize("NFKC").replace(DOTS, ".");
}

export function findLinks(text: string): FoundLink[] {
  const normal = linkText(text);
  const found: FoundLink[] = [];
  const taken: Array<[number, number]> = [];
  const overlaps = (start: number, end: number) => taken.some(([s, e]) => start < e && end > s);
  const add = (raw: string, start: number, scheme: string, host: string | undefined) => {
    taken.push([start, start + raw.length]);
    found.push({ raw: raw.replace(/[.,;:!?]+$/, ""), host, scheme });
  };

  for (const m of normal.matchAll(SCHEMED)) {
    const scheme = (m[1] ?? "").toLowerCase();
    if (!LINK_SCHEMES.test(scheme)) continue;
    const raw = m[0].replace(/\\/g, "/");
    add(
      m[0],
      m.index ?? 0,
      scheme,
      /^(?:https?|ftps?|sftp|wss?|file)$/.test(scheme) ? hostOf(raw) : undefined,
    );
  }
  for (const m of normal.matchAll(SLASHED)) {
    if (overlaps(m.index ?? 0, (m.index ?? 0) + m[0].length)) continue;
    add(m[0], m.index ?? 0, "https", hostOf(m[0]));
  }
  for (const m of normal.matchAll(BARE)) {
    const start = m.index ?? 0;
    if (overlaps(start, start + m[0].length)) continue;
    const host = hostOf(m[1] ?? "");
    if (!host) continue;
    const hasPath = m[0].length > (m[1] ?? "").length;
    // A real public suffix makes a word a domain ("e.g", "v2.0", "Node.js" are not); with a
    // path, any letter suffix ("pay.example/x") or a full IPv4 address does too.
    const info = parseDomain(host, { allowPrivateDomains: true });
    const known =
      info.domain !== null && info.isIp !== true && (info.isIcann === true || info.isPrivate === true);
    const ipv4 = /^\d{1,3}(?:\.\d{1,3}){3}$/.test(m[1] ?? "");
    if (!known && !(hasPath && (ipv4 || /\.[a-z][a-z0-9-]+$/i.test(host)))) continue;
    add(m[0], start, "https", host);
  }
  return found;
}

/** Why each link in the text is refused (empty when all are fine). */
export function refusedLinks(text: string, allowlist: string[], knowledge: string): string[] {
  const knownLinks = new Set(findLinks(knowledge).map((l) => l.raw.toLowerCase()));
  const reasons = new Set<string>();
  for (const link of findLinks(text)) {
    if (link.scheme !== "http" && link.scheme !== "https") {
      // Another scheme runs code, opens an app or downloads a file: never sent.
      reasons.add(`link not allowed: ${link.scheme}: links are never sent`);
      continue;
    }
    if (!link.host) {
      reasons.add(`link not allowed: ${link.raw.slice(0, 60)}`);
      continue;
    }
    if (knownLinks.has(link.raw.toLowerCase()) || hostAllowed(link.host, allowlist)) continue;
    reasons.add(`link not allowed: ${link.host}`);
  }
  return [...reasons];
}
