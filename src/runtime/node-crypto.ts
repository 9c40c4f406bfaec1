import { createHash, createHmac } from "node:crypto";
import type { NativeCrypto } from "../crypto.ts";

/** node:crypto's synchronous HMAC and SHA-256, which every Node command installs with `useNativeCrypto`. */
export const nodeCrypto: NativeCrypto = {
  hmacSha256: (secret, message, encoding) => createHmac("sha256", secret).update(message).digest(encoding),
  sha256: (text) => createHash("sha256").update(text).digest(),
};
