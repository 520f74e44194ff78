// The one interface every balancing policy implements: pick a position from a view of the
// candidate servers. Policies are pure: no sockets, no timers, no clock (time is passed in),
// no Math.random (a Random is injected), so tests drive them with plain arrays.

/** A number in [0, 1), as Math.random gives; tests pass a seeded generator. */
export type Random = () => number;

/**
 * What a policy may read of the servers it picks among. Positions are 0..length-1, fixed for a
 * server set (the pool's list); the pool implements this over its servers.
 *
 * Why positions and a `ready` predicate, and not a filtered array or a bitmask:
 * - a filtered array (the servers up and not tried) would be allocated per pick;
 * - a bitmask would be filled per pick, an O(n) pass even when the policy looks at two servers
 *   (two choices, hash), and needs a word per 32 servers;
 * - a predicate costs only the positions the policy looks at, reads what the pool already holds
 *   (health, admin state, max_connections, the request's `tried` set in a field before the pick:
 *   no closure per request), and lets each policy skip the way its algorithm needs: the smooth
 *   round robin steps past a turn, two choices draws again, hash walks on along its table.
 * So "selection, then first ready, going around at most once" is walked inside `pick`, and the
 * pool asks once: a ready position, or -1 when none is.
 * Positions (not server objects) let a policy keep its per-server state in typed arrays and a
 * hash table hold small integers, whatever the pool's server type.
 */
export interface Candidates {
  /** How many positions there are, ready or not. */
  readonly length: number;
  /**
   * Whether position `i` may take this request now: up, in the tier in use (backup servers only
   * while no other is up), not ejected, below its max_connections, not already tried by this
   * request.
   */
  ready(i: number): boolean;
  /**
   * Effective weight of position `i`, 0..256 (slow start applied by the caller; may be
   * fractional). 0: no new requests, whatever `ready` says.
   */
  weight(i: number): number;
  /** Requests in flight to position `i` now. */
  inFlight(i: number): number;
  /** Latency estimate of position `i` at time `now`, in ms (a PeakEwma's cost); least_latency only. */
  latency(i: number, now: number): number;
}

export interface Policy {
  /**
   * The position to send one request to: ready, with a weight above 0; -1 when there is none.
   * `now`: ms on any monotonic clock (least_latency reads it). `key`: the request's hash key,
   * or null when it has none (hash balances those round robin; the others ignore it).
   */
  pick(candidates: Candidates, now: number, key: string | null): number;
}

/** Whether position `i` may be picked: ready and with a weight. */
export function usable(candidates: Candidates, i: number): boolean {
  return candidates.weight(i) > 0 && candidates.ready(i);
}
