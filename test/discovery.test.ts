// DNS discovery without a DNS server: what one lookup makes of the answers (A and AAAA, SRV with
// priorities and weights, "no such name", failures), the entries of a config, and a Discovery's
// life against scripted answers: changes told, failures keeping the last known servers, logged once.

import t from 'tap';
import { discoverEntries, Discovery, lookUp, startDiscovery, type AddressRecord, type Discovered, type DnsLookups, type SrvRecord } from '../src/balancer/discovery.js';
import { buildSnapshot } from '../src/balancer/snapshot.js';
import { parseConfig } from '../src/config/load.js';
import type { HealthChecks } from '../src/health/monitor.js';
import { ProxyServer } from '../src/proxy/proxy-server.js';
import type { Discover } from '../src/config/schema.js';
import { HOST, LogCapture, waitFor } from './helpers/net.js';

/** What a scripted name answers: records, or an error code. */
interface Answers {
  a?: AddressRecord[] | string;
  aaaa?: AddressRecord[] | string;
  srv?: SrvRecord[] | string;
}

/**
 * Lookups answered from `table` (a name absent there does not exist); `asked` counts questions;
 * while `asked.gate` is set, answers wait for it.
 */
function scripted(table: Map<string, Answers>) {
  const asked = { count: 0, gate: null as Promise<void> | null };
  const answer = async <T>(name: string, kind: keyof Answers): Promise<T[]> => {
    asked.count++;
    await asked.gate;
    const got = table.get(name)?.[kind] ?? 'ENOTFOUND';
    if (typeof got === 'string') throw Object.assign(new Error(`query ${got} ${name}`), { code: got });
    return got as T[];
  };
  const lookups: DnsLookups = {
    a: (name) => answer(name, 'a'),
    aaaa: (name) => answer(name, 'aaaa'),
    srv: (name) => answer(name, 'srv'),
  };
  return { lookups, asked };
}

const entry = (name: string, more: Partial<Discover> = {}): Discover => {
  const srv = name.startsWith('_');
  const [host, port] = srv ? [name, 0] : [name.slice(0, name.lastIndexOf(':')), Number(name.slice(name.lastIndexOf(':') + 1))];
  return { name, kind: srv ? 'srv' : 'address', host, port, refresh: 30_000, weight: null, maxConnections: 0, backup: false, slowStart: 0, ...more };
};

const a = (address: string, ttl = 30): AddressRecord => ({ address, ttl });

t.test('one lookup of A and AAAA records: every address a server on the port, sorted; the shortest TTL', async (t) => {
  const { lookups } = scripted(
    new Map([
      ['api.test', { a: [a('10.0.0.3', 20), a('10.0.0.2', 5)], aaaa: [a('fd00::1', 9)] }],
      ['v4.test', { a: [a('10.0.0.9')], aaaa: 'ENODATA' }],
      ['v6.test', { a: 'ENODATA', aaaa: [a('fd00::2', 600)] }],
      ['slow6.test', { a: [a('10.0.0.9')], aaaa: 'ETIMEOUT' }],
      ['broken.test', { a: 'ESERVFAIL', aaaa: [] }],
    ]),
  );
  t.strictSame(await lookUp(lookups, entry('api.test:80')), {
    found: [
      { host: '10.0.0.2', port: 80, weight: null, backup: false },
      { host: '10.0.0.3', port: 80, weight: null, backup: false },
      { host: 'fd00::1', port: 80, weight: null, backup: false },
    ],
    next: 5000,
  });
  t.strictSame(await lookUp(lookups, entry('v4.test:81')), { found: [{ host: '10.0.0.9', port: 81, weight: null, backup: false }], next: 30_000 }, 'no AAAA records: the A ones');
  t.strictSame(await lookUp(lookups, entry('v6.test:81')), { found: [{ host: 'fd00::2', port: 81, weight: null, backup: false }], next: 600_000 });
  t.strictSame(await lookUp(lookups, entry('nosuch.test:80')), { found: [], next: Infinity }, 'no such name: no servers');
  t.strictSame(await lookUp(lookups, entry('slow6.test:80')), { failed: 'ETIMEOUT' }, 'one of the two questions failing fails the lookup');
  t.strictSame(await lookUp(lookups, entry('broken.test:80')), { failed: 'ESERVFAIL' });
});

