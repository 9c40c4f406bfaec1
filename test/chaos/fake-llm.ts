import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An OpenAI-compatible chat completions server that misbehaves on purpose: slow answers,
 * 500s, answers slower than the client's timeout, truncated JSON and refusals, at the
 * given rates. quill talks to it as LLM_PROVIDER=compatible.
 */

export interface LlmFaults {
  /** Normal latency is uniform in [min, max] ms. */
  latencyMs: [number, number];
  rate500: number;
  /** Answers after this many ms (beyond the client's timeout). */
  hangRate: number;
  hangMs: number;
  truncatedRate: number;
  refusalRate: number;
}

export interface FakeLlm {
  url: string;
  faults: LlmFaults;
  counts: Record<"requests" | "ok" | "500" | "hang" | "truncated" | "refusal", number>;
  close(): Promise<void>;
}

export async function startFakeLlm(random: () => number, faults: LlmFaults): Promise<FakeLlm> {
  const counts = { requests: 0, ok: 0, "500": 0, hang: 0, truncated: 0, refusal: 0 };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      counts.requests++;
      const roll = random();
      // Consecutive bands of [0, 1): each fault takes its rate's width, the rest answers normally.
      const bands: Array<[keyof typeof counts, number]> = [
        ["500", faults.rate500],
        ["hang", faults.hangRate],
        ["truncated", faults.truncatedRate],
        ["refusal", faults.refusalRate],
      ];
      let kind: keyof typeof counts = "ok";
      let edge = 0;
      for (const [name, rate] of bands) {
        edge += rate;
        if (roll < edge) {
          kind = name;
          break;
        }
      }
      counts[kind]++;
      const [min, max] = faults.latencyMs;
      const delay = kind === "hang" ? faults.hangMs : min + random() * (max - min);
      setTimeout(() => answer(res, kind, body), delay);
    });
  });
  // Requests the client abandoned must not keep the server open.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    faults,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(res: import("node:http").ServerResponse, kind: string, body: string) {
  if (res.destroyed) return;
  if (kind === "500") {
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: "upstream exploded", type: "server_error" } }));
    return;
  }
  let question = "";
  try {
    const request = JSON.parse(body) as { model?: string; messages?: Array<{ content?: string }> };
    question = String(request.messages?.at(-1)?.content ?? "").slice(-80);
  } catch {}
  const draft = JSON.stringify({
    reply: `Thanks for writing in. About "${question.replace(/\s+/g, " ").trim()}": here is what we can do.`,
    confidence: 0.6,
    intent: "general",
    needs_human: false,
    needs_human_reason: null,
    language: "en",
    citations: [],
  });
  const content = kind === "truncated" ? draft.slice(0, Math.floor(draft.length / 2)) : draft;
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: "chaos-model",
      choices: [
        {
          index: 0,
          message:
            kind === "refusal"
              ? { role: "assistant", content: null, refusal: "I can't help with that." }
              : { role: "assistant", content },
          finish_reason: kind === "truncated" ? "length" : "stop",
        },
      ],
      usage: { prompt_tokens: 200, completion_tokens: 40, total_tokens: 240 },
    }),
  );
}
