// The schedule of active health checks: every `interval`, one probe per server, all servers
// concurrently but never two checks of one server at once. It keeps each server's HealthState
// and reports flips (and, if asked, every check). Time and the probe are passed in, so the
// schedule is testable without sockets.

import { HealthState } from './health-state.js';
import type { ProbeResult, ProbeTarget } from './probe.js';

export interface CheckOptions {
  path: string;
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
}

export interface CheckEvents {
  /** A server went down or came back. */
  flip(index: number, up: boolean, reason: string): void;
  /** Every check's result (for debug logs and tests). */
  check?(index: number, result: ProbeResult): void;
}

export type Probe = (target: ProbeTarget, path: string, timeout: number) => Promise<ProbeResult>;

export class HealthChecker {
  private readonly states: HealthState[];
  private readonly busy: boolean[];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly targets: readonly ProbeTarget[],
    private readonly options: CheckOptions,
    private readonly probe: Probe,
    private readonly events: CheckEvents,
    /** Current state of each server (all up at start). */
    initiallyUp: readonly boolean[] = targets.map(() => true),
  ) {
    this.states = targets.map((_, i) => {
      const state = new HealthState(options.rise, options.fall);
      if (!initiallyUp[i]) state.forceDown();
      return state;
    });
    this.busy = targets.map(() => false);
  }

  /** Runs the first round at once, then one every interval. */
  start(): void {
    this.round();
    this.timer = setInterval(() => this.round(), this.options.interval);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** A failure seen by the proxy (a refused connection): down now, back after `rise` passes. */
  markDown(index: number): void {
    this.states[index]?.forceDown();
  }

  /** One round: a check of every server whose previous check has finished. */
  round(): void {
    for (let i = 0; i < this.targets.length; i++) {
      if (!this.busy[i]) void this.checkOne(i);
    }
  }

  private async checkOne(i: number): Promise<void> {
    this.busy[i] = true;
    const result = await this.probe(this.targets[i]!, this.options.path, this.options.timeout);
    this.busy[i] = false;
    if (this.stopped) return;
    // The flip first: whoever sees the check's result sees the state it led to.
    const state = this.states[i]!;
    if (state.observe(result.ok)) this.events.flip(i, state.up, result.reason);
    this.events.check?.(i, result);
  }
}
