import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { createRetriever, type Embedder, lexicalRetriever } from "../../src/knowledge/hybrid.ts";
import { createKnowledgeBase } from "../../src/knowledge/kb.ts";
import { createOpenAiEmbedder } from "../../src/llm/embeddings.ts";
import { LlmError } from "../../src/llm/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import type { StoredVector } from "../../src/store/llm.ts";
import { createStore } from "../../src/store/store.ts";

const article = (id: string, title: string, answer: string, questions: string[]) => ({
  name: `${id}.md`,
  content: `---\nid: ${id}\ntitle: ${title}\nquestions:\n${questions.map((q) => `  - ${q}`).join("\n")}\n---\n\n# ${title}\n\n## Answer\n\n${answer}\n`,
});

const files = [
  article("shipping-times", "Shipping times", "Orders leave our warehouse within two working days.", [
    "how long does shipping take",
  ]),
  article("refunds", "Refunds", "Refunds go back to the card you paid with within five days.", [
    "how do refunds work",
  ]),
  article("sizes", "Size guide", "Our size chart lists chest and waist measurements.", [
    "which size should I order",
  ]),
];

/**
 * A fake model whose dimensions are concepts: words of one concept land on one axis, so a
 * question can be close to an article it shares no word with ("parcel" and "warehouse").
 */
const CONCEPTS: Record<string, number> = {
  parcel: 0,
  package: 0,
  shipping: 0,
  warehouse: 0,
  orders: 0,
  refunds: 1,
  refund: 1,
  money: 1,
  card: 1,
  size: 2,
  chest: 2,
  waist: 2,
};
function fakeEmbedder(model = "fake:concepts") {
  const calls: string[][] = [];
  let failing = false;
  const embedder: Embedder = {
    model,
    async embed(texts) {
      calls.push(texts);
      if (failing) throw new LlmError("fake embeddings", "unavailable", "endpoint down");
      return texts.map((t) => {
        const v = new Float32Array(4).fill(0.01);
        for (const word of t.toLowerCase().match(/[a-z]+/g) ?? []) {
          const axis = CONCEPTS[word];
          if (axis !== undefined) v[axis] = (v[axis] as number) + 1;
        }
        const norm = Math.hypot(...v);
        return v.map((x) => x / norm);
      });
    },
  };
  return { embedder, calls, fail: (on: boolean) => (failing = on) };
}

function memoryCache() {
  const rows = new Map<string, StoredVector[]>();
  return {
    rows,
    cache: {
      embeddings: async (model: string) => rows.get(model) ?? [],
      saveEmbeddings: async (model: string, saved: StoredVector[]) => {
        rows.set(model, [...(rows.get(model) ?? []), ...saved]);
      },
    },
  };
}

