import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { silentLogger } from "../../src/log.ts";
import { type QuillHandle, startQuill } from "../../src/runtime/node.ts";

/**
 * The Node server cuts off slow senders: a body trickled past HTTP_REQUEST_TIMEOUT_SECONDS
 * ends its connection (408) within about a second more, and sockets beyond
 * HTTP_MAX_CONNECTIONS are refused instead of piling up.
 */

let quill: QuillHandle;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "quill-server-"));
  quill = await startQuill({
    env: {
      DATABASE_PATH: join(dir, "q.db"),
      POLL_INTERVAL_SECONDS: "0",
      HTTP_REQUEST_TIMEOUT_SECONDS: "1",
      HTTP_MAX_CONNECTIONS: "3",
    },
    port: 0,
    host: "127.0.0.1",
    log: silentLogger,
  });
}, 30_000);
afterAll(async () => {
  await quill?.stop(1_000);
  rmSync(dir, { recursive: true, force: true });
});

/** A raw socket, and a promise of what it received by the time it closed. */
function open(): { socket: Socket; closed: Promise<{ data: string; afterMs: number }> } {
  const started = Date.now();
  const socket = connect(quill.port, "127.0.0.1");
  let data = "";
  socket.on("data", (chunk) => {
    data += chunk.toString();
  });
  socket.on("error", () => {});
  const closed = new Promise<{ data: string; afterMs: number }>((resolve) =>
    socket.on("close", () => resolve({ data, afterMs: Date.now() - started })),
  );
  return { socket, closed };
}

it("ends a request whose body trickles in past the request timeout", async () => {
  const { socket, closed } = open();
  socket.write(
    "POST /webhooks/crisp HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
  );
  const trickle = setInterval(() => socket.writable && socket.write(" "), 200);
  const { data, afterMs } = await closed;
  clearInterval(trickle);
  expect(data).toMatch(/^HTTP\/1\.1 408/);
  expect(afterMs).toBeLessThan(4_000);
}, 10_000);

it("refuses sockets beyond HTTP_MAX_CONNECTIONS while the others are open", async () => {
  const held = [open(), open(), open()];
  await Promise.all(held.map((h) => new Promise((r) => h.socket.once("connect", r))));
  await new Promise((r) => setTimeout(r, 100));
  const extra = open();
  const result = await Promise.race([
    extra.closed.then(() => "closed"),
    new Promise((r) => setTimeout(() => r("still open"), 1_500)),
  ]);
  expect(result).toBe("closed");
  for (const h of held) h.socket.destroy();
  await Promise.all(held.map((h) => h.closed));
  // Once they are gone, the server answers again.
  expect((await fetch(`${quill.url}/healthz`)).status).toBe(200);
}, 10_000);
