// The schedule of active health checks: one probe per server every `interval` (each server's
// own check settings), all servers concurrently but never two checks of one server at once. It
// keeps each server's HealthState and reports flips (and, if asked, every check). It also looks
// up again the names that did not resolve at start, and brings back after a while a server of
// `type: none` that a refused connection took out. Time, probes and lookups are passed in, so
// the schedule is testable without sockets or DNS.

import { DEFAULTS, type Healthcheck } from '../config/schema.js';
import { HealthState } from './health-state.js';
import type { ProbeResult, ProbeTarget } from './probe.js';

/** One server to check. */
export interface CheckTarget extends ProbeTarget {
  /** How it is checked: its first pool's settings. */
  check: Healthcheck;
  /** Whether `host` is an address; false: a name that did not resolve, looked up every `retry` ms until it does. */
  resolved: boolean;
}

export interface CheckEvents {
  /** A server went down or came back. */
  flip(index: number, up: boolean, reason: string): void;
  /** Every check's result (for debug logs and tests). */
  check?(index: number, result: ProbeResult): void;
  /** A server answered the default path with 404: it is checked by a TCP connect from now on. */
  noHealthPage?(index: number): void;
  /** A name that did not resolve does now, to `address`; it is checked from now on. */
  resolved?(index: number, address: string): void;
}

/** How the checker reaches servers: real sockets and DNS in the worker, scripts in tests. */
export interface Probes {
  http(target: ProbeTarget, check: Healthcheck): Promise<ProbeResult>;
  tcp(target: ProbeTarget, timeout: number, what?: string): Promise<ProbeResult>;
  /** An address for a host name; rejects when it does not resolve. */
  lookup(host: string): Promise<string>;
}

export class HealthChecker {
  private readonly states: HealthState[];
  private readonly busy: boolean[];
  /** Servers found to have no health page: checked by a TCP connect. */
  private readonly noPage: boolean[];
  /** Each server's check timer, or its lookup timer while its name does not resolve. */
  private readonly timers: (NodeJS.Timeout | null)[];
  /** Under `type: none`: the timer that brings back a server a refused connection took out. */
  private readonly retries: (NodeJS.Timeout | null)[];
  private stopped = false;

  constructor(
    private readonly targets: readonly CheckTarget[],
    private readonly probes: Probes,
    private readonly events: CheckEvents,
    /** Current state of each server (all up at start, but for names that did not resolve). */
    initiallyUp: readonly boolean[] = targets.map((t) => t.resolved),
    /** How often a name is looked up again, and a `type: none` server tried again (ms). */
    private readonly retry: number = DEFAULTS.retry,
  ) {
    this.states = targets.map((target, i) => {
      const state = new HealthState(target.check.rise, target.check.fall);
      if (!initiallyUp[i]) state.forceDown();
      return state;
    });
    this.busy = targets.map(() => false);
    this.noPage = targets.map(() => false);
    this.timers = targets.map(() => null);
    this.retries = targets.map(() => null);
  }

  /** Checks every resolved server at once, then each every interval; looks the others up every `retry`. */
  start(): void {
    this.targets.forEach((target, i) => {
      if (target.resolved) this.schedule(i);
      else this.timers[i] = setInterval(() => void this.lookUp(i), this.retry);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const timer of [...this.timers, ...this.retries]) if (timer !== null) clearTimeout(timer);
  }

  /**
   * A failure seen by the proxy (a refused connection): down now, back after `rise` passes; with
   * `type: none`, which has no passes, back after `retry`.
   */
  markDown(index: number): void {
    const state = this.states[index];
    if (state === undefined) return;
    state.forceDown();
    const target = this.targets[index]!;
    if (target.check.type !== 'none' || !target.resolved || this.retries[index] !== null) return;
    this.retries[index] = setTimeout(() => {
      this.retries[index] = null;
      this.bringBack(index, `tried again after ${this.retry / 1000} s (healthcheck.type: none)`);
    }, this.retry);
  }

  /** One round: a check of every server checked actively whose previous check has finished. */
  round(): void {
    for (let i = 0; i < this.targets.length; i++) {
      const target = this.targets[i]!;
      if (target.resolved && target.check.type !== 'none' && !this.busy[i]) void this.checkOne(i);
    }
  }

  /** A resolved server's checks: one now, then every interval; none for `type: none`. */
  private schedule(i: number): void {
    const check = this.targets[i]!.check;
    if (check.type === 'none') return;
    void this.checkOne(i);
    this.timers[i] = setInterval(() => {
      if (!this.busy[i]) void this.checkOne(i);
    }, check.interval);
  }

  /** Looks a name up again; once it resolves, the server is checked (or, under `type: none`, up). */
  private async lookUp(i: number): Promise<void> {
    const target = this.targets[i]!;
    let address: string;
    try {
      address = await this.probes.lookup(target.host);
    } catch {
      return;
    }
    if (this.stopped || target.resolved) return;
    clearInterval(this.timers[i]!);
    target.host = address;
    target.resolved = true;
    this.events.resolved?.(i, address);
    if (target.check.type === 'none') this.bringBack(i, 'resolves (healthcheck.type: none)');
    else this.schedule(i);
  }

  /** Up without a check (`type: none`): only ever called for a server that is down. */
  private bringBack(i: number, reason: string): void {
    this.states[i]!.forceUp();
    this.events.flip(i, true, reason);
  }

  private async checkOne(i: number): Promise<void> {
    this.busy[i] = true;
    const result = await this.probe(i);
    this.busy[i] = false;
    if (this.stopped) return;
    // The flip first: whoever sees the check's result sees the state it led to.
    const state = this.states[i]!;
    if (state.observe(result.ok)) this.events.flip(i, state.up, result.reason);
    this.events.check?.(i, result);
  }

  /**
   * One check of server i, as its settings say. A server that answers the default path (one the
   * config does not write) with 404 has no health page: a TCP connect checks it instead, now and
   * from then on, said once through noHealthPage.
   */
  private async probe(i: number): Promise<ProbeResult> {
    const target = this.targets[i]!;
    const check = target.check;
    const noPage = `TCP connect (no ${check.path} page)`;
    if (check.type === 'tcp') return this.probes.tcp(target, check.timeout);
    if (this.noPage[i]) return this.probes.tcp(target, check.timeout, noPage);
    const result = await this.probes.http(target, check);
    if (result.status !== 404 || check.strictPath) return result;
    this.noPage[i] = true;
    this.events.noHealthPage?.(i);
    return this.probes.tcp(target, check.timeout, noPage);
  }
}
