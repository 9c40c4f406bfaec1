import type { SandboxConversation, SandboxState } from "./state.ts";

/**
 * The sandbox inbox: conversations on the left, the selected one on the right with
 * private notes styled apart, who is typing, and boxes to write as the visitor or an
 * operator. Server-rendered; a small script reloads the page when something changes.
 */

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f4f6fa; }
body { margin: 0; }
header { background: #1972f5; color: white; padding: .6rem 1rem; display: flex; gap: 1rem; align-items: baseline; }
header h1 { font-size: 1.1rem; margin: 0; }
header small { opacity: .85; }
main { display: grid; grid-template-columns: minmax(220px, 320px) 1fr; min-height: calc(100vh - 3rem); }
nav { background: white; border-right: 1px solid #dde3ee; overflow-y: auto; }
nav ul { list-style: none; margin: 0; padding: 0; }
nav a { display: block; padding: .6rem .9rem; border-bottom: 1px solid #eef1f6; color: inherit; text-decoration: none; }
nav a[aria-current="page"] { background: #e8f0fe; }
nav .who { font-weight: 600; display: flex; justify-content: space-between; gap: .5rem; }
nav .excerpt { color: #5b6475; font-size: .85rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.badge { font-size: .7rem; border-radius: 1rem; padding: .05rem .5rem; background: #eef1f6; color: #39414f; font-weight: 500; }
.badge.pending { background: #fff1d6; color: #7a4b00; }
.badge.resolved { background: #dcf5e3; color: #17612f; }
section.thread { display: flex; flex-direction: column; padding: 1rem; gap: .6rem; }
ol.messages { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: .5rem; }
.msg { max-width: 70%; padding: .5rem .75rem; border-radius: .6rem; white-space: pre-wrap; word-wrap: break-word; }
.msg .meta { display: block; font-size: .72rem; color: #5b6475; margin-bottom: .2rem; }
.msg.user { background: white; border: 1px solid #dde3ee; align-self: flex-start; }
.msg.operator { background: #1972f5; color: white; align-self: flex-end; }
.msg.operator .meta { color: #dbe7ff; }
.msg.note { background: #fff8c5; border: 1px dashed #c9a400; color: #3d3200; align-self: flex-end; }
.msg.note .meta { color: #6b5a00; }
.typing { color: #5b6475; font-style: italic; min-height: 1.2rem; }
.typing.stealth { color: #7a5b00; }
form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: flex-end; }
textarea { flex: 1 1 20rem; min-height: 3rem; font: inherit; padding: .4rem; }
input { font: inherit; padding: .3rem; }
button { font: inherit; padding: .4rem .8rem; border-radius: .4rem; border: 1px solid #1972f5; background: white; color: #1972f5; cursor: pointer; }
button.primary { background: #1972f5; color: white; }
fieldset { border: 1px solid #dde3ee; border-radius: .5rem; background: white; }
legend { font-weight: 600; padding: 0 .3rem; }
.empty { color: #5b6475; padding: 1rem; }
`;

/**
 * The page's one inline script; the CSP allows it by its hash (see pageHeaders). It reloads
 * the page on changes, and reports the visitor's typing as Crisp's chatbox does: a start
 * when typing begins (again every 2 s, with an excerpt), a stop after 3 s without a key or
 * when the box is emptied; sending stops it on the server's side.
 */
export const REFRESH = `
(() => {
  const box = document.querySelector("textarea[data-compose]");
  if (box) {
    let typing = false;
    let last = 0;
    let idle;
    const send = (type) =>
      fetch(box.dataset.compose, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ session_id: box.dataset.session, type, excerpt: type === "start" ? box.value.slice(0, 60) : undefined }),
      }).catch(() => {});
    const stop = () => {
      clearTimeout(idle);
      if (typing) send("stop");
      typing = false;
    };
    box.addEventListener("input", () => {
      if (!box.value) return stop();
      clearTimeout(idle);
      if (!typing || Date.now() - last > 2000) {
        typing = true;
        last = Date.now();
        send("start");
      }
      idle = setTimeout(stop, 3000);
    });
    box.form?.addEventListener("submit", () => {
      clearTimeout(idle);
      typing = false;
    });
  }
  const el = document.getElementById("version");
  let version = el ? el.dataset.version : null;
  setInterval(async () => {
    const busy = [...document.querySelectorAll("textarea, input[type=text], input[type=email]")].some((f) => f.value);
    if (busy || document.activeElement?.tagName === "TEXTAREA") return;
    try {
      const r = await fetch(el.dataset.url, { cache: "no-store" });
      const { version: now } = await r.json();
      if (String(now) !== version) location.reload();
    } catch {}
  }, 1200);
})();
`;

function time(ms: number) {
  return new Date(ms).toISOString().slice(11, 19);
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (content && typeof content === "object" && "name" in content) return `[file] ${String(content.name)}`;
  return JSON.stringify(content);
}

function ConversationList(props: {
  conversations: SandboxConversation[];
  selected?: string | undefined;
  basePath: string;
}) {
  const { conversations, basePath } = props;
  return (
    <nav aria-label="Conversations">
      <ul>
        {conversations.map((c) => (
          <li>
            <a
              href={`${basePath}/?session=${encodeURIComponent(c.session_id)}`}
              aria-current={c.session_id === props.selected ? "page" : undefined}
            >
              <span class="who">
                <span>{c.meta.nickname}</span>
                <span class={`badge ${c.state}`}>{c.state}</span>
              </span>
              <span class="excerpt">{c.last_message || "(no messages)"}</span>
              {c.unread.operator > 0 ? <span class="badge">{c.unread.operator} unread</span> : null}
            </a>
          </li>
        ))}
      </ul>
      {conversations.length === 0 ? <p class="empty">No conversations yet.</p> : null}
    </nav>
  );
}

/** The selected conversation: its messages, then who is typing (the operator side, the visitor). */
function Thread(props: { state: SandboxState; selected: SandboxConversation }) {
  const { selected } = props;
  const messages = props.state.messagesOf(selected.session_id);
  const composing = selected.compose.operator;
  const typing = composing?.type === "start";
  return (
    <>
      <h2>
        {selected.meta.nickname} <small>{selected.meta.email}</small>{" "}
        <span class={`badge ${selected.state}`}>{selected.state}</span>
      </h2>
      <ol class="messages">
        {messages.map((m) => (
          <li
            class={`msg ${m.type === "note" ? "note" : m.from}`}
            data-fingerprint={String(m.fingerprint)}
            data-type={m.type}
          >
            <span class="meta">
              {m.type === "note" ? "Private note · " : ""}
              {m.user.nickname ?? m.from} · {time(m.timestamp)}
              {m.automated ? " · automated" : ""}
            </span>
            {contentText(m.content)}
          </li>
        ))}
      </ol>
      <p class={typing && composing?.stealth ? "typing stealth" : "typing"} aria-live="polite">
        {typing
          ? composing?.stealth
            ? "🔒 quill is drafting (operators only; the visitor sees nothing)"
            : "An operator is typing… (the visitor sees this)"
          : ""}
      </p>
      <p class="typing" aria-live="polite" data-testid="visitor-typing">
        {selected.compose.visitor?.type === "start" ? "The visitor is typing…" : ""}
      </p>
    </>
  );
}

/** Boxes to write into the selected conversation as the visitor or an operator, and to resolve it. */
function ThreadForms(props: { sessionId: string; control: string }) {
  const { sessionId, control } = props;
  return (
    <>
      <fieldset>
        <legend>Write as the visitor</legend>
        <form method="post" action={`${control}/visitor`}>
          <input type="hidden" name="session_id" value={sessionId} />
          <textarea
            name="text"
            aria-label="Visitor message"
            required
            data-compose={`${control}/visitor/compose`}
            data-session={sessionId}
          />
          <button class="primary" type="submit">
            Send as visitor
          </button>
        </form>
      </fieldset>
      <fieldset>
        <legend>Write as an operator</legend>
        <form method="post" action={`${control}/operator`}>
          <input type="hidden" name="session_id" value={sessionId} />
          <textarea name="text" aria-label="Operator message" required />
          <button type="submit" name="type" value="note">
            Add private note
          </button>
          <button class="primary" type="submit" name="type" value="text">
            Reply
          </button>
        </form>
        <form method="post" action={`${control}/state`}>
          <input type="hidden" name="session_id" value={sessionId} />
          <button type="submit" name="state" value="resolved">
            Mark resolved
          </button>
          <button type="submit" name="state" value="unresolved">
            Reopen
          </button>
        </form>
      </fieldset>
    </>
  );
}

function NewConversation(props: { control: string }) {
  return (
    <fieldset>
      <legend>New conversation</legend>
      <form method="post" action={`${props.control}/visitor`}>
        <input type="text" name="nickname" placeholder="Visitor name" aria-label="Visitor name" />
        <input type="email" name="email" placeholder="visitor@example.com" aria-label="Visitor email" />
        <textarea name="text" aria-label="First message" required />
        <button class="primary" type="submit">
          Start as visitor
        </button>
      </form>
    </fieldset>
  );
}

export function renderInbox(props: {
  state: SandboxState;
  basePath: string;
  websiteId: string;
  selected: string | undefined;
}) {
  const { state, basePath } = props;
  const conversations = [...state.conversations.values()]
    .filter((c) => c.website_id === props.websiteId)
    .sort((a, b) => b.updated_at - a.updated_at);
  const selected = props.selected ? state.conversations.get(props.selected) : conversations[0];
  const control = `${basePath}/_sandbox`;
  const website = state.websites.get(props.websiteId);

  return (
    "<!doctype html>" +
    (
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>Crisp sandbox — quill</title>
          <style>{STYLE}</style>
        </head>
        <body>
          <header>
            <h1>Crisp sandbox</h1>
            <small>
              {website?.name} · website {props.websiteId} · REST at {basePath}/v1
            </small>
          </header>
          <main>
            <ConversationList
              conversations={conversations}
              selected={selected?.session_id}
              basePath={basePath}
            />
            <section class="thread" aria-label="Conversation">
              {selected ? (
                <>
                  <Thread state={state} selected={selected} />
                  <ThreadForms sessionId={selected.session_id} control={control} />
                </>
              ) : null}
              <NewConversation control={control} />
            </section>
          </main>
          <span id="version" data-version={String(state.version)} data-url={`${control}/version`} hidden />
          <script dangerouslySetInnerHTML={{ __html: REFRESH }} />
        </body>
      </html>
    ).toString()
  );
}
