import { focusedAnswer } from "../knowledge/answer.ts";
import { hitOf, type KnowledgeBase, NO_MATCH, type SearchHit } from "../knowledge/kb.ts";
import { aboutSubject } from "../knowledge/subjects.ts";
import { detectTextLanguage } from "../language/detect.ts";
import { languageName } from "../language/names.ts";
import { withoutKnownDetails } from "./known-details.ts";
import type { DraftOptions, DraftRequest, DraftResult, LlmProvider } from "./types.ts";

/**
 * The offline drafter: no model, just the knowledge base. A clear winner is answered with
 * that article's customer answer; two close articles get one clarifying question; a weak
 * match hands over to a human. Operator instructions it cannot follow are said so plainly.
 */

export const OFFLINE_MODEL = "kb-search";

export interface OfflineOptions {
  kb: KnowledgeBase;
}

const usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

/**
 * Bands calibrated on eval/kb-tune.jsonl (eval/README.md has accuracy per band). A match
 * is weak when the article shares only a misspelling's nearest word or one word with the
 * question, or little of the question and its wording; a runner-up within TIE_GAP of the leader is a coin toss between two.
 */
export const TIE_GAP = 0.03;
const WEAK_FIT = 0.4;

export type MatchBand = "clear" | "tie" | "weak" | "none";

export function matchBand(best: SearchHit | undefined, second: SearchHit | undefined): MatchBand {
  if (!best) return "none";
  const fit = (best.questionMatch + best.coverage) / 2;
  // Evidence that is only a misspelling's nearest word ("weather" read as "leather") is a guess;
  // one word of a longer question counts only when it names the article ("return" → "Returns"),
  // not when it is a word that happens to be in it ("joke", "life").
  const sure = best.matchedTerms - best.guessedTerms;
  const oneWord =
    best.matchedTerms < 2 && (best.coverage < 0.5 || (best.coverage <= 0.5 && !best.titleMatch));
  if (sure < 1 || oneWord || fit < WEAK_FIT) return "weak";
  if (second && best.score - second.score < TIE_GAP && best.article.summary && second.article.summary)
    return "tie";
  return "clear";
}

/** How often the leader was right on the tuning set at this lead over the runner-up, rounded down. */
function confidenceOf(band: MatchBand, best: SearchHit, second: SearchHit | undefined): number {
  if (band === "weak" || band === "none") return 0.1;
  if (band === "tie") return 0.5;
  const gap = second ? best.score - second.score : 1;
  return gap >= 0.2 ? 0.9 : gap >= 0.1 ? 0.85 : 0.75;
}

/** The customer asks for a person: no article answers that. */
const WANTS_A_PERSON =
  /\b(?:human|real person|live (?:agent|person|chat)|(?:speak|talk|chat) (?:to|with) (?:a |an |your )?(?:agent|person|manager|supervisor|someone|somebody|representative|operator))\b/i;

const SENTENCE = /[^.!?]+[.!?]+(?:\s+|$)|[^.!?]+$/g;
const firstSentences = (text: string, count: number) =>
  (text.replace(/\s+/g, " ").match(SENTENCE) ?? [text]).slice(0, count).join("").trim();

const LANGUAGE_ASK =
  /translat|\blanguage\b|\b(?:english|french|german|spanish|italian|portuguese|dutch|polish|swedish|danish|norwegian|finnish|czech|greek|turkish|arabic|hebrew|hindi|chinese|japanese|korean|russian|ukrainian|fran[cç]ais|deutsch|espa[nñ]ol|italiano|portugu[eê]s|nederlands)\b/i;

/** What the offline drafter makes of an operator's /redraft instructions. */
export function followInstructions(
  text: string,
  instructions: string | undefined,
): { text: string; remarks: string[] } {
  const asked = instructions?.trim();
  if (!asked) return { text, remarks: [] };
  const remarks: string[] = [];
  let out = text;
  const parts = asked
    .split(/[,;]|\band\b/i)
    .map((p) => p.trim())
    .filter(Boolean);
  const unfollowed: string[] = [];
  for (const part of parts) {
    if (/\b(?:short(?:er)?|brief(?:er)?|concise|less|one sentence|tl;?dr|trim|cut)\b/i.test(part)) {
      const count = /\bone sentence\b/i.test(part) ? 1 : 2;
      const shorter = firstSentences(out, count);
      if (shorter.length < out.length) {
        out = shorter;
        remarks.push(`Shortened to the first ${count === 1 ? "sentence" : "two sentences"} of the answer.`);
      } else remarks.push("The answer is already this short.");
    } else unfollowed.push(part);
  }
  if (unfollowed.length > 0) {
    const language = unfollowed.some((p) => LANGUAGE_ASK.test(p));
    remarks.push(
      `The offline drafter cannot ${language ? "translate or " : ""}follow “${unfollowed.join(", ")}”: it only answers from the knowledge base. An LLM provider (LLM_PROVIDER) is needed for that, or write the reply yourself with /send <text>.`,
    );
  }
  return { text: out, remarks };
}

