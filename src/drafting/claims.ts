/**
 * What a reply commits the company to, and what it asks the customer for. A promise (a
 * refund, a discount, a price, a deadline, credit, compensation, something free) is
 * supported only by a sentence of a cited article that makes the same kind of claim without
 * negating it, and a figure or a deadline only by the same figure. Patterns cover English,
 * French, German, Spanish, Italian, Portuguese and Dutch.
 */

const NUMBER_WORDS: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  fifteen: 15,
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
  hundred: 100,
  un: 1,
  une: 1,
  deux: 2,
  trois: 3,
  cinq: 5,
  dix: 10,
  vingt: 20,
  trente: 30,
  cinquante: 50,
  cent: 100,
  ein: 1,
  eine: 1,
  zwei: 2,
  drei: 3,
  fünf: 5,
  zehn: 10,
  zwanzig: 20,
  dreißig: 30,
  fünfzig: 50,
  hundert: 100,
  uno: 1,
  dos: 2,
  tres: 3,
  cinco: 5,
  diez: 10,
  veinte: 20,
  cincuenta: 50,
  cien: 100,
  due: 2,
  dieci: 10,
  venti: 20,
  cinquanta: 50,
  cento: 100,
  dois: 2,
  dez: 10,
  vinte: 20,
  cinquenta: 50,
  cem: 100,
  een: 1,
  twee: 2,
  drie: 3,
  vijf: 5,
  tien: 10,
  twintig: 20,
  vijftig: 50,
  honderd: 100,
};
const NUMBER_WORD = Object.keys(NUMBER_WORDS).join("|");
const NUMBER = `(?:\\d[\\d,.]*|(?:${NUMBER_WORD})(?:[ -](?:${NUMBER_WORD}))?)`;
const CURRENCY = "(?:[$€£¥]|usd|eur|gbp|chf|dollars?|bucks|euros?|pounds?|francs?|dólares|dollari|reais)";

export interface PromiseClass {
  kind: string;
  pattern: RegExp;
  /** The claim carries a figure that the article must state too. */
  figure?: boolean;
}

