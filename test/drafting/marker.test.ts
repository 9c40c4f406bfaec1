import { afterEach, expect, it } from "vitest";
import { useNativeCrypto } from "../../src/crypto.ts";
import { markerFingerprint } from "../../src/drafting/marker.ts";
import { nodeCrypto } from "../../src/runtime/node-crypto.ts";

afterEach(() => useNativeCrypto(undefined));

it("gives a job the same marker with Node's synchronous SHA-256 as with Web Crypto", async () => {
  const ids = ["0190f3a2-1b2c-7d3e-8f40-123456789abc", "job-1", "job-1:ack", "ü🙂"];
  const web = await Promise.all(ids.map(markerFingerprint));
  let calls = 0;
  useNativeCrypto({
    ...nodeCrypto,
    sha256: (text) => {
      calls++;
      return nodeCrypto.sha256(text);
    },
  });
  expect(await Promise.all(ids.map(markerFingerprint))).toEqual(web);
  expect(calls).toBe(ids.length);
  for (const marker of web) expect(marker).toBeGreaterThanOrEqual(1);
  expect(new Set(web).size).toBe(ids.length);
});
