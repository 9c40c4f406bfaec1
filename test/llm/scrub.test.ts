import { describe, expect, it } from "vitest";
import { fromSdkError, LlmError, registerSecrets, scrubSecrets } from "../../src/llm/errors.ts";

describe("scrubSecrets", () => {
  it("removes key-like strings: sk- and sk-ant- keys (masked too), Bearer/Basic, key=value, long tokens", () => {
    const cases: Array<[string, string]> = [
      ["Incorrect API key provided: sk-proj-Ab12Cd34Ef56Gh78.", "sk-proj-Ab12Cd34Ef56Gh78"],
      ["Incorrect API key provided: sk-abc12*****************xyz9.", "sk-abc12"],
      ["invalid x-api-key sk-ant-api03-QwErTy123456-AbC", "sk-ant-api03"],
      ["sent Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"],
      ["header Basic dXNlcjpwYXNz was refused", "dXNlcjpwYXNz"],
      ["url ?api_key=short1 rejected", "short1"],
      ['{"token": "abc"}', "abc"],
      ["key 3f2a9c0e7b1d4a6f8e2c9b0a7d3f1e5c is revoked", "3f2a9c0e7b1d4a6f8e2c9b0a7d3f1e5c"],
      ["key gsk_Z9xY8wV7uT6sR5qP4oN3mL2kJ1iH0g is revoked", "Z9xY8wV7uT6sR5qP4oN3mL2kJ1iH0g"],
      ["key hf_abcdefghijklmnop0123456789qrst is revoked", "abcdefghijklmnop0123456789"],
    ];
    for (const [text, secret] of cases) {
      const scrubbed = scrubSecrets(text);
      expect(scrubbed, text).not.toContain(secret);
      expect(scrubbed, text).toContain("[redacted]");
    }
  });

  it("keeps what helps debugging: model names, URL paths, identifiers, ordinary words", () => {
    for (const text of [
      "The model `claude-3-5-sonnet-20241022` does not exist",
      "404 on https://llm.local:11434/v1/chat/completions",
      "Invalid type for 'messages[0]': expected ChatCompletionRequestMessage",
      "max_tokens: 400 is too large; tokens: 812",
    ]) {
      expect(scrubSecrets(text)).toBe(text);
    }
  });

  it("removes configured secrets verbatim, even when they look like words", () => {
    registerSecrets(["plain-words-canary-key", "short"]);
    expect(scrubSecrets("your key plain-words-canary-key is wrong")).toBe("your key [redacted] is wrong");
    expect(scrubSecrets("key=plain-words-canary-key")).not.toContain("plain-words");
    expect(scrubSecrets("a short note")).toBe("a short note");
    expect(scrubSecrets("local-key-value is wrong", ["local-key-value"])).toBe("[redacted] is wrong");
  });

  it("every LlmError message and its cause pass through it", () => {
    registerSecrets(["echoed-canary-words"]);
    const sdkError = Object.assign(new Error("400 key echoed-canary-words is not valid for this model"), {
      status: 400,
    });
    const error = fromSdkError("compatible", sdkError);
    expect(error).toBeInstanceOf(LlmError);
    expect(error.kind).toBe("bad_request");
    expect(error.message).toMatch(/^compatible: rejected \(400\): 400 key \[redacted\]/);
    expect(String(error.stack)).not.toContain("echoed-canary-words");
    expect(String((error.cause as Error).message)).not.toContain("echoed-canary-words");
    expect(JSON.stringify(error.cause)).not.toContain("echoed-canary-words");
  });
});
