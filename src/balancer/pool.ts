// A pool: the servers one route sends to, and how it spreads requests over them (interface.md,
// "Pools: how requests are spread"). It is the policies' view of the servers (Candidates: who is
// ready, with what weight and load), and keeps what belongs to the pool: the policy, the members'
// settings (weight, max_connections, backup, slow start), sticky ids, outlier ejections, the
// retry budget and the queue of requests waiting for a free slot.

import { performance } from 'node:perf_hooks';
import { DEFAULTS, type Balancing, type HashKey, type PoolServer, type SendProxy } from '../config/schema.js';
import type { Logger } from '../log.js';
import { noRules, type CompiledRoute } from '../http/route-rules.js';
import type { Backend, SlotListener } from './backend.js';
import { OutlierDetector } from './outlier.js';
import { Cycle } from './policies/cycle.js';
import { makePolicy } from './policies/make-policy.js';
import { PeakEwma } from './policies/peak-ewma.js';
import type { Candidates, Policy } from './policies/policy.js';
import { RetryBudget } from './retry-budget.js';
import { Counters, ResponseCounts } from './stats.js';
import { StickyCookies } from './sticky.js';

/**
 * A server's admin state in a pool (interface.md, "Runtime control"): ready; drain (no new
 * requests, sticky ones still come, in flight finish); maint (no requests at all).
 */
export const ADMIN_STATES = ['ready', 'drain', 'maint'] as const;
export type AdminState = (typeof ADMIN_STATES)[number];
const READY = 0;
const MAINT = 2;

/** ms for a latency estimate to fall to 1/e of itself (Finagle's and Linkerd's choice). */
const LATENCY_DECAY = 10_000;

/** A request waiting in a pool's queue for a slot on one of its servers. */
export interface Waiter<B> {
  /** The servers the request failed on already; null for none. */
  readonly tried: readonly B[] | null;
  /** The request's hash key, or null. */
  readonly key: string | null;
  /** When it started to wait (ms, now()). */
  queuedAt: number;
  /** A slot is free on position `i`, counted as taken: send the request there. `t`: now(). */
  admit(i: number, t: number): void;
  /** It waited queue.timeout: answer 503. `t`: now(). */
  queueTimedOut(t: number): void;
}

/** What a pool's settings are when the config gives none: the short server form's, and the top-level defaults. */
function defaultMembers(servers: readonly Backend[]): PoolServer[] {
  return servers.map((s) => ({ host: s.host, port: s.port, name: s.label, ...DEFAULTS.server }));
}

export class Pool<B extends Backend = Backend> implements Candidates, SlotListener {
  /** What happened to the requests routed here. */
  readonly stats = new Counters();
  /** Their responses by status and by who made them (lb_responses_total). */
  readonly responses = new ResponseCounts();
  /** The policy; round robin's counter gives way to the weighted one when a weight changes at run time. */
  policy: Policy;
  readonly balancing: Balancing;
  /** Each position's weight (0..256): as configured, or as the admin API set it. */
  readonly weights: Float64Array;
  /** Each position's admin state: an index of ADMIN_STATES; 0 (ready) unless the admin API changed it. */
  readonly states: Uint8Array;
  /** 1 where the admin API set the weight: it then survives a reload, as the state does. */
  readonly weightSet: Uint8Array;
  /** The servers' names as the config writes them (hash's table, sticky ids, the admin API). */
  readonly names: readonly string[];
  /** Each position's max_connections (0: none); null when no server of the pool has one. */
  readonly limits: Uint32Array | null = null;
  /** 1 for a backup server; null when the pool has none. */
  readonly backups: Uint8Array | null = null;
  /** Each position's slow_start in ms (0: none); null when no server of the pool has one. */
  readonly slowStarts: Float64Array | null = null;
  /** Latency estimates per position, for least_latency; null for other policies (nothing is measured). */
  readonly latencies: PeakEwma[] | null = null;
  readonly outlier: OutlierDetector | null = null;
  readonly sticky: StickyCookies | null = null;
  readonly hashKey: HashKey | null;
  /** `send_proxy`: the PROXY header version its backend connections open with; 0 = none. */
  readonly sendProxy: SendProxy;
  readonly budget: RetryBudget;
  /** Whether responses and failures are to be reported (observed): least_latency or outlier. */
  readonly observes: boolean;
  /** Ejections so far per position (outlier), for /status. */
  readonly ejections: Uint32Array;
  /** Retries the budget refused, for /status. */
  retriesDenied = 0;
  /** Requests that waited in the queue, and those answered 503 because it was full or they waited too long. */
  queued = 0;
  queueFull = 0;
  queueTimeouts = 0;

