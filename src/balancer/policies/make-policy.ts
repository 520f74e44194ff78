// The policy a pool's `balance` names, made for its servers. Production draws from one
// xoshiro128** per process, seeded at random: no two processes draw alike, and nothing here
// needs to agree across processes but hash, which draws nothing.

import type { Balance } from '../../config/schema.js';
import { Cycle } from './cycle.js';
import { ConsistentHash } from './hash.js';
import { LeastConn } from './least-conn.js';
import { LeastLatency } from './least-latency.js';
import { LeastRequest } from './least-request.js';
import type { Policy, Random } from './policy.js';
import { WeightedRandom } from './random.js';
import { xoshiro128 } from './random-source.js';
import { RoundRobin } from './round-robin.js';

const processRandom: Random = xoshiro128((Math.random() * 2 ** 32) >>> 0);

/**
 * The policy for `balance` over servers named `names` (hash builds its table from them).
 * `uniform`: every weight is the same and stays so (no slow start): round robin is then a plain
 * counter (cycle.ts), the same picks at less cost.
 */
export function makePolicy(balance: Balance, names: readonly string[], uniform = false, random: Random = processRandom): Policy {
  switch (balance) {
    case 'round_robin':
      return uniform ? new Cycle() : new RoundRobin();
    case 'least_conn':
      return new LeastConn();
    case 'least_request':
      return new LeastRequest(random);
    case 'least_latency':
      return new LeastLatency(random);
    case 'random':
      return new WeightedRandom(random);
    case 'hash':
      return new ConsistentHash(names);
  }
}
