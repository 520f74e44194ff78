// One line for any error the program reports: what `lb: <reason>` and the log lines print.

import { ConfigError } from './config/error.js';

/** Thrown for a mistake on the command line; printed as `lb: <message>`. */
export class UsageError extends Error {}

/**
 * One line for any error: the config's or command line's own message; `listen EADDRINUSE
 * 127.0.0.1:8080` or `getaddrinfo ENOTFOUND nosuch.host` for a system error; otherwise the first
 * line of the message. Never a stack trace.
 */
export function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof ConfigError || err instanceof UsageError) return err.message;
  const sys = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (sys.syscall !== undefined && sys.code !== undefined) {
    const target = sys.address ?? sys.hostname;
    const where = target === undefined ? '' : ` ${target}${sys.port === undefined ? '' : `:${sys.port}`}`;
    return `${sys.syscall} ${sys.code}${where}`;
  }
  return err.message.split('\n', 1)[0]!;
}
