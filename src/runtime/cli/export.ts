import type { WriteStream } from "node:fs";
import { resolve } from "node:path";
import { withStore } from "./open.ts";
import { UsageError } from "./shared.ts";

/** `quill export`: drafts with their outcomes as JSONL, PII redacted unless asked. */

/** Waits for the file to open, so a bad --out fails with its name instead of in a stray event. */
function opened(stream: WriteStream, path: string): Promise<WriteStream> {
  return new Promise((done, fail) => {
    stream.once("open", () => done(stream));
    stream.once("error", (error) => fail(new UsageError(`--out: cannot write ${path} (${error.message})`)));
  });
}

export async function exportCommand(opts: {
  out?: string | undefined;
  since?: string | undefined;
  includePii: boolean;
}) {
  const { createRedactor } = await import("../../drafting/redact.ts");
  const { createWriteStream } = await import("node:fs");
  const since = opts.since ? Date.parse(`${opts.since}T00:00:00Z`) : undefined;
  if (opts.since && !Number.isFinite(since)) {
    console.error(`--since: expected a date like 2026-11-01, got "${opts.since}"`);
    return 2;
  }
  return await withStore(async (store) => {
    const stream = opts.out ? await opened(createWriteStream(resolve(opts.out)), opts.out) : process.stdout;
    let afterId: string | undefined;
    let count = 0;
    for (;;) {
      const page = await store.exportDrafts({ since, afterId, limit: 500 });
      if (page.length === 0) break;
      for (const { draft, outcome, similarity, finalText } of page) {
        // Drafts hold the real values restored for operators; exports redact them again.
        const redactor = createRedactor();
        const clean = (text: string | null) =>
          text === null || opts.includePii ? text : redactor.redact(text);
        const record = {
          id: draft.id,
          createdAt: new Date(draft.createdAt).toISOString(),
          websiteId: draft.websiteId,
          sessionId: draft.sessionId,
          status: draft.status,
          mode: draft.mode,
          intent: draft.intent,
          language: draft.language,
          confidence: draft.confidence,
          needsHuman: draft.needsHuman,
          provider: draft.provider,
          model: draft.model,
          prompt: draft.promptName,
          promptVersion: draft.promptVersion,
          variant: draft.variant,
          citations: draft.citations.map((c) => c.id),
          flags: draft.flags,
          transcript: clean(draft.context?.transcript ?? null),
          draft: clean(draft.text),
          outcome,
          similarity,
          finalText: clean(finalText),
          tokensIn: draft.tokensIn,
          tokensOut: draft.tokensOut,
          costUsd: draft.costUsd,
          latencyMs: draft.latency.total ?? null,
        };
        stream.write(`${JSON.stringify(record)}\n`);
        count++;
      }
      afterId = page.at(-1)?.draft.id;
    }
    if (opts.out) await new Promise<void>((done) => (stream as import("node:fs").WriteStream).end(done));
    console.error(
      `exported ${count} draft(s)${opts.includePii ? " with PII" : ", PII redacted"}${opts.out ? ` to ${opts.out}` : ""}`,
    );
    return 0;
  });
}