/**
 * The offline drafter writes the knowledge base's words in the knowledge base's language; when
 * the customer's (the request's) is another, the note says so, and the draft records its own.
 */
function inItsLanguage(result: DraftResult, asked: string | undefined, written?: string): DraftResult {
  const language = written ?? detectTextLanguage(result.text) ?? asked;
  if (!language) return result;
  const remarks =
    asked && asked !== language
      ? [
          ...(result.remarks ?? []),
          `The customer writes ${languageName(asked)}; the offline drafter answers with the knowledge base's own words, in ${languageName(language)}. An LLM provider (LLM_PROVIDER) drafts in the customer's language.`,
        ]
      : result.remarks;
  return { ...result, language, ...(remarks ? { remarks } : {}) };
}

/** The hand-over, in the languages customers write to support teams in most; English otherwise. */
const ENGLISH = {
  person: "Of course! A member of our team will reply to you here shortly.",
  later: "Thanks for your message! A member of our team will look into this and get back to you shortly.",
};
const HANDOVERS: Record<string, typeof ENGLISH> = {
  en: ENGLISH,
  fr: {
    person: "Bien sûr ! Un membre de notre équipe va vous répondre ici très vite.",
    later: "Merci pour votre message ! Un membre de notre équipe va s'en occuper et vous répondra très vite.",
  },
  es: {
    person: "¡Por supuesto! Un miembro de nuestro equipo le responderá aquí en breve.",
    later: "¡Gracias por su mensaje! Un miembro de nuestro equipo lo revisará y le responderá en breve.",
  },
  de: {
    person: "Natürlich! Jemand aus unserem Team antwortet Ihnen hier in Kürze.",
    later:
      "Vielen Dank für Ihre Nachricht! Jemand aus unserem Team kümmert sich darum und meldet sich in Kürze bei Ihnen.",
  },
  pt: {
    person: "Claro! Alguém da nossa equipe vai responder aqui em breve.",
    later: "Obrigado pela sua mensagem! Alguém da nossa equipe vai analisar e responder em breve.",
  },
  it: {
    person: "Certamente! Un membro del nostro team le risponderà qui a breve.",
    later: "Grazie per il suo messaggio! Un membro del nostro team se ne occuperà e le risponderà a breve.",
  },
  nl: {
    person: "Natuurlijk! Iemand van ons team antwoordt u hier zo snel mogelijk.",
    later: "Bedankt voor uw bericht! Iemand van ons team bekijkt het en neemt snel contact met u op.",
  },
};
const handoverLanguage = (asked: string | undefined) => (asked && HANDOVERS[asked] ? asked : "en");
const handover = (asked: string | undefined, wantsPerson: boolean) => {
  const texts = HANDOVERS[handoverLanguage(asked)] ?? ENGLISH;
  return wantsPerson ? texts.person : texts.later;
};

export function createOfflineProvider(options: OfflineOptions): LlmProvider {
  const drafter = createKbDrafter(options);
  return {
    name: "offline",
    async draft(request: DraftRequest, options: DraftOptions): Promise<DraftResult> {
      const result = await drafter.draft(request, options);
      if (result.citations.length === 0) {
        // A hand-over: no article was used, so it is written in the customer's language.
        const language = handoverLanguage(request.language);
        const remarks =
          request.language && request.language !== "en" && result.intent !== "human_request"
            ? [
                `The customer writes ${languageName(request.language)}: the offline drafter finds articles by their words, so a question in another language than the knowledge base's rarely finds its article: EMBEDDINGS with a multilingual model finds it, and an LLM provider (LLM_PROVIDER) answers in the customer's language.`,
              ]
            : [];
        return {
          ...result,
          language,
          ...(remarks.length ? { remarks: [...(result.remarks ?? []), ...remarks] } : {}),
        };
      }
      // Its clarifying question is English; a single article's words are in the article's language.
      return inItsLanguage(result, request.language, result.citations.length === 1 ? undefined : "en");
    },
  };
}

