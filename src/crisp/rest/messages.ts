import { z } from "zod";
import { type CrispMessage, fingerprintSchema, messageSchema } from "../schemas.ts";
import { type CallOptions, conversationPath, type Transport } from "../transport.ts";

/** The body of `POST …/conversation/{session}/message`. */
export type OutgoingMessage = {
  type: "text" | "note" | "file" | "animation" | "audio" | "picker" | "field" | "carousel" | "event";
  from: "operator" | "user";
  origin: string;
  content: unknown;
  user?: { type?: string; nickname?: string; avatar?: string };
  mentions?: string[];
  automated?: boolean;
  stealth?: boolean;
  fingerprint?: number;
  timestamp?: number;
};

/** `…/conversation/{session}/message(s)`: pages of history, one message, send and edit. */
export function messagesResource({ request, get, write }: Transport) {
  async function list(
    websiteId: string,
    sessionId: string,
    cursor: { timestampBefore?: number; timestampAfter?: number } = {},
    call?: CallOptions,
  ): Promise<{ messages: CrispMessage[]; hasMore: boolean }> {
    const { data, status } = await request({
      method: "GET",
      path: conversationPath(websiteId, sessionId, "messages"),
      query: { timestamp_before: cursor.timestampBefore, timestamp_after: cursor.timestampAfter },
      schema: z.array(messageSchema),
      website: websiteId,
      idempotent: true,
      call,
    });
    // Crisp answers 206 while older messages remain, 200 on the last page.
    return { messages: [...data].sort((a, b) => a.timestamp - b.timestamp), hasMore: status === 206 };
  }

  return {
    list,
    /**
     * The newest `count` messages, walking back with `timestamp_before` while Crisp
     * says older ones exist (206), deduped by fingerprint, oldest first.
     */
    async listLast(websiteId: string, sessionId: string, count = 20, call?: CallOptions) {
      const byFingerprint = new Map<number, CrispMessage>();
      let page = await list(websiteId, sessionId, {}, call);
      for (;;) {
        for (const m of page.messages) byFingerprint.set(m.fingerprint, m);
        const oldest = page.messages[0]?.timestamp;
        if (byFingerprint.size >= count || !page.hasMore || oldest === undefined) break;
        page = await list(websiteId, sessionId, { timestampBefore: oldest }, call);
        if (page.messages.length === 0) break;
      }
      const all = [...byFingerprint.values()].sort((a, b) => a.timestamp - b.timestamp);
      return { messages: all.slice(-count), hasMore: page.hasMore || all.length > count };
    },
    /**
     * Never retried after a timeout or a 5xx (the message may have landed): a CrispError
     * with reason `outcome_unknown` tells the caller to look the fingerprint up first.
     */
    send: (websiteId: string, sessionId: string, message: OutgoingMessage, call?: CallOptions) =>
      request({
        method: "POST",
        path: conversationPath(websiteId, sessionId, "message"),
        body: message,
        schema: fingerprintSchema,
        website: websiteId,
        idempotent: false,
        send: true,
        call,
      }).then((r) => r.data),
    get: (
      websiteId: string,
      sessionId: string,
      fingerprint: number,
      call?: CallOptions,
    ): Promise<CrispMessage> =>
      get(websiteId, conversationPath(websiteId, sessionId, "message", fingerprint), messageSchema, call),
    update: (
      websiteId: string,
      sessionId: string,
      fingerprint: number,
      content: unknown,
      call?: CallOptions,
    ) =>
      write(
        "PATCH",
        websiteId,
        conversationPath(websiteId, sessionId, "message", fingerprint),
        { content },
        call,
      ),
  };
}

interface ComposeOptions {
  from?: "operator" | "user";
  automated?: boolean;
  stealth?: boolean;
}

/** `…/conversation/{session}/compose`: the typing indicator. */
export function composeResource({ write }: Transport) {
  const compose = (
    type: "start" | "stop",
    websiteId: string,
    sessionId: string,
    opts: ComposeOptions & { excerpt?: string },
    call?: CallOptions,
  ) =>
    write(
      "PATCH",
      websiteId,
      conversationPath(websiteId, sessionId, "compose"),
      {
        type,
        from: opts.from ?? "operator",
        ...(opts.excerpt ? { excerpt: opts.excerpt } : {}),
        automated: opts.automated ?? true,
        ...(opts.stealth ? { stealth: true } : {}),
      },
      call,
    );
  return {
    /** `excerpt` is visible to operators and possibly to the visitor: never put a draft in it. */
    start: (
      websiteId: string,
      sessionId: string,
      opts: ComposeOptions & { excerpt?: string } = {},
      call?: CallOptions,
    ) => compose("start", websiteId, sessionId, opts, call),
    stop: (websiteId: string, sessionId: string, opts: ComposeOptions = {}, call?: CallOptions) =>
      compose("stop", websiteId, sessionId, opts, call),
  };
}
