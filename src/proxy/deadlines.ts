// Timeouts for many connections with one timer. Each connection carries one typed deadline
// (a time and what it is for); setting or moving it is two field writes, never a new timer.
// A single interval, at a resolution derived from the shortest configured timeout, fires
// the deadlines that have passed.

import { performance } from 'node:perf_hooks';

/** Something with one deadline at a time: `deadline` is a time from `now()`, 0 for none. */
export interface Timed {
  deadline: number;
  /** Called once when the deadline passes; the deadline is 0 again by then. */
  onTimeout(): void;
}

/**
 * Milliseconds on a monotonic clock. `performance` comes from its module: the global of that
 * name is a lazy accessor, a getter call on every read. The connections read it once per socket
 * event that needs it and pass that time on (`t`) to whatever the event sets off: two reads per
 * keep-alive request, one for the request's head and one for its response.
 */
export const now: () => number = () => performance.now();

export class Deadlines {
  private readonly items = new Set<Timed>();
  private timer: NodeJS.Timeout | null = null;

  /** @param resolution how often deadlines are checked, in ms: timeouts fire up to this late. */
  constructor(private resolution: number) {}

  /** Checks deadlines every `resolution` ms from now on (a reload changed the timeouts). */
  setResolution(resolution: number): void {
    if (resolution === this.resolution) return;
    this.resolution = resolution;
    if (this.timer === null) return;
    this.stop();
    this.timer = setInterval(this.tick, resolution);
    this.timer.unref();
  }

  add(item: Timed): void {
    this.items.add(item);
    if (this.timer === null) {
      this.timer = setInterval(this.tick, this.resolution);
      this.timer.unref();
    }
  }

  delete(item: Timed): void {
    this.items.delete(item);
  }

  /** Stops the timer; deadlines no longer fire. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private readonly tick = (): void => {
    const t = now();
    for (const item of this.items) {
      if (item.deadline !== 0 && item.deadline <= t) {
        item.deadline = 0;
        item.onTimeout();
      }
    }
  };
}

/** A resolution fine enough for the shortest timeout: a tenth of it, between 10 ms and 1 s. */
export function resolutionFor(shortestTimeout: number): number {
  return Math.min(1000, Math.max(10, Math.floor(shortestTimeout / 10)));
}
