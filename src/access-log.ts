// The access log: one line per response, in the configured format (interface.md, "Logs an
// operator relies on"). "text" is nginx's combined format plus the fields a balancer adds, as
// nginx and Apache users read it; "json" is one object per line, for log shippers. Lines are
// batched by the logger and written once per event-loop turn.

import type { Logger } from './log.js';

/** What one access line tells. */
export interface AccessEntry {
  /** The client's address. */
  client: string;
  /**
   * The request line's three parts. `method` is "" when there is none to show: a request refused
   * before its request line arrived whole, or one that is not shaped as a request line (a 414,
   * a garbled line).
   */
  method: string;
  path: string;
  /** "HTTP/1.1", "HTTP/1.0", or a refused request's version as sent. */
  protocol: string;
  /** The Host the request was routed by ("" when it had none, or was not routed). */
  host: string;
  /** The status the client got; 0 when the response was cut short. */
  status: number;
  /** The server that answered ("127.0.0.1:8081"), or "-" when the balancer answered itself. */
  server: string;
  /** Bytes sent to the client, head included; a tunnel's bytes too. */
  bytes: number;
  /** From the request head to the response's end. */
  ms: number;
  /** The error code (errors.ts) when the balancer answered itself, else null. */
  code: string | null;
  /** The request's Referer and User-Agent, null when it sent none (or was refused unread). */
  referer: string | null;
  userAgent: string | null;
  /** The request's id (request_id), null when ids are off. */
  requestId: string | null;
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
      const known = e.method !== '';
      this.logger.accessLine(
        JSON.stringify({
          time: new Date(this.now()).toISOString(),
          client: e.client,
          method: known ? e.method : null,
          host: e.host,
          path: known ? e.path : null,
          status: e.status,
          server: e.server,
          bytes: e.bytes,
          ms,
          code: e.code,
          referer: e.referer,
          user_agent: e.userAgent,
          request_id: e.requestId,
        }),
      );
      return;
    }
    // 127.0.0.1 - - [21/Nov/2026:16:14:26 +0000] "GET /mango HTTP/1.1" 200 89 "https://www.mango.com/" "curl/8.5.0" www.mango.com 127.0.0.1:8081 - 2ms -
    const request = e.method === '' ? '-' : `${e.method} ${quotable(e.path)} ${e.protocol}`;
    this.logger.accessLine(
      `${e.client} - - [${this.time()}] "${request}" ${e.status} ${e.bytes} "${e.referer === null ? '-' : quotable(e.referer)}" ` +
        `"${e.userAgent === null ? '-' : quotable(e.userAgent)}" ${e.host || '-'} ${e.server} ${e.requestId === null ? '-' : quotable(e.requestId)} ${ms}ms ${e.code ?? '-'}`,
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

/**
 * `s` as it can stand between double quotes in a text line, escaped as nginx escapes variables
 * in its log: `"`, `\`, controls (HTAB) and bytes past ASCII (obs-text) as \xHH, so that a value
 * can neither end its field early nor bring bytes a terminal or a log parser would act on. The
 * strings are latin1 (a character per byte). Most values need nothing: they are returned as
 * they are, after one look at each character.
 */
export function quotable(s: string): string {
  let i = 0;
  while (i < s.length && !needsEscape(s.charCodeAt(i))) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += needsEscape(c) ? `\\x${c.toString(16).toUpperCase().padStart(2, '0')}` : s[i];
  }
  return out;
}

function needsEscape(c: number): boolean {
  return c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c;
}
