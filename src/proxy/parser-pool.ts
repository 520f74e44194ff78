// Request parsers kept from closed client connections for new ones. A parser holds a few typed
// arrays sized by `limits` (offsets of up to max_fields lines, and their kinds): with a new
// connection per request, making them, and collecting their ArrayBuffers, cost a large share of
// the CPU per request (bench/NOTES.md, the hot path, round 2).

import type { Config } from '../config/schema.js';
import { RequestParser } from '../http/request-parser.js';

/** At most this many parsers wait for a connection: enough for bursts of new connections. */
const MAX_FREE = 64;

export class ParserPool {
  private readonly free: RequestParser[] = [];
  /** The limits the free parsers were made with: a reload that changes them empties the pool. */
  private limits: Config['limits'] | null = null;

  /** A parser for a new connection under `limits`: a free one, or a new one. */
  take(limits: Config['limits']): RequestParser {
    if (limits !== this.limits) {
      this.free.length = 0;
      this.limits = limits;
    }
    return this.free.pop() ?? new RequestParser({ maxStartLine: limits.maxRequestLine, maxHead: limits.maxHead, maxFields: limits.maxFields });
  }

  /** A closed connection's parser, made under `limits`: kept, without any partial head, if it still fits. */
  give(parser: RequestParser, limits: Config['limits']): void {
    if (limits !== this.limits || this.free.length >= MAX_FREE) return;
    parser.reset();
    this.free.push(parser);
  }
}
