// least_request: the power of two choices. Two distinct servers drawn at random; the one with
// fewer requests in flight per unit of weight takes the request.

import { compare } from './least-conn.js';
import type { Candidates, Policy, Random } from './policy.js';
import { TwoChoices, eitherByWeight } from './two-choices.js';

/**
 * Two draws instead of a scan: O(1) per pick, and no herd on the one least loaded server when
 * several balancers (or workers), each with its own counts, share the backends. On a tie (idle
 * servers, both at 0) the two split by weight, so weights hold when there is no load to compare.
 */
export class LeastRequest implements Policy {
  private readonly two: TwoChoices;

  constructor(private readonly random: Random) {
    this.two = new TwoChoices(random);
  }

  pick(candidates: Candidates): number {
    const two = this.two;
    if (two.draw(candidates) < 2) return two.first;
    const order = compare(candidates, two.first, two.second);
    if (order !== 0) return order < 0 ? two.first : two.second;
    return eitherByWeight(candidates, two.first, two.second, this.random);
  }
}
