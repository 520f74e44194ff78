// A pool as the policies see it (src/balancer/pool.ts), without sockets: weights, max_connections
// and the queue, backup servers, slow start, sticky positions, and what responses and failures
// tell it (least_latency's estimates, outlier ejection with its log lines and its end).

import t from 'tap';
import { Backend } from '../../src/balancer/backend.js';
import { Fleet } from '../../src/balancer/fleet.js';
import { Pool, type Waiter } from '../../src/balancer/pool.js';
import { DEFAULTS, type Balancing, type PoolServer } from '../../src/config/schema.js';
import { Logger } from '../../src/log.js';

const fleet = new Fleet(new Logger('silent'));

function backends(n: number): Backend[] {
  return Array.from({ length: n }, (_, i) => new Backend('127.0.0.1', 8081 + i, `s${i}:${8081 + i}`));
}

function members(servers: Backend[], settings: Partial<PoolServer>[] = []): PoolServer[] {
  return servers.map((s, i) => ({ host: s.host, port: s.port, name: s.label, ...DEFAULTS.server, ...settings[i] }));
}

function balancing(more: Partial<Balancing> = {}): Balancing {
  return { ...DEFAULTS.balancing, queue: { ...DEFAULTS.balancing.queue }, ...more };
}

/** `count` picks as position digits ('-' for none), each taken and finished at once. */
function picks(pool: Pool, count: number, now = 0): string {
  let out = '';
  for (let k = 0; k < count; k++) {
    const i = pool.pick(null, null, now);
    out += i < 0 ? '-' : String(i);
  }
  return out;
}

/**
 * Waits for `promise` while keeping the process alive: the pool's timers are unref'd (a balancer
 * with only them left has nothing to do), so a test with nothing else pending would end early.
 * Bounded: a promise that does not settle within `ms` fails the wait.
 */
async function settle<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** A waiter that records what happens to it; admitted, it takes the slot as an exchange does. */
class TestWaiter implements Waiter<Backend> {
  queuedAt = 0;
  admitted = -1;
  timedOut = false;
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor(
    readonly servers: Backend[],
    readonly tried: Backend[] | null = null,
    readonly key: string | null = null,
  ) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }
  admit(i: number): void {
    this.admitted = i;
    this.servers[i]!.stats.inFlight++;
    this.resolve();
  }
  queueTimedOut(): void {
    this.timedOut = true;
    this.resolve();
  }
}

t.test('weights: smooth weighted round robin, 5:1:1 -> a a b a c a a', async (t) => {
  const servers = backends(3);
  const pool = new Pool('p', servers, members(servers, [{ weight: 5 }, {}, {}]), balancing());
  t.equal(picks(pool, 7), '0010200');
  const zero = new Pool('z', servers, members(servers, [{ weight: 0 }, { weight: 0 }, { weight: 0 }]), balancing());
  t.equal(picks(zero, 2), '--', 'every weight 0: nothing to pick');
});

t.test('max_connections: a full server is not ready; atLimit says whether to wait', async (t) => {
  const servers = backends(2);
  const pool = new Pool('p', servers, members(servers, [{ maxConnections: 1 }, { maxConnections: 2 }]), balancing({ balance: 'least_conn' }));
  t.equal(pool.limits?.[1], 2);
  servers[0]!.stats.inFlight = 1;
  servers[1]!.stats.inFlight = 2;
  t.equal(pool.pick(null, null, 0), -1);
  t.equal(pool.atLimit(null), true, 'both are full: the request waits');
  t.equal(pool.atLimit([servers[0]!, servers[1]!]), false, 'both tried: nothing to wait for');
  servers[1]!.stats.inFlight = 1;
  t.equal(pool.pick(null, null, 0), 1);
  fleet.setHealth(servers[0]!, false, 'test', 'check');
  servers[1]!.stats.inFlight = 2;
  t.equal(pool.atLimit(null), true, 'one down, one full');
  fleet.setHealth(servers[1]!, false, 'test', 'check');
  t.equal(pool.atLimit(null), false, 'both down: 503 at once, no wait');
  const idle = backends(1);
  const drained = new Pool('w', idle, members(idle, [{ maxConnections: 1, weight: 0 }]), balancing());
  idle[0]!.stats.inFlight = 1;
  t.equal(drained.atLimit(null), false, 'a full server of weight 0 takes no new request: nothing to wait for');
  idle[0]!.stats.inFlight = 0;
  const unlimited = new Pool('u', backends(1));
  t.equal(unlimited.atLimit(null), false, 'no max_connections: never waits');
});

