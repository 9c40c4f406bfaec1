/**
 * An article's answer asks for the details an agent needs ("send me your full name or account
 * ID, your username, … and the order ID"); a customer who already gave some of them should not
 * be asked again. The offline drafter drops, from the answer's requests, each item the
 * customer's own words already hold, and says which in the note. A request it cannot read item
 * by item (identity checks that ask for "three of the following") is left as it is.
 */

interface Detail {
  /** What the note calls it. */
  name: string;
  /** The customer gave it. */
  given: RegExp;
  /** A requested item asks for it. */
  asked: RegExp;
}

const DETAILS: Detail[] = [
  {
    name: "the order ID",
    given:
      /#\s?[A-Z0-9-]*\d{4,}\b|\border\s*(?:id|number|no\.?|nr\.?)?\s*(?:is\s+)?[:#]?\s*[A-Z]{0,3}-?\d{4,}\b/i,
    asked: /^(?:the|your) order id$/i,
  },
  {
    name: "the email address",
    given: /\[email \d+\]|[^\s@]+@[^\s@]+\.[a-z]{2,}/i,
    asked: /^(?:the|your) email address(?: on (?:your|the) account)?$/i,
  },
  {
    name: "the username",
    given: /\buser\s?name\s*(?:is|:|=)?\s*\S{2,}/i,
    asked: /^(?:the|your) username$/i,
  },
  {
    name: "their name",
    given:
      // case-sensitive for the name's capitals, so the cues are spelt both ways
      /\b[Mm]y name is\b|\b[Nn]ame\s*(?:is|:)\s*\p{Lu}|\b(?:[Tt]his is|[Ii] am|[Ii]['’]m)\s+\p{Lu}\p{Ll}+\s+\p{Lu}\p{Ll}+|\b[Aa]ccount\s*(?:[Ii][Dd]|[Nn]umber)\s*(?:is|:)?\s*\S*\d/u,
    asked: /^(?:your )?full name or account id$/i,
  },
  {
    name: "how long they have waited",
    given:
      /\b(?:\d+|two|three|four|five|six|seven|eight|nine|ten|a couple of|several)\s+(?:days?|weeks?)\b|\ba (?:week|month)\b|\bsince (?:last )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|month)\b/i,
    asked: /^how many days you['’]ve been waiting$/i,
  },
  {
    name: "the shipping status",
    given:
      /\b(?:in transit|out for delivery|(?:was |been |marked (?:as )?)?delivered|order received|(?:hasn['’]t|has not|not yet) shipped|tracking (?:hasn['’]t|has not|doesn['’]t|does not) (?:moved?|changed?|updated?))\b/i,
    asked: /^(?:the|your) (?:order['’]s )?(?:current )?shipping status(?: \([^)]*\))?$/i,
  },
  {
    name: "the code",
    // "SPRING20", "code SAVE-10": a code is capitals and digits, or follows the word
    given:
      /\b(?:promo(?:tion(?:al)?)?\s+)?(?:code|coupon)\s*(?:is\s+)?[:"“']?\s*[A-Za-z0-9-]*\d[A-Za-z0-9-]*\b|\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9-]{5,}\b/,
    asked: /^the (?:promo )?code you['’]re trying to use$/i,
  },
  {
    name: "the membership level",
    given: /\b(?:gold|silver|bronze|guest)\s+(?:member|membership|level|tier)\b/i,
    asked: /^(?:your|the) membership level(?: \([^)]*\))?$/i,
  },
];

/** "Could you send me", "To get started, please send me", "Please also let me know": the request, then its items. */
const REQUEST =
  /^((?:(?:To get started|So I can help|First), )?(?:please |could you |can you )?(?:also )?(?:send me|let me know|tell me) )(.+?)([?.!])$/i;
/** Where the list of items ends: a reason or a remark follows ("so I can …", "; if you …", ", as …"). */
const TAIL =
  /(\s(?:so (?:that )?I can|so I|to find|once|if you don['’]t)\b.*|\s[—–-]\s.*|;.*|\s\((?:if|for example)[^)]*\).*|,\s*(?:if|as|since|because)\b.*|,?\s+and (?:I|we)(?:['’]ll|['’]d| will| can)\b.*)$/i;
/** Items that ask a question rather than name a thing: "tell me how much…", not "send me how much…". */
const QUESTION = /^(?:how|what|which|whether|where|when|who|why)\b/i;
/** An item that begins with its own determiner or question word. */
const DETERMINED = /^(?:the|your|a|an|any|its|their|how|what|which|whether|where|when|who|why|or)\b/i;

/** "a, b and c" from items; "a and b"; "a". */
function joined(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** Commas and "and"s that do not separate items: inside parentheses, or in a list after a colon. */
const COMMA = "\uE000";
const AND = "\uE001";
const hide = (text: string) => text.replaceAll(",", COMMA).replaceAll(" and ", ` ${AND} `);
const unhide = (text: string) => text.replaceAll(COMMA, ",").replaceAll(AND, "and");

/** The items of "a, b, the c (x, y or z), along with d: e, or f"; undefined when unclear. */
function itemsOf(list: string): string[] | undefined {
  let hidden = list.replace(/\([^)]*\)/g, hide);
  const colon = hidden.indexOf(":");
  if (colon >= 0) hidden = hidden.slice(0, colon) + hide(hidden.slice(colon));
  // ", or b" goes on the item before it: "a, or b" is one choice.
  const items = hidden
    .split(/,?\s*along with\s+|,\s*(?!or\s)(?:and\s+|plus\s+)?|\s+and\s+|\s+plus\s+/)
    .map((i) => unhide(i).trim());
  if (!items.every((i) => i.length > 0 && i.split(" ").length <= 24)) return undefined;
  // "your membership level and purchase date": the second shares the first's "your".
  return items.map((item, i) => {
    const before = /^(your|the)\s/i.exec(items[i - 1] ?? "")?.[1];
    return before && !DETERMINED.test(item) ? `${before.toLowerCase()} ${item}` : item;
  });
}

/** One request sentence without the items the customer gave; "" when none is left. */
function trimRequest(sentence: string, given: Detail[], dropped: Set<string>): string {
  if (/\bof the following\b/i.test(sentence)) return sentence;
  const request = REQUEST.exec(sentence.trim());
  if (!request) return sentence;
  const [, lead = "", body = "", end = "."] = request;
  const tail = TAIL.exec(body)?.[1] ?? "";
  const list = tail ? body.slice(0, -tail.length) : body;
  // ", and tell me how many days …": a second request joined to the first.
  const [first = "", verb = "tell me", second] = list.split(/,?\s+and (tell me|let me know)\s+/i);
  const firstItems = itemsOf(first);
  const secondItems = second === undefined ? [] : itemsOf(second);
  if (!firstItems || !secondItems) return sentence;
  const gone = new Set<string>();
  const keep = (items: string[]) =>
    items.filter((item) => {
      const detail = given.find((d) => d.asked.test(item));
      if (detail) gone.add(detail.name);
      return !detail;
    });
  const kept = keep(firstItems);
  const keptSecond = keep(secondItems);
  if (gone.size === 0) return sentence;
  for (const name of gone) dropped.add(name);
  if (kept.length === 0 && keptSecond.length === 0) return "";
  const asking = (items: string[]) =>
    items.every((i) => QUESTION.test(i)) ? lead.replace(/send me/i, "tell me") : lead;
  const parts = [
    kept.length > 0 ? `${asking(kept)}${joined(kept)}` : "",
    keptSecond.length > 0
      ? `${kept.length > 0 ? `and ${verb} ` : lead.replace(/(?:send me|let me know|tell me) $/i, `${verb} `)}${joined(keptSecond)}`
      : "",
  ].filter(Boolean);
  // A remark about a detail no longer asked for ("if you don't remember your username…") goes with it.
  const stale = [...gone].some((name) => tail.toLowerCase().includes(name.replace(/^the /, "")));
  const text = `${parts.join(", ")}${stale ? "" : tail}${end}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function withoutKnownDetails(
  answer: string,
  customerText: string,
): { text: string; dropped: string[] } {
  const given = DETAILS.filter((d) => d.given.test(customerText));
  if (given.length === 0) return { text: answer, dropped: [] };
  const dropped = new Set<string>();
  const sentences = answer.split(/(?<=[.?!])\s+/);
  const kept = sentences.map((s) => trimRequest(s, given, dropped)).filter(Boolean);
  if (dropped.size === 0) return { text: answer, dropped: [] };
  return { text: kept.join(" "), dropped: [...dropped] };
}