t.test('one lookup of SRV records: each target\'s addresses on its port; priority beyond the best is a backup; weights 1..256', async (t) => {
  const { lookups } = scripted(
    new Map<string, Answers>([
      [
        '_http._tcp.api.test',
        {
          srv: [
            { name: 'b.test', port: 8081, priority: 10, weight: 0 },
            { name: 'a.test', port: 8080, priority: 10, weight: 5000 },
            { name: 'c.test', port: 8082, priority: 20, weight: 7 },
            // The same server again at a worse priority: kept once, as its best record says.
            { name: 'a.test', port: 8080, priority: 20, weight: 1 },
            { name: 'gone.test', port: 8083, priority: 10, weight: 1 },
          ],
        },
      ],
      ['a.test', { a: [a('10.0.0.1', 12)], aaaa: 'ENODATA' }],
      ['b.test', { a: [a('10.0.0.2', 40)], aaaa: 'ENODATA' }],
      ['c.test', { a: [a('10.0.0.3', 8)], aaaa: 'ENODATA' }],
      ['_http._tcp.none.test', { srv: 'ENODATA' }],
      ['_http._tcp.down.test', { srv: 'ECONNREFUSED' }],
      ['_http._tcp.half.test', { srv: [{ name: 'slow.test', port: 1, priority: 0, weight: 1 }] }],
      ['slow.test', { a: 'ETIMEOUT' }],
    ]),
  );
  t.strictSame(await lookUp(lookups, entry('_http._tcp.api.test')), {
    found: [
      { host: '10.0.0.1', port: 8080, weight: 256, backup: false },
      { host: '10.0.0.2', port: 8081, weight: 1, backup: false },
      { host: '10.0.0.3', port: 8082, weight: 7, backup: true },
    ],
    next: 8000,
  });
  t.strictSame(await lookUp(lookups, entry('_http._tcp.none.test')), { found: [], next: Infinity });
  t.strictSame(await lookUp(lookups, entry('_http._tcp.down.test')), { failed: 'ECONNREFUSED' });
  t.strictSame(await lookUp(lookups, entry('_http._tcp.half.test')), { failed: 'ETIMEOUT' }, 'a target that cannot be looked up fails the lookup');
});

t.test('the entries of a config: each name once, at the shortest refresh of the pools that list it', async (t) => {
  const config = parseConfig(
    [
      'hosts:',
      '  - host: a.test',
      '    servers: [{discover: "api.test:80", refresh: 10s}, {discover: "_x._tcp.api.test"}]',
      'servers:',
      '  - discover: api.test:80',
      '    refresh: 5s',
      '  - localhost:8081',
    ].join('\n'),
    'lb.yaml',
  );
  t.strictSame(
    discoverEntries(config).map((e) => [e.name, e.kind, e.refresh]),
    [
      ['api.test:80', 'address', 5000],
      ['_x._tcp.api.test', 'srv', 30_000],
    ],
  );
  t.equal(await startDiscovery(parseConfig('servers: [localhost:8081]', 'lb.yaml'), new LogCapture().logger, null, () => {}), null, 'nothing to discover: no discovery');
  const hostsOnly = parseConfig(['paths:', '  - path: /a', '    servers: [{discover: "api.test:80", refresh: 1s}]', '  - path: /b', '    servers: [{discover: "api.test:80", refresh: 9s}]'].join('\n'), 'lb.yaml');
  t.strictSame(discoverEntries(hostsOnly).map((e) => e.refresh), [1000], 'a longer refresh later does not lengthen it');
});

