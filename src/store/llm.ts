import { desc, eq, getTableColumns } from "drizzle-orm";
import { embeddings, llmCalls, promptVersions } from "./schema.ts";
import { lazy, newId, placeholders, type StoreContext, withDefaults } from "./shared.ts";

/** Vectors as the store keeps them: int8 components (base64) and the scale that restores them. */
export interface StoredVector {
  hash: string;
  vector: string;
  scale: number;
}

const llmCallColumns = getTableColumns(llmCalls);

/** What the models were given and cost: LLM calls, prompt versions, the embedding cache. */
export function llmQueries({ db, clock }: StoreContext) {
  const insertLlmCall = lazy(() =>
    db
      .insert(llmCalls)
      .values(placeholders(llmCallColumns) as unknown as typeof llmCalls.$inferInsert)
      .prepare(),
  );
  const knownPromptVersions = new Set<string>();

  return {
    async insertLlmCalls(
      calls: Array<Omit<typeof llmCalls.$inferInsert, "id" | "createdAt">>,
    ): Promise<void> {
      const now = clock.now();
      for (const c of calls) {
        await insertLlmCall().run(withDefaults(llmCallColumns, { ...c, id: newId(), createdAt: now }));
      }
    },

    async llmCallsForJob(jobId: string) {
      return db.select().from(llmCalls).where(eq(llmCalls.jobId, jobId)).orderBy(llmCalls.createdAt);
    },

    async upsertPromptVersion(version: { hash: string; name: string; body: string }): Promise<void> {
      // A version is immutable (its key is its hash): once written, there is nothing to do.
      if (knownPromptVersions.has(version.hash)) return;
      await db
        .insert(promptVersions)
        .values({ ...version, createdAt: clock.now() })
        .onConflictDoNothing();
      knownPromptVersions.add(version.hash);
    },

    async listPromptVersions() {
      return db.select().from(promptVersions).orderBy(desc(promptVersions.createdAt));
    },

    /** Every cached article vector of an embedding model. */
    async embeddings(model: string): Promise<StoredVector[]> {
      return db
        .select({ hash: embeddings.hash, vector: embeddings.vector, scale: embeddings.scale })
        .from(embeddings)
        .where(eq(embeddings.model, model));
    },

    async saveEmbeddings(model: string, rows: StoredVector[]): Promise<void> {
      const createdAt = clock.now();
      // A few rows per statement: D1 binds at most 100 parameters.
      for (let i = 0; i < rows.length; i += 16) {
        await db
          .insert(embeddings)
          .values(rows.slice(i, i + 16).map((r) => ({ model, ...r, createdAt })))
          .onConflictDoNothing();
      }
    },
  };
}
