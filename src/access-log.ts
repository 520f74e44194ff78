// The access log: one line per request, in the configured format. "text" is combined-style, as
// nginx and Apache users read it; "json" is one object per line, for log shippers. Lines are
// batched by the logger and written once per event-loop turn.

import type { Logger } from './log.js';

/** What one access line tells. */
export interface AccessEntry {
  /** The client's address. */
  client: string;
  method: string;
  /** The Host the request was routed by ("" when it had none). */
  host: string;
  path: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** The status the client got; 0 when the response was cut short. */
  status: number;
  /** The server that answered ("127.0.0.1:8081"), or "-" when the balancer answered itself. */
  server: string;
  /** Bytes sent to the client, head included. */
  bytes: number;
  /** From the request head to the response's end. */
  ms: number;
  /** The error code (errors.ts) when the balancer answered itself, else null. */
  code: string | null;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export class AccessLog {
  /** The last second formatted, and its text: one Date per second at most. */
  private second = -1;
  private stamp = '';

  /**
   * Whether lines are written at all (log level info or below); callers skip building entries
   * otherwise. A field, set once (a logger's level does not change): it is read once per
   * request, and asking the logger costs two lookups by level name (1.3% of the instructions the
   * balancer runs per keep-alive request).
   */
  readonly enabled: boolean;

  constructor(
    private readonly logger: Logger,
    readonly format: 'text' | 'json',
    private readonly now: () => number = Date.now,
  ) {
    this.enabled = logger.enabled('info');
  }

  write(e: AccessEntry): void {
    const ms = Math.round(e.ms);
    if (this.format === 'json') {
      this.logger.accessLine(
        JSON.stringify({ time: new Date(this.now()).toISOString(), client: e.client, method: e.method, host: e.host, path: e.path, status: e.status, server: e.server, bytes: e.bytes, ms, code: e.code }),
      );
      return;
    }
    // 127.0.0.1 - - [21/Nov/2026:16:14:26 +0000] "GET /mango HTTP/1.1" 200 89 "www.mango.com" 127.0.0.1:8081 2ms
    this.logger.accessLine(
      `${e.client} - - [${this.time()}] "${e.method} ${e.path} HTTP/1.${e.minor}" ${e.status} ${e.bytes} "${e.host || '-'}" ${e.server} ${ms}ms`,
    );
  }

  /** The time as the combined log format writes it: 21/Nov/2026:16:14:26 +0000 (UTC). */
  private time(): string {
    const now = this.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      const d = new Date(second * 1000);
      const pad = (n: number) => String(n).padStart(2, '0');
      this.second = second;
      this.stamp = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
    }
    return this.stamp;
  }
}
