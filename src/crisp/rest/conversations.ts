import { z } from "zod";
import {
  type CrispConversation,
  type CrispMeta,
  conversationSchema,
  metaSchema,
  routingSchema,
  sessionIdSchema,
  stateSchema,
} from "../schemas.ts";
import { type CallOptions, conversationPath, type Transport } from "../transport.ts";

/** The filters of `GET website/{id}/conversations/{page}`, named as Crisp names them. */
export type ConversationListFilters = {
  per_page?: number;
  include_empty?: boolean;
  filter_inbox_id?: string;
  filter_unread?: boolean;
  filter_resolved?: boolean;
  filter_not_resolved?: boolean;
  filter_mention?: boolean;
  filter_assigned?: string;
  filter_unassigned?: boolean;
  filter_date_start?: string;
  filter_date_end?: string;
  order_date_created?: boolean;
  order_date_updated?: boolean;
  order_date_waiting?: boolean;
  search_query?: string;
  search_type?: "text" | "segment" | "filter";
  search_operator?: "and" | "or";
};

/** `website/{id}/conversation(s)/*`: list, create, read, delete; state, routing, meta, read marks. */
export function conversationsResource({ request, get, write }: Transport) {
  return {
    list: (websiteId: string, page = 1, filters: ConversationListFilters = {}, call?: CallOptions) =>
      get(
        websiteId,
        ["website", websiteId, "conversations", page],
        z.array(conversationSchema),
        call,
        filters,
      ),
    create: (websiteId: string, call?: CallOptions) =>
      request({
        method: "POST",
        path: ["website", websiteId, "conversation"],
        body: {},
        schema: sessionIdSchema,
        website: websiteId,
        idempotent: false,
        call,
      }).then((r) => r.data),
    get: (websiteId: string, sessionId: string, call?: CallOptions): Promise<CrispConversation> =>
      get(websiteId, conversationPath(websiteId, sessionId), conversationSchema, call),
    delete: (websiteId: string, sessionId: string, call?: CallOptions) =>
      write("DELETE", websiteId, conversationPath(websiteId, sessionId), undefined, call),
    getState: (websiteId: string, sessionId: string, call?: CallOptions) =>
      get(websiteId, conversationPath(websiteId, sessionId, "state"), stateSchema, call).then((d) => d.state),
    setState: (
      websiteId: string,
      sessionId: string,
      state: "pending" | "unresolved" | "resolved",
      call?: CallOptions,
    ) => write("PATCH", websiteId, conversationPath(websiteId, sessionId, "state"), { state }, call),
    getRouting: (websiteId: string, sessionId: string, call?: CallOptions) =>
      get(websiteId, conversationPath(websiteId, sessionId, "routing"), routingSchema, call),
    assign: (
      websiteId: string,
      sessionId: string,
      userId: string | null,
      opts: { silent?: boolean } = {},
      call?: CallOptions,
    ) =>
      write(
        "PATCH",
        websiteId,
        conversationPath(websiteId, sessionId, "routing"),
        {
          assigned: userId === null ? null : { user_id: userId },
          ...(opts.silent !== undefined ? { silent: opts.silent } : {}),
        },
        call,
      ),
    getMeta: (websiteId: string, sessionId: string, call?: CallOptions): Promise<CrispMeta> =>
      get(websiteId, conversationPath(websiteId, sessionId, "meta"), metaSchema, call),
    updateMeta: (websiteId: string, sessionId: string, meta: Partial<CrispMeta>, call?: CallOptions) =>
      write("PATCH", websiteId, conversationPath(websiteId, sessionId, "meta"), meta, call),
    markRead: (
      websiteId: string,
      sessionId: string,
      read: { from: "operator" | "user"; origin: string; fingerprints?: number[] },
      call?: CallOptions,
    ) => write("PATCH", websiteId, conversationPath(websiteId, sessionId, "read"), read, call),
  };
}