t.test('the queue: first come first served as slots free; full; timed out', async (t) => {
  const servers = backends(1);
  const pool = new Pool('p', servers, members(servers, [{ maxConnections: 1 }]), balancing({ queue: { max: 2, timeout: 60_000 } }));
  servers[0]!.stats.inFlight = 1;
  const first = new TestWaiter(servers);
  const second = new TestWaiter(servers);
  t.equal(pool.enqueue(first, 0), true);
  t.equal(pool.enqueue(second, 0), true);
  t.equal(pool.enqueue(new TestWaiter(servers), 0), false, 'queue.max waiting: one more is refused');
  t.equal(pool.queueFull, 1);
  t.equal(pool.waitingCount, 2);
  // A request to the server ends: the server tells the pools that listen for its slots.
  servers[0]!.stats.inFlight = 0;
  servers[0]!.slotFreed(0);
  t.equal(first.admitted, 0, 'the first to wait goes first');
  t.equal(second.admitted, -1, 'the second still waits: the first took the slot');
  pool.leave(second);
  pool.leave(second);
  t.equal(pool.waitingCount, 0, 'a waiter whose client left is gone (leaving twice is harmless)');

  const short = new Pool('s', servers, members(servers, [{ maxConnections: 1 }]), balancing({ queue: { max: 5, timeout: 20 } }));
  const late = new TestWaiter(servers);
  const later = new TestWaiter(servers);
  short.enqueue(late, performance.now());
  short.enqueue(later, performance.now() + 5);
  await settle(late.done);
  t.equal(late.timedOut, true, 'waited queue.timeout: 503');
  await settle(later.done);
  t.equal(later.timedOut, true);
  t.equal(short.queueTimeouts, 2);
});

t.test('the queue: a waiter whose tried servers are all that is free lets the next one go', async (t) => {
  const servers = backends(2);
  const pool = new Pool('p', servers, members(servers, [{ maxConnections: 1 }, { maxConnections: 1 }]), balancing());
  servers[0]!.stats.inFlight = 1;
  servers[1]!.stats.inFlight = 1;
  const retried = new TestWaiter(servers, [servers[0]!]);
  const fresh = new TestWaiter(servers);
  pool.enqueue(retried, 0);
  pool.enqueue(fresh, 0);
  servers[0]!.stats.inFlight = 0;
  pool.slotFreed(0);
  t.equal(retried.admitted, -1, 'server 0 failed it before');
  t.equal(fresh.admitted, 0);
  t.equal(pool.waitingCount, 1);
  pool.leave(retried);
});

t.test('a server coming up frees slots for the waiting', async (t) => {
  const servers = backends(1);
  const pool = new Pool('p', servers, members(servers, [{ maxConnections: 1 }]), balancing());
  servers[0]!.stats.inFlight = 1;
  const waiter = new TestWaiter(servers);
  pool.enqueue(waiter, 0);
  fleet.setHealth(servers[0]!, false, 'test', 'check');
  servers[0]!.stats.inFlight = 0;
  fleet.setHealth(servers[0]!, true, 'test', 'check');
  t.equal(waiter.admitted, 0);
});

