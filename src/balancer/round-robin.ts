// Round robin: a counter over a list's positions. It knows nothing of health; the pool asks it
// where to start and walks from there.

export class RoundRobin {
  private counter = 0;

  /** The position to start at for a list of `length` items; each call moves one step on. */
  next(length: number): number {
    const at = this.counter % length;
    this.counter = at + 1;
    return at;
  }
}
