import { type QuillHandle, startQuill } from "../node.ts";
import { onSignals, reportConfigError } from "./shared.ts";

/** `quill start`: the server of src/runtime/node.ts, with a banner and signal handling. */

function banner(handle: QuillHandle) {
  const lines = [
    `quill listening on ${handle.url}`,
    `  web hooks  POST ${handle.url}/webhooks/crisp`,
    `  health     ${handle.url}/healthz · metrics ${handle.url}/metrics`,
  ];
  if (handle.sandbox) {
    lines.push(
      "",
      "Demo mode (no Crisp credentials): a local Crisp sandbox runs inside this server.",
      `  inbox      ${handle.url}/sandbox/  ← write as a visitor, watch the draft note appear`,
      `  REST       ${handle.url}/sandbox/v1`,
      `  drafter    ${handle.config.llm.provider}${handle.config.llm.provider === "offline" ? " (knowledge base in kb/, no AI model)" : ""}`,
    );
  }
  return lines.join("\n");
}

export async function startNode(opts: { port?: string | undefined }): Promise<number> {
  try {
    const port = opts.port === undefined ? undefined : Number(opts.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      console.error(`--port: expected an integer 0-65535, got "${opts.port}"`);
      return 2;
    }
    const handle = await startQuill(port === undefined ? {} : { port });
    console.log(banner(handle));
    onSignals(() => handle.stop());
    await new Promise(() => {});
    return 0;
  } catch (error) {
    return reportConfigError(error);
  }
}
