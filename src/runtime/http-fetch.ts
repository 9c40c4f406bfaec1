import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";

/**
 * The Crisp client's fetch on Node: node:http with keep-alive instead of the global fetch
 * (undici with web streams and a Request/Response pair per call), which costs several times
 * the CPU per call, and a draft makes several Crisp calls (bench/profiling.md). It does what
 * the client needs: method, headers, a string body and a signal in; status, ok, headers.get()
 * and text() out, once the whole answer is read.
 */
export function createHttpFetch(options: { lookup?: LookupFunction } = {}): typeof fetch {
  const agents = {
    "http:": new http.Agent({ keepAlive: true }),
    "https:": new https.Agent({ keepAlive: true }),
  };
  return ((input: string | URL, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = typeof input === "string" ? new URL(input) : input;
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        reject(new TypeError(`unsupported protocol ${url.protocol}`));
        return;
      }
      const body = typeof init.body === "string" ? init.body : undefined;
      const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
      if (body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(body));
      const request = (url.protocol === "https:" ? https : http).request(
        url,
        {
          method: init.method ?? "GET",
          headers,
          agent: agents[url.protocol],
          // node:http never follows redirects, whatever `init.redirect` says.
          ...(options.lookup ? { lookup: options.lookup } : {}),
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (response) => {
          response.setEncoding("utf8");
          let text = "";
          response.on("data", (chunk: string) => {
            text += chunk;
          });
          response.on("error", reject);
          response.on("end", () => {
            const status = response.statusCode ?? 0;
            const head = response.headers;
            resolve({
              status,
              ok: status >= 200 && status < 300,
              headers: {
                get: (name: string) => {
                  const value = head[name.toLowerCase()];
                  return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
                },
              },
              text: async () => text,
            } as unknown as Response);
          });
        },
      );
      request.on("error", reject);
      request.end(body);
    })) as typeof fetch;
}
