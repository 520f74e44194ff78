// Counters for the status page and /metrics. The hot path only adds to numbers held by the
// objects it already has in hand (a server, a pool): no strings, no allocation. Only the
// balancer's own responses, rare, are counted in a map, by error code.

import type { ErrorCode } from '../errors.js';

/** Upper bounds of the request duration histogram, in seconds (Prometheus' default buckets). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** What happened to the requests of one server or one pool. */
export class Counters {
  /** Requests sent (a retry counts for each server it went to). */
  requests = 0;
  /** Requests in flight now. */
  inFlight = 0;
  /** Finished requests by status class: byClass[2] counts 2xx; byClass[0] those cut short (no status). */
  readonly byClass = [0, 0, 0, 0, 0, 0];
  /** Connections that failed before a response: refused, reset, timed out. */
  failures = 0;

  /** Counts a finished request with `status` (0: cut short). */
  finished(status: number): void {
    this.inFlight--;
    this.byClass[status >= 100 && status < 600 ? (status / 100) | 0 : 0]!++;
  }
}

/** Request durations, as a cumulative histogram. */
export class DurationHistogram {
  /** counts[i]: requests that took at most DURATION_BUCKETS[i] seconds; the last one counts all. */
  readonly counts = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  sum = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    // Stored per bucket; made cumulative when read (metrics.ts), so an observation is one add.
    this.counts[i]!++;
  }
}

/**
 * The responses of one pool (or of no pool: those made before routing) for lb_responses_total:
 * by exact status when a server made them, by error code when the balancer did. Counting one is
 * an addition into an array indexed by status, or, for the balancer's own (rare), into a map;
 * the series' labels are made when /status or /metrics is asked for.
 */
export class ResponseCounts {
  /** fromServer[status]: responses a server made (a 101 counts when its tunnel ends); every 3-digit status has a slot. */
  readonly fromServer = new Float64Array(1000);
  /** Responses the balancer made itself, by error code (errors.ts), in the order codes first came. */
  readonly fromBalancer = new Map<ErrorCode, number>();

  /** Counts a response the balancer made for `code`. */
  balancer(code: ErrorCode): void {
    this.fromBalancer.set(code, (this.fromBalancer.get(code) ?? 0) + 1);
  }
}
