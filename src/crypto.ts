/**
 * The one home of quill's HMAC-SHA256, SHA-256, constant-time comparison and random tokens.
 * Web Crypto by default, so the same code runs on Node and Workers; a runtime may hand in
 * synchronous implementations with `useNativeCrypto` (Node does at start, Workers do not).
 */

export type Encoding = "hex" | "base64url";

/** Synchronous primitives a runtime may provide; outputs must equal Web Crypto's. */
export interface NativeCrypto {
  hmacSha256(secret: string, message: string, encoding: Encoding): string;
  sha256(text: string): Uint8Array;
}

let native: NativeCrypto | undefined;

/** Switches every helper below to `impl` (undefined: back to Web Crypto). */
export function useNativeCrypto(impl: NativeCrypto | undefined): void {
  native = impl;
}

const encoder = new TextEncoder();

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

const hex = (bytes: Uint8Array) => {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
};

const encode = (bytes: Uint8Array, encoding: Encoding) =>
  encoding === "hex" ? hex(bytes) : base64url(bytes);

/** Imported keys by secret: importing costs as much as signing, and secrets rarely change. */
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    if (keys.size > 100) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

async function hmacSha256(secret: string, message: string, encoding: Encoding): Promise<string> {
  if (native) return native.hmacSha256(secret, message, encoding);
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(message));
  return encode(new Uint8Array(mac), encoding);
}

/** HMAC-SHA256, lowercase hex: the form Crisp's and quill's signature headers carry. */
export const hmacHex = (secret: string, message: string) => hmacSha256(secret, message, "hex");

/** HMAC-SHA256, base64url: stored MACs, cookies and CSRF values. */
export const hmac = (secret: string, message: string) => hmacSha256(secret, message, "base64url");

/** SHA-256 of the UTF-8 text, raw bytes. */
export async function sha256(text: string): Promise<Uint8Array> {
  if (native) return native.sha256(text);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export async function sha256Hex(text: string): Promise<string> {
  return hex(await sha256(text));
}

/** Constant-time string comparison; only the length (not secret) can leak. */
export function safeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let diff = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}

/** `bytes` random bytes, base64url: 32 bytes are 256 bits, out of reach of any guessing. */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}