export const PROMISES: PromiseClass[] = [
  {
    kind: "refund",
    pattern:
      /\brefund\w*|\breimburs\w*|\bmoney back\b|\bpay (?:you )?back\b|rembours\w*|r[üu]ckerstatt\w*|erstatt\w*|geld zur[üu]ck|reembols\w*|devoluci[óo]n del dinero|devolvemos|rimbors\w*|reembolso|devolu[çc][ãa]o do dinheiro|terugbeta\w*|geld terug/i,
  },
  {
    kind: "discount",
    pattern:
      /\bdiscount\w*|\bcoupon\b|\bpromo(?:tion(?:al)?)? code\b|\b(?:use|enter|apply) (?:the )?code\b|\bhalf[- ]price\b|\b\d{1,3}\s?%\s?(?:off|de r[ée]duction|de descuento|rabatt|di sconto|de desconto|korting)|\bpercent off\b|r[ée]duction|remise|code promo|rabatt\w*|gutschein\w*|descuento|c[óo]digo promocional|\bsconto\b|desconto|korting|kortingscode/i,
  },
  {
    kind: "credit",
    pattern:
      /\bstore credit\b|\bcredit (?:to|on|in)? ?(?:your|their|the) (?:account|card)\b|\baccount credit\b|\bvoucher\b|\bgift card\b|\bavoir\b|\bbon d['’]achat\b|\bcarte cadeau\b|\bguthaben\b|\bwertgutschein\b|\bcr[ée]dito (?:en|na|sulla)\b|\bvale\b|\bbuono\b|\btegoed\b|\bcadeaubon\b/i,
  },
  {
    kind: "compensation",
    pattern:
      /\bcompensat\w*|\bas a goodwill\b|\bgoodwill gesture\b|\bmake it up to you\b|\bdédommag\w*|\bindemni\w*|\bentschädig\w*|\bkulanz\w*|\bcompensaci[óo]n\b|\bcompensazion\w*|\bcompensa[çc][ãa]o\b|\bschadevergoeding\b/i,
  },
  {
    kind: "free",
    pattern:
      /\bfor free\b|\bfree of charge\b|\bat no (?:extra )?cost\b|\bno charge\b|\bon us\b|\bcomplimentary\b|\bwaive\w*|gratuit\w*|\bkostenlos\w*|\bumsonst\b|\bgratis\b|\bsin coste\b|\bsem custo\b|\bkosteloos\b/i,
  },
  {
    kind: "price",
    figure: true,
    pattern: new RegExp(`${CURRENCY}\\s?${NUMBER}|\\b${NUMBER}\\s?${CURRENCY}`, "i"),
  },
  {
    kind: "deadline",
    figure: true,
    pattern: new RegExp(
      [
        `\\bwithin (?:the next )?${NUMBER}\\s?(?:minutes?|hours?|days?|weeks?|business days?|working days?)`,
        "\\bwithin the hour\\b",
        "\\b(?:by|before|until) (?:tomorrow|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday|end of (?:the )?(?:day|week|month))\\b",
        "\\b(?:by|before|until|no later than) today\\b|\\bsame[- ]day\\b",
        "\\btomorrow\\b|\\btonight\\b|\\bat the latest\\b|\\bguarantee\\w*|\\bnext (?:monday|tuesday|wednesday|thursday|friday|week)\\b",
        `\\bsous ${NUMBER}\\s?(?:heures?|jours?|minutes?)|d['’]ici (?:demain|ce soir|lundi|vendredi|${NUMBER})|\\bdemain\\b|au plus tard|\\bgaranti\\w*`,
        `\\binnerhalb (?:von )?${NUMBER}\\s?(?:stunden|tagen?|minuten|wochen)|\\bbis morgen\\b|\\bmorgen\\b|sp[äa]testens`,
        `\\ben (?:menos de )?${NUMBER}\\s?(?:horas?|d[íi]as?)\\b|\\bma[ñn]ana\\b|a m[áa]s tardar`,
        `\\bentro ${NUMBER}\\s?(?:ore|giorni)|\\bentro domani\\b|\\bdomani\\b|al pi[ùu] tardi`,
        `\\bem ${NUMBER}\\s?(?:horas?|dias?)\\b|\\bamanh[ãa]\\b|no m[áa]ximo`,
        `\\bbinnen ${NUMBER}\\s?(?:uur|dagen)|\\bmorgen\\b|uiterlijk`,
      ].join("|"),
      "i",
    ),
  },
];

/** A sentence that denies rather than claims ("refunds are not available"). */
const NEGATED =
  /\b(?:not|no|never|cannot|can['’]t|won['’]t|isn['’]t|aren['’]t|don['’]t|doesn['’]t|unable|without)\b(?! (?:problem|worries|doubt|trouble))|\bne\b|\bn['’]|\bpas\b|\bjamais\b|\bnicht\b|\bkein\w*|\bnie\b|\bnunca\b|\bnon\b|\bniet\b|\bgeen\b|\bnão\b/i;

/** The claim at `at` is denied by a negation within four words of it ("refunds are not available"). */
function deniedAt(sentence: string, at: number, length: number): boolean {
  const before = sentence.slice(0, at).split(/\s+/).slice(-5).join(" ");
  const after = sentence
    .slice(at + length)
    .split(/\s+/)
    .slice(0, 5)
    .join(" ");
  return NEGATED.test(before) || NEGATED.test(after);
}

const sentences = (text: string) => text.split(/(?<=[.!?])\s+|\n+/).filter((s) => s.trim() !== "");

/** "twenty dollars", "$20", "20 €" → 20; "2 business days" → 2. */
function figureOf(claim: string): number | undefined {
  const digits = /\d[\d,.]*/.exec(claim)?.[0];
  if (digits) return Number(digits.replace(/,(?=\d{3}\b)/g, "").replace(",", "."));
  let total = 0;
  let seen = false;
  for (const word of claim.toLowerCase().split(/[\s-]+/)) {
    const value = NUMBER_WORDS[word];
    if (value === undefined) continue;
    seen = true;
    total = value === 100 ? Math.max(1, total) * 100 : total + value;
  }
  return seen ? total : undefined;
}

/**
 * What makes a promise bigger than the article's: "in full", "today", "no questions asked".
 * A supporting sentence must carry the same qualifiers as the reply's sentence.
 */
const QUALIFIERS: RegExp[] = [
  /\b(?:full|fully|in full|entire|entirely|complete|completely|100\s?%|every (?:cent|penny))\b|int[ée]gral\w*|en totalit[ée]|vollst[äa]ndig|komplett|completo|completa|[íi]ntegro|integral|interamente|totale|volledig/i,
  /\b(?:today|immediately|right away|instantly|now|same[- ]day|straight away)\b|aujourd['’]hui|imm[ée]diatement|sofort|heute|hoy|inmediatamente|oggi|subito|hoje|imediatamente|vandaag|meteen|direct/i,
  /\b(?:no questions asked|guaranteed?|unconditional\w*|whatever happens|in any case)\b|sans condition|garanti\w*|bedingungslos|sin condiciones|senza condizioni|sem condi[çc][õo]es|zonder voorwaarden/i,
];

/** Each promise class's pattern made global once: matchAll would copy (and may recompile) it per call. */
const GLOBAL_PROMISES = PROMISES.map((promise) => ({
  ...promise,
  global: new RegExp(promise.pattern.source, "gi"),
}));

/** Every match of a global pattern in `text`, as matchAll lists them, without copying the pattern. */
function matchesOf(global: RegExp, text: string): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  global.lastIndex = 0;
  for (let m = global.exec(text); m !== null; m = global.exec(text)) {
    out.push(m);
    if (m[0] === "") global.lastIndex++;
  }
  global.lastIndex = 0;
  return out;
}

/**
 * Compiles the promise patterns now: V8 compiles a regular expression on its first use, and
 * these take ~100 ms, which would otherwise hold the event loop during the first draft.
 */
export function compilePromisePatterns(): void {
  unsupportedPromises("We will refund you $20 by Friday, guaranteed within 3 days, 10% off.", []);
}

/** The promises in `text` that no cited article's own sentences support. */
export function unsupportedPromises(text: string, citedAnswers: string[]): string[] {
  const support = citedAnswers.flatMap(sentences);
  const out: string[] = [];
  const draftSentences = sentences(text);
  for (const { kind, global, figure } of GLOBAL_PROMISES) {
    for (const match of matchesOf(global, text)) {
      const claim = match[0];
      const said = draftSentences.find((d) => d.includes(claim)) ?? text;
      const qualifiers = QUALIFIERS.filter((q) => q.test(said));
      const value = figure ? figureOf(claim) : undefined;
      const supported = support.some((s) => {
        if (!qualifiers.every((q) => q.test(s))) return false;
        const stated = matchesOf(global, s)
          .filter((m) => !deniedAt(s, m.index, m[0].length))
          .map((m) => m[0]);
        if (!figure) return stated.length > 0;
        return stated.some((m) =>
          value === undefined ? m.toLowerCase() === claim.toLowerCase() : figureOf(m) === value,
        );
      });
      if (!supported) {
        out.push(`unsupported promise: ${kind} ("${claim.trim()}")`);
        break;
      }
    }
  }
  return out;
}

/** Things of value a reply can hand over besides money's own words: goods sent again. */
const REPLACEMENT =
  /\breplacement\b|\b(?:send|ship) you (?:a )?(?:new|another)\b|\bremplacement\b|\bersatz\w*|\breemplazo\b|\bsostituzion\w*|\bsubstitui[çc][ãa]o\b|\bvervang\w*/i;
const MONEY_KINDS = new Set(["refund", "discount", "credit", "compensation", "free"]);
/**
 * Someone undertaking to do it: "I can refund", "we'll send you a replacement", "let me
 * waive", "members get a credit". A sentence that only mentions it ("promo codes last 7
 * days") undertakes nothing.
 */
const UNDERTAKES =
  /\b(?:I|we)(?:['’](?:ll|d|ve|m)| will| can| could| would| may| shall| am| are| have)?\b(?:\s+\w+){0,4}?\s+(?:refund|give|send|issue|apply|waive|credit|offer|add|get|start|process|reimburse|cover|replace|arrange|ship|take)\w*\b|\blet me\b|\b(?:you|members?|customers?)\b(?:\s+\w+){0,3}?\s+(?:get|receive|qualify|are entitled|is entitled)\b|\b(?:je|nous) (?:vais|allons|peux|pouvons)\b|\b(?:ich|wir) (?:kann|k[öo]nnen|werde|werden)\b|\b(?:puedo|podemos|voy a|vamos a|posso|possiamo|podemos|vou)\b|\b(?:ik|wij|we) (?:kan|kunnen|zal|zullen)\b/i;

/**
 * What the reply undertakes to give: a refund, a discount, credit, compensation, something
 * free or a replacement, each once, as "kind (“words”)". Supported by an article or not, a
 * person sends these: auto-send holds them back.
 */
export function moneyCommitments(text: string): string[] {
  const found = new Map<string, string>();
  for (const sentence of sentences(text)) {
    if (!UNDERTAKES.test(sentence)) continue;
    for (const { kind, global } of GLOBAL_PROMISES) {
      if (!MONEY_KINDS.has(kind) || found.has(kind)) continue;
      const stated = matchesOf(global, sentence).find((m) => !deniedAt(sentence, m.index, m[0].length));
      if (stated) found.set(kind, stated[0].trim());
    }
    const replacement = REPLACEMENT.exec(sentence);
    if (
      replacement &&
      !found.has("replacement") &&
      !deniedAt(sentence, replacement.index, replacement[0].length)
    )
      found.set("replacement", replacement[0].trim());
  }
  return [...found].map(([kind, claim]) => `${kind} (“${claim}”)`);
}

/** What a phisher asks for; a reply never needs any of it. */
const SECRET =
  /\b(?:(?:credit |debit )?card (?:number|no\.?|details|digits)|full card|cvv2?|cvc|security code on the back|(?:card )?expiry date|expiration date|password|passcode|pin(?: code| number)?|one[- ]time (?:code|password|passcode)|otp|verification code|2fa code|login code|sms code|authentication code|bank login)\b|num[ée]ro de (?:carte|cb)|cryptogramme|date d['’]expiration|mot de passe|code (?:de v[ée]rification|[àa] usage unique|re[çc]u par sms)|kartennummer|pr[üu]fziffer|passwort|kennwort|einmal(?:code|passwort)|n[úu]mero de (?:la )?(?:tarjeta|cart[ãa]o)|contrase[ñn]a|c[óo]digo de (?:seguridad|verificaci[óo]n|verifica[çc][ãa]o|seguran[çc]a)|senha|numero della carta|codice (?:di sicurezza|otp)|kaartnummer|wachtwoord|verificatiecode/i;
/** The customer is asked to hand something over. */
const ASK =
  /\b(?:please|kindly|can you|could you|would you|you (?:can|could|need to|must|should|will need to))\b[^.?!]*\b(?:send|share|provide|give|tell|type|enter|confirm|reply|write|include|read|paste|let us know)\b|\b(?:send|share|give|tell|provide|confirm|reply with|read out|email|text)\b[^.?!]{0,30}\b(?:us|me|here|back)\b|\b(?:what is|what['’]s|what are) your\b|\b(?:i|we) (?:will )?(?:need|require) your\b|\breply with\b|envoyez|communiquez|donnez|indiquez|merci de|schicken sie|senden sie|geben sie|nennen sie|env[íi]e(?:nos)?|ind[íi]quenos|proporci[óo]ne(?:nos)?|por favor|inviaci|invia|fornisci|comunicaci|envie|informe|stuur|geef|deel/i;

/** "never share your code": a warning, not a request. */
const WARNS_AGAINST =
  /\b(?:never|don['’]t|do not|no need|won['’]t ever|will never)\b|\bjamais\b|\bniemals\b|\bnunca\b|\bmai\b|\bnooit\b/i;

/** The reply asks the customer for card data, a password or a one-time code. */
export function asksForSecrets(text: string): string | undefined {
  for (const sentence of sentences(text)) {
    const secret = SECRET.exec(sentence);
    if (secret && ASK.test(sentence) && !WARNS_AGAINST.test(sentence)) return secret[0];
  }
  return undefined;
}

const splitWords = (text: string) =>
  text
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);

/** The last text split, and its n-grams by n: a draft is checked against many sources in a row. */
let last: { text: string; grams: Map<number, string[]> } | undefined;
function gramsOf(text: string, n: number): string[] {
  if (last?.text !== text) last = { text, grams: new Map() };
  let grams = last.grams.get(n);
  if (!grams) {
    const w = splitWords(text);
    grams = [];
    for (let i = 0; i + n <= w.length; i++) grams.push(w.slice(i, i + n).join(" "));
    last.grams.set(n, grams);
  }
  return grams;
}

/**
 * Instructions, articles and protected lines repeat from draft to draft: their n-grams are
 * kept, a few hundred texts at most.
 */
const shingleCache = new Map<number, Map<string, Set<string>>>();
let cachedTexts = 0;

/** Word n-grams of a text, as strings (callers must not change the set). */
export function shingles(text: string, n: number): Set<string> {
  let byText = shingleCache.get(n);
  const cached = byText?.get(text);
  if (cached) return cached;
  const w = splitWords(text);
  const out = new Set<string>();
  for (let i = 0; i + n <= w.length; i++) out.add(w.slice(i, i + n).join(" "));
  if (cachedTexts >= 256) {
    // Oldest first: the first text of the first n still cached.
    for (const [size, texts] of shingleCache) {
      const oldest = texts.keys().next().value as string;
      texts.delete(oldest);
      cachedTexts--;
      if (texts.size === 0) shingleCache.delete(size);
      break;
    }
  }
  byText = shingleCache.get(n);
  if (!byText) {
    byText = new Map();
    shingleCache.set(n, byText);
  }
  byText.set(text, out);
  cachedTexts++;
  return out;
}

/** Every run of `n` words the reply shares with `source`. */
export function sharedRuns(text: string, source: Set<string>, n: number): string[] {
  if (source.size === 0) return [];
  return gramsOf(text, n).filter((gram) => source.has(gram));
}
