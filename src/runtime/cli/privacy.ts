import { loadConfig } from "../../config.ts";
import { eraseVisitor, exportVisitor, type VisitorSelector } from "../../privacy.ts";
import { createStore } from "../../store/store.ts";
import { openDatabase } from "./open.ts";

/**
 * `quill privacy export|erase`: a visitor's right of access and right to erasure over what
 * quill holds (Crisp keeps its own copy of the conversation, erased in Crisp).
 */

export const PRIVACY_USAGE =
  "quill privacy export (--email X | --people-id Y | --session-id Z) [--website ID]\n" +
  "       quill privacy erase  (--email X | --people-id Y | --session-id Z) [--website ID]\n\n" +
  "  export  prints every row quill holds about the visitor's conversations as JSON\n" +
  "  erase   deletes them (the MCP audit keeps its rows without the conversation) and prints counts\n" +
  "  A visitor is found by the people id and email quill records for each conversation it\n" +
  "  drafts in; conversations from before that record are found by --session-id (or by\n" +
  "  --email when PII_REDACTION was off).";

export async function privacyCommand(
  action: string | undefined,
  values: { email?: string; "people-id"?: string; "session-id"?: string; website?: string },
): Promise<number> {
  const who: VisitorSelector = {
    email: values.email,
    peopleId: values["people-id"],
    sessionId: values["session-id"],
    websiteId: values.website,
  };
  const named = [who.email, who.peopleId, who.sessionId].filter((v) => v?.trim()).length;
  if ((action !== "export" && action !== "erase") || named !== 1) {
    console.error(`Usage: ${PRIVACY_USAGE}`);
    return 2;
  }
  // A ConfigError goes up to main(), which prints it and exits 78 like every command.
  const config = loadConfig(process.env);
  const database = openDatabase(config);
  const store = createStore(database.db);
  try {
    if (action === "export") {
      const { sessions, rows } = await exportVisitor(store, who);
      console.log(
        JSON.stringify({ visitor: who, exportedAt: new Date().toISOString(), sessions, rows }, null, 2),
      );
      if (sessions.length === 0)
        console.error("quill privacy export: no conversation of this visitor is stored");
      return 0;
    }
    const { sessions, counts } = await eraseVisitor(store, who);
    // Erased pages must not live on in the write-ahead log either.
    database.sqlite.pragma("wal_checkpoint(TRUNCATE)");
    console.log(JSON.stringify({ visitor: who, conversations: sessions.length, erased: counts }, null, 2));
    console.error(
      sessions.length === 0
        ? "quill privacy erase: no conversation of this visitor is stored; nothing to erase"
        : `erased ${sessions.length} conversation(s) from quill's database; delete the visitor in Crisp too (Crisp keeps its own copy)`,
    );
    return 0;
  } finally {
    database.close();
  }
}
