import { randomToken } from "../../crypto.ts";

/** `quill token`: a strong random token for ADMIN_TOKEN, SESSION_SECRET, website tokens and secrets. */

export function tokenCommand(): number {
  console.log(randomToken());
  return 0;
}
