import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { parsePrompt } from "../../src/drafting/prompt.ts";
import { DatasetError, parseDataset } from "../../src/eval/dataset.ts";
import { createJudge } from "../../src/eval/judge.ts";
import { formatTable, gate, summarise, toCsv } from "../../src/eval/report.ts";
import { runEval } from "../../src/eval/run.ts";
import { createKnowledgeBase } from "../../src/knowledge/kb.ts";
import type { LlmProvider } from "../../src/llm/types.ts";
import { openSqlite } from "../../src/runtime/sqlite.ts";
import { createStore } from "../../src/store/store.ts";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;
const prompt = await parsePrompt("default.md", readFileSync(join(root, "prompts/default.md"), "utf8"));
const kb = createKnowledgeBase([
  {
    name: "returns.md",
    content: "---\nid: returns\n---\n# Returns\n\n## Answer\nReturns are free within 30 days.\n",
  },
]);
const jsonl = [
  JSON.stringify({
    id: "c1",
    messages: [
      { from: "user", text: "hi" },
      { from: "user", text: "can I return shoes?" },
      { from: "operator", text: "Yes, returns are free within 30 days." },
      { from: "user", text: "great, and a refund?" },
      { from: "operator", text: "Refunds take 5 days." },
    ],
  }),
  "",
  JSON.stringify({
    id: "c2",
    messages: [
      { from: "customer", text: "where is my parcel" },
      { from: "agent", text: "It ships today." },
    ],
  }),
].join("\n");

const provider = (name: string, reply: (conversation: string) => string): LlmProvider => ({
  name,
  async draft(req) {
    if (req.conversation.includes("explode")) throw new Error("provider exploded");
    return {
      text: reply(req.conversation),
      confidence: 0.8,
      intent: "x",
      needsHuman: false,
      citations: [],
      usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 },
      model: `${name}-model`,
      provider: name,
    };
  },
});

describe("eval dataset", () => {
  it("makes one case per answered customer turn, with the transcript up to it", () => {
    const cases = parseDataset("set.jsonl", jsonl);
    expect(cases.map((c) => c.id)).toEqual(["c1#1", "c1#3", "c2#0"]);
    expect(cases[0]).toMatchObject({
      transcript: "Customer: hi\nCustomer: can I return shoes?",
      query: "hi can I return shoes?",
      expected: "Yes, returns are free within 30 days.",
    });
    expect(cases[1]?.transcript.split("\n")).toHaveLength(4);
  });

  it("reads the ABCD sample and names the line of a broken record", () => {
    const abcd = parseDataset("abcd.json", readFileSync(join(root, "eval/abcd/abcd_sample.json"), "utf8"));
    expect(abcd.length).toBeGreaterThan(10);
    expect(() => parseDataset("bad.jsonl", `${JSON.stringify({ messages: [] })}`)).toThrow(
      /bad\.jsonl: line 1: messages: needs at least/,
    );
    expect(() => parseDataset("bad.jsonl", `${jsonl}\n{oops`)).toThrow(
      new DatasetError("bad.jsonl: line 4: not valid JSON"),
    );
    expect(() =>
      parseDataset(
        "bad.jsonl",
        JSON.stringify({
          messages: [
            { from: "robot", text: "a" },
            { from: "user", text: "b" },
          ],
        }),
      ),
    ).toThrow(/line 1: messages\.0\.from/);
  });
});

