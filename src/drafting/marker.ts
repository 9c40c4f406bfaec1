import { sha256 } from "../crypto.ts";

/**
 * Exactly once: every job posts with a fingerprint derived from its id (the marker), so
 * after a crash or a lost response the next attempt looks the marker up before posting.
 */

/** A stable positive integer from the job id: the fingerprint quill posts the job's message with. */
export async function markerFingerprint(jobId: string): Promise<number> {
  const digest = await sha256(`quill:${jobId}`);
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + (digest[i] ?? 0);
  return n + 1; // 1 .. 2^48
}
