import { LlmError } from "../src/llm/errors.ts";
import type { DraftEngine, DraftResult } from "../src/llm/types.ts";

/** An LLM that answers after exactly `ms` (or stops when aborted), counting calls in flight. */
export function fixedLatencyLlm(ms: number) {
  let inFlight = 0;
  let peak = 0;
  const engine: DraftEngine = {
    draft: (_req, { signal }) =>
      new Promise((resolve, reject) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        const done = () => {
          inFlight--;
          signal.removeEventListener("abort", abort);
        };
        const timer = setTimeout(() => {
          done();
          const result: DraftResult = {
            text: "Your parcel left our warehouse today and should arrive within the week.",
            confidence: 0.8,
            intent: "shipping",
            needsHuman: false,
            citations: [],
            usage: { inputTokens: 900, outputTokens: 40, cachedInputTokens: 800 },
            model: "fixed-latency",
            provider: "bench",
          };
          resolve({
            ...result,
            attempts: [{ provider: "bench", model: "fixed-latency", status: "ok", latencyMs: ms }],
          });
        }, ms);
        const abort = () => {
          clearTimeout(timer);
          done();
          reject(new LlmError("bench", "aborted", "aborted"));
        };
        signal.addEventListener("abort", abort, { once: true });
      }),
  };
  return {
    engine,
    inFlight: () => inFlight,
    /** The most in flight since the last call (or the start). */
    takePeak: () => {
      const seen = peak;
      peak = inFlight;
      return seen;
    },
  };
}
