import { systemClock } from "../src/clock.ts";
import { createCrispClient } from "../src/crisp/client.ts";
import { createIntake } from "../src/drafting/intake.ts";
import { pollOnce } from "../src/drafting/poll-cycle.ts";
import { silentLogger } from "../src/log.ts";
import { openSqlite } from "../src/runtime/sqlite.ts";
import { createSandbox, DEMO_CREDENTIALS } from "../src/sandbox/app.ts";
import { createStore } from "../src/store/store.ts";

/**
 * 4. Poll cost: 1,000 open conversations, 10 of which change between two cycles. Crisp
 * calls in the second cycle (target: 1 list call + calls for the changed ones only; a
 * naive poller reads every conversation: 1 + 1,000).
 */

const sandbox = createSandbox();
for (let i = 0; i < 1_000; i++) sandbox.visitorSays({ text: `question ${i}` });
const database = openSqlite(":memory:");
database.migrate();
const store = createStore(database.db);
const crisp = createCrispClient({
  apiUrl: "http://sandbox.local/v1",
  identifier: DEMO_CREDENTIALS.identifier,
  key: DEMO_CREDENTIALS.key,
  tier: "plugin",
  fetch: ((input: string | URL | Request, init?: RequestInit) =>
    sandbox.app.request(String(input), init)) as typeof fetch,
});
const intake = createIntake({
  store,
  clock: systemClock,
  log: silentLogger,
  quietPeriodMs: 0,
  typingGraceMs: 0,
  onEnqueued: () => {},
});
const cycle = () => pollOnce({ store, crisp, intake, websiteId: sandbox.website.website_id });

const first = await cycle();
const open = [...sandbox.state.conversations.keys()];
for (const sessionId of open.slice(0, 10)) sandbox.visitorSays({ sessionId, text: "any news?" });
const before = sandbox.requests.length;
const second = await cycle();
const calls = sandbox.requests.length - before;
database.close();
console.log(
  `first_cycle_calls=${first.listCalls} changed=${second.changed} enqueued=${second.enqueued} naive_calls=1001`,
);
console.log(`poll_calls_per_cycle=${calls}`);
