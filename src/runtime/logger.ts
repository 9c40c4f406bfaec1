import pino from "pino";
import type { Logger } from "../log.ts";

/** JSON lines on stdout (or `destination`), with secret-looking fields censored. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    redact: {
      paths: ["*.key", "*.apiKey", "*.secret", "*.authorization", "headers.authorization"],
      censor: "[redacted]",
    },
  };
  return (destination ? pino(options, destination) : pino(options)) as unknown as Logger;
}
