// Selection and health state (src/balancer/): Backend is one server's state and idle
// connections; Pool picks with its policy (round robin by default) over the servers that are up.

import t from 'tap';
import { Backend, type Pooled } from '../../src/balancer/backend.js';
import { Fleet } from '../../src/balancer/fleet.js';
import { Pool } from '../../src/balancer/pool.js';
import { Logger } from '../../src/log.js';

/** A pooled connection stand-in that records being destroyed. */
class FakeConnection implements Pooled {
  destroyed = 0;
  constructor(
    readonly id: string,
    public reusable = true,
  ) {}
  destroy(): void {
    this.destroyed++;
  }
}

/** Health is written by its owner only (fleet.ts); these tests set it as a check would. */
const fleet = new Fleet(new Logger('silent'));
function setUp(server: Backend, up: boolean): void {
  fleet.setHealth(server, up, 'test', 'check');
}

function servers(...names: string[]): Backend[] {
  return names.map((name, i) => new Backend('127.0.0.1', 8081 + i, name));
}

/** The labels of `count` picks in a row. */
function picks(pool: Pool, count: number): (string | null)[] {
  const out: (string | null)[] = [];
  for (let i = 0; i < count; i++) out.push(pickOf(pool, null)?.label ?? null);
  return out;
}

/** The server Pool.pick chooses (null for none), with no key, at time 0. */
function pickOf(pool: Pool, tried: Backend[] | null): Backend | null {
  const i = pool.pick(tried, null, 0);
  return i < 0 ? null : pool.servers[i]!;
}

t.test('Pool.pick: every server in turn, a, b, c, a, b, c', async (t) => {
  const pool = new Pool('default', servers('a', 'b', 'c'));
  t.same(picks(pool, 9), ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
});

t.test('Pool.pick: a down server is skipped until it is up again', async (t) => {
  const [a, b, c] = servers('a', 'b', 'c');
  const pool = new Pool('default', [a!, b!, c!]);
  setUp(b!, false);
  for (const label of picks(pool, 6)) t.not(label, 'b', 'b is down');
  setUp(b!, true);
  const later = picks(pool, 3);
  t.same([...later].sort(), ['a', 'b', 'c'], `b takes its turn again once up: ${later.join(',')}`);
});

t.test('Pool.pick: a down server’s turns are shared evenly by the servers that are up', async (t) => {
  // interface.md: "Within a pool, requests go round robin over the servers that are up."
  const [a, b, c] = servers('a', 'b', 'c');
  setUp(b!, false);
  const pool = new Pool('default', [a!, b!, c!]);
  const seen = picks(pool, 6);
  const count = (label: string) => seen.filter((s) => s === label).length;
  t.same({ a: count('a'), c: count('c') }, { a: 3, c: 3 }, `6 picks over a and c: ${seen.join(',')}`);
});

t.test('Pool.pick: servers already tried are skipped; null when none is left', async (t) => {
  const [a, b, c] = servers('a', 'b', 'c');
  const pool = new Pool('default', [a!, b!, c!]);
  t.equal(pickOf(pool, [a!, b!])?.label, 'c');
  t.equal(pickOf(pool, [a!, b!])?.label, 'c', 'whatever the round robin position');
  t.equal(pickOf(pool, [a!, b!, c!]), null);
  setUp(b!, false);
  t.equal(pickOf(pool, [a!, c!]), null, 'the one not tried is down');
});

t.test('Pool.pick: null when every server is down', async (t) => {
  const pool = new Pool('default', servers('a', 'b'));
  for (const s of pool.servers) setUp(s, false);
  t.same(picks(pool, 3), [null, null, null]);
});

t.test('Backend: its name in logs, IPv6 in brackets', async (t) => {
  t.equal(new Backend('127.0.0.1', 8081, 'localhost:8081').name, '127.0.0.1:8081');
  t.equal(new Backend('::1', 8081, '[::1]:8081').name, '[::1]:8081');
  const b = new Backend('127.0.0.1', 8081, 'localhost:8081');
  t.equal(b.label, 'localhost:8081', 'the label stays as the config wrote it');
  t.ok(b.up, 'up at start');
});

t.test('Backend: takeIdle gives the most recently pooled usable connection and closes stale ones', async (t) => {
  const b = new Backend<FakeConnection>('127.0.0.1', 8081, 'x');
  t.equal(b.takeIdle(), null, 'empty pool');
  const old = new FakeConnection('old');
  const stale = new FakeConnection('stale', false);
  const recent = new FakeConnection('recent');
  b.idle.push(old, stale, recent);
  t.equal(b.takeIdle()?.id, 'recent', 'last in, first out');
  t.equal(b.takeIdle()?.id, 'old', 'the stale one is skipped');
  t.equal(stale.destroyed, 1, 'and destroyed');
  t.equal(b.idle.length, 0);

  const onlyStale = new FakeConnection('stale2', false);
  b.idle.push(onlyStale);
  t.equal(b.takeIdle(), null);
  t.equal(onlyStale.destroyed, 1);
});

t.test('Backend: forget removes one idle connection; closeIdle destroys them all', async (t) => {
  const b = new Backend<FakeConnection>('127.0.0.1', 8081, 'x');
  const [c1, c2, c3] = [new FakeConnection('1'), new FakeConnection('2'), new FakeConnection('3')];
  b.idle.push(c1, c2, c3);
  b.forget(c2);
  t.same(
    b.idle.map((c) => c.id),
    ['1', '3'],
  );
  b.forget(c2);
  t.equal(b.idle.length, 2, 'forgetting one that is not pooled changes nothing');
  b.closeIdle();
  t.equal(b.idle.length, 0);
  t.same([c1.destroyed, c2.destroyed, c3.destroyed], [1, 0, 1]);
});