t.test('a discovery whose first answers are empty says so; the same server in two records of one priority is one server', async (t) => {
  const table = new Map<string, Answers>([
    ['_h._tcp.none.test', { srv: 'ENODATA' }],
    ['none.test', { a: 'ENODATA', aaaa: 'ENODATA' }],
    ['_h._tcp.twice.test', { srv: [{ name: 'a.test', port: 1, priority: 0, weight: 1 }, { name: 'b.test', port: 1, priority: 0, weight: 1 }] }],
    ['a.test', { a: [a('10.0.0.1')], aaaa: 'ENODATA' }],
    ['b.test', { a: [a('10.0.0.1')], aaaa: 'ENODATA' }],
  ]);
  const log = new LogCapture();
  const discovery = new Discovery([entry('_h._tcp.none.test'), entry('none.test:80'), entry('_h._tcp.twice.test')], scripted(table).lookups, log.logger, () => {});
  t.teardown(() => discovery.stop());
  await discovery.start();
  t.equal(log.matching('discover _h._tcp.none.test: no SRV records').length, 1);
  t.equal(log.matching('discover none.test:80: no A or AAAA records').length, 1);
  t.strictSame(discovery.discovered['_h._tcp.twice.test'], [{ host: '10.0.0.1', port: 1, weight: 1, backup: false }]);
});

t.test('a discovery: the first answers before start() resolves; changes told; failures keep the last known servers, logged once per cause', async (t) => {
  const table = new Map<string, Answers>([['api.test', { a: [a('10.0.0.1', 1), a('10.0.0.2', 1)], aaaa: 'ENODATA' }]]);
  const { lookups } = scripted(table);
  const log = new LogCapture();
  const told: Discovered[] = [];
  const discovery = new Discovery([entry('api.test:80', { refresh: 1000 })], lookups, log.logger, (d) => told.push(d));
  t.teardown(() => discovery.stop());
  await discovery.start();
  t.strictSame(discovery.discovered['api.test:80']!.map((f) => f.host), ['10.0.0.1', '10.0.0.2']);
  t.equal(log.matching('discover api.test:80: 2 servers (10.0.0.1:80, 10.0.0.2:80)').length, 1, 'what it found, logged');
  t.equal(told.length, 0, 'the first answers are not a change');

  table.set('api.test', { a: [a('10.0.0.2', 1), a('10.0.0.3', 1)], aaaa: 'ENODATA' });
  await waitFor('the change to be told', () => told.length === 1, 5000);
  t.strictSame(told[0]!['api.test:80']!.map((f) => f.host), ['10.0.0.2', '10.0.0.3']);
  await log.waitFor('discover api.test:80: 2 servers; new 10.0.0.3:80; gone (drained, then removed) 10.0.0.1:80');

  table.set('api.test', { a: 'ECONNREFUSED', aaaa: 'ECONNREFUSED' });
  await log.waitFor('discover api.test:80: lookup failed (ECONNREFUSED); keeping 2 servers');
  const failures = log.matching('lookup failed').length;
  table.set('api.test', { a: 'ETIMEOUT', aaaa: 'ETIMEOUT' });
  await log.waitFor('lookup failed (ETIMEOUT); keeping 2 servers');
  t.equal(log.matching('lookup failed').length, failures + 1, 'a new cause is logged; the same one is not again');
  t.equal(told.length, 1, 'a failure changes nothing');

  table.set('api.test', { a: [a('10.0.0.3', 1), a('10.0.0.2', 1)], aaaa: 'ENODATA' });
  await log.waitFor('discover api.test:80: lookups answer again');
  t.equal(told.length, 1, 'the same servers in another order: no change');

  table.delete('api.test');
  await waitFor('the emptying to be told', () => told.length === 2, 5000);
  t.strictSame(told[1], { 'api.test:80': [] }, 'no such name: the entry has no servers');
  await log.waitFor('discover api.test:80: no A or AAAA records; gone (drained, then removed) 10.0.0.2:80, 10.0.0.3:80');
});

