import { hmacHex } from "../crypto.ts";

/** Header names and format of the CRM hook signature: hex HMAC-SHA256 of `${timestamp}.${body}`. */
export const CRM_SIGNATURE = "x-quill-signature";
export const CRM_TIMESTAMP = "x-quill-timestamp";
export const signCrm = (secret: string, timestamp: string, body: string) =>
  hmacHex(secret, `${timestamp}.${body}`).then((hex) => `v1=${hex}`);
