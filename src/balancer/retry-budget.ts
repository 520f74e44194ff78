// The retry budget of one pool (interface.md, `retry_budget`): retries in the last 10 s may be
// at most max(ratio x the client requests to the pool in those 10 s, 3 per second). A failing
// pool then gets at most that much extra load from retries, not a multiple of its traffic (a
// retry storm); Finagle's and Linkerd's budgets work the same way. Pure: time is passed in.

/** The window, in one-second buckets. */
const BUCKETS = 10;
const BUCKET_MS = 1000;
/** Retries always allowed per second of the window, however few the requests. */
const MIN_PER_SECOND = 3;

export class RetryBudget {
  /** Requests and retries per second of the window, a ring indexed by the second. */
  private readonly requests = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  /** Sums over the ring, kept as buckets are added to and cleared. */
  private requestSum = 0;
  private retrySum = 0;
  /** The second (now / 1000, floored) of the newest bucket. */
  private second = 0;

  /** @param ratio the share of requests that may be retried, 0..1 */
  constructor(readonly ratio: number) {}

  /** A client request came to the pool at `now` (ms, any monotonic clock). */
  request(now: number): void {
    this.requests[this.advance(now)]!++;
    this.requestSum++;
  }

  /** Whether one more retry fits at `now`; if it does, it is counted. */
  tryRetry(now: number): boolean {
    const at = this.advance(now);
    if (this.retrySum + 1 > Math.max(this.ratio * this.requestSum, MIN_PER_SECOND * BUCKETS)) return false;
    this.retries[at]!++;
    this.retrySum++;
    return true;
  }

  /** The bucket for `now`, after clearing the seconds that have left the window. */
  private advance(now: number): number {
    const second = Math.floor(now / BUCKET_MS);
    if (second !== this.second) {
      // At most BUCKETS buckets to clear, however long since the last call.
      const stale = Math.min(BUCKETS, Math.max(0, second - this.second));
      for (let k = 1; k <= stale; k++) {
        const i = (this.second + k) % BUCKETS;
        this.requestSum -= this.requests[i]!;
        this.retrySum -= this.retries[i]!;
        this.requests[i] = 0;
        this.retries[i] = 0;
      }
      // A clock that went back keeps the buckets it has: nothing is cleared twice.
      if (second > this.second) this.second = second;
    }
    return this.second % BUCKETS;
  }
}