t.test('a reload\'s discovery starts from what the previous one knew when its first lookup fails; a stopped one tells nothing', async (t) => {
  const table = new Map<string, Answers>([['_h._tcp.api.test', { srv: [{ name: 'a.test', port: 8080, priority: 0, weight: 3 }] }], ['a.test', { a: [a('10.0.0.1', 1)], aaaa: 'ENODATA' }]]);
  const { lookups, asked } = scripted(table);
  const log = new LogCapture();
  const config = parseConfig('servers: [{discover: _h._tcp.api.test, refresh: 1s}]', 'lb.yaml');
  const told: Discovered[] = [];
  const first = await startDiscovery(config, log.logger, null, (d) => told.push(d), () => lookups);
  t.strictSame(first!.discovered, { '_h._tcp.api.test': [{ host: '10.0.0.1', port: 8080, weight: 3, backup: false }] });

  table.set('_h._tcp.api.test', { srv: 'ESERVFAIL' });
  const second = await startDiscovery(config, log.logger, first, (d) => told.push(d), () => lookups);
  first!.stop();
  t.teardown(() => second!.stop());
  t.strictSame(second!.discovered, first!.discovered, 'the last known servers, kept');
  await log.waitFor('discover _h._tcp.api.test: lookup failed (ESERVFAIL); keeping 1 server');

  // Stopped with a lookup in flight: its answer is dropped.
  table.set('_h._tcp.api.test', { srv: [] });
  let open = (): void => {};
  asked.gate = new Promise((resolve) => (open = resolve));
  const before = asked.count;
  await waitFor('a lookup to be asked', () => asked.count > before, 5000);
  second!.stop();
  open();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(told.length, 0, 'nothing told once stopped');
  t.equal(log.matching('no SRV records').length, 0);
});

t.test('a snapshot with what discovery found: each found server after those written, once; an entry with no findings adds none', async (t) => {
  const config = parseConfig('servers:\n  - "10.0.0.1:80"\n  - discover: api.test:80\n  - {discover: "_h._tcp.api.test", weight: 7, backup: true}\n', 'lb.yaml');
  const found = (host: string, port: number, weight: number | null = null) => ({ host, port, weight, backup: false });
  const snapshot = await buildSnapshot(config, null, null, { 'api.test:80': [found('10.0.0.1', 80), found('10.0.0.2', 80)] });
  const pool = snapshot.pools[0]!;
  t.strictSame([...pool.names], ['10.0.0.1:80', '10.0.0.2:80'], 'the written server once, then the new one; the SRV entry found nothing');
  const withSrv = await buildSnapshot(config, snapshot, null, { 'api.test:80': [], '_h._tcp.api.test': [found('10.0.0.3', 8080, 3)] });
  t.strictSame([...withSrv.pools[0]!.names], ['10.0.0.1:80', '10.0.0.3:8080']);
  t.strictSame([...withSrv.pools[0]!.weights], [1, 7], 'the entry\'s weight over the record\'s');
  t.equal(withSrv.byLabel.get('10.0.0.1:80'), snapshot.byLabel.get('10.0.0.1:80'), 'carried over');
});

t.test('a cluster worker\'s proxy follows what its primary found; after close() it follows nothing more', async (t) => {
  const config = parseConfig(`listen: ${HOST}:0\nservers: [{discover: "api.test:80"}]\n`, 'lb.yaml');
  const noChecks: HealthChecks = { start: async () => {}, stop: async () => {}, markDown: () => {} };
  const proxy = new ProxyServer(config, new LogCapture().logger, () => noChecks, { 'api.test:80': [{ host: '10.0.0.1', port: 80, weight: null, backup: false }] });
  await proxy.listen();
  t.strictSame([...proxy.pools[0]!.names], ['10.0.0.1:80'], 'what the primary found at start');
  await proxy.follow({ 'api.test:80': [{ host: '10.0.0.2', port: 80, weight: null, backup: false }] });
  t.strictSame([...proxy.pools[0]!.names], ['10.0.0.2:80'], 'and then');
  await proxy.close();
  await proxy.follow({ 'api.test:80': [] });
  t.strictSame([...proxy.pools[0]!.names], ['10.0.0.2:80'], 'closed: nothing changes');
});
