import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { JSON_SCHEMA, load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { simpleFrontMatter } from "../../src/knowledge/frontmatter.ts";

/** js-yaml as parseArticle calls it: the oracle whenever the fast path answers. */
const yaml = (text: string) => {
  try {
    return { value: load(text, { schema: JSON_SCHEMA }) ?? {} };
  } catch {
    return { error: true };
  }
};

const frontMatterOf = (content: string) => /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(content)?.[1];

describe("front matter without a YAML parser", () => {
  it("reads every shipped article as js-yaml does", () => {
    const dir = join(import.meta.dirname, "../../kb");
    const files = readdirSync(dir).filter((f) => f.endsWith(".md") && f !== "README.md");
    for (const file of files) {
      const text = frontMatterOf(readFileSync(join(dir, file), "utf8")) as string;
      expect(simpleFrontMatter(text), file).toEqual(yaml(text).value);
    }
  });

  it("leaves what it does not read to js-yaml", () => {
    for (const text of [
      "questions: [a, b]",
      "title: 'it''s'",
      'title: "two\\nlines"',
      'title: "quoted" after',
      'title: "unclosed',
      "answer: |\n  block",
      "title: first\n  continued",
      "count: 12",
      "hex: 0x1F",
      "ratio: .5",
      "flag: true",
      "empty:",
      "key: a: b",
      "list:\n  - a\n    - b",
      "list:\n  - a\n - b",
      "list:\n  -",
      "list:\n  - 12",
      "list:\n  - key: value",
      "title:\tTab",
      "title: a\r\nid: b",
      "a: 1\na: 2",
      "True: x",
      "__proto__: x",
      "- item",
      "title: x\n- item",
      "title: \u0085",
      "&anchor: x",
    ])
      expect(simpleFrontMatter(text), JSON.stringify(text)).toBeUndefined();
  });

  it("agrees with js-yaml on generated front matter", () => {
    // Lines from pieces that sit on YAML's edges: indicators, comments, colons, numbers.
    const piece = fc.constantFrom(
      "a",
      "refund",
      "Hi",
      " ",
      "  ",
      "#",
      " #",
      ":",
      ": ",
      "-",
      "- ",
      "1",
      "0x1",
      ".5",
      "+2",
      "~",
      "null",
      "True",
      "'",
      '"',
      "[",
      "]",
      ",",
      "{",
      "?",
      "!",
      "&",
      "*",
      "|",
      ">",
      "%",
      "@",
      "`",
      "\t",
      "é",
      "\u00a0",
      "😀",
      "http://x.y/z",
      "it's",
    );
    const text = fc.array(fc.string({ unit: piece, maxLength: 6 }), { maxLength: 8 });
    const line = fc.oneof(
      fc
        .tuple(fc.constantFrom("id", "title", "questions", "aliases", "a-b", "_k"), text)
        .map(([key, parts]) => `${key}:${parts.join("")}`),
      fc
        .tuple(fc.constantFrom("", " ", "  ", "    "), text)
        .map(([indent, parts]) => `${indent}-${parts.join("")}`),
      text.map((parts) => parts.join("")),
    );
    let answered = 0;
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        const source = lines.join("\n");
        const fast = simpleFrontMatter(source);
        if (fast === undefined) return;
        answered++;
        expect(yaml(source)).toEqual({ value: fast });
      }),
      { numRuns: 5_000 },
    );
    // The generator reaches the fast path, not only its refusals.
    expect(answered).toBeGreaterThan(100);
  });
});