describe("eval runner", () => {
  it("scores drafts against the real answers, flags invented prices and links, records failures", async () => {
    const cases = parseDataset("set.jsonl", jsonl);
    cases.push({ ...(cases[2] as (typeof cases)[number]), id: "boom", transcript: "Customer: explode" });
    const echo = provider("good", () => "Yes, you can return them.");
    const liar = provider("liar", () => "Pay $99 at https://scam.example and we refund you.");
    const targets = [
      { label: "good", prompt, provider: echo },
      { label: "liar", prompt, provider: liar },
    ];
    let inFlight = 0;
    let peak = 0;
    const results = await runEval({
      cases,
      targets,
      kb,
      linkAllowlist: [],
      concurrency: 2,
      timeoutMs: 1_000,
      onResult: async () => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
    });
    expect(results).toHaveLength(8);
    expect(peak).toBeLessThanOrEqual(2);
    const [good, liarSummary] = summarise(results, ["good", "liar"]);
    expect(good).toMatchObject({ cases: 4, failures: 1, inventedRate: 0 });
    const scored = results.find((r) => r.caseId === "c1#1" && r.target === "good");
    expect(scored?.similarity).toBeGreaterThan(0.3);
    expect(scored?.similarity).toBeLessThan(1);
    expect(scored?.lengthRatio).toBe(0.68);
    expect(liarSummary?.inventedRate).toBe(1);
    expect(results.find((r) => r.target === "liar" && r.ok)?.invented).toEqual([
      "link not allowed: scam.example",
      'unsupported promise: refund ("refund")',
      'unsupported promise: price ("$99")',
    ]);
    expect(results.find((r) => r.caseId === "boom")?.error).toBe("provider exploded");
    const table = formatTable(summarise(results, ["good", "liar"]));
    expect(table.split("\n")[0]).toMatch(/^\s+good\s+liar$/);
    expect(table).toContain("invented links/prices  0.0%");
    expect(toCsv(results).split("\n")[0]).toContain("caseId,target,promptVersion");
    expect(toCsv(results)).toContain(
      'link not allowed: scam.example; unsupported promise: refund (""refund"")',
    );
  });

  it("skips what is already done when resuming", async () => {
    const cases = parseDataset("set.jsonl", jsonl);
    const target = { label: "t", prompt, provider: provider("p", () => "ok") };
    const results = await runEval({
      cases,
      targets: [target],
      kb,
      linkAllowlist: [],
      concurrency: 4,
      timeoutMs: 1_000,
      done: new Set(["c1#1|t", "c2#0|t"]),
    });
    expect(results.map((r) => r.caseId)).toEqual(["c1#3"]);
  });

  it("gates every target against the baseline: a target with no baseline entry fails", async () => {
    const cases = parseDataset("set.jsonl", jsonl);
    const targets = ["default@11111111/offline", "concise@22222222/offline"];
    const results = await runEval({
      cases,
      targets: targets.map((label) => ({ label, prompt, provider: provider("p", () => "ok") })),
      kb,
      linkAllowlist: [],
      concurrency: 2,
      timeoutMs: 1_000,
    });
    const summary = summarise(results, targets);
    // The baseline was made with another version of the default prompt: it still matches.
    const baseline = [{ ...(summary[0] as (typeof summary)[number]), target: "default@33333333/offline" }];
    const options = { thresholds: [], tolerance: 0.02 };
    expect(gate(summary.slice(0, 1), { ...options, baseline })).toEqual([]);
    expect(gate(summary, { ...options, baseline })).toEqual([
      "no baseline for target concise@22222222/offline (the baseline has default/offline)",
    ]);
    expect(gate([], { ...options, baseline })).toEqual(["no target to gate: no prompt × provider was run"]);
    expect(gate([], options)).toEqual([]);
  });

  it("asks a judge model for a 1-5 score", async () => {
    nock.disableNetConnect();
    nock("https://judge.test")
      .post("/v1/chat/completions")
      .reply(200, {
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1,
        model: "gpt-4o",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: JSON.stringify({
                reply: "close",
                confidence: 0.8,
                intent: "score_4",
                needs_human: false,
                needs_human_reason: null,
                language: null,
                citations: [],
              }),
              refusal: null,
            },
            finish_reason: "stop",
          },
        ],
        usage: { prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 },
      });
    const judge = createJudge({
      model: "gpt-4o",
      openaiApiKey: "sk",
      baseUrl: "https://judge.test/v1",
      timeoutMs: 2_000,
    });
    const [c] = parseDataset("set.jsonl", jsonl);
    expect(await judge.score(c as NonNullable<typeof c>, "Returns are free.")).toEqual({
      score: 4,
      reason: "close",
    });
    nock.cleanAll();
    nock.enableNetConnect();
  });
});

