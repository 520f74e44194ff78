// The draw of "the power of two choices": two distinct ready positions, each uniformly at random
// among the ready ones, in O(1) expected when most positions are ready.

import { type Candidates, type Random, usable } from './policy.js';

/** Draws at random before counting: enough when at most half the positions are out. */
const ATTEMPTS = 4;

/**
 * Fills `first` and `second` (the positions drawn; -1 when fewer are ready) and returns how many
 * it drew: 0, 1 or 2. Held by a policy and reused, so a draw allocates nothing.
 */
export class TwoChoices {
  first = -1;
  second = -1;

  constructor(private readonly random: Random) {}

  draw(candidates: Candidates): number {
    this.first = this.one(candidates, -1);
    this.second = this.first < 0 ? -1 : this.one(candidates, this.first);
    return this.first < 0 ? 0 : this.second < 0 ? 1 : 2;
  }

  /**
   * A ready position other than `except`, uniformly among them: a few draws, each kept only if
   * ready (rejection keeps it uniform); if all miss, most positions are out: `counted`. -1 when
   * there is none.
   */
  private one(candidates: Candidates, except: number): number {
    const range = except < 0 ? candidates.length : candidates.length - 1;
    if (range <= 0) return -1;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      let i = Math.floor(this.random() * range);
      // Positions above `except` move down by one, so the draw is over the others only.
      if (except >= 0 && i >= except) i++;
      if (usable(candidates, i)) return i;
    }
    return this.counted(candidates, except);
  }

  /** Counts the ready positions and takes one of them. Apart from `one`, so that stays small. */
  private counted(candidates: Candidates, except: number): number {
    let ready = 0;
    for (let i = 0; i < candidates.length; i++) if (i !== except && usable(candidates, i)) ready++;
    if (ready === 0) return -1;
    let k = Math.floor(this.random() * ready);
    let last = -1;
    for (let i = 0; i < candidates.length; i++) {
      if (i === except || !usable(candidates, i)) continue;
      last = i;
      if (k-- === 0) break;
    }
    return last;
  }
}

/** `i` with probability weight(i) / (weight(i) + weight(j)), else `j`: a tie split by weight. */
export function eitherByWeight(candidates: Candidates, i: number, j: number, random: Random): number {
  const wi = candidates.weight(i);
  return random() * (wi + candidates.weight(j)) < wi ? i : j;
}
