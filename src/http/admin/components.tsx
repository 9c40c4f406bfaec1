import type { Child } from "hono/jsx";
import type { Draft } from "../../store/store.ts";
import { fmt } from "./layout.tsx";
import { wordDiff } from "./stats.ts";

/** Pieces more than one dashboard page draws: tables, form fields and selects, badges, notices, the sent-text diff. */

/** A table with a header row of column headings; the rows are the children. */
export function Table(props: {
  head: Child[];
  testid?: string | undefined;
  caption?: string | undefined;
  children?: Child;
}) {
  return (
    <table data-testid={props.testid}>
      {props.caption ? <caption>{props.caption}</caption> : null}
      <thead>
        <tr>
          {props.head.map((h) => (
            <th scope="col">{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}

export function OutcomeBadge(props: { cls: string; label: string }) {
  return <span class={`badge outcome-${props.cls}`}>{props.label}</span>;
}

/** A refusal or a problem, read out by screen readers at once. */
export function ErrorNotice(props: { error: string | undefined }) {
  return props.error ? (
    <p class="flash error" role="alert">
      {props.error}
    </p>
  ) : null;
}

/** Several lines of one outcome: a saved form (ok) or the problems that stopped it. */
export function NoticeList(props: { ok: boolean; lines: string[] }) {
  return (
    <ul class={props.ok ? "flash" : "flash error"} role={props.ok ? "status" : "alert"}>
      {props.lines.map((l) => (
        <li>{l}</li>
      ))}
    </ul>
  );
}

/** Options whose value is also their label. */
export const choices = (values: readonly string[]) => values.map((v) => [v, v] as const);

/**
 * A select with an optional empty first choice (`empty`: its label, e.g. "default"); the
 * chosen option is `value`, or the one `selected` accepts.
 */
export function Select(props: {
  label: string;
  name: string;
  options: ReadonlyArray<readonly [string, string]>;
  selected?: (value: string) => boolean;
  value?: unknown;
  empty?: string;
}) {
  const selected = props.selected ?? ((v: string) => v === props.value);
  return (
    <label>
      {props.label}
      <select name={props.name}>
        {props.empty !== undefined ? <option value="">{props.empty}</option> : null}
        {props.options.map(([value, label]) => (
          <option value={value} selected={selected(value)}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A labelled one-line input (a form field or a filter). */
export function Field(props: {
  label: string;
  name: string;
  value: string;
  type?: "search" | "date" | "url";
  inputmode?: "decimal";
  maxlength?: number;
}) {
  return (
    <label>
      {props.label}
      <input
        type={props.type}
        name={props.name}
        inputmode={props.inputmode}
        maxlength={props.maxlength}
        value={props.value}
      />
    </label>
  );
}

/** The conversation in Crisp's inbox (in demo mode, the local sandbox's). */
export const crispConversationUrl = (websiteId: string, sessionId: string) =>
  `https://app.crisp.chat/website/${encodeURIComponent(websiteId)}/inbox/${encodeURIComponent(sessionId)}/`;

export function ConversationLink(props: { draft: Draft; demo: boolean }) {
  const { websiteId, sessionId } = props.draft;
  return props.demo ? (
    <a
      href={`/sandbox/?session=${encodeURIComponent(sessionId)}`}
      title="The conversation in the local sandbox"
    >
      sandbox
    </a>
  ) : (
    <a
      href={crispConversationUrl(websiteId, sessionId)}
      rel="noreferrer"
      target="_blank"
      title="The conversation in Crisp's inbox"
    >
      Crisp
    </a>
  );
}

/**
 * The customer's message the draft answers (the context's query). RETENTION_DAYS blanks it
 * with the draft's text, and a draft that failed early never had one: both say so.
 */
export function Question(props: { draft: Draft }) {
  const query = props.draft.context?.query.trim();
  if (query) return <>{query}</>;
  const blanked = props.draft.context === null && props.draft.text === "" && !props.draft.error;
  return (
    <span class="muted">
      {blanked ? "(not kept: older than the retention period)" : "(no question recorded)"}
    </span>
  );
}

/** The draft and what was sent side by side: removed words marked in the draft, added ones in the reply. */
export function SentDiff(props: { draft: string; sent: string; similarity: number | null }) {
  const parts = wordDiff(props.draft, props.sent);
  const side = (title: string, keep: "del" | "ins") => (
    <div>
      <h3>{title}</h3>
      <pre>
        {parts.map((part) =>
          part.op === "same" ? (
            part.text
          ) : part.op !== keep ? null : keep === "del" ? (
            <del>{part.text}</del>
          ) : (
            <ins>{part.text}</ins>
          ),
        )}
      </pre>
    </div>
  );
  return (
    <>
      <h3>{`What the operator sent, against the draft${props.similarity === null ? "" : ` (similarity ${fmt.num(props.similarity)})`}`}</h3>
      <div class="diff" data-testid="diff">
        {side("Draft", "del")}
        {side("Sent", "ins")}
      </div>
    </>
  );
}

/** One triage run's actions and results, as the draft and the Triage page show them. */
export const triageResults = (run: {
  results: Array<{ action: string; ok: boolean; detail?: string | null | undefined }>;
}) =>
  run.results
    .map((r) => `${r.action} ${r.ok ? "ok" : "failed"}${r.detail ? ` (${r.detail})` : ""}`)
    .join("; ");
