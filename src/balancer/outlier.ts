// Outlier ejection (interface.md, `outlier`): passive health from a pool's real traffic. A server
// that fails `consecutive_failures` requests in a row is ejected from the pool for a while; the
// time doubles with each further ejection, up to a cap, as Envoy's outlier detection does. Pure:
// it decides, the pool keeps the timers and logs (pool.ts). Time is passed in.

import { DEFAULTS, type Outlier } from '../config/schema.js';

/** The longest an ejection grows to. */
const MAX_EJECTION = DEFAULTS.maxEjection;

export class OutlierDetector {
  /** Failures in a row per position. */
  private readonly failures: Uint32Array;
  /** Ejections so far per position, for the doubling. */
  readonly ejections: Uint32Array;
  /** Whether a position is ejected now. */
  readonly ejected: Uint8Array;
  /** When each position last came back from an ejection (ms); its doubling resets after MAX_EJECTION of good behaviour. */
  private readonly backAt: Float64Array;
  /** Positions ejected now. */
  private count = 0;

  constructor(
    readonly settings: Outlier,
    /** The pool's servers. */
    readonly length: number,
  ) {
    this.failures = new Uint32Array(length);
    this.ejections = new Uint32Array(length);
    this.ejected = new Uint8Array(length);
    this.backAt = new Float64Array(length);
  }

  /** The most positions ejected at once: max_ejected of them, rounded down, but at least 1. */
  get cap(): number {
    return Math.max(1, Math.floor(this.settings.maxEjected * this.length));
  }

  /** Position `i` answered (a response that does not count as a failure): its run of failures ends. */
  succeeded(i: number): void {
    this.failures[i] = 0;
  }

  /**
   * Position `i` failed at `now`. Returns how long it is ejected for, in ms, when this failure
   * ejects it (the caller restores it after that time), else 0: the run is shorter than
   * `consecutive_failures`, it is ejected already, or the pool has `cap` positions out.
   */
  failed(i: number, now: number): number {
    const threshold = this.settings.consecutiveFailures;
    if (threshold === 0 || this.ejected[i] === 1) return 0;
    if (++this.failures[i]! < threshold) return 0;
    if (this.count >= this.cap) return 0;
    if (this.ejections[i]! > 0 && now - this.backAt[i]! >= MAX_EJECTION) this.ejections[i] = 0;
    const ms = Math.min(MAX_EJECTION, this.settings.ejection * 2 ** this.ejections[i]!);
    this.ejections[i]!++;
    this.ejected[i] = 1;
    this.failures[i] = 0;
    this.count++;
    return ms;
  }

  /** Position `i`'s ejection is over at `now`: it is back in the pool. */
  restore(i: number, now: number): void {
    if (this.ejected[i] === 0) return;
    this.ejected[i] = 0;
    this.backAt[i] = now;
    this.count--;
  }
}
