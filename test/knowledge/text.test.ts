import { describe, expect, it } from "vitest";
import { wordsOf } from "../../src/knowledge/text.ts";

describe("tokenising", () => {
  it("reads punctuation beyond ASCII as a separator, like its ASCII form", () => {
    expect(wordsOf("refund\u2014shipping\u00a0label \u201cdelayed\u201d\u2026", false)).toEqual(
      wordsOf('refund - shipping label "delayed"...', false),
    );
    expect(wordsOf("I don\u2019t have my receipt", false)).toEqual(wordsOf("I don't have my receipt", false));
  });

  it("folds letters beyond ASCII: width, accents, ligatures and a full-width apostrophe", () => {
    expect(wordsOf("\uff32\uff45\uff46\uff55\uff4e\uff44 remboursé", false)).toEqual(
      wordsOf("refund rembourse", false),
    );
    expect(wordsOf("\ufb01nd my order", false)).toEqual(wordsOf("find my order", false));
    expect(wordsOf("don\uff07t \u2014 wait", false)).toEqual(wordsOf("dont wait", false));
  });

  it("keeps a one-letter word only where it starts a phrase", () => {
    expect(wordsOf("2 factor code", false)).toEqual(wordsOf("two factor code", false));
    expect(wordsOf("x y z order", false)).toEqual(wordsOf("order", false));
  });
});
