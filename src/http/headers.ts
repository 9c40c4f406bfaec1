import type { MiddlewareHandler } from "hono";
import { sha256 } from "../crypto.ts";

/**
 * Headers of every page a browser shows (dashboard, sandbox): no framing (clickjacking), no
 * MIME sniffing, no URL in the Referer, and a CSP that lets nothing load but this origin's
 * own requests. `script`: the CSP source of the page's one inline script, if it has one.
 */
export function pageHeaders(options: { script?: () => Promise<string> } = {}): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const script = options.script ? await options.script() : "'none'";
    c.header(
      "Content-Security-Policy",
      [
        "default-src 'none'",
        `script-src ${script}`,
        "style-src 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ].join("; "),
    );
    c.header("X-Frame-Options", "DENY");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
  };
}

/** The CSP source that allows exactly this inline script ('sha256-…'). */
export async function scriptHash(source: string): Promise<string> {
  return `'sha256-${btoa(String.fromCharCode(...(await sha256(source))))}'`;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Cookies are Secure unless the page is plain http on loopback (local use without TLS). */
export const secureRequest = (url: string) => {
  const { protocol, hostname } = new URL(url);
  return !(protocol === "http:" && LOOPBACK.test(hostname));
};
