import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it, vi } from "vitest";
import { rulesCheckCommand, rulesTestCommand } from "../../src/runtime/cli/rules.ts";

const dir = mkdtempSync(join(tmpdir(), "quill-rules-"));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
function capture() {
  const out: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(line));
  vi.spyOn(console, "error").mockImplementation((line: string) => void out.push(line));
  return out;
}
afterEach(() => vi.restoreAllMocks());

it("quill rules check: passes the shipped example, fails a broken file with its position", () => {
  let out = capture();
  expect(rulesCheckCommand("rules.example.yaml")).toBe(0);
  expect(out[0]).toMatch(/^rules\.example\.yaml: 6 rule\(s\) OK \(time zone Europe\/Paris/);
  out = capture();
  const broken = file("broken.yaml", "rules:\n  - name: x\n    then:\n      asign: a@b.c\n");
  expect(rulesCheckCommand(broken)).toBe(1);
  expect(out.join("\n")).toContain('line 4, column 7: rules.0.then: Unrecognized key: "asign"');
  expect(rulesCheckCommand(join(dir, "missing.yaml"))).toBe(2);
});

it("quill rules test: prints which rules fire and what they would do", () => {
  const out = capture();
  const conversation = file(
    "refund.json",
    JSON.stringify({
      meta: { email: "ann@bigcorp.com" },
      messages: [{ from: "user", content: "I want a refund for order 12" }],
      intent: "refund",
      language: "en",
      at: "2026-11-25T21:00:00+01:00",
    }),
  );
  expect(rulesTestCommand(conversation, "rules.example.yaml")).toBe(0);
  expect(out).toEqual([
    'fired before drafting: #2 "enterprise customers"',
    'fired before drafting: #3 "after hours"',
    'fired on the draft (intent/language): #4 "refunds need a person"',
    "actions:",
    "  assign to billing@yourshop.com",
    "  add segments enterprise",
    '  set data {"after_hours":true}',
    "  force note mode",
  ]);
  // The visitor's people profile comes from the file; without it, visitor rules do not fire.
  const rules = file(
    "vip.yaml",
    "rules:\n  - name: vip\n    when: { visitorSegments: vip }\n    then: { forceNote: true }\n",
  );
  out.length = 0;
  expect(rulesTestCommand(file("vip.json", '{"visitor": {"segments": ["vip"]}}'), rules)).toBe(0);
  expect(out).toEqual(['fired before drafting: #1 "vip"', "actions:", "  force note mode"]);
  out.length = 0;
  expect(rulesTestCommand(file("nobody.json", "{}"), rules)).toBe(0);
  expect(out).toEqual(["no rule fired: quill drafts as usual"]);
  const bad = file("bad.json", '{"messages": "nope"}');
  expect(rulesTestCommand(bad, "rules.example.yaml")).toBe(2);
  expect(out.at(-1)).toMatch(/bad\.json: messages: /);
});
