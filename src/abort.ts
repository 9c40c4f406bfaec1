/**
 * A signal that aborts after `ms` (with the TimeoutError AbortSignal.timeout gives) or when
 * `parent` aborts (with its reason), as AbortSignal.any([parent, AbortSignal.timeout(ms)])
 * would; `done()` clears its timer and its listener. AbortSignal.timeout leaves its timer
 * behind until it fires and AbortSignal.any tracks its sources for the garbage collector:
 * per job and per call that is measurable CPU (bench/profiling.md).
 */
export function timeoutSignal(ms: number, parent?: AbortSignal): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, done: () => {} };
  }
  const onAbort = () => controller.abort(parent?.reason);
  parent?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
    ms,
  );
  return {
    signal: controller.signal,
    done() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}
