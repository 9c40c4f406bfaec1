/**
 * Exactly once: every job posts with a fingerprint derived from its id (the marker), so
 * after a crash or a lost response the next attempt looks the marker up before posting.
 */

/** A runtime may swap in a synchronous SHA-256 (Node's node:crypto), off Web Crypto's thread pool; Workers keep Web Crypto. */
let nativeSha256: ((text: string) => Uint8Array) | undefined;
export function useNativeSha256(impl: ((text: string) => Uint8Array) | undefined): void {
  nativeSha256 = impl;
}

/** A stable positive integer from the job id: the fingerprint quill posts the job's message with. */
export async function markerFingerprint(jobId: string): Promise<number> {
  const input = `quill:${jobId}`;
  const digest = nativeSha256
    ? nativeSha256(input)
    : new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input)));
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + (digest[i] ?? 0);
  return n + 1; // 1 .. 2^48
}
