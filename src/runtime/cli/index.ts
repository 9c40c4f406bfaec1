import { existsSync } from "node:fs";
import { parseArgs } from "node:util";

/**
 * The `quill` command, on Node (node:util parses the arguments). Subcommands load their
 * modules on demand so `quill --help` stays instant and a broken optional dependency
 * cannot break unrelated commands.
 */

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>["options"];
  run: (values: Record<string, unknown>, positionals: string[]) => Promise<number>;
}

const commands: Record<string, Command> = {
  start: {
    summary: "run quill: web hooks, poller, job runner, dashboard (demo mode without Crisp credentials)",
    usage: "quill start [--port N]",
    options: { port: { type: "string" } },
    run: async (values) => {
      const { startNode } = await import("./start.ts");
      return startNode({ port: values.port as string | undefined });
    },
  },
  sandbox: {
    summary: "serve the local Crisp sandbox alone (REST at http://127.0.0.1:N/v1)",
    usage: "quill sandbox [--port N] [--webhook-url URL ...]",
    options: { port: { type: "string" }, "webhook-url": { type: "string", multiple: true } },
    run: async (values) => {
      const { runSandboxCommand } = await import("./sandbox.ts");
      return runSandboxCommand({
        port: values.port as string | undefined,
        webhookUrls: (values["webhook-url"] as string[] | undefined) ?? [],
      });
    },
  },
  poll: {
    summary: "run one poll cycle: find waiting conversations and enqueue draft jobs",
    usage: "quill poll --once",
    options: { once: { type: "boolean" } },
    run: async (values) => {
      if (!values.once) {
        console.error(
          "quill poll: only --once is supported here; `quill start` runs the poller continuously",
        );
        return 2;
      }
      const { pollOnceCommand } = await import("./poll.ts");
      return pollOnceCommand();
    },
  },
  draft: {
    summary: "draft a reply for one conversation and print it (--post to post it as the usual note/reply)",
    usage: "quill draft <session_id> [--post] [--website <website_id>]",
    options: { post: { type: "boolean" }, website: { type: "string" } },
    run: async (values, positionals) => {
      const sessionId = positionals[0];
      if (!sessionId) {
        // In the demo, the sandbox inbox shows a conversation's id in its address.
        console.error(
          "quill draft: missing <session_id> (in the demo: the ?session=… of the sandbox inbox's address)",
        );
        return 2;
      }
      const { draftCommand } = await import("./draft.ts");
      return draftCommand({
        sessionId,
        post: Boolean(values.post),
        websiteId: values.website as string | undefined,
      });
    },
  },
  eval: {
    summary:
      "replay conversations through prompt versions and providers; compare with what operators answered",
    usage:
      "quill eval (--dataset FILE ... | --from-db [--limit N]) [--prompt NAME ...] [--provider NAME ...] [--concurrency N] [--out DIR] [--judge MODEL] [--timeout-ms N] [--baseline FILE] [--fail-under METRIC=VALUE ...] [--tolerance X]\n\n" +
      '  --dataset FILE   JSONL, one conversation per line: {"id", "messages": [{"from": "user"|"operator", "text"}]}\n' +
      '                   or labelled questions {"id", "question", "article"}; a JSON array of conversations or of\n' +
      "                   ABCD records works too (eval/abcd/abcd_sample.json); repeat --dataset to combine files\n" +
      "  --from-db        drafts in DATABASE_PATH whose operator answer is known\n" +
      "  --prompt NAME    a template in PROMPTS_DIR (repeatable; default: default)\n" +
      "  --provider NAME  openai | anthropic | compatible | offline (repeatable; default: LLM_PROVIDER)\n" +
      "  --out DIR        reports go here (results.jsonl, results.csv, summary.json); an existing\n" +
      "                   results.jsonl in DIR is resumed: finished cases are not run again\n" +
      "  --judge MODEL    also score each draft 1-5 against the real answer with this model\n" +
      "  --baseline FILE  a summary.json of an earlier run: exit 1 when a metric got worse by more than --tolerance (0.02)\n" +
      "  --fail-under M=V exit 1 when metric M is under V (over V for inventedRate, failures);\n" +
      "                   M: meanSimilarity, articleHitRate, meanJudge, inventedRate, failures",
    options: {
      dataset: { type: "string", multiple: true },
      "from-db": { type: "boolean" },
      baseline: { type: "string" },
      "fail-under": { type: "string", multiple: true },
      tolerance: { type: "string" },
      limit: { type: "string" },
      prompt: { type: "string", multiple: true },
      provider: { type: "string", multiple: true },
      concurrency: { type: "string" },
      out: { type: "string" },
      judge: { type: "string" },
      "timeout-ms": { type: "string" },
    },
    run: async (values) => {
      const { evalCommand } = await import("./eval.ts");
      return evalCommand({
        datasets: (values.dataset as string[] | undefined) ?? [],
        baseline: values.baseline as string | undefined,
        failUnder: (values["fail-under"] as string[] | undefined) ?? [],
        tolerance: values.tolerance as string | undefined,
        fromDb: Boolean(values["from-db"]),
        limit: values.limit as string | undefined,
        prompts: (values.prompt as string[] | undefined) ?? [],
        providers: (values.provider as string[] | undefined) ?? [],
        concurrency: values.concurrency as string | undefined,
        out: values.out as string | undefined,
        judge: values.judge as string | undefined,
        timeoutMs: values["timeout-ms"] as string | undefined,
      });
    },
  },
  export: {
    summary: "write drafts with their outcomes as JSONL (PII redacted unless --include-pii)",
    usage: "quill export [--out FILE] [--since YYYY-MM-DD] [--include-pii]",
    options: { out: { type: "string" }, since: { type: "string" }, "include-pii": { type: "boolean" } },
    run: async (values) => {
      const { exportCommand } = await import("./export.ts");
      return exportCommand({
        out: values.out as string | undefined,
        since: values.since as string | undefined,
        includePii: Boolean(values["include-pii"]),
      });
    },
  },
  gaps: {
    summary: "list knowledge gaps: grouped questions whose drafts were rejected, rewritten or had no article",
    usage: "quill gaps [--days N]",
    options: { days: { type: "string" } },
    run: async (values) => {
      const { gapsCommand } = await import("./gaps.ts");
      return gapsCommand({ days: values.days as string | undefined });
    },
  },
  rules: {
    summary:
      "triage rules offline: `check` validates a file, `test` shows which rule fires for a conversation",
    usage: "quill rules check <rules-file> | quill rules test <conversation.json> [--rules FILE]",
    options: { rules: { type: "string" } },
    run: async (values, positionals) => {
      const [action, file] = positionals;
      const { rulesCheckCommand, rulesTestCommand } = await import("./rules.ts");
      if (action === "check" && file) return rulesCheckCommand(file);
      if (action === "test" && file) {
        return rulesTestCommand(file, (values.rules as string | undefined) ?? process.env.RULES_FILE);
      }
      console.error(
        "Usage: quill rules check <rules-file> | quill rules test <conversation.json> [--rules FILE]",
      );
      return 2;
    },
  },
  website: {
    summary:
      "plugin mode: per-website settings (prompt, provider, mode, rules, knowledge base, dashboard token)",
    usage:
      "quill website list [--json] | show <website_id> [--json] | set <website_id> key=value … (key= removes; rules=@file.yaml)\n\n" +
      "  list and show print aligned tables; --json prints the same settings as JSON for scripts",
    options: { json: { type: "boolean" } },
    run: async (values, positionals) => {
      const { websiteCommand } = await import("./website.ts");
      return websiteCommand(positionals[0], positionals.slice(1), { json: Boolean(values.json) });
    },
  },
  mcp: {
    summary:
      "AI agents over MCP: `mcp` serves quill's tools over stdio (QUILL_URL, QUILL_MCP_TOKEN); `mcp token create|list|revoke` manages agents' tokens",
    usage:
      "quill mcp | quill mcp token create --name NAME --scopes read,draft,note,... [--website ID] [--expires 30d] | quill mcp token list | quill mcp token revoke <id or name>",
    options: {
      name: { type: "string" },
      scopes: { type: "string" },
      website: { type: "string" },
      expires: { type: "string" },
    },
    run: async (values, positionals) => {
      const [group, action, ...rest] = positionals;
      if (group === undefined) {
        const { mcpStdioCommand } = await import("./mcp-stdio.ts");
        return mcpStdioCommand(process.env);
      }
      const { mcpTokenCommand, MCP_TOKEN_USAGE } = await import("./mcp.ts");
      if (group !== "token") {
        console.error(`Usage: quill mcp\n       ${MCP_TOKEN_USAGE}`);
        return 2;
      }
      return mcpTokenCommand(action, rest, values as Record<string, string | undefined>);
    },
  },
  privacy: {
    summary:
      "a visitor's data: `privacy export` prints every row quill holds about them, `privacy erase` deletes them",
    usage: "quill privacy export|erase (--email X | --people-id Y | --session-id Z) [--website ID]",
    options: {
      email: { type: "string" },
      "people-id": { type: "string" },
      "session-id": { type: "string" },
      website: { type: "string" },
    },
    run: async (values, positionals) => {
      const { privacyCommand } = await import("./privacy.ts");
      return privacyCommand(positionals[0], values as Record<string, string | undefined>);
    },
  },
  token: {
    summary:
      "print a strong random token (ADMIN_TOKEN, SESSION_SECRET, website tokens, hook and CRM secrets)",
    usage: "quill token",
    options: {},
    run: async () => {
      const { tokenCommand } = await import("./token.ts");
      return tokenCommand();
    },
  },
  migrate: {
    summary: "apply database migrations to DATABASE_PATH",
    usage: "quill migrate",
    options: {},
    run: async () => {
      const { migrateCommand } = await import("./migrate.ts");
      return migrateCommand();
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    "quill — support copilot for Crisp",
    "",
    "Usage: quill <command> [options]   (quill <command> --help for details; quill --version)",
    "",
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Configuration comes from the environment; see .env.example.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return 0;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    // Imported, not read from disk, so the bundle of `npm start` carries it too.
    const { default: pkg } = await import("../../../package.json", { with: { type: "json" } });
    console.log(pkg.version);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`quill: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    console.error(`quill ${name}: ${(error as Error).message}\nUsage: ${command.usage}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(`${command.summary}\n\nUsage: ${command.usage}`);
    return 0;
  }
  try {
    // ./.env applies to every command (`quill start` and `quill migrate` must agree on the
    // database); a variable already in the environment wins, as with `node --env-file`.
    if (existsSync(".env")) process.loadEnvFile(".env");
    return await command.run(parsed.values, parsed.positionals);
  } catch (error) {
    const { reportError } = await import("./shared.ts");
    return reportError(error, name);
  }
}

let pipeGuarded = false;
/** `quill export | head -1`: once the reader has gone, the rest of the output is not wanted. */
function quietOnClosedPipe() {
  if (pipeGuarded) return;
  pipeGuarded = true;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}
