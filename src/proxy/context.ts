// What every connection of the proxy shares: the configuration in force, the routes, the timer
// wheel, the logger, and how to report a backend's passive failure; and what the connections of
// one listener share (Entrance).

import type { AccessLog } from '../access-log.js';
import type { DurationHistogram, ResponseCounts } from '../balancer/stats.js';
import type { Config } from '../config/schema.js';
import type { RequestIds } from '../http/request-id.js';
import type { Logger } from '../log.js';
import type { Router } from '../router.js';
import type { Deadlines } from './deadlines.js';
import type { ParserPool } from './parser-pool.js';
import type { ProxyBackend, ProxyPool } from './sides.js';

export type { ProxyBackend, ProxyPool } from './sides.js';

/** What the proxy needs of an open client connection, to shut down and to report. */
export interface OpenConnection {
  /** Between requests: shutdown closes it at once. */
  readonly idle: boolean;
  destroy(): void;
}

/** What one listener tells the connections it accepts (interface.md, "Listeners, TLS and PROXY protocol"). */
export interface Entrance {
  /** The scheme clients use to reach it: "http", or "https" with TLS. */
  readonly proto: 'http' | 'https';
  /** `redirect: https`: every request is answered with a 308 to https:// instead of being routed. */
  readonly redirect: boolean;
}

export interface ProxyContext {
  timeouts: Config['timeouts'];
  limits: Config['limits'];
  /** Routes of the configuration in force; replaced whole on reload. */
  router: Router<ProxyPool>;
  readonly deadlines: Deadlines;
  readonly logger: Logger;
  /** One line per request, in the configured format; replaced on reload. */
  accessLog: AccessLog;
  /** The request_id field and the ids it makes; null when request_id is "". Replaced on reload when the field changes. */
  requestIds: RequestIds | null;
  /** Client connections that are open, for shutdown and the status page. */
  readonly clients: Set<OpenConnection>;
  /** Request parsers of closed client connections, for new ones. */
  readonly parsers: ParserPool;
  /** How long requests took, from their head to the end of their response. */
  readonly durations: DurationHistogram;
  /** Responses made before a pool was chosen: requests refused unparsed, or that no route matched (pool ""). */
  readonly unrouted: ResponseCounts;
  /** True once the proxy is shutting down: connections close after their current exchange. */
  closing: boolean;
  /** Whether X-Forwarded-* from this address are to be trusted and extended. */
  isTrusted(address: string): boolean;
  /** A connection to `backend` failed: out of rotation now (passive health, through Fleet.setHealth). */
  markDown(backend: ProxyBackend, reason: string): void;
}