t.test('a reload: old pools keep listening only while requests wait in them', async (t) => {
  const servers = backends(1);
  const old = new Pool('p', servers, members(servers, [{ maxConnections: 1 }]), balancing());
  servers[0]!.stats.inFlight = 1;
  const waiter = new TestWaiter(servers);
  old.enqueue(waiter, 0);
  servers[0]!.keepWaitingListeners();
  const next = new Pool('p', servers, members(servers, [{ maxConnections: 1 }]), balancing());
  const other = new TestWaiter(servers);
  next.enqueue(other, 1);
  servers[0]!.stats.inFlight = 0;
  servers[0]!.slotFreed(2);
  t.equal(waiter.admitted, 0, 'the old pool, listed first, still gets its slot');
  servers[0]!.keepWaitingListeners();
  servers[0]!.stats.inFlight = 0;
  servers[0]!.slotFreed(3);
  t.equal(other.admitted, 0, 'the new pool stays');
  t.equal(servers[0]!.limited, true);
  servers[0]!.keepWaitingListeners();
  t.equal(servers[0]!.limited, false, 'nobody waits: nobody listens');
});

t.test('backup servers: only while no other server is up', async (t) => {
  const servers = backends(3);
  const pool = new Pool('p', servers, members(servers, [{}, {}, { backup: true }]), balancing());
  t.equal(picks(pool, 4), '0101');
  fleet.setHealth(servers[0]!, false, 'test', 'check');
  t.equal(picks(pool, 2), '11', 'one primary left: no backup');
  fleet.setHealth(servers[1]!, false, 'test', 'check');
  t.equal(picks(pool, 2), '22', 'no primary: the backup');
  fleet.setHealth(servers[1]!, true, 'test', 'check');
  t.equal(picks(pool, 2), '11', 'a primary back: the backup rests');
});

t.test('slow start: a server coming back ramps 10% -> 100% of its weight; not at start', async (t) => {
  const servers = backends(2);
  const pool = new Pool('p', servers, members(servers, [{ slowStart: 10_000 }, {}]), balancing());
  pool.pick(null, null, 5);
  t.equal(pool.weight(0), 1, 'up since the start: full weight');
  fleet.setHealth(servers[0]!, false, 'test', 'check');
  fleet.setHealth(servers[0]!, true, 'test', 'check');
  const since = servers[0]!.upSince;
  t.ok(since > 0);
  pool.pick(null, null, since);
  t.ok(Math.abs(pool.weight(0) - 0.1) < 1e-9, 'just back: 10%');
  pool.pick(null, null, since + 5000);
  t.ok(Math.abs(pool.weight(0) - 0.55) < 1e-9, `half way: 55% (${pool.weight(0)})`);
  pool.pick(null, null, since + 10_000);
  // upSince is a fractional performance.now(): (since + 10000 - since) / 10000 may miss 1 by an ulp.
  t.ok(Math.abs(pool.weight(0) - 1) < 1e-9, `at the end of the ramp: full weight (${pool.weight(0)})`);
  pool.pick(null, null, since + 20_000);
  t.equal(pool.weight(0), 1, 'after it: exactly its weight');
  pool.pick(null, null, since - 1000);
  t.ok(Math.abs(pool.weight(0) - 0.1) < 1e-9, 'a clock before it came up: 10%');
  t.equal(pool.weight(1), 1, 'a server without slow_start');
});

t.test('sticky: the position a cookie names while it may take the request', async (t) => {
  const servers = backends(3);
  const pool = new Pool('p', servers, members(servers, [{ maxConnections: 1 }, { weight: 0 }, {}]), balancing({ sticky: { cookie: 'S', maxAge: 0 } }));
  t.equal(pool.pick(null, null, 0, 1), 1, 'weight 0 (or draining): sticky requests still come');
  t.not(pool.pick([servers[1]!], null, 0, 1), 1, 'tried: balanced as usual');
  fleet.setHealth(servers[1]!, false, 'test', 'check');
  t.not(pool.pick(null, null, 0, 1), 1, 'down: elsewhere');
  servers[0]!.stats.inFlight = 1;
  t.equal(pool.pick(null, null, 0, 0), 2, 'full: elsewhere');
});

