import { describe, expect, it } from "vitest";
import { type Clock, systemClock } from "../../src/clock.ts";
import { createCrispClient } from "../../src/crisp/client.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../../src/sandbox/app.ts";
import { createOperatorDirectory } from "../../src/triage/operators.ts";
import { inProcessFetch } from "../helpers.ts";

/** The operator directory against the sandbox's operators list, on a clock the test moves. */

const OWNER = "5b1e2c1a-0c6f-4d5e-9a4e-0d1f2a3b4c5d";
const NEW_ID = "9d3a4e3c-2e81-4f70-9c60-2f3b4c5d6e7f";

function directory() {
  const sandbox = createSandbox({ webhookUrls: [] });
  const websiteId = sandbox.website.website_id;
  const inProcess = inProcessFetch(sandbox.app);
  let listCalls = 0;
  const crisp = createCrispClient({
    apiUrl: "http://sandbox.test/v1",
    identifier: DEMO_CREDENTIALS.identifier,
    key: DEMO_CREDENTIALS.key,
    tier: "plugin",
    clock: systemClock,
    fetch: ((input: string | URL | Request, init?: RequestInit) => {
      if (String(input).endsWith(`/website/${websiteId}/operators/list`)) listCalls++;
      return inProcess(input, init);
    }) as typeof fetch,
  });
  let now = 1_764_000_000_000;
  const clock: Clock = { now: () => now, sleep: systemClock.sleep };
  const hire = (email: string) =>
    sandbox.state.websites.get(websiteId)?.operators.push({
      type: "operator",
      details: { user_id: NEW_ID, email, first_name: "New", role: "member" },
    });
  return {
    operators: createOperatorDirectory(crisp, clock, 10 * 60_000),
    websiteId,
    hire,
    calls: () => listCalls,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("operator directory", () => {
  it("caches the list for its TTL, then reads it again", async () => {
    const { operators, websiteId, hire, calls, advance } = directory();
    expect(await operators.resolve(websiteId, "Owner@Demo.Quill.Test")).toBe(OWNER);
    expect(await operators.resolve(websiteId, OWNER)).toBe(OWNER); // a user id stands for itself
    expect(calls()).toBe(1);

    // A change in Crisp is not seen while the cache is fresh (known names never refresh early)...
    hire("owner-too@demo.quill.test");
    advance(9 * 60_000);
    expect(await operators.resolve(websiteId, "owner@demo.quill.test")).toBe(OWNER);
    expect(calls()).toBe(1);
    // ...and is once the TTL is over.
    advance(2 * 60_000);
    expect(await operators.resolve(websiteId, "owner@demo.quill.test")).toBe(OWNER);
    expect(calls()).toBe(2);
    advance(30_000);
    expect(await operators.resolve(websiteId, "owner-too@demo.quill.test")).toBe(NEW_ID);
    expect(calls()).toBe(2);
  });

  it("refreshes early for an unknown email, at most once a minute", async () => {
    const { operators, websiteId, hire, calls, advance } = directory();
    expect(await operators.resolve(websiteId, "agent@demo.quill.test")).toBeDefined();
    expect(calls()).toBe(1);

    // Unknown right after a read: no second request (a typo in the rules must not hammer Crisp).
    expect(await operators.resolve(websiteId, "new@demo.quill.test")).toBeUndefined();
    expect(calls()).toBe(1);

    // An operator added in Crisp is found without waiting for the TTL, once a minute has passed.
    hire("new@demo.quill.test");
    advance(61_000);
    expect(await operators.resolve(websiteId, "new@demo.quill.test")).toBe(NEW_ID);
    expect(calls()).toBe(2);
    expect(await operators.resolve(websiteId, "still-unknown@demo.quill.test")).toBeUndefined();
    expect(calls()).toBe(2);
    advance(61_000);
    expect(await operators.resolve(websiteId, "still-unknown@demo.quill.test")).toBeUndefined();
    expect(calls()).toBe(3);
  });

  it("concurrent lookups share one request", async () => {
    const { operators, websiteId, calls } = directory();
    const found = await Promise.all(
      ["owner@demo.quill.test", "agent@demo.quill.test", OWNER].map((who) =>
        operators.resolve(websiteId, who),
      ),
    );
    expect(found.every(Boolean)).toBe(true);
    expect(calls()).toBe(1);
  });
});
