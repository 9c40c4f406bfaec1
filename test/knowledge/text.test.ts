import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Lexicon } from "../../src/knowledge/lexicon.ts";
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

describe("the index's lexicon", () => {
  /** Ids in the order words are first seen, as the index gives them. */
  const numbering = () => {
    const ids = new Map<string, number>();
    return (word: string) => {
      let id = ids.get(word);
      if (id === undefined) {
        id = ids.size;
        ids.set(word, id);
      }
      return id;
    };
  };

  it("reads every text as wordsOf does, its words numbered in the same order", () => {
    // Mostly ASCII, so most texts take the lexicon's own path; the rest go through wordsOf.
    const piece = fc.oneof(
      {
        weight: 30,
        arbitrary: fc.constantFrom(
          ...["the", "a", "i", "is", "Refund", "REFUND", "money", "back", "pay", "me", "two", "2", "factor"],
          ...["step", "too", "small", "doesnt", "does", "not", "fit", "never", "arrived", "sent", "wrong"],
          ...[
            "order",
            "x",
            "12",
            "123",
            "a1b2c3",
            "a".repeat(39),
            "b".repeat(40),
            "c".repeat(41),
            "don",
            "t",
          ],
          ...[" ", "  ", ",", ".", "-", "\n", "\t", "'", "\u2019", "`", "\u2014", "\u00a0", "\u201c", "\x0c"],
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          ...["\u00e9", "\u0301", "\ufb01", "\uff32", "\uff07", "\ud83d\ude00", "\ud800", "\x7f", "\u0085"],
        ),
      },
    );
    const texts = fc.array(fc.string({ unit: piece, maxLength: 30 }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(texts, (list) => {
        const expected = numbering();
        const lexicon = new Lexicon(numbering());
        for (const text of list) {
          const count = lexicon.read(text);
          expect([...lexicon.ids().subarray(0, count)]).toEqual(wordsOf(text, false).map(expected));
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
