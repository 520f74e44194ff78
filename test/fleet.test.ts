// The servers' one owner (src/balancer/fleet.ts) and the routing snapshot (snapshot.ts): a snapshot
// is built whole and carries servers over by identity; setHealth is the one writer of health, and
// every writer (passive failures, the checks, the cluster's primary and workers) goes through it.

import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import type { Pooled } from '../src/balancer/backend.js';
import { Fleet, type HealthChange } from '../src/balancer/fleet.js';
import { Pool } from '../src/balancer/pool.js';
import { buildSnapshot, Snapshot } from '../src/balancer/snapshot.js';
import { SharedHealth } from '../src/cluster/remote-health.js';
import { parseConfig } from '../src/config/load.js';
import type { HealthChecks } from '../src/health/monitor.js';
import { ProxyServer } from '../src/proxy/proxy-server.js';
import { HOST, LogCapture, refusedPort, request, RawClient, waitFor, within } from './helpers/net.js';

/** A pooled connection stand-in that records being destroyed. */
class FakeConnection implements Pooled {
  destroyed = 0;
  readonly reusable = true;
  destroy(): void {
    this.destroyed++;
  }
}

const CONFIG = `
hosts:
  - { host: www.mango.com, servers: ["${HOST}:8081", "localhost:8082"] }
paths:
  - { path: /mango, servers: ["${HOST}:8082", "${HOST}:8081"] }
servers: ["${HOST}:8083"]
`;

/** A fleet with the snapshot of `yaml` in force, its log, and every setHealth its listener saw. */
async function fleetOf(yaml: string) {
  const log = new LogCapture('info');
  const fleet = new Fleet<FakeConnection>(log.logger, await buildSnapshot<FakeConnection>(parseConfig(yaml, 'lb.yaml')));
  const seen: [string, HealthChange][] = [];
  fleet.onHealth((server, change) => seen.push([server.label, change]));
  return { fleet, log, seen, server: (label: string) => fleet.snapshot.byLabel.get(label)! };
}

t.test('Snapshot: one server per distinct label, the pools in routing order, the pool names per server', async (t) => {
  const { fleet } = await fleetOf(CONFIG);
  const snapshot = fleet.snapshot;
  t.same(
    snapshot.servers.map((s) => [s.label, s.name]),
    [
      [`${HOST}:8081`, `${HOST}:8081`],
      ['localhost:8082', `${HOST}:8082`],
      [`${HOST}:8082`, `${HOST}:8082`],
      [`${HOST}:8083`, `${HOST}:8083`],
    ],
    'a label is a server: localhost:8082 and 127.0.0.1:8082 are two, as the config wrote them',
  );
  t.same(
    snapshot.pools.map((p) => [p.name, p.servers.map((s) => s.label)]),
    [
      ['www.mango.com', [`${HOST}:8081`, 'localhost:8082']],
      ['/mango', [`${HOST}:8082`, `${HOST}:8081`]],
      ['default', [`${HOST}:8083`]],
    ],
  );
  t.same(snapshot.poolsOf(snapshot.byLabel.get(`${HOST}:8081`)!), ['www.mango.com', '/mango']);
  t.equal(snapshot.router.route('www.mango.com', '/'), snapshot.pools[0]);
  t.equal(snapshot.router.route('other', '/mango/x'), snapshot.pools[1]);
  t.equal(snapshot.router.route('other', '/'), snapshot.pools[2]);
  const stranger = new Snapshot([]).servers;
  t.same(stranger, [], 'an empty snapshot has no server');
  t.same(new Snapshot([]).poolsOf(snapshot.servers[0]!), [], 'nor pool names for one');
  t.equal(new Snapshot([]).router.route('www.mango.com', '/'), null, 'and routes nothing');
});

t.test('Snapshot: a pool name once per server', async (t) => {
  const { fleet } = await fleetOf(`servers: ["${HOST}:8081"]\n`);
  const server = fleet.snapshot.servers[0]!;
  // Two pools of one name: a host named "default" beside the default pool, say.
  t.same(new Snapshot([new Pool('default', [server]), new Pool('default', [server])]).poolsOf(server), ['default']);
});

t.test('a reload builds a new snapshot: servers that remain are the same objects; the running one is not edited', async (t) => {
  const { fleet } = await fleetOf(CONFIG);
  const before = fleet.snapshot;
  const kept = before.byLabel.get(`${HOST}:8081`)!;
  const dropped = before.byLabel.get(`${HOST}:8083`)!;
  fleet.setHealth(kept, false, 'connect ECONNREFUSED', 'passive');
  kept.stats.requests = 7;
  const keptIdle = new FakeConnection();
  const droppedIdle = new FakeConnection();
  kept.idle.push(keptIdle);
  dropped.idle.push(droppedIdle);

  const next = await buildSnapshot(parseConfig(`paths:\n  - { path: /x, servers: ["${HOST}:8081", "${HOST}:8084"] }\n`, 'next.yaml'), before);
  t.equal(next.byLabel.get(`${HOST}:8081`), kept, 'carried over by identity');
  t.same([kept.up, kept.stats.requests, kept.idle.length], [false, 7, 1], 'with its state, counters and idle connections');
  t.same(next.poolsOf(kept), ['/x'], 'its pool names in the new snapshot');
  t.same(before.poolsOf(kept), ['www.mango.com', '/mango'], 'the running snapshot still says what it said');
  t.equal(fleet.snapshot, before, 'building puts nothing in force');
  t.equal(droppedIdle.destroyed, 0);

  fleet.use(next);
  t.equal(fleet.snapshot, next);
  t.same(fleet.servers, next.servers);
  t.equal(droppedIdle.destroyed, 1, 'a server the new snapshot dropped loses its idle connections');
  t.equal(keptIdle.destroyed, 0, 'one it kept does not');
  t.same(before.pools.map((p) => p.servers.length), [2, 2, 1], 'the previous snapshot’s pools are as they were');
});