describe("hybrid retrieval", () => {
  it("finds the article a question means when it shares no word with it, ranked above lexical noise", async () => {
    const kb = createKnowledgeBase(files);
    const { embedder } = fakeEmbedder();
    const retriever = createRetriever({ embedder, ...memoryCache(), log: silentLogger, timeoutMs: 1000 });
    const query = "where is my parcel";
    expect((await lexicalRetriever.retrieve(kb, query, 3)).map((h) => h.id)).not.toContain("shipping-times");
    expect(await retriever.warm(kb)).toBe(true);
    const hits = await retriever.retrieve(kb, query, 3);
    expect(hits[0]?.id).toBe("shipping-times");
    expect(hits[0]?.semantic).toBeGreaterThan(0.9);
    // A lexical winner stays on top when the meaning agrees with it.
    expect((await retriever.retrieve(kb, "how do refunds work", 3))[0]?.id).toBe("refunds");
  });

  it("answers lexically while the index builds, then hybrid, counting each kind", async () => {
    const kb = createKnowledgeBase(files);
    const { embedder } = fakeEmbedder();
    const kinds: string[] = [];
    const retriever = createRetriever({
      embedder,
      ...memoryCache(),
      log: silentLogger,
      timeoutMs: 1000,
      onRetrieval: (kind) => kinds.push(kind),
    });
    const first = await retriever.retrieve(kb, "where is my parcel", 3);
    expect(first.every((h) => h.semantic === undefined)).toBe(true);
    await retriever.warm(kb);
    await retriever.retrieve(kb, "where is my parcel", 3);
    expect(kinds).toEqual(["lexical", "hybrid"]);
  });

  it("loads stored vectors on a restart and embeds only the article that changed", async () => {
    const { cache, rows } = memoryCache();
    const one = fakeEmbedder();
    await createRetriever({ embedder: one.embedder, cache, log: silentLogger, timeoutMs: 1000 }).warm(
      createKnowledgeBase(files),
    );
    expect(one.calls.flat()).toHaveLength(3);
    expect(rows.get("fake:concepts")).toHaveLength(3);

    const two = fakeEmbedder();
    const restarted = createRetriever({ embedder: two.embedder, cache, log: silentLogger, timeoutMs: 1000 });
    expect(await restarted.warm(createKnowledgeBase(files))).toBe(true);
    expect(two.calls).toHaveLength(0);

    const edited = files.map((f) =>
      f.name === "sizes.md" ? { ...f, content: f.content.replace("chest and waist", "waist and hip") } : f,
    );
    const three = fakeEmbedder();
    await createRetriever({ embedder: three.embedder, cache, log: silentLogger, timeoutMs: 1000 }).warm(
      createKnowledgeBase(edited),
    );
    expect(three.calls.flat()).toHaveLength(1);
    expect(three.calls[0]?.[0]).toContain("waist and hip");

    // Another model is another vector space: nothing is reused across it.
    const other = fakeEmbedder("fake:other");
    await createRetriever({ embedder: other.embedder, cache, log: silentLogger, timeoutMs: 1000 }).warm(
      createKnowledgeBase(files),
    );
    expect(other.calls.flat()).toHaveLength(3);
  });

  it("stays lexical while the endpoint is down and tries again only after the back-off", async () => {
    const kb = createKnowledgeBase(files);
    const fake = fakeEmbedder();
    fake.fail(true);
    let now = 1_000_000;
    const retriever = createRetriever({
      embedder: fake.embedder,
      ...memoryCache(),
      log: silentLogger,
      timeoutMs: 1000,
      now: () => now,
    });
    expect(await retriever.warm(kb)).toBe(false);
    const hits = await retriever.retrieve(kb, "how do refunds work", 3);
    expect(hits[0]?.id).toBe("refunds");
    const attempts = fake.calls.length;
    await retriever.retrieve(kb, "how do refunds work", 3);
    expect(fake.calls.length).toBe(attempts);

    fake.fail(false);
    now += 31_000;
    await retriever.retrieve(kb, "where is my parcel", 3);
    await until(async () => (await retriever.warm(kb)) === true);
    expect((await retriever.retrieve(kb, "where is my parcel", 3))[0]?.id).toBe("shipping-times");
  });

  it("falls back to lexical for a question whose embedding fails", async () => {
    const kb = createKnowledgeBase(files);
    const fake = fakeEmbedder();
    const kinds: string[] = [];
    const retriever = createRetriever({
      embedder: fake.embedder,
      ...memoryCache(),
      log: silentLogger,
      timeoutMs: 1000,
      onRetrieval: (kind) => kinds.push(kind),
    });
    await retriever.warm(kb);
    fake.fail(true);
    expect((await retriever.retrieve(kb, "how do refunds work", 3))[0]?.id).toBe("refunds");
    expect(kinds).toEqual(["failed"]);
  });

  it("keeps vectors in the store, by model and text hash", async () => {
    const handle = openSqlite(":memory:");
    handle.migrate();
    const store = createStore(handle.db);
    const fake = fakeEmbedder();
    await createRetriever({ embedder: fake.embedder, cache: store, log: silentLogger, timeoutMs: 1000 }).warm(
      createKnowledgeBase(files),
    );
    const again = fakeEmbedder();
    const retriever = createRetriever({
      embedder: again.embedder,
      cache: store,
      log: silentLogger,
      timeoutMs: 1000,
    });
    const kb = createKnowledgeBase(files);
    await retriever.warm(kb);
    expect(again.calls).toHaveLength(0);
    expect((await retriever.retrieve(kb, "where is my parcel", 1))[0]?.id).toBe("shipping-times");
    handle.close();
  });
});

