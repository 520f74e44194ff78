// random: weighted random. Each ready server is picked with probability its weight over the
// sum of the ready servers' weights.

import { type Candidates, type Policy, type Random, usable } from './policy.js';

/** Two passes with one draw: sum the ready weights, then walk to where the draw falls. */
export class WeightedRandom implements Policy {
  constructor(private readonly random: Random) {}

  pick(candidates: Candidates): number {
    let total = 0;
    for (let i = 0; i < candidates.length; i++) if (usable(candidates, i)) total += candidates.weight(i);
    if (total === 0) return -1;
    let point = this.random() * total;
    let last = -1;
    for (let i = 0; i < candidates.length; i++) {
      if (!usable(candidates, i)) continue;
      last = i;
      point -= candidates.weight(i);
      if (point < 0) break;
    }
    // `last` also absorbs rounding: a draw just below the total that the subtractions overshoot.
    return last;
  }
}
