// hash: consistent hashing on a key with a Maglev table (Eisenbud et al., NSDI 2016), built once
// per server set from the servers' names only, so every process with the same config agrees.

import { type Candidates, type Policy, usable } from './policy.js';
import { RoundRobin } from './round-robin.js';
import { stableHash } from './stable-hash.js';

/** Slots in the table: a prime (Maglev's permutations need it), about 100 times the servers. */
export const TABLE_SIZE = 65537;
/** Second seed for the names' skip hash (the offset hash uses the default one). */
const SKIP_SEED = 0x9e3779b9;
/** Table slots walked past a server that is out before falling back to a scan of the names. */
const WALK = 64;
/** An empty slot while the table is filled; also the most servers a table holds. */
const EMPTY = 0xffff;

/**
 * A key goes to the server of slot hash(key) mod TABLE_SIZE. The table gives every server an
 * equal share of slots (within one) and changes little when a name is added or removed.
 *
 * A server that is out (down, tried, weight 0) stays in the table: its keys walk on to the next
 * slots' servers, which are spread over all the others. So taking a server out moves only its
 * keys, and they come back when it does, exactly; a retry of a key goes to the same next server.
 * Weights other than 0 do not shape the table (a pure function of the names; slow start does not
 * apply to hash). A request without a key (`key` null) is balanced round robin.
 */
export class ConsistentHash implements Policy {
  /** Slot -> position. */
  private readonly table: Uint16Array;
  /** Positions ordered by name, for the scan when the walk finds no ready server. */
  private readonly byName: Uint16Array;
  private readonly keyless = new RoundRobin();

  /** `names[i]`: the name of position i (its "host:port" as the config writes it); distinct. */
  constructor(
    names: readonly string[],
    /** Slots: a prime; smaller ones only for tests. */
    readonly size: number = TABLE_SIZE,
  ) {
    if (names.length >= EMPTY) throw new RangeError(`hash: at most ${EMPTY - 1} servers in a pool, not ${names.length}`);
    // Filled in name order, so the table does not depend on the order the config lists them.
    this.byName = Uint16Array.from(names.keys()).sort((a, b) => (names[a]! < names[b]! ? -1 : 1));
    this.table = fill(names, this.byName, size);
  }

  pick(candidates: Candidates, _now: number, key: string | null): number {
    if (key === null || this.byName.length === 0) return this.keyless.pick(candidates);
    const h = stableHash(key);
    let slot = h % this.size;
    for (let step = 0; step < WALK; step++) {
      const i = this.table[slot]!;
      if (usable(candidates, i)) return i;
      slot = slot + 1 === this.size ? 0 : slot + 1;
    }
    // Most servers are out: the first ready one in name order from a place set by the key.
    const n = this.byName.length;
    for (let k = 0, at = h % n; k < n; k++, at = at + 1 === n ? 0 : at + 1) {
      const i = this.byName[at]!;
      if (usable(candidates, i)) return i;
    }
    return -1;
  }
}

/**
 * Maglev's population: each name has a permutation of the slots (an offset and a skip, both from
 * its hash; the size is prime so every skip visits every slot), and the names take turns
 * claiming their next free slot until all are claimed.
 */
function fill(names: readonly string[], order: Uint16Array, size: number): Uint16Array {
  const table = new Uint16Array(size).fill(EMPTY);
  const n = order.length;
  if (n === 0) return table;
  const next = new Float64Array(n);
  const skip = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const name = names[order[k]!]!;
    next[k] = stableHash(name) % size;
    skip[k] = (stableHash(name, SKIP_SEED) % (size - 1)) + 1;
  }
  let filled = 0;
  while (filled < size) {
    for (let k = 0; k < n && filled < size; k++, filled++) {
      let slot = next[k]!;
      while (table[slot] !== EMPTY) slot = (slot + skip[k]!) % size;
      table[slot] = order[k]!;
      next[k] = (slot + skip[k]!) % size;
    }
  }
  return table;
}
