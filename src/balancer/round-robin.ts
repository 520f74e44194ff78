// Round robin: a counter over a list's positions. It knows nothing of health: the pool asks it
// where to start, walks from there to the first server that can take the request, and tells it
// which one was taken, so the next request starts just after it.

export class RoundRobin {
  private counter = 0;

  /** The position to start looking at, in a list of `length` items. */
  start(length: number): number {
    return this.counter % length;
  }

  /** Position `index` was taken: the next turn begins after it. */
  taken(index: number, length: number): void {
    this.counter = (index + 1) % length;
  }
}
