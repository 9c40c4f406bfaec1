import { hmacSha256Hex } from "../crisp/webhook.ts";

/** Header names and format of the CRM hook signature: hex HMAC-SHA256 of `${timestamp}.${body}`. */
export const CRM_SIGNATURE = "x-quill-signature";
export const CRM_TIMESTAMP = "x-quill-timestamp";
export const signCrm = (secret: string, timestamp: string, body: string) =>
  hmacSha256Hex(secret, `${timestamp}.${body}`).then((hex) => `v1=${hex}`);
