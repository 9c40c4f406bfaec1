import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type Command, parseCommand, replyOutcome, similarity } from "../../src/drafting/commands.ts";
import { tally } from "./figures.ts";

/**
 * Fuzzes the note command parser against an independent reading of its contract: a note is a
 * command when, after leading whitespace, it is "/" + a whole command word (any case) followed
 * by whitespace, punctuation or the end; the argument is the rest of the note, trimmed.
 */

const figures = tally("note commands", {
  notes: ["command", "plain note"],
  "similarity pairs": ["sent_as_is", "edited", "ignored"],
});
afterAll(() => console.log(figures.line()));
/** Parses a note, tallying whether it was a command. */
const parse = (text: string) => {
  const command = parseCommand(text);
  figures.add("notes", command ? "command" : "plain note");
  return command;
};

const WORDS: Record<string, Command["name"]> = {
  approve: "approve",
  send: "send",
  redraft: "redraft",
  reject: "reject",
  quill: "help",
};
const canonicalWord = (name: Command["name"]) => (name === "help" ? "quill" : name);

/** The contract, written without the parser's regular expression. */
function expected(text: string): Command | undefined {
  const rest = text.replace(/^\s+/, "");
  if (!rest.startsWith("/")) return undefined;
  let end = 1;
  while (end < rest.length && /[A-Za-z]/.test(rest.charAt(end))) end++;
  const word = rest.slice(1, end);
  // The word must end there: a digit or "_" would continue it ("/send2", "/send_all").
  if (!word || /[A-Za-z0-9_]/.test(rest.charAt(end))) return undefined;
  const name = Object.hasOwn(WORDS, word.toLowerCase()) ? WORDS[word.toLowerCase()] : undefined;
  return name ? { name, arg: rest.slice(end).trim() } : undefined;
}

const anyCase = (word: string) =>
  fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(""));

const whitespace = fc
  .array(fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\ufeff", "\u3000"), { maxLength: 4 })
  .map((c) => c.join(""));

const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 60 }),
);

/** Texts near commands: known and unknown words, any case, glued to anything. */
const commandish = fc
  .tuple(
    whitespace,
    fc.constantFrom("/", "/", "//", "\\", " /", "／"),
    fc.oneof(
      fc.constantFrom(...Object.keys(WORDS)).chain(anyCase),
      fc.constantFrom("approved", "sen", "sendx", "help", "re", "quil", "Ｓend", "ſend", "\u212aeep"),
      fc.string({ maxLength: 10 }),
    ),
    fc.oneof(
      fc.constant(""),
      whitespace,
      fc.constantFrom("1", "_", "x", "-", ":", "!", ".", "é", "\u0000"),
      fc.string({ maxLength: 3 }),
    ),
    anyText,
  )
  .map((parts) => parts.join(""));

describe("fuzz: note commands", () => {
  it("any text parses without throwing, exactly as the contract says", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, commandish), (text) => {
        expect(parse(text)).toEqual(expected(text));
      }),
      { numRuns: 3_000 },
    );
  });

  it("the contract is not vacuous: it recognises each word and refuses look-alikes", () => {
    expect(expected(" /SEND  hi ")).toEqual({ name: "send", arg: "hi" });
    expect(expected("/quill")).toEqual({ name: "help", arg: "" });
    expect(expected("/approve.")).toEqual({ name: "approve", arg: "." });
    expect(expected("/send2 hi")).toBeUndefined();
    expect(expected("/sendx hi")).toBeUndefined();
    expect(expected("x /send hi")).toBeUndefined();
    expect(expected("/constructor")).toBeUndefined();
  });

  it('"/<command> " + text yields that text trimmed, whatever the case and leading whitespace', () => {
    fc.assert(
      fc.property(
        whitespace,
        fc.constantFrom(...Object.keys(WORDS)).chain(anyCase),
        fc.constantFrom(" ", "\t", "\n", "  "),
        anyText,
        (lead, word, gap, arg) => {
          const command = parse(`${lead}/${word}${gap}${arg}`);
          expect(command).toEqual({ name: WORDS[word.toLowerCase()], arg: arg.trim() });
        },
      ),
      { numRuns: 1_500 },
    );
  });

  it("a parsed command written back in canonical form parses to itself", () => {
    fc.assert(
      fc.property(commandish, (text) => {
        const command = parse(text);
        if (!command) return;
        const canonical = `/${canonicalWord(command.name)}${command.arg ? ` ${command.arg}` : ""}`;
        expect(parseCommand(canonical)).toEqual(command);
      }),
      { numRuns: 1_500 },
    );
  });

  it("a note is never a command unless its first visible character is the slash", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 3 }).filter((p) => !/^\s*\//.test(p) && /\S/.test(p)),
        commandish,
        (prefix, text) => {
          expect(parse(prefix + text.replace(/^\s+/, ""))).toBeUndefined();
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("similarity is a symmetric score in [0, 1], 1 for the same words, and picks an outcome", () => {
    fc.assert(
      fc.property(anyText, anyText, whitespace, (a, b, pad) => {
        const score = similarity(a, b);
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(1);
        expect(similarity(b, a)).toBe(score);
        expect(similarity(a, `${pad}${a}${pad}`)).toBe(1);
        const outcome = replyOutcome(score);
        expect(["sent_as_is", "edited", "ignored"]).toContain(outcome);
        figures.add("similarity pairs", outcome);
      }),
      { numRuns: 500 },
    );
  });
});