/** No article to answer from, or the customer asks for a person: a hand-over. */
function handoverDraft(
  request: DraftRequest,
  best: SearchHit | undefined,
  wantsPerson: boolean,
  noAnswer: boolean,
): DraftResult {
  return {
    text: handover(request.language, wantsPerson),
    confidence: 0.1,
    intent: wantsPerson ? "human_request" : "unknown",
    needsHuman: true,
    needsHumanReason: wantsPerson
      ? "the customer asks for a person"
      : noAnswer
        ? `the best article ("${best?.title}") has guidance but no customer answer`
        : best
          ? `no knowledge base article matches well (best: "${best.title}")`
          : "no knowledge base article matches this question",
    citations: [],
    usage,
    model: OFFLINE_MODEL,
    provider: "offline",
  };
}

/** A question asking which of an FAQ's topics the customer means. */
function whichTopic(title: string, unmatched: string[], confidence: number) {
  const topics = unmatched.map((t) => t.charAt(0).toLowerCase() + t.slice(1));
  return {
    confidence: Math.min(confidence, 0.4),
    text: `Happy to help! Is your question about ${topics.slice(0, -1).join(", ")} or ${topics.at(-1)}?`,
    remarks: [
      `No part of “${title}” is about this question, so the draft asks which of its topics it is; if none, write the reply with /send <text>.`,
    ],
  };
}

function createKbDrafter(options: OfflineOptions) {
  return {
    async draft(request: DraftRequest, { signal }: DraftOptions): Promise<DraftResult> {
      signal.throwIfAborted();
      const hits = request.hits ?? options.kb.search(request.query, 2);
      // "Wash my jacket… the dryer" fits the shirt FAQ's words; the customer names the jacket.
      const { hit: about, named } = aboutSubject(options.kb, request.query, hits);
      const best = named ? (about ?? hitOf(named, NO_MATCH)) : hits[0];
      const second = named ? undefined : hits[1];
      const band = named ? "clear" : matchBand(best, second);
      const wantsPerson = WANTS_A_PERSON.test(request.query);
      // An article with guidance only has nothing to say to the customer.
      const noAnswer = best !== undefined && !best.article.answer;
      if (!best || band === "weak" || band === "none" || wantsPerson || noAnswer)
        return handoverDraft(request, best, wantsPerson, noAnswer);
      const base = {
        // Chosen by the thing named over the words matched: never sure enough to go out alone by default.
        confidence: named ? 0.6 : confidenceOf(band, best, second),
        intent: best.article.intent,
        needsHuman: false,
        usage,
        model: OFFLINE_MODEL,
        provider: "offline",
      };
      if (band === "tie" && second) {
        // Guessing between two close articles is how wrong answers reach customers: ask instead.
        return {
          ...base,
          text: `Thanks for getting in touch! Just to make sure I help with the right thing: is this about ${best.article.summary}, or ${second.article.summary}?`,
          citations: [best.id, second.id],
          remarks: [
            `Two articles fit about equally (“${best.title}” and “${second.title}”), so the draft asks the customer which one it is.`,
          ],
        };
      }
      const focused = focusedAnswer(best.article, request.query);
      const namedRemark =
        named && hits[0]
          ? [
              `The customer names “${named.title}”; its words fit “${hits[0].title}” better, so the draft answers from the one named.`,
            ]
          : [];
      // An FAQ none of whose parts the question is about: quoting them all answers nothing
      // ("how long does shipping take?" got the sale dates and opening hours); ask which one.
      if (focused.unmatched && focused.unmatched.length >= 3) {
        const which = whichTopic(best.title, focused.unmatched, base.confidence);
        return { ...base, ...which, remarks: [...namedRemark, ...which.remarks], citations: [best.id] };
      }
      // What the customer already gave is not asked again: their own lines, not the agents'.
      const customerLines = [request.query, ...(request.conversation.match(/^Customer: .*$/gm) ?? [])];
      const known = withoutKnownDetails(focused.text, customerLines.join("\n"));
      const followed = followInstructions(known.text, request.instructions);
      const remarks = [
        ...(focused.topics.length > 0
          ? [`Answers the part of the article on ${focused.topics.map((t) => `“${t}”`).join(" and ")}.`]
          : []),
        ...namedRemark,
        ...(known.dropped.length > 0
          ? [`Does not ask again for what the customer already gave: ${known.dropped.join(", ")}.`]
          : []),
        ...followed.remarks,
      ];
      return {
        ...base,
        text: best.url ? `${followed.text}\n\nMore in our help article: ${best.url}` : followed.text,
        citations: [best.id],
        ...(remarks.length > 0 ? { remarks } : {}),
      };
    },
  };
}