  /** The pick in progress: the request's tried servers, the time, and the tier (0: non-backup, 1: backup). */
  private tried: readonly B[] | null = null;
  private now = 0;
  private tier = 0;
  /** Requests waiting for a slot, first come first served. */
  private readonly waiting: Waiter<B>[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** "www.mango.com", "/mango" or "default". */
    readonly name: string,
    readonly servers: readonly B[],
    /** The config's entry for each server (same order); the short form's defaults when absent. */
    members: readonly PoolServer[] = defaultMembers(servers),
    balancing: Balancing = DEFAULTS.balancing,
    /** What a failure counts as for least_latency, in ms: timeouts.server. */
    failurePenalty: number = DEFAULTS.timeouts.server,
    private readonly logger: Logger | null = null,
    /** The rules of the route this pool serves (route-rules.ts): what is changed on the way, its timeouts. */
    readonly route: CompiledRoute = noRules(DEFAULTS.timeouts),
  ) {
    const n = servers.length;
    this.balancing = balancing;
    this.names = members.map((m) => m.name);
    const uniform = members.every((m) => m.weight === members[0]!.weight && m.slowStart === 0);
    this.policy = makePolicy(balancing.balance, this.names, uniform);
    this.weights = Float64Array.from(members, (m) => m.weight);
    this.states = new Uint8Array(n);
    this.weightSet = new Uint8Array(n);
    if (members.some((m) => m.maxConnections > 0)) this.limits = Uint32Array.from(members, (m) => m.maxConnections);
    if (members.some((m) => m.backup)) this.backups = Uint8Array.from(members, (m) => (m.backup ? 1 : 0));
    if (members.some((m) => m.slowStart > 0)) this.slowStarts = Float64Array.from(members, (m) => m.slowStart);
    if (balancing.balance === 'least_latency') this.latencies = servers.map(() => new PeakEwma(LATENCY_DECAY, failurePenalty));
    if (balancing.outlier !== null) this.outlier = new OutlierDetector(balancing.outlier, n);
    if (balancing.sticky !== null) this.sticky = new StickyCookies(balancing.sticky, this.names);
    this.hashKey = balancing.balance === 'hash' ? balancing.hashKey : null;
    this.sendProxy = balancing.sendProxy;
    this.budget = new RetryBudget(balancing.retryBudget);
    this.observes = this.latencies !== null || this.outlier !== null;
    this.ejections = new Uint32Array(n);
    if (this.limits !== null) for (const server of servers) server.listen(this);
  }

  // --- Candidates: what the policy reads ---

  get length(): number {
    return this.servers.length;
  }

  ready(i: number): boolean {
    const server = this.servers[i]!;
    if (!server.up || this.states[i] !== READY) return false;
    if (this.backups !== null && this.backups[i] !== this.tier) return false;
    if (this.outlier !== null && this.outlier.ejected[i] === 1) return false;
    const limits = this.limits;
    if (limits !== null && limits[i] !== 0 && server.stats.inFlight >= limits[i]!) return false;
    const tried = this.tried;
    return tried === null || !tried.includes(server);
  }

  /** The weight, ramped during slow start: 10% -> 100% over slow_start from when the server came back up. */
  weight(i: number): number {
    return this.weightAt(i, this.now);
  }

