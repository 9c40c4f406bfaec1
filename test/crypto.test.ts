import { afterEach, describe, expect, it } from "vitest";
import { hmac, hmacHex, randomToken, safeEqual, sha256, sha256Hex, useNativeCrypto } from "../src/crypto.ts";
import { nodeCrypto } from "../src/runtime/node-crypto.ts";

afterEach(() => useNativeCrypto(undefined));

describe("crypto", () => {
  const inputs: Array<[string, string]> = [
    ["secret", "message"],
    ["ü🙂 key", "ü🙂 message\n"],
  ];

  it("gives the same HMACs and digests with the Node runtime's native crypto as with Web Crypto", async () => {
    const web = async () =>
      Promise.all(
        inputs.map(async ([secret, message]) => [
          await hmacHex(secret, message),
          await hmac(secret, message),
          await sha256Hex(message),
          [...(await sha256(message))],
        ]),
      );
    const viaWeb = await web();
    useNativeCrypto(nodeCrypto);
    expect(await web()).toEqual(viaWeb);
  });

  it("matches the RFC 4231 HMAC-SHA256 vector and the SHA-256 of the empty string", async () => {
    expect(await hmacHex("Jefe", "what do ya want for nothing?")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
    expect(await sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(await hmac("Jefe", "what do ya want for nothing?")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("compares strings in full and makes base64url tokens", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(16)).not.toBe(randomToken(16));
  });
});
