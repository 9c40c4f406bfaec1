/**
 * The SDKs' own timeout ends when the response headers arrive; a server that sends headers
 * and then stalls the body would hold the call until the whole-draft deadline, leaving no
 * time for the fallback. This fetch reads the whole body under the same per-attempt
 * timeout (answers are small JSON documents, never streamed) and hands the SDK a buffered
 * response. A stall surfaces as a TimeoutError, which the SDKs retry and report as timeouts.
 */
export function fetchWithBodyTimeout(timeoutMs: number, base?: typeof fetch): typeof fetch {
  return async (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    // Looked up per call, so test interceptors patched onto globalThis.fetch still apply.
    const response = await (base ?? globalThis.fetch)(input, { ...init, signal });
    const body = await response.arrayBuffer();
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
