// round_robin when every server has the same weight: a counter over the positions. nginx's
// smooth weighted round robin (round-robin.ts) then picks exactly these servers, in this order,
// but pays a pass over every position per pick to get there; the counter looks at one position
// when it is ready, as the balancer did before it had weights. The pool chooses it when the
// weights are equal and fixed (no slow start).

import { type Candidates, type Policy, usable } from './policy.js';

export class Cycle implements Policy {
  /** The position the next turn starts at. */
  private next = 0;

  /**
   * The first ready position from the counter on, going around at most once; the turn after it
   * starts just past it. A position that is out is stepped past, so its turns go to the others
   * evenly (a, b, c with b out: a, c, a, c).
   */
  pick(candidates: Candidates): number {
    const n = candidates.length;
    let i = this.next < n ? this.next : 0;
    for (let k = 0; k < n; k++) {
      if (usable(candidates, i)) {
        this.next = i + 1;
        return i;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    return -1;
  }
}
