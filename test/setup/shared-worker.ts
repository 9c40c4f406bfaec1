import nock from "nock";
import { afterAll, vi } from "vitest";

/**
 * Test files share a worker's modules (`isolate: false`: importing the sources once per
 * worker instead of once per file is most of the suite's time), so each file hands back
 * what it may have changed: nock's interceptors and net-connect ban, stubbed variables.
 */
afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  vi.unstubAllEnvs();
  vi.useRealTimers();
});
