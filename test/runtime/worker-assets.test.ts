import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ASSETS_FILE, renderAssets } from "../../scripts/bundle-assets.ts";

describe("Worker assets", () => {
  it("bundle the current knowledge base and prompts (run `npm run build:assets` after editing them)", () => {
    expect(readFileSync(ASSETS_FILE, "utf8") === renderAssets()).toBe(true);
  });
});
