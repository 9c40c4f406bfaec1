import { type QuillHandle, startQuill } from "../node.ts";
import { onSignals, parsePort } from "./shared.ts";

/** `quill start`: the server of src/runtime/node.ts, with a banner and signal handling. */

export function banner(handle: Pick<QuillHandle, "url" | "sandbox" | "config">) {
  const lines = [
    `quill listening on ${handle.url}`,
    `  web hooks  POST ${handle.url}/webhooks/crisp`,
    `  dashboard  ${handle.url}/admin/`,
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
  const port = opts.port === undefined ? undefined : parsePort(opts.port);
  const handle = await startQuill(port === undefined ? {} : { port });
  console.log(banner(handle));
  onSignals(() => handle.stop());
  await new Promise(() => {});
  return 0;
}
