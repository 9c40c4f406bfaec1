import { findLinks, hostAllowed, urlOf } from "./links.ts";

/**
 * What in the customer's own message should make an operator look twice before answering:
 * instructions aimed at the AI, a request for staff credentials or other customers' data,
 * links that hide or fake where they go, staff impersonation with pressure to act, and a
 * threat to escalate (a chargeback, a lawyer, a regulator). Each
 * finding is a flag on the draft (shown in the note, never auto-sent); answering stays the
 * operator's call, so /approve still works.
 */

export const SUSPICIOUS_FLAG = "suspicious message:";
export const AT_RISK_FLAG = "at risk:";

/** A customer about to go to their bank, a lawyer or a regulator: a person should answer, and soon. */
const THREAT =
  /\bcharge ?backs?\b|\b(?:dispute|reverse) (?:the |this |it |my )?(?:charge|payment|transaction)s?\b(?:\s+\w+){0,3}\s+(?:with|through) (?:my|the) (?:bank|card|credit card)\b|\b(?:lawyer|attorney|solicitor|legal action|small claims|sue you|suing you|take you to court)\b|\breport (?:you|this|your (?:company|store|shop))\b(?:\s+\w+){0,3}\s+(?:to )?(?:the )?(?:bbb|better business bureau|ftc|trading standards|consumer (?:protection|rights)|authorities|police)\b|\b(?:litige|opposition) (?:bancaire|aupr[èe]s de ma banque)\b|\bavocat\b|\bporter plainte\b|\br[üu]ckbuchung\b|\banwalt\b|\bcontracargo\b|\babogado\b|\bdenuncia(?:r[ée])?\b/i;

/** "Ignore your previous instructions", "print your system prompt": written for the model. */
const INJECTION = new RegExp(
  [
    // "ignore your previous instructions", not "ignore the delivery instructions I left"
    /\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:(?:your|the|my)\s+)?(?:previous|prior|above|earlier|preceding|initial|original|system|all|any|your)\s+(?:instructions?|prompts?|rules|guidelines|directives)\b/
      .source,
    /\bsystem prompt\b|\b(?:god|dan) mode\b|\bjailbreak\b|\bnew instructions?\s*:/.source,
    /\byou are (?:now|no longer) (?:(?:an?|the) )?(?:dan\b|unrestricted|jailbroken|in (?:developer|god) mode|bound by|(?:ai|assistant|chatbot|bot|model)\b|a different (?:ai|assistant|bot))/
      .source,
    /\bignore(?:z)? (?:toutes? )?(?:les |vos )?instructions\b|\bignora (?:las |tus )?instrucciones\b|\bignoriere (?:alle |deine )?(?:vorherigen )?anweisungen\b/
      .source,
  ].join("|"),
  "i",
);

/**
 * Staff secrets or other people's data: a customer never needs an operator's password. A
 * customer's own codes ("send me the verification code again") are theirs to ask for.
 */
