import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * The browser tests drive Debian's Chromium with playwright-core (Playwright's own
 * download needs the internet). Install it when missing and we are allowed to.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

function apt(args: string[]) {
  const command = process.getuid?.() === 0 ? ["apt-get", ...args] : ["sudo", "-n", "apt-get", ...args];
  console.log(`installing Chromium for the browser tests: ${command.join(" ")}`);
  execFileSync(command[0] as string, command.slice(1), {
    stdio: "inherit",
    timeout: 600_000,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

export default function setup() {
  if (existsSync(CHROMIUM)) return;
  // A fresh machine has no package lists yet; a mirror can fail once mid-download, so retry once.
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      apt(["update"]);
      // The emoji font draws the draft note's markers in the README's screenshots.
      apt(["install", "-y", "chromium", "fonts-noto-color-emoji"]);
      return;
    } catch (error) {
      const message = (error as Error).message;
      if (attempt === 2) console.warn(`could not install Chromium (${message}); the browser tests will fail`);
      else console.warn(`installing Chromium failed (${message}); retrying once`);
    }
  }
}