  /** Position `i`'s weight at `now` (ms, now()): what a pick then would use, and what /status shows. */
  weightAt(i: number, now: number): number {
    const w = this.weights[i]!;
    const ramps = this.slowStarts;
    if (ramps === null) return w;
    const ramp = ramps[i]!;
    const since = this.servers[i]!.upSince;
    if (ramp === 0 || since === 0) return w;
    const done = (now - since) / ramp;
    return done >= 1 ? w : w * (0.1 + 0.9 * Math.max(0, done));
  }

  inFlight(i: number): number {
    return this.servers[i]!.stats.inFlight;
  }

  latency(i: number, now: number): number {
    return this.latencies![i]!.cost(now);
  }

  // --- picking ---

  /**
   * The position of the server to send a request to: the sticky one when the request names one
   * that may take it, else the policy's pick among the ready servers (backup servers only while
   * no other is up); -1 when none is ready. `tried`: servers this request failed on.
   */
  pick(tried: readonly B[] | null, key: string | null, now: number, sticky = -1): number {
    this.tried = tried;
    this.now = now;
    this.tier = this.backups === null || this.anyPrimaryUp() ? 0 : 1;
    const i = sticky >= 0 && this.mayStick(sticky) ? sticky : this.policy.pick(this, now, key);
    this.tried = null;
    return i;
  }

  /**
   * Whether a request that `pick` found no server for should wait: some server would take it but
   * for its max_connections. Call right after that pick.
   */
  atLimit(tried: readonly B[] | null): boolean {
    const limits = this.limits;
    if (limits === null) return false;
    for (let i = 0; i < this.servers.length; i++) {
      const server = this.servers[i]!;
      if (!server.up || this.states[i] !== READY || limits[i] === 0 || server.stats.inFlight < limits[i]!) continue;
      if (this.backups !== null && this.backups[i] !== this.tier) continue;
      if (this.outlier !== null && this.outlier.ejected[i] === 1) continue;
      if (this.weight(i) > 0 && (tried === null || !tried.includes(server))) return true;
    }
    return false;
  }

  /** A sticky request's server may take it while up (draining or weight 0 too), not in maintenance, not ejected, not tried, below its limit. */
  private mayStick(i: number): boolean {
    const server = this.servers[i]!;
    if (!server.up || this.states[i] === MAINT) return false;
    if (this.outlier !== null && this.outlier.ejected[i] === 1) return false;
    const limits = this.limits;
    if (limits !== null && limits[i] !== 0 && server.stats.inFlight >= limits[i]!) return false;
    return this.tried === null || !this.tried.includes(server);
  }

  private anyPrimaryUp(): boolean {
    for (let i = 0; i < this.servers.length; i++) {
      if (this.backups![i] === 0 && this.servers[i]!.up && this.states[i] === READY && (this.outlier === null || this.outlier.ejected[i] === 0)) return true;
    }
    return false;
  }

  // --- runtime control (the admin API, through the fleet) ---

  /** Position `i`'s admin state. */
  stateOf(i: number): AdminState {
    return ADMIN_STATES[this.states[i]!]!;
  }

  /** Sets position `i`'s admin state; a server back to ready may take a waiting request. `now`: now(). */
  setState(i: number, state: AdminState, now: number): void {
    this.states[i] = ADMIN_STATES.indexOf(state);
    if (state === 'ready') this.slotFreed(now);
  }

  /**
   * Sets position `i`'s weight (0..256), for the next pick. Unequal weights need the weighted
   * round robin: the counter (cycle.ts) is replaced by it, with fresh credit.
   */
  setWeight(i: number, weight: number, now: number): void {
    this.weights[i] = weight;
    this.weightSet[i] = 1;
    if (this.policy instanceof Cycle && this.weights.some((w) => w !== weight)) {
      this.policy = makePolicy(this.balancing.balance, this.names, false);
    }
    if (weight > 0) this.slotFreed(now);
  }