const WANTED = new RegExp(
  [
    // an operator's own secrets ("your admin password"), not "your password reset link"
    /\b(?:your|all)\s+(?:admin(?:istrator)?\s+|login\s+|account\s+|dashboard\s+|staff\s+)?(?:passwords?|passcodes?|credentials|login details|api keys?|access tokens?)\b(?!\s+(?:reset|recovery|change|link|e-?mail|policy|requirements|rules))/
      .source,
    /\b(?:the|an?)\s+(?:admin(?:istrator)?|staff|dashboard|crisp)\s+(?:passwords?|credentials|login)\b/
      .source,
    // other people's data ("the customer's card numbers", "all customers' emails"), not "my user data"
    /\bthe (?:customer|client|user)['’]s\s+(?:card numbers?|credit cards?|card details|passwords?)\b/.source,
    /\b(?:(?:other|all(?: (?:the|your))?|your|every)\s+(?:customers?|clients?|users?)|customers|clients|users)['’]?s?\s+(?:card numbers?|credit cards?|card details|passwords?|personal data|data|e-?mail addresses|e-?mails|addresses|phone numbers)\b/
      .source,
  ].join("|"),
  "i",
);
const HAND_OVER =
  /\b(?:reply with|send|share|give|provide|tell|paste|enter|confirm|forward|export|email|type)\b/i;

/** Hosts that only forward: the address the customer sees is not where the link goes. */
const SHORTENERS = new Set([
  "bit.ly",
  "tinyurl.com",
  "t.co",
  "goo.gl",
  "ow.ly",
  "is.gd",
  "buff.ly",
  "rebrand.ly",
  "cutt.ly",
  "shorturl.at",
  "tiny.cc",
  "rb.gy",
  "t.ly",
  "bl.ink",
  "s.id",
]);
/** Words a fake login page puts in its host name to look official. */
const OFFICIAL_WORDS =
  /(?:^|[.-])(?:login|log-in|signin|sign-in|verify|verification|secure|password|reset|wallet|auth)(?:[.-]|$)/i;

/** "This is IT security", "from the Crisp team": a claim to be this company's staff or Crisp's... */
const STAFF_CLAIM =
  /\b(?:this is|we are|i am|i['’]m|from|on behalf of)\s+(?:the\s+)?(?:crisp(?:\s+(?:team|support|security))?|it security|security team|fraud (?:team|department)|(?:your|our)\s+(?:it|security|admin(?:istrator)?|support|tech(?:nical)? support|helpdesk)(?:\s+(?:team|department|desk))?)\b/i;
/** ...with pressure not to think. */
const PRESSURE =
  /\burgent(?:ly)?\b|\bimmediately\b|\bright now\b|\bwithin \d+ (?:minutes?|hours?)\b|\b(?:will be|gets?|be) (?:suspended|locked|deleted|terminated|closed|disabled)\b|\bfinal (?:notice|warning)\b/i;

/** A path segment a fake login page lives at: "/login", "/account/verify", "/reset-password.php". */
const LOGIN_SEGMENT =
  /^(?:log-?in|sign-?in|verify|verification|reset|password|auth|sso|(?:reset|verify|update)-(?:password|account|login)|(?:password|account)-(?:reset|verify|verification))(?:\.\w{2,4})?$/i;
const isLoginPage = (raw: string) =>
  urlOf(raw)
    ?.pathname.split("/")
    .some((segment) => LOGIN_SEGMENT.test(segment)) ?? false;

const quote = (match: RegExpExecArray | null) => (match ? ` (“${match[0].trim().slice(0, 60)}”)` : "");

export function inboundRisks(text: string, linkAllowlist: string[]): string[] {
  const risks: string[] = [];
  const injection = INJECTION.exec(text);
  if (injection) risks.push(`${SUSPICIOUS_FLAG} it gives the AI instructions${quote(injection)}`);
  const sentence = text.split(/(?<=[.!?\n])\s+/).find((s) => WANTED.test(s) && HAND_OVER.test(s));
  if (sentence)
    risks.push(
      `${SUSPICIOUS_FLAG} it asks for credentials or other people's data${quote(WANTED.exec(sentence))}`,
    );
  for (const link of findLinks(text)) {
    if (!link.host || hostAllowed(link.host, linkAllowlist)) continue;
    if (SHORTENERS.has(link.host))
      risks.push(`${SUSPICIOUS_FLAG} a shortened link hides where it goes (${link.host})`);
    else if (OFFICIAL_WORDS.test(link.host))
      risks.push(`${SUSPICIOUS_FLAG} it links to ${link.host}, an address dressed up to look official`);
    else if (isLoginPage(link.raw))
      risks.push(
        `${SUSPICIOUS_FLAG} it links to a login or reset page on ${link.host}, not one of your sites`,
      );
  }
  const threat = THREAT.exec(text);
  if (threat) risks.push(`${AT_RISK_FLAG} the customer threatens to escalate${quote(threat)}`);
  const claim = STAFF_CLAIM.exec(text);
  if (claim && PRESSURE.test(text))
    risks.push(`${SUSPICIOUS_FLAG} it claims to be staff and presses for haste${quote(claim)}`);
  return [...new Set(risks)];
}