t.test('least_latency: responses feed the estimates; failures and 5xx count as timeouts.server', async (t) => {
  const servers = backends(2);
  const pool = new Pool('p', servers, members(servers), balancing({ balance: 'least_latency' }), 60_000);
  t.equal(pool.observes, true);
  pool.answered(0, 200, 50, 1000);
  pool.answered(1, 200, 5, 1000);
  t.equal(pool.latency(0, 1000), 50);
  pool.answered(1, 503, 5, 1000);
  t.equal(pool.latency(1, 1000), 60_000, 'a 5xx is slow');
  pool.failed(0, 'reset', 1000);
  t.equal(pool.latency(0, 1000), 60_000, 'a failure is slow');
  t.equal(new Pool('q', servers).observes, false, 'round robin without outlier: nothing is observed');
});

t.test('outlier: ejected after consecutive failures, logged, back after the ejection', async (t) => {
  const servers = backends(2);
  const lines: string[] = [];
  let back: () => void = () => {};
  const returned = new Promise<void>((resolve) => (back = resolve));
  const sink = {
    write: (l: string) => {
      lines.push(l);
      if (l.includes('back after')) back();
    },
  };
  const logger = new Logger('info', sink, sink);
  const outlier = { consecutiveFailures: 2, count5xx: true, ejection: 30, maxEjected: 0.5 };
  const pool = new Pool('p', servers, members(servers), balancing({ outlier }), 60_000, logger);
  pool.failed(0, 'connect ECONNREFUSED', performance.now());
  pool.answered(0, 502, 1, performance.now());
  t.equal(pool.ejections[0], 1);
  t.match(lines.join(''), /server 127\.0\.0\.1:8081 \(pool p\) ejected for 30ms: 2 failures in a row, the last status 502/);
  t.equal(picks(pool, 3), '111', 'out of the pool');
  pool.answered(1, 500, 1, 0);
  pool.answered(1, 500, 1, 0);
  t.equal(pool.ejections[1], 0, 'max_ejected: no more than half the pool');
  await settle(returned);
  t.equal(picks(pool, 2), '01', 'back');
  const quiet = new Pool('q', servers, members(servers), balancing({ outlier: { ...outlier, count5xx: false } }));
  quiet.answered(0, 500, 1, 0);
  quiet.answered(0, 500, 1, 0);
  t.equal(quiet.ejections[0], 0, 'without count_5xx a 5xx is an answer');
});

t.test('backup tiers and ejections also shape waiting and stickiness', async (t) => {
  const servers = backends(3);
  const outlier = { consecutiveFailures: 1, count5xx: true, ejection: 1000, maxEjected: 1 };
  const lines: string[] = [];
  const logger = new Logger('info', { write: (l: string) => lines.push(l) }, { write: (l: string) => lines.push(l) });
  const pool = new Pool('p', servers, members(servers, [{ maxConnections: 1 }, { maxConnections: 1 }, { maxConnections: 1, backup: true }]), balancing({ outlier }), 60_000, logger);
  for (const s of servers) s.stats.inFlight = 1;
  pool.pick(null, null, 0);
  t.equal(pool.atLimit([servers[0]!]), true, 'server 1 is full: wait for it');
  t.equal(pool.atLimit([servers[0]!, servers[1]!]), false, 'the backup is full too, but its tier is not in use');
  servers[1]!.stats.inFlight = 0;
  pool.answered(1, 500, 1, 0);
  t.match(lines.join(''), /ejected for 1s: 1 failures in a row/, 'a whole number of seconds reads as such');
  t.equal(pool.pick(null, null, 0, 1), -1, 'ejected: not even sticky requests (server 0 is full)');
  servers[1]!.stats.inFlight = 1;
  t.equal(pool.atLimit([servers[0]!]), false, 'the only other primary is ejected (and full): nothing to wait for in this tier');
  for (const s of servers) s.stats.inFlight = 0;
});
