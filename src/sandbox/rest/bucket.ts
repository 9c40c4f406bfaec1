import { bucketUrlBody } from "../../crisp/schemas.ts";
import { ok, parseBody, type RestRoutes } from "./shared.ts";

/** Upload URLs: Crisp answers 202 and delivers the signed URL as a web hook. */
export const bucketRoutes: RestRoutes = (api, { hooks, credentials }) => {
  api.post("/bucket/url/generate", async (c) => {
    const body = await parseBody(c, bucketUrlBody);
    const id = body.id ?? crypto.randomUUID();
    const name = encodeURIComponent(body.file.name);
    hooks.emit("bucket:url:upload:generated", {
      from: "plugin",
      identifier: credentials.identifier,
      id,
      policy: { size_limit: 10_000_000 },
      type: body.namespace,
      url: {
        resource: `https://storage.sandbox.quill.test/${id}/${name}`,
        signed: `https://storage.sandbox.quill.test/${id}/${name}?signature=${crypto.randomUUID()}`,
      },
    });
    return ok(c, {}, "requested", 202);
  });
};
