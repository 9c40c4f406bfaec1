import { stemmer } from "stemmer";
import * as stop from "stopword";

/**
 * Words as retrieval sees them: lower case, accents removed, customer vocabulary mapped to
 * one canonical word (synonyms), then stemmed, so "refunded", "reimbursement" and "money
 * back" meet "refund".
 */

/**
 * Stop words that tell support topics apart ("never bought", "sold out", "how much", "one
 * more item") or are clothing words in English ("hem").
 */
const KEEP = new Set(
  "never after before more another same only under over out all much many where door hem".split(" "),
);
/** Chat filler the stop word lists do not have. */
const FILLER =
  "hi hello hey thanks thank pls please ok okay yeah yep guys guy really actually basically just still also anyway wondering quick question help keep kind sort lot bit able keeps kept ive im id ill dont cant wont didnt doesnt isnt wasnt whats theres its".split(
    " ",
  );
/** Words that carry no meaning for retrieval, in the languages a team's articles are likely in. */
const STOP_WORDS = new Set(
  [...stop.eng, ...stop.fra, ...stop.deu, ...stop.spa, ...stop.ita, ...stop.por, ...stop.nld, ...FILLER]
    .map((w) =>
      w
        .normalize("NFKD")
        .replace(/[\u0300-\u036f]/g, "")
        .replace(/['’]/g, ""),
    )
    .filter((w) => !KEEP.has(w)),
);

/**
 * Customer words and phrases → the word the articles use. Phrases are matched on the
 * normalised text before it is split, words after. Tuned on eval/kb-tune.jsonl only.
 */
const PHRASES: Array<[RegExp, string]> = [
  [/\bmoney back\b/g, "refund"],
  [/\bpay(?:ing)? (?:me )?back\b/g, "refund"],
  [/\btwo[ -]?factor\b|\b2[ -]?step\b|\btwo[ -]?step\b|\bmulti[ -]?factor\b/g, " 2fa "],
  [/\bverification code\b|\bauthenticat(?:or|ion) (?:app|code)\b|\bsecurity code\b/g, " 2fa code "],
  [/\buser ?name\b|\blog ?in name\b|\buser id\b/g, " username "],
  [/\bpass ?word\b|\bpass ?code\b/g, " password "],
  [/\bpromo(?:tion(?:al)?)? ?code\b|\bdiscount code\b|\bcoupon code\b|\bvoucher code\b/g, " promo code "],
  [/\bcredit card\b|\bdebit card\b/g, " card "],
  [/\bshopping (?:cart|bag|basket)\b/g, " cart "],
  [/\bsearch (?:bar|box|function|feature)\b/g, " search "],
  [/\bphone number\b|\bmobile number\b|\bcell number\b/g, " phone "],
  [
    /\btoo (?:small|big|large|tight|loose|short|long)\b|\b(?:doesn'?t|does not|don'?t|didn'?t) fit\b/g,
    " size ",
  ],
  [/\bsent (?:me )?the wrong\b|\bwrong item\b/g, " wrong item "],
  [/\bnever (?:arrived|came|showed up|got here)\b|\bnot (?:arrived|here yet)\b/g, " missing "],
];

const WORDS: Record<string, string> = {
  reimburse: "refund",
  reimbursed: "refund",
  reimbursement: "refund",
  repay: "refund",
  refunded: "refund",
  refunds: "refund",
  coupon: "promo",
  voucher: "promo",
  promotional: "promo",
  promotion: "promo",
  pwd: "password",
  pw: "password",
  passwd: "password",
  login: "log",
  signin: "log",
  addy: "address",
  colour: "color",
  coloured: "color",
  colours: "color",
  hue: "color",
  shade: "color",
  parcel: "package",
  packet: "package",
  shipment: "package",
  coat: "jacket",
  denim: "jeans",
  tee: "shirt",
  tshirt: "shirt",
  blouse: "shirt",
  boot: "boots",
  basket: "cart",
  laggy: "slow",
  sluggish: "slow",
  lagging: "slow",
  invoice: "bill",
  invoiced: "bill",
  billed: "bill",
  billing: "bill",
  cheaper: "price",
  pricing: "price",
  cost: "price",
  spot: "stain",
  smudge: "stain",
  mark: "stain",
  cancellation: "cancel",
  canceled: "cancel",
  cancelled: "cancel",
  mail: "email",
  emailed: "email",
  owe: "due",
  membership: "member",
  memberships: "member",
  members: "member",
  // Colour names: the articles say "colour", customers say "pink".
  ...Object.fromEntries(
    "red pink burgundy maroon purple violet blue navy teal green olive yellow orange beige tan brown grey gray white ivory cream black"
      .split(" ")
      .map((c) => [c, "color"]),
  ),
  owed: "due",
};

/** Same letters regardless of case, accents or width ("Ｒｅｆｕｎｄ", "remboursé"). */
export function normalise(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/['’`]/g, "");
}

const stems = new Map<string, string>();
function stem(word: string): string {
  let s = stems.get(word);
  if (s === undefined) {
    s = stemmer(word);
    // The cache is bounded: a flood of unique words (ids, junk) must not grow it forever.
    if (stems.size > 100_000) stems.clear();
    stems.set(word, s);
  }
  return s;
}

/** A word as the index stores it: canonical synonym, stemmed. */
export function termOf(word: string): string {
  return stem(WORDS[word] ?? word);
}

/**
 * A name the customer introduces themselves with ("this is Grace Liu", "Marcus Bell here"):
 * names say nothing about the question, and some are words ("Grace", "Hope", "Bill").
 */
const NAME =
  /\b(?:I['’]?m|I am|[Tt]his is|[Ii]t['’]?s|[Ii]ts|[Mm]y name is|[Nn]ame['’]?s)\s+(?:\p{Lu}[\p{L}'’-]+)(?:\s+\p{Lu}[\p{L}'’-]+){0,2}|\b\p{Lu}[\p{L}'’-]+(?:\s+\p{Lu}[\p{L}'’-]+){0,2}\s+here\b/gu;

/** The surface words of a text, before synonyms and stemming (for typo correction). */
export function wordsOf(text: string): string[] {
  let t = normalise(text.replace(NAME, " "));
  for (const [pattern, replacement] of PHRASES) t = t.replace(pattern, replacement);
  return t
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 1 && !STOP_WORDS.has(w) && !/\d{3,}/.test(w) && w.length < 40);
}

/** Index terms of a text. */
export function termsOf(text: string): string[] {
  return wordsOf(text).map(termOf);
}