async function until(probe: () => Promise<boolean>) {
  for (let i = 0; i < 100; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("condition not met");
}

describe("OpenAI-compatible embeddings", () => {
  afterEach(() => nock.cleanAll());
  const API = "http://embed.test/v1";

  it("sends the batch, orders the answer by index and returns unit vectors", async () => {
    let body: { model?: string; input?: string[] } = {};
    let auth: string | undefined;
    nock("http://embed.test")
      .post("/v1/embeddings", (b) => {
        body = b;
        return true;
      })
      .reply(function () {
        auth = this.req.headers.authorization as string | undefined;
        return [
          200,
          {
            object: "list",
            model: "nomic-embed-text",
            data: [
              { object: "embedding", index: 1, embedding: [0, 3, 4] },
              { object: "embedding", index: 0, embedding: [2, 0, 0] },
            ],
            usage: { prompt_tokens: 4, total_tokens: 4 },
          },
        ];
      });
    const embedder = createOpenAiEmbedder({
      name: "compatible",
      baseUrl: API,
      model: "nomic-embed-text",
      timeoutMs: 2000,
      retries: 0,
    });
    const [a, b] = await embedder.embed(["first", "second"], { signal: new AbortController().signal });
    expect(body).toMatchObject({ model: "nomic-embed-text", input: ["first", "second"] });
    // No key: no Authorization header at all (local servers need none).
    expect(auth).toBeUndefined();
    expect([...(a as Float32Array)]).toEqual([1, 0, 0]);
    expect([...(b as Float32Array)].map((x) => Math.round(x * 10) / 10)).toEqual([0, 0.6, 0.8]);
    expect(embedder.model).toBe("compatible:nomic-embed-text");
  });

  it("rejects an answer with fewer vectors than inputs, and maps HTTP errors to a kind", async () => {
    nock("http://embed.test")
      .post("/v1/embeddings")
      .reply(200, { object: "list", data: [{ object: "embedding", index: 0, embedding: [1, 0] }] })
      .post("/v1/embeddings")
      .reply(401, { error: { message: "bad key" } });
    const embedder = createOpenAiEmbedder({
      name: "compatible",
      apiKey: "k",
      baseUrl: API,
      model: "m",
      timeoutMs: 2000,
      retries: 0,
    });
    const signal = new AbortController().signal;
    await expect(embedder.embed(["a", "b"], { signal })).rejects.toMatchObject({ kind: "malformed" });
    await expect(embedder.embed(["a"], { signal })).rejects.toMatchObject({ kind: "auth" });
  });
});

describe("hybrid retrieval in a draft", () => {
  it("puts the article a question means into the prompt, and calls the compatible server without the OpenAI key", async () => {
    const { setup } = await import("../drafting/harness.ts");
    const { inProcessFetch } = await import("../helpers.ts");
    const fake = fakeEmbedder();
    const seen: Array<string | null> = [];
    let sandboxApp: Parameters<typeof inProcessFetch>[0] | undefined;
    const fetchAll: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      if (!request.url.startsWith("http://embed.test/")) {
        if (!sandboxApp) throw new Error("sandbox not ready");
        return inProcessFetch(sandboxApp)(input, init);
      }
      seen.push(request.headers.get("authorization"));
      const { input: texts } = (await request.json()) as { input: string[] };
      const vectors = await fake.embedder.embed(texts, { signal: new AbortController().signal });
      return Response.json({
        object: "list",
        data: vectors.map((v, index) => ({ object: "embedding", index, embedding: [...v] })),
      });
    };
    const { sandbox, services, requests, enqueue, runNext } = await setup(
      {
        EMBEDDINGS: "compatible",
        EMBEDDING_BASE_URL: "http://embed.test/v1",
        EMBEDDING_MODEL: "concepts",
        OPENAI_API_KEY: "sk-the-openai-key-never-leaves",
      },
      undefined,
      { kbFiles: files, fetch: fetchAll },
    );
    sandboxApp = sandbox.app;
    expect(await services.retriever.warm(services.kb)).toBe(true);
    const said = sandbox.visitorSays({ text: "where is my parcel" });
    await enqueue(said.sessionId, said.fingerprint, said.message.timestamp);
    const { outcome } = await runNext();
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: "done" });
    expect(requests[0]?.knowledge[0]?.id).toBe("shipping-times");
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((h) => h === null)).toBe(true);
    expect(await services.metrics.render()).toContain('quill_retrieval_total{kind="hybrid"} 1');
  });
});
