import * as stop from "stopword";

/**
 * Retrieval's vocabulary data: stop words (and the ones kept), customer phrases and words
 * mapped to the articles' words, and the cues a customer gives their name with. text.ts
 * reads it; keeping the lists apart keeps the tokeniser's code short.
 */

/**
 * Stop words that tell support topics apart ("never bought", "sold out", "how much", "one
 * more item") or are clothing words in English ("hem").
 */
const KEEP = new Set(
  "never after before more another same only under over out all much many where door hem".split(" "),
);
/**
 * Chat filler the stop word lists do not have. "tell" and "bought" too: "tell me about the
 * jacket I bought" is about the jacket, not a due amount or a charge never bought; and "need"
 * ("hi, I need help" found a due amount at 0.75).
 */
const FILLER =
  "hi hello hey thanks thank pls please ok okay yeah yep guys guy really actually basically just still also anyway wondering quick question help tell bought need want havent hasnt hadnt arent werent shouldnt wouldnt couldnt anything nothing something keep kind sort lot bit able keeps kept ive im id ill dont cant wont didnt doesnt isnt wasnt whats theres its".split(
    " ",
  );
/** Words that carry no meaning for retrieval, in the languages a team's articles are likely in. */
export const STOP_WORDS = new Set(
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
 * Customer phrases → the words the articles use, matched on the word stream (apostrophes
 * removed, so "doesn't" is "doesnt"). Single words are in WORDS. Tuned on eval/kb-tune.jsonl only.
 */
const PHRASES: Record<string, string> = {
  "money back": "refund",
  "pay back": "refund",
  "pay me back": "refund",
  "paying me back": "refund",
  "two factor": "2fa",
  "2 factor": "2fa",
  "2 step": "2fa",
  "two step": "2fa",
  "multi factor": "2fa",
  "verification code": "2fa code",
  "authenticator app": "2fa",
  "authentication app": "2fa",
  "authentication code": "2fa code",
  "authenticator code": "2fa code",
  "security code": "2fa code",
  "user name": "username",
  "log in name": "username",
  "login name": "username",
  "user id": "username",
  "pass word": "password",
  "pass code": "password",
  "promotion code": "promo code",
  "promotional code": "promo code",
  "discount code": "promo code",
  "coupon code": "promo code",
  "voucher code": "promo code",
  "credit card": "card",
  "debit card": "card",
  "shopping cart": "cart",
  "shopping bag": "cart",
  "shopping basket": "cart",
  "search bar": "search",
  "search box": "search",
  "search function": "search",
  "search feature": "search",
  "phone number": "phone",
  "mobile number": "phone",
  "cell number": "phone",
  ...Object.fromEntries(
    ["small", "big", "large", "tight", "loose", "short", "long"].map((w) => [`too ${w}`, "size"]),
  ),
  ...Object.fromEntries(["doesnt fit", "does not fit", "dont fit", "didnt fit"].map((p) => [p, "size"])),
  "sent me the wrong": "wrong item",
  "sent the wrong": "wrong item",
  ...Object.fromEntries(["arrived", "came", "showed up", "got here"].map((w) => [`never ${w}`, "missing"])),
  "not arrived": "missing",
  "not here yet": "missing",
};

/** Phrases by their first word, longest first, so the word stream is matched in one pass. */
export const PHRASES_BY_FIRST = new Map<string, Array<{ words: string[]; to: string[] }>>();
for (const [phrase, to] of Object.entries(PHRASES)) {
  const words = phrase.split(" ");
  const list = PHRASES_BY_FIRST.get(words[0] as string) ?? [];
  list.push({ words, to: to.split(" ") });
  list.sort((a, b) => b.words.length - a.words.length);
  PHRASES_BY_FIRST.set(words[0] as string, list);
}

/**
 * What a customer introduces themselves with ("this is Grace Liu", "I'm Tom"): the
 * capitalised words after it are a name, which says nothing about the question (and some
 * names are words: "Grace", "Hope", "Bill").
 */
export const NAME_CUES = [
  ["im"],
  ["i", "am"],
  ["this", "is"],
  ["its"],
  ["it", "is"],
  ["my", "name", "is"],
  ["names"],
];

/** Customer words → the word the articles use, before stemming. Tuned on eval/kb-tune.jsonl only. */
export const WORDS: Record<string, string> = {
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
  dryer: "dry",
  drier: "dry",
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
