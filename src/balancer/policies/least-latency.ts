// least_latency: two servers drawn at random; the lower (in flight + 1) x latency estimate
// (peak-EWMA, peak-ewma.ts) per unit of weight takes the request (Finagle's and Linkerd's P2C).

import { compare } from './least-conn.js';
import type { Candidates, Policy, Random } from './policy.js';
import { TwoChoices, eitherByWeight } from './two-choices.js';

/**
 * (in flight + 1) x latency is the time the request would wait if the server took requests one
 * at a time: a fast server with a queue can lose to a slower idle one. Failures count as slow
 * in the estimate (PeakEwma.fail), so a server that fails fast is not preferred. When the two
 * score the same (no response from either yet: both 0), fewer in flight per weight decides,
 * then weight.
 */
export class LeastLatency implements Policy {
  private readonly two: TwoChoices;

  constructor(private readonly random: Random) {
    this.two = new TwoChoices(random);
  }

  pick(candidates: Candidates, now: number): number {
    const two = this.two;
    if (two.draw(candidates) < 2) return two.first;
    const i = two.first;
    const j = two.second;
    const si = score(candidates, i, now);
    const sj = score(candidates, j, now);
    if (si !== sj) return si < sj ? i : j;
    const order = compare(candidates, i, j);
    if (order !== 0) return order < 0 ? i : j;
    return eitherByWeight(candidates, i, j, this.random);
  }
}

function score(candidates: Candidates, i: number, now: number): number {
  return ((candidates.inFlight(i) + 1) * candidates.latency(i, now)) / candidates.weight(i);
}
