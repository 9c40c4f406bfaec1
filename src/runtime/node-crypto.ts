import { createHash, createHmac } from "node:crypto";
import type { NativeCrypto } from "../crypto.ts";

/**
 * node:crypto's HMAC and SHA-256, which Node's quill and sandbox install with `useNativeCrypto`:
 * they answer synchronously, where Web Crypto's thread-pool round trip is felt per web hook.
 */
export const nodeCrypto: NativeCrypto = {
  hmacSha256: (secret, message, encoding) => createHmac("sha256", secret).update(message).digest(encoding),
  sha256: (text) => createHash("sha256").update(text).digest(),
};
