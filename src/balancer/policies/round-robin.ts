// round_robin: smooth weighted round robin as nginx does it. Every sum(weights) consecutive
// picks hold each server exactly its weight, spread out (5:1:1 -> a a b a c a a).

import { type Candidates, type Policy, usable } from './policy.js';

/**
 * nginx's algorithm (ngx_http_upstream_get_peer): each turn, every server's credit grows by its
 * weight; the one with the most credit (the first in order on a tie) takes the turn and pays the
 * sum of the weights. With equal weights that is a plain cycle a, b, c.
 *
 * A turn that falls on a server that is not ready is skipped, used up, and the next turn is
 * taken: the schedule with that server's turns left out, as today's counter steps past a down
 * server. So with equal weights the picks are exactly the counter's (a, b, c; with b down
 * a, c, a, c; a retry goes to the next in the cycle), and a skipped server's share goes to the
 * others in proportion to their weights. Going around at most once: after `length` turns
 * without a ready server (only when unequal weights put a long run of turns on servers that are
 * out), the turn goes to the ready server with the most credit, crediting only the ready ones,
 * which is what nginx itself does for a server that is out.
 */
export class RoundRobin implements Policy {
  /** Credit per position (nginx's current_weight). Sized on the first pick of a server set. */
  private credit = new Float64Array(0);
  /** The sum of the weights in the last turn, for `undo`. */
  private total = 0;

  pick(candidates: Candidates): number {
    const n = candidates.length;
    if (this.credit.length !== n) this.credit = new Float64Array(n);
    for (let turn = 0; turn < n; turn++) {
      const best = this.turn(candidates);
      if (best < 0) return -1; // no server has a weight
      if (candidates.ready(best)) return best;
      if (turn === 0 && !anyUsable(candidates)) {
        // Nothing is taken: the schedule stays where it was, as the counter did.
        this.undo(candidates, best);
        return -1;
      }
    }
    return this.amongReady(candidates);
  }

  /** One turn of the schedule over every position with a weight, ready or not. */
  private turn(candidates: Candidates): number {
    const credit = this.credit;
    let best = -1;
    let total = 0;
    for (let i = 0; i < credit.length; i++) {
      const w = candidates.weight(i);
      if (!(w > 0)) continue;
      credit[i]! += w;
      total += w;
      if (best < 0 || credit[i]! > credit[best]!) best = i;
    }
    if (best >= 0) credit[best]! -= total;
    this.total = total;
    return best;
  }

  private undo(candidates: Candidates, best: number): void {
    const credit = this.credit;
    credit[best]! += this.total;
    for (let i = 0; i < credit.length; i++) {
      const w = candidates.weight(i);
      if (w > 0) credit[i]! -= w;
    }
  }

  /** A turn among the ready servers only (nginx's way of leaving out a server that is out). */
  private amongReady(candidates: Candidates): number {
    const credit = this.credit;
    let best = -1;
    let total = 0;
    for (let i = 0; i < credit.length; i++) {
      if (!usable(candidates, i)) continue;
      const w = candidates.weight(i);
      credit[i]! += w;
      total += w;
      if (best < 0 || credit[i]! > credit[best]!) best = i;
    }
    // Some position is ready: `pick` checked before it came here.
    credit[best]! -= total;
    return best;
  }
}

function anyUsable(candidates: Candidates): boolean {
  for (let i = 0; i < candidates.length; i++) if (usable(candidates, i)) return true;
  return false;
}