t.test('setHealth: one write, one line, idle connections closed, every listener told', async (t) => {
  const { fleet, log, seen, server } = await fleetOf(CONFIG);
  const a = server(`${HOST}:8081`);
  const idle = new FakeConnection();
  a.idle.push(idle);
  fleet.setHealth(a, false, 'connect ECONNREFUSED', 'passive');
  t.equal(a.up, false);
  t.equal(idle.destroyed, 1, 'a server going down loses its idle connections');
  t.same(log.lines.map((l) => l.replace(/^\S+ /, '')), [`WARN server ${HOST}:8081 (pool www.mango.com, /mango) DOWN: connect ECONNREFUSED`]);
  fleet.setHealth(a, false, 'status 500', 'check');
  t.equal(log.lines.length, 1, 'down already: not logged again');
  fleet.setHealth(a, true, 'status 200', 'check');
  t.equal(a.up, true);
  t.same(log.matching(' UP').map((l) => l.replace(/^\S+ /, '')), [`INFO server ${HOST}:8081 (pool www.mango.com, /mango) UP`]);
  t.same(seen, [
    [`${HOST}:8081`, { up: false, reason: 'connect ECONNREFUSED', source: 'passive', changed: true }],
    [`${HOST}:8081`, { up: false, reason: 'status 500', source: 'check', changed: false }],
    [`${HOST}:8081`, { up: true, reason: 'status 200', source: 'check', changed: true }],
  ]);
});

t.test('setHealth: what another process of the cluster saw is applied but not logged here', async (t) => {
  const { fleet, log, seen, server } = await fleetOf(CONFIG);
  const a = server(`${HOST}:8081`);
  const idle = new FakeConnection();
  a.idle.push(idle);
  fleet.setHealth(a, false, '', 'primary');
  t.same([a.up, idle.destroyed], [false, 1], 'a worker follows the primary, idle connections included');
  fleet.setHealth(a, true, '', 'primary');
  fleet.setHealth(a, false, '', 'worker');
  t.same(log.lines, [], 'the process that saw it logged it');
  t.same(
    seen.map(([, c]) => [c.source, c.up, c.changed]),
    [
      ['primary', false, true],
      ['primary', true, true],
      ['worker', false, true],
    ],
  );
});

t.test('setHealth on a server a reload just dropped: logged with the pools it had', async (t) => {
  const { fleet, log, server } = await fleetOf(CONFIG);
  const dropped = server(`${HOST}:8083`);
  fleet.use(await buildSnapshot(parseConfig(`servers: ["${HOST}:8081"]\n`, 'next.yaml'), fleet.snapshot));
  // The checks of the previous configuration may report once more while they stop.
  fleet.setHealth(dropped, false, 'status 500', 'check');
  t.match(log.lines, [/server 127\.0\.0\.1:8083 \(pool default\) DOWN: status 500$/]);
});

/** Checks that record what the proxy tells them, for a ProxyServer that runs no worker thread. */
function recordingChecks(marked: string[]): HealthChecks {
  return { start: async () => {}, stop: async () => {}, markDown: (server) => marked.push(server.label) };
}

t.test('a passive failure in the proxy goes through the owner: logged once, the checks told each time', async (t) => {
  const port = await refusedPort();
  const log = new LogCapture('info');
  const marked: string[] = [];
  const proxy = new ProxyServer(parseConfig(`listen: ${HOST}:0\nservers: ["${HOST}:${port}"]\n`, 'lb.yaml'), log.logger, () => recordingChecks(marked));
  const seen: HealthChange[] = [];
  proxy['fleet'].onHealth((_server, change) => seen.push(change));
  const [address] = await proxy.listen();
  t.teardown(() => proxy.close());
  const server = proxy.servers[0]!;
  for (let i = 0; i < 2; i++) {
    // The first request finds the server up and is refused; the second finds it down already.
    const client = await RawClient.connect(address!.port);
    const res = await client.send(request('GET', '/', { host: 'x', headers: [['Connection', 'close']] }));
    t.ok(res.status === 502 || res.status === 503, `answered ${res.status}`);
    client.destroy();
    if (i === 0) proxy['ctx'].markDown(server, 'connect ECONNREFUSED'); // a second report of the same failure
  }
  t.equal(server.up, false);
  t.equal(log.matching('DOWN').length, 1, 'one DOWN line');
  t.match(log.matching('DOWN')[0], `server ${HOST}:${port} (pool default) DOWN: connect ECONNREFUSED`);
  t.ok(seen.length === 2 && seen.every((c) => c.source === 'passive' && !c.up), 'both reports went through setHealth');
  t.equal(seen.filter((c) => c.changed).length, 1, 'one of them changed the state');
  t.same(marked, seen.map(() => `${HOST}:${port}`), 'the checks hear of each, to count `rise` passes again');
});

