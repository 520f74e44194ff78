// least_conn: the server with the fewest requests in flight per unit of weight; ties go round
// robin, weighted, as nginx's least_conn does.

import { type Candidates, type Policy, usable } from './policy.js';

/**
 * One pass finds the lowest in-flight / weight (compared as a cross product: exact, no division)
 * and whether several share it; a second pass, only on a tie, runs the smooth weighted round
 * robin among those (so idle servers, all at 0, take turns by weight: 2:1 -> a b a ...).
 */
export class LeastConn implements Policy {
  /** Round robin credit per position, for ties (nginx's current_weight). */
  private credit = new Float64Array(0);

  pick(candidates: Candidates): number {
    const n = candidates.length;
    if (this.credit.length !== n) this.credit = new Float64Array(n);
    let best = -1;
    let tied = false;
    for (let i = 0; i < n; i++) {
      if (!usable(candidates, i)) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const order = compare(candidates, i, best);
      if (order < 0) {
        best = i;
        tied = false;
      } else if (order === 0) {
        tied = true;
      }
    }
    if (best < 0 || !tied) return best;

    const credit = this.credit;
    const first = best;
    let total = 0;
    for (let i = first; i < n; i++) {
      if (!usable(candidates, i) || compare(candidates, i, first) !== 0) continue;
      const w = candidates.weight(i);
      credit[i]! += w;
      total += w;
      if (credit[i]! > credit[best]!) best = i;
    }
    credit[best]! -= total;
    return best;
  }
}

/** The sign of inFlight(i) / weight(i) - inFlight(j) / weight(j); weights are above 0. */
export function compare(candidates: Candidates, i: number, j: number): number {
  return candidates.inFlight(i) * candidates.weight(j) - candidates.inFlight(j) * candidates.weight(i);
}