describe("quill eval command", () => {
  it("runs offline with no keys, writes reports, and resumes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-eval-"));
    writeFileSync(join(dir, "set.jsonl"), jsonl);
    const args = [
      "dist/quill.mjs",
      "eval",
      "--dataset",
      join(dir, "set.jsonl"),
      "--provider",
      "offline",
      "--out",
      join(dir, "out"),
    ];
    const env = {
      ...process.env,
      DATABASE_PATH: join(dir, "q.db"),
      LLM_PROVIDER: "",
      OPENAI_API_KEY: "",
      ANTHROPIC_API_KEY: "",
    };
    const first = await run("node", args, { cwd: root, env });
    expect(first.stdout).toContain("default@");
    expect(first.stdout).toMatch(/cases\s+3/);
    const summary = JSON.parse(readFileSync(join(dir, "out/summary.json"), "utf8"));
    expect(summary.results).toHaveLength(3);
    expect(
      readFileSync(join(dir, "out/results.csv"), "utf8").match(/,default@[0-9a-f]{8}\/offline,/g),
    ).toHaveLength(3);
    const second = await run("node", args, { cwd: root, env });
    expect(second.stderr).toContain("resuming: 3 result(s)");
    expect(readFileSync(join(dir, "out/results.jsonl"), "utf8").trim().split("\n")).toHaveLength(3);

    // A failed result is retried, and a result for a case no longer in the dataset is dropped.
    const lines = readFileSync(join(dir, "out/results.jsonl"), "utf8").trim().split("\n");
    const earlier = lines.map((line) => JSON.parse(line));
    const failed = { ...earlier.find((r) => r.caseId === "c1#1"), ok: false, error: "timeout", draft: "" };
    const stale = { ...failed, caseId: "gone#0", ok: true };
    writeFileSync(
      join(dir, "out/results.jsonl"),
      `${[...earlier.filter((r) => r.caseId !== "c1#1"), failed, stale].map((r) => JSON.stringify(r)).join("\n")}\n{"trunc`,
    );
    const third = await run("node", args, { cwd: root, env });
    expect(third.stderr).toContain("resuming: 2 result(s)");
    const resumed = JSON.parse(readFileSync(join(dir, "out/summary.json"), "utf8")).results;
    expect(resumed.map((r: { caseId: string }) => r.caseId).sort()).toEqual(["c1#1", "c1#3", "c2#0"]);
    expect(resumed.every((r: { ok: boolean }) => r.ok)).toBe(true);
    expect(third.stdout).toMatch(/failures\s+0/);
    const unreadable = readFileSync(join(dir, "out/results.jsonl"), "utf8")
      .trim()
      .split("\n")
      .filter((line) => {
        try {
          return !JSON.parse(line);
        } catch {
          return true;
        }
      });
    expect(unreadable).toEqual(['{"trunc']); // the retried result was appended on a line of its own

    const broken = await run("node", ["dist/quill.mjs", "eval", "--dataset", join(dir, "missing.jsonl")], {
      cwd: root,
      env,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(broken).toMatchObject({ code: 2, stderr: expect.stringContaining("missing.jsonl: no such file") });
  }, 60_000);

  it("replays recorded drafts with --from-db against what the operator finally sent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-eval-db-"));
    const database = openSqlite(join(dir, "q.db"));
    database.migrate();
    const store = createStore(database.db);
    const visitor = { name: "", email: "", segments: [], data: {} };
    const record = async (n: number, text: string, withContext: boolean, finalText?: string) => {
      const { job } = await store.enqueueJob({
        websiteId: "w1",
        sessionId: `s${n}`,
        fingerprint: n,
        messageAt: n,
        trigger: "webhook",
        runAfter: 0,
      });
      const draft = await store.insertDraft({
        jobId: job.id,
        websiteId: "w1",
        sessionId: `s${n}`,
        customerFingerprint: n,
        text,
        mode: "note",
        status: "posted",
        ...(withContext
          ? {
              context: {
                transcript: "Customer: can I return shoes?",
                query: "can I return shoes?",
                language: "en",
                visitor,
              },
            }
          : {}),
      });
      if (finalText)
        await store.insertFeedback({
          draftId: draft.id,
          websiteId: "w1",
          sessionId: `s${n}`,
          kind: "sent_edited",
          finalText,
        });
      return draft;
    };
    const replayed = await record(1, "Returns are free.", true, "Yes, returns are free within 30 days.");
    await record(2, "No answer known.", true); // no operator answer: nothing to compare with
    await record(3, "Old draft.", false, "An answer"); // recorded before contexts were kept
    database.close();
    const env = { ...process.env, DATABASE_PATH: join(dir, "q.db"), LLM_PROVIDER: "offline" };
    const out = join(dir, "out");
    const result = await run("node", ["dist/quill.mjs", "eval", "--from-db", "--out", out], {
      cwd: root,
      env,
    });
    expect(result.stdout).toMatch(/cases\s+1\n/);
    const [only, ...rest] = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).results;
    expect(rest).toEqual([]);
    expect(only).toMatchObject({
      caseId: `draft:${replayed.id}`,
      ok: true,
      expected: "Yes, returns are free within 30 days.",
    });
    expect(only.similarity).toBeGreaterThan(0);
  }, 60_000);

  it("names the missing API key of --provider or --judge and exits 78 (EX_CONFIG), with no stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-eval-keys-"));
    writeFileSync(join(dir, "set.jsonl"), jsonl);
    const env = {
      ...process.env,
      DATABASE_PATH: join(dir, "q.db"),
      LLM_PROVIDER: "",
      LLM_BASE_URL: "",
      OPENAI_API_KEY: "",
      ANTHROPIC_API_KEY: "",
    };
    const evalWith = (...extra: string[]) =>
      run("node", ["dist/quill.mjs", "eval", "--dataset", join(dir, "set.jsonl"), "--out", dir, ...extra], {
        cwd: root,
        env,
      }).catch((e: { code: number; stderr: string }) => e);
    const openai = await evalWith("--provider", "openai");
    expect(openai).toMatchObject({ code: 78 });
    expect(openai.stderr).toContain("OPENAI_API_KEY: required for the openai provider");
    expect(openai.stderr).not.toMatch(/^\s+at /m);
    const judge = await evalWith("--provider", "offline", "--judge", "claude-haiku-4-5");
    expect(judge).toMatchObject({ code: 78 });
    expect(judge.stderr).toContain("ANTHROPIC_API_KEY: required for --judge claude-haiku-4-5");
    expect(judge.stderr).not.toMatch(/^\s+at /m);
  }, 60_000);

  it("gates on the shipped evaluation set: passes against the baseline, fails when things get worse", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quill-gate-"));
    const env = { ...process.env, DATABASE_PATH: join(dir, "q.db"), LLM_PROVIDER: "offline" };
    const base = [
      "dist/quill.mjs",
      "eval",
      "--dataset",
      "eval/kb-tune.jsonl",
      "--dataset",
      "eval/kb-heldout.jsonl",
      "--dataset",
      "eval/abcd/abcd_sample.json",
    ];
    const fails = (e: { code: number; stderr: string }) => e;
    const passed = await run("node", [...base, "--out", join(dir, "a"), "--baseline", "eval/baseline.json"], {
      cwd: root,
      env,
    });
    expect(passed.stdout).toContain("regression gate passed");
    expect(passed.stdout).toMatch(/article hit rate\s+\d+\.\d%/);

    const better = JSON.parse(readFileSync(join(root, "eval/baseline.json"), "utf8"));
    better.summary[0].articleHitRate = 1;
    writeFileSync(join(dir, "better.json"), JSON.stringify(better));
    const failed = await run(
      "node",
      // The same --out: the run resumes from the first one's results instead of drafting again.
      [...base, "--out", join(dir, "a"), "--baseline", join(dir, "better.json")],
      { cwd: root, env },
    ).catch(fails);
    expect(failed).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/articleHitRate 0\.\d+ vs baseline 1\.000/),
    });

    const floor = await run(
      "node",
      [...base, "--out", join(dir, "a"), "--fail-under", "meanSimilarity=0.9"],
      { cwd: root, env },
    ).catch(fails);
    expect(floor).toMatchObject({ code: 1, stderr: expect.stringContaining("is under 0.9") });
    // A second prompt the baseline has never seen is a failure, not a silent pass.
    const shipped = JSON.parse(readFileSync(join(root, "eval/baseline.json"), "utf8"));
    shipped.summary = shipped.summary.filter((s: { target: string }) => s.target.startsWith("default@"));
    writeFileSync(join(dir, "default-only.json"), JSON.stringify(shipped));
    const unseen = await run(
      "node",
      [
        ...base,
        "--out",
        join(dir, "a"),
        "--prompt",
        "default",
        "--prompt",
        "concise",
        "--baseline",
        join(dir, "default-only.json"),
      ],
      { cwd: root, env },
    ).catch(fails);
    expect(unseen).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no baseline for target concise@[0-9a-f]{8}\/offline/),
    });
    const typo = await run("node", [...base, "--fail-under", "accuracy=1"], { cwd: root, env }).catch(fails);
    expect(typo).toMatchObject({ code: 2, stderr: expect.stringContaining("metric one of meanSimilarity") });
  }, 120_000);
});
