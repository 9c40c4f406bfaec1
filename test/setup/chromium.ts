import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * The browser tests drive Debian's Chromium with playwright-core (Playwright's own
 * download needs the internet). Install it when missing and we are allowed to.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default function setup() {
  if (existsSync(CHROMIUM)) return;
  const root = process.getuid?.() === 0;
  const command = root
    ? ["apt-get", "install", "-y", "chromium"]
    : ["sudo", "-n", "apt-get", "install", "-y", "chromium"];
  try {
    console.log(`installing Chromium for the browser tests: ${command.join(" ")}`);
    execFileSync(command[0] as string, command.slice(1), {
      stdio: "inherit",
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } catch (error) {
    console.warn(`could not install Chromium (${(error as Error).message}); the browser tests will fail`);
  }
}
