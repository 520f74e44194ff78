// A server's latency estimate for least_latency: a peak-sensitive moving average that decays
// with time (Finagle's PeakEwma, tower's and Linkerd's peak_ewma). Time is passed in.

/**
 * - A response slower than the estimate is taken at once (the peak): a server that turns slow
 *   is avoided at its next pick, not after many.
 * - A faster one pulls the estimate down with weight 1 - e^(-dt / decay): the longer since the
 *   last response, the more the new one counts.
 * - Read at time `now`, the estimate has decayed towards 0 by e^(-dt / decay) since the last
 *   response, so a server left alone after a slow spell is tried again, and a new server (no
 *   response yet: 0) is tried first.
 * - A failure (refused, reset, timed out, 5xx) counts as a response that took `penalty` ms
 *   (timeouts.server): a server that fails fast never looks fast.
 */
export class PeakEwma {
  /** The estimate at `at`, in ms. */
  private estimate = 0;
  private at = 0;

  constructor(
    /** ms for the estimate to fall to 1/e of itself; Finagle and Linkerd use 10 s. */
    readonly decay: number,
    /** What a failure counts as, in ms: timeouts.server. */
    readonly penalty: number,
  ) {}

  /** The estimate at `now` (ms, the clock `observe` is given), in ms. */
  cost(now: number): number {
    return this.estimate * this.keep(now);
  }

  /** A response head arrived `ms` after the request was sent. */
  observe(ms: number, now: number): void {
    const keep = this.keep(now);
    const decayed = this.estimate * keep;
    this.estimate = ms > decayed ? ms : decayed + ms * (1 - keep);
    this.at = now;
  }

  /** The share of the estimate left at `now`: e^(-dt / decay); 1 for a clock that went back. */
  private keep(now: number): number {
    return Math.exp(-Math.max(0, now - this.at) / this.decay);
  }

  /** The request failed: refused, reset, timed out, or a 5xx. */
  fail(now: number): void {
    this.observe(this.penalty, now);
  }
}
