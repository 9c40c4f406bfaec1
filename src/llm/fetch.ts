/**
 * The SDKs' own timeout ends when the response headers arrive; a server that sends headers
 * and then stalls the body would hold the call until the whole-draft deadline, leaving no
 * time for the fallback. This fetch reads the whole body under the same per-attempt
 * timeout (answers are small JSON documents, never streamed) and hands the SDK a buffered
 * response. A stall surfaces as a TimeoutError, which the SDKs retry and report as timeouts.
 *
 * The SDKs sleep for whatever Retry-After asks before retrying, deadline or not. With
 * `deadlineAt` (epoch ms), a refusal asking for a longer wait than is left is marked
 * `x-should-retry: false`: the SDK fails at once and the fallback gets the time instead.
 */
export function fetchWithBodyTimeout(
  timeoutMs: number,
  base?: typeof fetch,
  deadlineAt?: number,
): typeof fetch {
  return async (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    // Looked up per call, so test interceptors patched onto globalThis.fetch still apply.
    const response = await (base ?? globalThis.fetch)(input, { ...init, signal });
    const body = await response.arrayBuffer();
    const headers = new Headers(response.headers);
    const wait = response.ok ? undefined : retryAfterMs(headers);
    if (deadlineAt !== undefined && wait !== undefined && wait > deadlineAt - Date.now()) {
      headers.set("x-should-retry", "false");
    }
    return new Response(body, { status: response.status, statusText: response.statusText, headers });
  };
}

/** The wait a response asks for, read as the SDKs read it: retry-after-ms, then Retry-After (seconds or a date). */
function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (ms > 0) return ms;
  const value = headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (!Number.isNaN(seconds)) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at - Date.now();
}