  /** Takes over what the admin API set on `previous` (the same pool before a reload) for the servers both list. */
  carryOver(previous: Pool<B>, now: number): void {
    this.names.forEach((name, i) => {
      const j = previous.names.indexOf(name);
      if (j < 0) return;
      if (previous.states[j] !== READY) this.states[i] = previous.states[j]!;
      if (previous.weightSet[j] === 1) this.setWeight(i, previous.weights[j]!, now);
    });
  }

  // --- what requests tell the pool ---

  /** Position `i` answered with `status`, `ms` after the request went out. Only when `observes`. */
  answered(i: number, status: number, ms: number, now: number): void {
    const failed = status >= 500;
    if (this.latencies !== null) {
      if (failed) this.latencies[i]!.fail(now);
      else this.latencies[i]!.observe(ms, now);
    }
    const outlier = this.outlier;
    if (outlier !== null) {
      if (failed && outlier.settings.count5xx) this.eject(i, `status ${status}`, now);
      else outlier.succeeded(i);
    }
  }

  /** Position `i` failed a request: refused, reset or timed out. Only when `observes`. */
  failed(i: number, reason: string, now: number): void {
    if (this.latencies !== null) this.latencies[i]!.fail(now);
    if (this.outlier !== null) this.eject(i, reason, now);
  }

  /** Counts a failure of position `i` with the outlier detector, and ejects it when that is the last straw. */
  private eject(i: number, reason: string, now: number): void {
    const outlier = this.outlier!;
    const ms = outlier.failed(i, now);
    if (ms === 0) return;
    this.ejections[i]!++;
    const server = this.servers[i]!;
    this.logger?.warn(
      `server ${server.name} (pool ${this.name}) ejected for ${seconds(ms)}: ${outlier.settings.consecutiveFailures} failures in a row, the last ${reason}`,
    );
    setTimeout(() => {
      outlier.restore(i, performanceNow());
      this.logger?.info(`server ${server.name} (pool ${this.name}) back after its ejection`);
      this.slotFreed(performanceNow());
    }, ms).unref();
  }

  // --- the queue ---

  /** Requests waiting now. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Puts a request in the queue; false when it is full (queue.max). */
  enqueue(waiter: Waiter<B>, now: number): boolean {
    if (this.waiting.length >= this.balancing.queue.max) {
      this.queueFull++;
      return false;
    }
    waiter.queuedAt = now;
    this.waiting.push(waiter);
    this.queued++;
    if (this.timer === null) this.schedule(now);
    return true;
  }

  /** Takes a request out of the queue (its client went away). */
  leave(waiter: Waiter<B>): void {
    const i = this.waiting.indexOf(waiter);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /**
   * A slot may have freed (a request to one of the servers ended, a server came up or back): the
   * waiting requests that can be placed now go, the longest waiting first.
   */
  slotFreed(now: number): void {
    const waiting = this.waiting;
    for (let k = 0; k < waiting.length; ) {
      const waiter = waiting[k]!;
      const i = this.pick(waiter.tried, waiter.key, now);
      if (i < 0) {
        // This one cannot go (its tried servers are all that is free): the next may.
        k++;
        continue;
      }
      waiting.splice(k, 1);
      waiter.admit(i, now);
    }
  }

  /** A timer for the oldest waiting request's deadline. */
  private schedule(now: number): void {
    const first = this.waiting[0];
    if (first === undefined) return;
    const timeout = this.balancing.queue.timeout;
    this.timer = setTimeout(this.expire, Math.max(0, first.queuedAt + timeout - now));
    this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = null;
    const now = performanceNow();
    const timeout = this.balancing.queue.timeout;
    const waiting = this.waiting;
    while (waiting.length > 0 && waiting[0]!.queuedAt + timeout <= now) {
      this.queueTimeouts++;
      waiting.shift()!.queueTimedOut(now);
    }
    this.schedule(now);
  };
}

/** The monotonic clock the proxy's now() reads (proxy/deadlines.ts), for the pool's own timers. */
function performanceNow(): number {
  return performance.now();
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