t.test('a cluster worker: the primary’s word and its own passive failures go through the owner', async (t) => {
  const reported: string[] = [];
  const shared = new SharedHealth((label) => reported.push(label));
  shared.merge({ [`${HOST}:8081`]: false, 'gone:1': false });
  const log = new LogCapture('info');
  const proxy = new ProxyServer(parseConfig(`listen: ${HOST}:0\nservers: ["${HOST}:8081", "${HOST}:8082"]\n`, 'lb.yaml'), log.logger, (fleet) => shared.checksFor(fleet));
  const seen: [string, HealthChange][] = [];
  proxy['fleet'].onHealth((server, change) => seen.push([server.label, change]));
  await proxy.listen();
  t.teardown(() => proxy.close());
  const [a, b] = proxy.servers;
  t.same([a!.up, b!.up], [false, true], 'the state the primary sent at start is applied on listening');
  const idle = new FakeConnection();
  (b!.idle as unknown as FakeConnection[]).push(idle);
  shared.set(`${HOST}:8082`, false);
  t.same([b!.up, idle.destroyed], [false, 1], 'a flip from the primary: out, idle connections closed');
  shared.set(`${HOST}:8081`, true);
  t.equal(a!.up, true);
  proxy['ctx'].markDown(a!, 'connect ECONNREFUSED');
  t.same(reported, [`${HOST}:8081`], 'a passive failure is reported to the primary');
  t.same(log.matching('DOWN').length, 1, 'and logged here, where it was seen');
  t.same(
    seen.map(([label, c]) => [label, c.source, c.up]),
    [
      [`${HOST}:8081`, 'primary', false],
      [`${HOST}:8082`, 'primary', false],
      [`${HOST}:8081`, 'primary', true],
      [`${HOST}:8081`, 'passive', false],
    ],
    'every write went through setHealth',
  );
  await within(proxy.reload(parseConfig(`listen: ${HOST}:0\nservers: ["${HOST}:8082"]\n`, 'next.yaml')), 'the reload');
  shared.set(`${HOST}:8082`, true);
  await waitFor('the reloaded servers to follow the primary', () => proxy.servers[0]!.up);
  t.equal(proxy.servers[0], b, 'carried over by identity');
});

t.test('no code but the owner writes a server’s health', async (t) => {
  // Backend.up is read-only to the type checker; this also catches a cast around it.
  const src = new URL('../src/', import.meta.url);
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  t.ok(files.length > 10, `${files.length} source files`);
  const writers = files.filter((f) => /\.up\s*=[^=]/.test(readFileSync(new URL(f, src), 'utf8')));
  // health-state.ts writes a HealthState's own `up` (the checker's count), not a server's;
  // backend.ts's constructor gives a new server its first state (down while its name does not resolve).
  t.same(writers.sort(), ['balancer/backend.ts', 'balancer/fleet.ts', 'health/health-state.ts']);
});

t.test('Fleet.control: the admin API writer: every pool that lists a server, or one; logged where asked; replayable by another fleet', async (t) => {
  const { fleet, log } = await fleetOf(CONFIG);
  const name = `${HOST}:8081`;
  const both = fleet.control(name, null, { state: 'drain' }, 'the admin API (127.0.0.1)');
  t.same('changed' in both ? both.changed.map((c) => c.pool.name) : both, ['www.mango.com', '/mango'], 'every pool that lists it');
  t.equal(log.matching(`server ${name} (pool www.mango.com): ready -> drain, by the admin API (127.0.0.1)`).length, 1);
  const one = fleet.control(name, '/mango', { weight: 3 }, null);
  t.same('changed' in one ? one.changed.map((c) => [c.pool.name, c.pool.weights[c.i]]) : one, [['/mango', 3]]);
  t.equal(log.matching('weight 1 -> 3').length, 0, 'a change a cluster worker follows is not logged again');
  t.same(fleet.control(name, 'nosuch', { state: 'ready' }, null), { unknown: 'pool' });
  t.same(fleet.control('nosuch:1', null, { state: 'ready' }, null), { unknown: 'server' });
  t.same(fleet.control(`${HOST}:8083`, '/mango', { state: 'ready' }, null), { unknown: 'server' }, 'not in that pool');
  t.same(fleet.controls(), [
    ['www.mango.com', name, { state: 'drain' }],
    ['/mango', name, { state: 'drain' }],
    ['/mango', name, { weight: 3 }],
  ]);
  const other = (await fleetOf(CONFIG)).fleet;
  for (const [pool, server, change] of fleet.controls()) other.control(server, pool, change, null);
  t.same(other.controls(), fleet.controls(), 'replayed: the same');
});
