// The admin listener: /status and /metrics move with traffic through a real proxy; the status
// page, rendered by headless Chromium, shows every server and its state; the listener's HTTP
// edges (404, 405, HEAD, a failing report); the page renderer and the exposition format on
// reports made up here.

import http from 'node:http';
import { mkdtemp, readFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AdminServer, reportOn, type AdminOptions } from '../src/admin/admin-server.js';
import { escapeLabelValue, metricsOf } from '../src/admin/metrics.js';
import { PAGE_CSP, renderDashboard, renderPage } from '../src/admin/page.js';
import { addCounters, statusOf, type Status, type StatusSource } from '../src/admin/status.js';
import { serverEntries } from '../src/admin/control.js';
import { Backend } from '../src/balancer/backend.js';
import { Fleet } from '../src/balancer/fleet.js';
import { Pool } from '../src/balancer/pool.js';
import { Snapshot } from '../src/balancer/snapshot.js';
import { DurationHistogram, ResponseCounts } from '../src/balancer/stats.js';
import { Logger } from '../src/log.js';
import { dumpDom, screenshot } from './helpers/chromium.js';
import { HOST, LogCapture, refusedPort, proxyTest, q, waitFor, type Harness, type Proxy } from './helpers/net.js';

// ---------------------------------------------------------------------------------------------
// Helpers.

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection to the admin listener. */
function fetchAdmin(port: number, target: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, path: target, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function getStatus(port: number): Promise<Status> {
  const reply = await fetchAdmin(port, '/status');
  return JSON.parse(reply.body) as Status;
}

/** The samples of an exposition, by `name{labels}` as written. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** An admin listener on 127.0.0.1, any port, closed in teardown. */
async function startAdmin(t: Test, source: () => StatusSource, options: Partial<AdminOptions> = {}): Promise<{ admin: AdminServer; port: number; log: LogCapture }> {
  const log = new LogCapture();
  const admin = new AdminServer(reportOn(source), { host: HOST, port: 0, logger: log.logger, ...options });
  const { port } = await admin.listen();
  t.teardown(() => admin.close());
  return { admin, port, log };
}

/**
 * The proxy of the integration tests: pool www.mango.com over two stub backends, pool /dead over
 * a closed port (its first check fails: DOWN at once), and the default pool over the first
 * backend. Resolves once every server has had its first check.
 */
async function mangoProxy(h: Harness): Promise<{ proxy: Proxy; a: string; b: string; dead: string }> {
  const [a, b] = await h.backends('a', 'b');
  const deadPort = await refusedPort();
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
hosts:
  - host: www.mango.com
    servers: [${q(a!)}, ${q(b!)}]
paths:
  - path: /dead
    servers: [${q(deadPort)}]
servers: [${q(a!)}]
`);
  await waitFor('every server checked once', () => proxy.server.servers.every((s) => s.lastCheck !== null));
  return { proxy, a: a!.address, b: b!.address, dead: `${HOST}:${deadPort}` };
}

// ---------------------------------------------------------------------------------------------
// Through a real proxy.

proxyTest(t, '/status and /metrics move with traffic', async (t, h) => {
  const { proxy, a, b, dead } = await mangoProxy(h);
  const { port } = await startAdmin(t, () => proxy.server, { startedAt: Date.now() - 90_000 });

  const before = await getStatus(port);
  t.same(
    before.pools.map((p) => [p.name, p.servers]),
    [
      ['www.mango.com', [a, b]],
      ['/dead', [dead]],
      ['default', [a]],
    ],
    'the pools in routing order, with their servers',
  );
  t.same(
    before.servers.map((s) => [s.name, s.up, s.lastCheck?.ok, s.pools]),
    [
      [a, true, true, ['www.mango.com', 'default']],
      [b, true, true, ['www.mango.com']],
      [dead, false, false, ['/dead']],
    ],
    'each server once, with its state, last check and pools',
  );
  t.match(before.servers[2]!.lastCheck, { reason: /: connect ECONNREFUSED$/, at: /^\d{4}-\d\d-\d\dT/ });
  t.ok(before.uptimeSeconds >= 90 && before.uptimeSeconds < 100, `uptime from startedAt: ${before.uptimeSeconds}`);
  const metricsBefore = samples((await fetchAdmin(port, '/metrics')).body);

  // Traffic: five 200s and one 503 from the backends, one 503 from the balancer (all of /dead is down).
  const client = await h.client(proxy);
  for (let i = 0; i < 5; i++) t.equal((await client.get('/', 'www.mango.com')).status, 200);
  t.equal((await client.get('/status/503', 'www.mango.com')).status, 503);
  t.equal((await client.get('/dead', 'x')).status, 503);
  // And one request held in flight while the reports are taken.
  const slow = await h.client(proxy);
  await slow.write('GET /slow?ms=700 HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the slow request in flight', () => proxy.server.pools[2]!.stats.inFlight === 1);

  const after = await getStatus(port);
  const mango = after.pools[0]!;
  t.same([mango.requests, mango.inFlight, mango.responses['2xx'], mango.responses['5xx']], [6, 0, 5, 1], 'www.mango.com counted 6 requests');
  const [sa, sb] = after.servers;
  t.equal(sa!.requests + sb!.requests - (before.servers[0]!.requests + before.servers[1]!.requests), 7, 'a and b were sent 7 requests (one in flight)');
  t.equal(sa!.inFlight, 1, 'the slow request is in flight on a');
  t.equal(after.pools[2]!.inFlight, 1, 'and in the default pool');
  t.equal(after.connections, 2, 'two client connections');
  t.equal(after.durations.count - before.durations.count, 7, 'seven durations observed');
  const last = after.durations.buckets[after.durations.buckets.length - 1]!;
  t.same(last, { le: '+Inf', count: after.durations.count }, 'the +Inf bucket counts every request');
  t.ok(after.durations.buckets.every((bucket, i, all) => i === 0 || bucket.count >= all[i - 1]!.count), 'buckets are cumulative');

  const metrics = await fetchAdmin(port, '/metrics');
  t.equal(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  t.comment(`/metrics after the traffic:\n${metrics.body}`);
  const m = samples(metrics.body);
  const moved = (key: string) => m.get(key)! - (metricsBefore.get(key) ?? 0);
  t.equal(moved('lb_pool_requests_total{pool="www.mango.com",class="2xx"}'), 5);
  t.equal(moved('lb_pool_requests_total{pool="www.mango.com",class="5xx"}'), 1);
  t.equal(moved(`lb_server_requests_total{server="${a}",class="2xx"}`) + moved(`lb_server_requests_total{server="${b}",class="2xx"}`), 5);
  t.equal(m.get(`lb_server_in_flight{server="${a}"}`), 1);
  t.equal(m.get('lb_pool_in_flight{pool="default"}'), 1);
  t.same([m.get(`lb_server_up{server="${a}"}`), m.get(`lb_server_up{server="${dead}"}`)], [1, 0]);
  t.same([m.get(`lb_health_check_ok{server="${b}"}`), m.get(`lb_health_check_ok{server="${dead}"}`)], [1, 0]);
  t.ok(Math.abs(m.get(`lb_health_check_timestamp_seconds{server="${dead}"}`)! - Date.now() / 1000) < 60, 'the check time is in seconds');
  t.equal(m.get('lb_client_connections'), 2);
  t.equal(moved('lb_request_duration_seconds_count'), 7);
  t.equal(m.get('lb_request_duration_seconds_bucket{le="+Inf"}'), m.get('lb_request_duration_seconds_count'));
  t.ok(m.get('lb_request_duration_seconds_sum')! > 0);

  t.equal((await slow.read()).status, 200, 'the slow request ends');
  await waitFor('nothing in flight', () => proxy.server.pools[2]!.stats.inFlight === 0);
  t.equal((await getStatus(port)).servers[0]!.inFlight, 0, 'and leaves the in-flight count');
});

proxyTest(t, 'the status page in headless Chromium shows every server and its state', async (t, h) => {
  const { proxy, a, b, dead } = await mangoProxy(h);
  const { port } = await startAdmin(t, () => proxy.server);
  const client = await h.client(proxy);
  for (let i = 0; i < 4; i++) await client.get('/', 'www.mango.com');
  const url = `http://${HOST}:${port}/`;

  const dom = await dumpDom(url);
  t.match(dom, /<body[^>]* data-refreshes="[1-9]/, 'the script ran and redrew the page from /status');
  t.match(dom, /<body[^>]* data-live="true"/);
  const pools = [...dom.matchAll(/<section class="pool [a-z]+" data-pool="([^"]*)" data-health="([a-z]+)">(.*?)<\/section>/gs)];
  const rows = (html: string) => [...html.matchAll(/<tr class="server" data-server="([^"]+)" data-state="([a-z]+)">(.*?)<\/tr>/gs)];
  t.same(
    pools.map((p) => [p[1], p[2], rows(p[3]!).map((r) => [r[1], r[2]])]),
    [
      ['www.mango.com', 'up', [[a, 'up'], [b, 'up']]],
      ['/dead', 'down', [[dead, 'down']]],
      ['default', 'up', [[a, 'up']]],
    ],
    'every pool with each of its servers and their state',
  );
  const deadRow = rows(pools[1]![3]!)[0]![3]!;
  t.match(deadRow, /<span class="badge down">DOWN<\/span>/, 'a red DOWN badge');
  t.match(deadRow, /data-check="failed">GET \/\S*: connect ECONNREFUSED <span class="ago">\d+s ago<\/span>/, 'the failed check, and how long ago');
  const aRow = rows(pools[0]![3]!)[0]![3]!;
  t.match(aRow, /<span class="badge up">UP<\/span>/);
  t.match(aRow, /data-check="ok">GET \/\S* -&gt; 200 /);
  t.match(aRow, /<td class="num rate">\d+(\.\d)?<\/td>/, 'req/s, measured between two polls');
  t.match(dom, /<dd id="servers-up">2 \/ 3<\/dd>/);

  const dir = await mkdtemp(path.join(tmpdir(), 'lb-admin-'));
  const png = path.join(dir, 'status-page.png');
  const size = await screenshot(url, png, 1200, 900);
  t.comment(`screenshot of the status page: ${png} (${size} bytes)`);
  const bytes = await readFile(png);
  t.same([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  t.same([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [1200, 900], '1200 x 900');
  t.ok(size > 20_000, `more than a blank page: ${size} bytes`);
});

// ---------------------------------------------------------------------------------------------
// The listener's HTTP edges, on a report made up here.

/** Writes the made-up servers' health, as their checks would (fleet.ts is its one writer). */
const quiet = new Fleet(new Logger('silent'));

/** Two servers (one checked and up, one never checked and down) in one pool, some counts. */
function madeUpSource(): StatusSource & { servers: Backend[]; pools: Pool[] } {
  const a = new Backend('10.0.0.1', 8081, 'app-1:8081');
  const b = new Backend('10.0.0.2', 8081, '10.0.0.2:8081');
  a.lastCheck = { ok: true, reason: 'status 200', at: Date.UTC(2025, 0, 2, 3, 4, 5, 500) };
  quiet.setHealth(b, false, 'never checked', 'check');
  a.stats.requests = 12;
  a.stats.inFlight = 1;
  a.stats.byClass.splice(0, 6, 1, 0, 8, 0, 1, 1);
  b.stats.failures = 2;
  const pool = new Pool('www.mango.com', [a, b]);
  pool.stats.requests = 12;
  pool.stats.byClass.splice(0, 6, 1, 0, 8, 0, 1, 1);
  // lb_responses_total: what the servers said, what the balancer said, and what it said unrouted.
  pool.responses.fromServer[200] = 7;
  pool.responses.fromServer[204] = 1;
  pool.responses.fromServer[404] = 1;
  pool.responses.balancer('UPSTREAM_RESET');
  const unrouted = new ResponseCounts();
  unrouted.balancer('NO_ROUTE');
  unrouted.balancer('MISSING_HOST');
  unrouted.balancer('NO_ROUTE');
  const durations = new DurationHistogram();
  for (const s of [0.002, 0.003, 0.2, 7, 30]) durations.observe(s);
  return { snapshot: new Snapshot([pool]), servers: [a, b], pools: [pool], durations, connections: 3, unrouted };
}

/** madeUpSource's lb_responses_total series, as /status lists them. */
const MADE_UP_RESPONSES = [
  { pool: '', status: 400, code: 'MISSING_HOST', source: 'balancer', count: 1 },
  { pool: '', status: 404, code: 'NO_ROUTE', source: 'balancer', count: 2 },
  { pool: 'www.mango.com', status: 200, code: '', source: 'server', count: 7 },
  { pool: 'www.mango.com', status: 204, code: '', source: 'server', count: 1 },
  { pool: 'www.mango.com', status: 404, code: '', source: 'server', count: 1 },
  { pool: 'www.mango.com', status: 502, code: 'UPSTREAM_RESET', source: 'balancer', count: 1 },
];

t.test('the listener', async (t) => {
  const source = madeUpSource();
  let clock = Date.UTC(2025, 0, 2, 3, 4, 10);
  const { port, admin } = await startAdmin(t, () => source, { startedAt: clock - 3_725_000, now: () => clock });

  t.test('GET /status: the report as JSON', async (t) => {
    const reply = await fetchAdmin(port, '/status?pretty=1');
    t.equal(reply.status, 200, 'a query changes nothing');
    t.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
    t.equal(reply.headers['cache-control'], 'no-store');
    t.same(JSON.parse(reply.body), {
      time: '2025-01-02T03:04:10.000Z',
      uptimeSeconds: 3725,
      connections: 3,
      pools: [
        {
          name: 'www.mango.com',
          servers: ['10.0.0.1:8081', '10.0.0.2:8081'],
          balance: 'round_robin',
          requests: 12,
          inFlight: 0,
          responses: { '1xx': 0, '2xx': 8, '3xx': 0, '4xx': 1, '5xx': 1, cut: 1 },
          waiting: 0,
          queued: 0,
          queueFull: 0,
          queueTimeouts: 0,
          retriesDenied: 0,
          members: [
            { server: '10.0.0.1:8081', label: 'app-1:8081', admin: 'ready', weight: 1, maxConnections: 0, backup: false, ejected: false, ejections: 0 },
            { server: '10.0.0.2:8081', label: '10.0.0.2:8081', admin: 'ready', weight: 1, maxConnections: 0, backup: false, ejected: false, ejections: 0 },
          ],
        },
      ],
      servers: [
        {
          name: '10.0.0.1:8081',
          label: 'app-1:8081',
          pools: ['www.mango.com'],
          up: true,
          lastCheck: { ok: true, reason: 'status 200', at: '2025-01-02T03:04:05.500Z' },
          requests: 12,
          inFlight: 1,
          failures: 0,
          responses: { '1xx': 0, '2xx': 8, '3xx': 0, '4xx': 1, '5xx': 1, cut: 1 },
        },
        {
          name: '10.0.0.2:8081',
          label: '10.0.0.2:8081',
          pools: ['www.mango.com'],
          up: false,
          lastCheck: null,
          requests: 0,
          inFlight: 0,
          failures: 2,
          responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, cut: 0 },
        },
      ],
      durations: {
        buckets: [
          { le: 0.005, count: 2 },
          { le: 0.01, count: 2 },
          { le: 0.025, count: 2 },
          { le: 0.05, count: 2 },
          { le: 0.1, count: 2 },
          { le: 0.25, count: 3 },
          { le: 0.5, count: 3 },
          { le: 1, count: 3 },
          { le: 2.5, count: 3 },
          { le: 5, count: 3 },
          { le: 10, count: 4 },
          { le: '+Inf', count: 5 },
        ],
        sum: 37.205,
        count: 5,
      },
      responses: MADE_UP_RESPONSES,
    });
  });

  t.test('GET /metrics: the exposition of the same numbers', async (t) => {
    const reply = await fetchAdmin(port, '/metrics');
    t.equal(reply.status, 200);
    t.equal(reply.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    t.equal(reply.body, metricsOf(statusOf(source, 0, clock)));
  });

  t.test('GET /: the page, with its policy', async (t) => {
    const reply = await fetchAdmin(port, '/');
    t.equal(reply.status, 200);
    t.equal(reply.headers['content-type'], 'text/html; charset=utf-8');
    t.equal(reply.headers['content-security-policy'], PAGE_CSP);
    t.match(PAGE_CSP, /script-src 'sha256-[A-Za-z0-9+/]{43}='/);
    t.match(reply.body, /^<!doctype html>/);
    t.match(reply.body, '<tr class="server" data-server="10.0.0.1:8081" data-state="up">', 'rendered on the server: readable without JavaScript');
  });

  t.test('HEAD: the headers of GET, no body', async (t) => {
    const get = await fetchAdmin(port, '/metrics');
    const head = await fetchAdmin(port, '/metrics', 'HEAD');
    t.equal(head.status, 200);
    t.equal(head.body, '');
    t.equal(head.headers['content-length'], get.headers['content-length']);
  });

  t.test('an unknown path is 404, whatever the method', async (t) => {
    for (const [target, method] of [
      ['/nope', 'GET'],
      ['/status/', 'GET'],
      ['/nope', 'POST'],
    ] as const) {
      const reply = await fetchAdmin(port, target, method);
      t.same([reply.status, reply.body], [404, 'Not Found\n'], `${method} ${target}`);
    }
  });

  t.test('another method is 405, with Allow', async (t) => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const reply = await fetchAdmin(port, '/status', method);
      t.same([reply.status, reply.headers.allow], [405, 'GET, HEAD'], method);
    }
  });

  t.test('the clock moves the uptime and the time of the report', async (t) => {
    clock += 86_400_000;
    const status = await getStatus(port);
    t.same([status.uptimeSeconds, status.time], [90_125, '2025-01-03T03:04:10.000Z']);
    t.equal(admin.startedAt, Date.UTC(2025, 0, 2, 3, 4, 10) - 3_725_000);
  });
});

t.test('a report that fails is a 500, and logged', async (t) => {
  const { port, log } = await startAdmin(t, () => {
    throw new Error('no configuration loaded');
  });
  const reply = await fetchAdmin(port, '/status');
  t.same([reply.status, reply.body], [500, 'Internal Server Error\n']);
  t.match(log.lines, [/ERROR admin \/status: no configuration loaded$/]);
});

t.test('uptime counts from when the listener was made, by default', async (t) => {
  const { port, admin } = await startAdmin(t, madeUpSource);
  t.ok(Math.abs(admin.startedAt - Date.now()) < 5000);
  t.equal((await getStatus(port)).uptimeSeconds, 0);
});

t.test('listen() rejects when the port is taken; later errors are logged', async (t) => {
  const { port, admin, log } = await startAdmin(t, madeUpSource);
  const second = new AdminServer(reportOn(madeUpSource), { host: HOST, port, logger: log.logger });
  await t.rejects(second.listen(), { code: 'EADDRINUSE' });
  admin['server'].emit('error', new Error('accept EMFILE'));
  t.match(log.lines, [/ERROR admin listener: accept EMFILE$/]);
});

t.test('close() ends idle keep-alive connections too', async (t) => {
  const log = new LogCapture();
  const admin = new AdminServer(reportOn(madeUpSource), { host: HOST, port: 0, logger: log.logger });
  const { port } = await admin.listen();
  const socket = net.connect({ host: HOST, port });
  socket.write('GET /status HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  const ended = new Promise((resolve) => socket.once('close', resolve));
  await admin.close();
  await ended;
  t.pass('closed while a connection was idle');
});

// ---------------------------------------------------------------------------------------------
// The renderer, on reports made up here.

/** A report at `time` with one pool of the given servers. */
function report(time: string, servers: Partial<Status['servers'][number]>[], uptimeSeconds = 5): Status {
  const full = servers.map((s, i) => ({
    name: `10.0.0.${i + 1}:80`,
    label: `10.0.0.${i + 1}:80`,
    pools: ['p'],
    up: true,
    lastCheck: null,
    requests: 0,
    inFlight: 0,
    failures: 0,
    responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, cut: 0 },
    ...s,
  }));
  const requests = full.reduce((n, s) => n + s.requests, 0);
  return {
    time,
    uptimeSeconds,
    connections: 0,
    pools: [
      {
        name: 'p',
        servers: full.map((s) => s.name),
        balance: 'round_robin',
        requests,
        inFlight: 0,
        responses: { '1xx': 0, '2xx': requests, '3xx': 0, '4xx': 0, '5xx': 0, cut: 0 },
        waiting: 0,
        queued: 0,
        queueFull: 0,
        queueTimeouts: 0,
        retriesDenied: 0,
        members: full.map((s) => ({ server: s.name, label: s.label, admin: 'ready' as const, weight: 1, maxConnections: 0, backup: false, ejected: false, ejections: 0 })),
      },
    ],
    servers: full,
    durations: { buckets: [{ le: '+Inf', count: 0 }], sum: 0, count: 0 },
    responses: [{ pool: 'p', status: 200, code: '', source: 'server', count: requests }],
  };
}

const cell = (html: string, server: string, cls: string) =>
  new RegExp(`data-server="${server.replace(/\./g, '\\.')}"[^]*?<td class="[^"]*\\b${cls}\\b[^"]*"[^>]*>(.*?)</td>`).exec(html)?.[1];

t.test('renderDashboard', async (t) => {
  t.test('req/s between two reports; "–" before the second or when no time passed', async (t) => {
    const first = report('2025-01-01T00:00:00.000Z', [{ requests: 10 }, { requests: 100 }]);
    const second = report('2025-01-01T00:00:02.000Z', [{ requests: 13 }, { requests: 180 }]);
    t.equal(cell(renderDashboard(first, null), '10.0.0.1:80', 'rate'), '–');
    t.equal(cell(renderDashboard(second, first), '10.0.0.1:80', 'rate'), '1.5', 'below 10: one decimal');
    t.equal(cell(renderDashboard(second, first), '10.0.0.2:80', 'rate'), '40', 'from 10 on: whole numbers');
    t.match(renderDashboard(second, first), '<dd id="rate">42</dd>', 'and over every pool');
    t.equal(cell(renderDashboard(second, second), '10.0.0.1:80', 'rate'), '–', 'no time between the reports');
    const fewer = report('2025-01-01T00:00:04.000Z', [{ requests: 0 }, { requests: 0 }]);
    t.equal(cell(renderDashboard(fewer, second), '10.0.0.1:80', 'rate'), '0.0', 'counts that went down (a reload) are no negative rate');
    const renamed = report('2025-01-01T00:00:04.000Z', [{ name: 'new:80', requests: 5 }]);
    t.equal(cell(renderDashboard(renamed, second), 'new:80', 'rate'), '–', 'a server new since the last report');
  });

  t.test('the last check: passed, failed, or none yet, and how long ago', async (t) => {
    const html = renderDashboard(
      report('2025-01-01T10:00:00.000Z', [
        { lastCheck: { ok: true, reason: 'status 204', at: '2025-01-01T09:59:58.400Z' } },
        { up: false, lastCheck: { ok: false, reason: 'timeout after 1000ms', at: '2025-01-01T09:57:55.000Z' } },
        { lastCheck: null },
        { lastCheck: { ok: true, reason: 'status 200', at: '2025-01-01T07:29:00.000Z' } },
        { lastCheck: { ok: true, reason: 'status 200', at: '2024-12-30T07:00:00.000Z' } },
        { lastCheck: { ok: true, reason: 'status 200', at: '2025-01-01T10:00:01.000Z' } },
      ]),
      null,
    );
    t.match(html, '<td class="check ok" data-check="ok">status 204 <span class="ago">1s ago</span></td>');
    t.match(html, '<td class="check failed" data-check="failed">timeout after 1000ms <span class="ago">2m 5s ago</span></td>');
    t.match(html, '<td class="check none" data-check="none">not checked yet</td>');
    t.match(html, '<span class="ago">2h 31m ago</span>');
    t.match(html, '<span class="ago">2d 3h ago</span>');
    t.match(html, '<span class="ago">0s ago</span>', 'a check stamped after the report (clocks apart) is "0s"');
    t.match(html, '<tr class="server" data-server="10.0.0.2:80" data-state="down">');
    t.match(html, '<span class="badge down">DOWN</span>');
  });

  t.test('pools: up, degraded, down; counts that are not zero stand out', async (t) => {
    const status = report('2025-01-01T00:00:00.000Z', [{ up: false }, { up: true, failures: 3, responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 2, cut: 0 } }]);
    t.match(renderDashboard(status, null), 'data-pool="p" data-health="degraded"><div class="pool-head"><h2>p</h2><span class="pool-up">1 of 2 up</span>');
    t.match(renderDashboard(status, null), '<td class="num errors nonzero">2</td><td class="num failures nonzero">3</td>');
    status.servers[1]!.up = false;
    t.match(renderDashboard(status, null), 'data-health="down"');
    status.servers[0]!.up = status.servers[1]!.up = true;
    t.match(renderDashboard(status, null), 'data-health="up"');
    t.match(renderDashboard(status, null), '<td class="num errors">0</td><td class="num failures">0</td>');
  });

  t.test('the header: uptime, connections, servers up', async (t) => {
    t.match(renderDashboard(report('2025-01-01T00:00:00.000Z', [{}], 59), null), '<dd id="uptime">59s</dd>');
    t.match(renderDashboard(report('2025-01-01T00:00:00.000Z', [{}], 3725), null), '<dd id="uptime">1h 2m</dd>');
    t.match(renderDashboard(report('2025-01-01T00:00:00.000Z', [{ up: false }, {}]), null), '<dd id="servers-up">1 / 2</dd>');
  });

  t.test('text from the config is escaped; a label unlike the name is shown under it', async (t) => {
    const status = report('2025-01-01T00:00:00.000Z', [
      { name: '10.0.0.9:80', label: 'app<1>:80', lastCheck: { ok: false, reason: '<img src=x onerror=alert(1)>', at: '2025-01-01T00:00:00.000Z' } },
    ]);
    status.pools[0]!.name = `/a"b'&<c>`;
    const html = renderDashboard(status, null);
    t.match(html, '<td class="name">10.0.0.9:80<span class="label">app&#60;1&#62;:80</span></td>');
    t.match(html, '&#60;img src=x onerror=alert(1)&#62;');
    t.match(html, 'data-pool="/a&#34;b&#39;&#38;&#60;c&#62;"');
    t.notMatch(html, '<img');
  });
});

t.test('renderPage: the report it embeds cannot end its script element', async (t) => {
  const status = report('2025-01-01T00:00:00.000Z', [{ label: '</script><script>alert(1)</script>' }]);
  const page = renderPage(status);
  t.equal(page.split('</script>').length - 1, 2, 'only the two script elements end');
  const json = /<script type="application\/json" id="initial-status">(.*?)<\/script>/s.exec(page)![1]!;
  t.same(JSON.parse(json), status, 'and it reads back as the same report');
});

t.test('metricsOf: every family with HELP and TYPE, label values escaped', async (t) => {
  const server = new Backend('10.0.0.1', 8081, 'app-1:8081');
  server.lastCheck = { ok: false, reason: 'status 500', at: Date.UTC(2025, 0, 2, 3, 4, 5, 500) };
  quiet.setHealth(server, false, 'status 500', 'check');
  server.stats.requests = 3;
  server.stats.byClass.splice(0, 6, 1, 0, 2, 0, 0, 0);
  server.stats.failures = 1;
  const pool = new Pool('/say "hi"\\\n', [server]);
  pool.stats.requests = 3;
  pool.stats.byClass.splice(0, 6, 1, 0, 2, 0, 0, 0);
  pool.responses.fromServer[200] = 2;
  pool.responses.balancer('UPSTREAM_TIMEOUT');
  const unrouted = new ResponseCounts();
  unrouted.balancer('HEADER_TIMEOUT');
  const durations = new DurationHistogram();
  durations.observe(0.003);
  durations.observe(0.75);
  const text = metricsOf(statusOf({ snapshot: new Snapshot([pool]), durations, connections: 2, unrouted }, 0, 0));
  t.equal(text, EXPECTED_METRICS);
  // Every sample belongs to the family whose HELP and TYPE came last.
  const unchecked = metricsOf(statusOf(madeUpSource(), 0, 0));
  let family = '';
  for (const line of unchecked.trimEnd().split('\n')) {
    const help = /^# HELP (\w+) /.exec(line);
    if (help !== null) family = help[1]!;
    else if (line.startsWith('# TYPE ')) t.ok(line.startsWith(`# TYPE ${family} `), line);
    else t.ok(line.startsWith(family), `${line} is in ${family}`);
  }
  t.match(unchecked, 'lb_health_check_ok{server="10.0.0.1:8081"} 1');
  t.notMatch(unchecked, 'lb_health_check_ok{server="10.0.0.2:8081"}', 'no check result before the first check');
  t.notMatch(unchecked, 'lb_health_check_timestamp_seconds{server="10.0.0.2:8081"}');
});

const EXPECTED_METRICS = `# HELP lb_server_requests_total Requests a server finished, by status class (class "cut": ended before a status).
# TYPE lb_server_requests_total counter
lb_server_requests_total{server="10.0.0.1:8081",class="1xx"} 0
lb_server_requests_total{server="10.0.0.1:8081",class="2xx"} 2
lb_server_requests_total{server="10.0.0.1:8081",class="3xx"} 0
lb_server_requests_total{server="10.0.0.1:8081",class="4xx"} 0
lb_server_requests_total{server="10.0.0.1:8081",class="5xx"} 0
lb_server_requests_total{server="10.0.0.1:8081",class="cut"} 1
# HELP lb_server_in_flight Requests sent to a server and not finished yet.
# TYPE lb_server_in_flight gauge
lb_server_in_flight{server="10.0.0.1:8081"} 0
# HELP lb_server_failures_total Connections to a server that failed before a response: refused, reset, timed out.
# TYPE lb_server_failures_total counter
lb_server_failures_total{server="10.0.0.1:8081"} 1
# HELP lb_server_up Whether a server takes requests (1) or is out of rotation (0).
# TYPE lb_server_up gauge
lb_server_up{server="10.0.0.1:8081"} 0
# HELP lb_health_check_ok Whether the last health check of a server passed (1) or failed (0).
# TYPE lb_health_check_ok gauge
lb_health_check_ok{server="10.0.0.1:8081"} 0
# HELP lb_health_check_timestamp_seconds When the last health check of a server ended, in seconds since the epoch.
# TYPE lb_health_check_timestamp_seconds gauge
lb_health_check_timestamp_seconds{server="10.0.0.1:8081"} 1735787045.5
# HELP lb_pool_requests_total Requests a pool finished, by status class (class "cut": ended before a status).
# TYPE lb_pool_requests_total counter
lb_pool_requests_total{pool="/say \\"hi\\"\\\\\\n",class="1xx"} 0
lb_pool_requests_total{pool="/say \\"hi\\"\\\\\\n",class="2xx"} 2
lb_pool_requests_total{pool="/say \\"hi\\"\\\\\\n",class="3xx"} 0
lb_pool_requests_total{pool="/say \\"hi\\"\\\\\\n",class="4xx"} 0
lb_pool_requests_total{pool="/say \\"hi\\"\\\\\\n",class="5xx"} 0
lb_pool_requests_total{pool="/say \\"hi\\"\\\\\\n",class="cut"} 1
# HELP lb_pool_in_flight Requests routed to a pool and not finished yet.
# TYPE lb_pool_in_flight gauge
lb_pool_in_flight{pool="/say \\"hi\\"\\\\\\n"} 0
# HELP lb_responses_total Responses by pool ("" before routing), status and who made them: the balancer (code: its error code) or a server (code "").
# TYPE lb_responses_total counter
lb_responses_total{pool="",status="408",code="HEADER_TIMEOUT",source="balancer"} 1
lb_responses_total{pool="/say \\"hi\\"\\\\\\n",status="200",code="",source="server"} 2
lb_responses_total{pool="/say \\"hi\\"\\\\\\n",status="504",code="UPSTREAM_TIMEOUT",source="balancer"} 1
# HELP lb_pool_queue_length Requests waiting in a pool's queue for a server below its max_connections.
# TYPE lb_pool_queue_length gauge
lb_pool_queue_length{pool="/say \\"hi\\"\\\\\\n"} 0
# HELP lb_pool_queue_rejected_total Requests answered 503 by a pool's queue: full (QUEUE_FULL) or waited too long (QUEUE_TIMEOUT).
# TYPE lb_pool_queue_rejected_total counter
lb_pool_queue_rejected_total{pool="/say \\"hi\\"\\\\\\n",reason="full"} 0
lb_pool_queue_rejected_total{pool="/say \\"hi\\"\\\\\\n",reason="timeout"} 0
# HELP lb_pool_retries_denied_total Retries a pool's retry_budget refused (502 RETRY_BUDGET).
# TYPE lb_pool_retries_denied_total counter
lb_pool_retries_denied_total{pool="/say \\"hi\\"\\\\\\n"} 0
# HELP lb_pool_server_weight The weight a pool gives a server now (slow start ramps it).
# TYPE lb_pool_server_weight gauge
lb_pool_server_weight{pool="/say \\"hi\\"\\\\\\n",server="10.0.0.1:8081"} 1
# HELP lb_pool_server_ejected Whether outlier detection has ejected a server from a pool now (1) or not (0).
# TYPE lb_pool_server_ejected gauge
lb_pool_server_ejected{pool="/say \\"hi\\"\\\\\\n",server="10.0.0.1:8081"} 0
# HELP lb_pool_server_ejections_total Times outlier detection ejected a server from a pool.
# TYPE lb_pool_server_ejections_total counter
lb_pool_server_ejections_total{pool="/say \\"hi\\"\\\\\\n",server="10.0.0.1:8081"} 0
# HELP lb_client_connections Client connections open now.
# TYPE lb_client_connections gauge
lb_client_connections 2
# HELP lb_request_duration_seconds Time from a request head to the end of its response.
# TYPE lb_request_duration_seconds histogram
lb_request_duration_seconds_bucket{le="0.005"} 1
lb_request_duration_seconds_bucket{le="0.01"} 1
lb_request_duration_seconds_bucket{le="0.025"} 1
lb_request_duration_seconds_bucket{le="0.05"} 1
lb_request_duration_seconds_bucket{le="0.1"} 1
lb_request_duration_seconds_bucket{le="0.25"} 1
lb_request_duration_seconds_bucket{le="0.5"} 1
lb_request_duration_seconds_bucket{le="1"} 2
lb_request_duration_seconds_bucket{le="2.5"} 2
lb_request_duration_seconds_bucket{le="5"} 2
lb_request_duration_seconds_bucket{le="10"} 2
lb_request_duration_seconds_bucket{le="+Inf"} 2
lb_request_duration_seconds_sum 0.753
lb_request_duration_seconds_count 2
`;

t.test('/status lists a pool\'s responses by status, a server\'s before the balancer\'s of the same status, then by code', async (t) => {
  const pool = new Pool('p', [new Backend('10.0.0.1', 80, 'a:80')]);
  pool.responses.balancer('UPSTREAM_RESET');
  pool.responses.balancer('BAD_STATUS_LINE');
  pool.responses.fromServer[502] = 1;
  pool.responses.fromServer[101] = 1;
  const status = statusOf({ snapshot: new Snapshot([pool]), durations: new DurationHistogram(), connections: 0 }, 0, 0);
  t.same(
    status.responses.map((r) => `${r.status} ${r.code} ${r.source}`),
    ['101  server', '502  server', '502 BAD_STATUS_LINE balancer', '502 UPSTREAM_RESET balancer'],
  );
});

t.test('escapeLabelValue: backslash, double quote and line feed', async (t) => {
  t.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  t.equal(escapeLabelValue('www.mango.com'), 'www.mango.com');
});

t.test('addCounters: a cluster’s report adds up its workers’ counters, by pool and server name', async (t) => {
  // Two reports of the same made-up counters: after adding one to the other, every count doubles.
  const total = statusOf(madeUpSource(), 0, 0);
  const worker = statusOf(madeUpSource(), 0, 0);
  addCounters(total, worker);
  t.same(
    [total.pools[0]!.requests, total.pools[0]!.responses['2xx'], total.pools[0]!.responses.cut],
    [24, 16, 2],
    'pool counters summed',
  );
  t.same(
    total.servers.map((s) => [s.requests, s.inFlight, s.failures, s.responses['5xx']]),
    [
      [24, 2, 0, 2],
      [0, 0, 4, 0],
    ],
    'server counters summed',
  );
  t.same([total.connections, total.durations.count, total.durations.sum], [6, 10, 2 * 37.205]);
  t.same(total.durations.buckets.map((b) => b.count), worker.durations.buckets.map((b) => 2 * b.count), 'every bucket');
  t.same(total.responses, MADE_UP_RESPONSES.map((r) => ({ ...r, count: 2 * r.count })), 'every lb_responses_total series');
  worker.servers[0]!.up = false;
  addCounters(total, worker);
  t.equal(total.servers[0]!.up, true, 'up and the last check stay the total’s (the primary’s checker)');

  // A worker between two configurations: what it does not have adds nothing, what the total lacks is left out.
  const other = statusOf(madeUpSource(), 0, 0);
  other.pools[0]!.name = '/elsewhere';
  other.servers[0]!.name = '10.9.9.9:80';
  for (const r of other.responses) if (r.pool !== '') r.pool = '/elsewhere';
  addCounters(total, other);
  t.same([total.pools[0]!.requests, total.servers[0]!.requests, total.servers[1]!.failures], [36, 36, 8], 'only b, in both, added');
  t.same(total.responses.map((r) => r.count), [4, 8, 21, 3, 3, 3], 'the unrouted series added; the other pool\'s left out');

  // Series one worker has and the total has not yet come in their place: pool "" first, then by status and code.
  const first = statusOf(madeUpSource(), 0, 0);
  first.responses = [];
  const second = statusOf(madeUpSource(), 0, 0);
  second.responses.reverse();
  second.responses.push({ pool: 'www.mango.com', status: 502, code: 'BAD_STATUS_LINE', source: 'balancer', count: 4 });
  addCounters(first, second);
  t.same(
    first.responses.map((r) => `${r.pool} ${r.status} ${r.code}`),
    [' 400 MISSING_HOST', ' 404 NO_ROUTE', 'www.mango.com 200 ', 'www.mango.com 204 ', 'www.mango.com 404 ', 'www.mango.com 502 BAD_STATUS_LINE', 'www.mango.com 502 UPSTREAM_RESET'],
  );
});

t.test('a cluster’s report: the page counts the workers, /metrics has lb_workers; one process has neither', async (t) => {
  const status = statusOf(madeUpSource(), 0, Date.UTC(2025, 0, 2));
  t.notMatch(renderDashboard(status, null), 'id="workers"');
  t.notMatch(metricsOf(status), 'lb_workers');
  status.workers = [
    { pid: 101, connections: 1, requests: 5 },
    { pid: 102, connections: 2, requests: 7 },
  ];
  t.match(renderDashboard(status, null), '<div><dt>workers</dt><dd id="workers">2</dd></div>');
  t.match(metricsOf(status), '# HELP lb_workers Worker processes that reported to this scrape (lb --workers).\n# TYPE lb_workers gauge\nlb_workers 2\n');
});

t.test('a report that rejects (a cluster’s) is a 500 too', async (t) => {
  const log = new LogCapture();
  const admin = new AdminServer(async () => Promise.reject(new Error('no worker answered')), { host: HOST, port: 0, logger: log.logger });
  const { port } = await admin.listen();
  t.teardown(() => admin.close());
  t.same((await fetchAdmin(port, '/metrics')).status, 500);
  t.match(log.lines, [/ERROR admin \/metrics: no worker answered$/]);
});

t.test('the pool options on /status, the dashboard and in a cluster’s sum: weights, limits, backups, ejections, the queue', async (t) => {
  const servers = [new Backend('10.0.0.1', 80, 'a:80'), new Backend('10.0.0.2', 80, 'b:80')];
  const members = servers.map((s) => ({ host: s.host, port: s.port, name: s.label, weight: 2, maxConnections: 0, backup: false, slowStart: 0 }));
  members[1] = { ...members[1]!, maxConnections: 5, backup: true };
  const outlier = { consecutiveFailures: 1, count5xx: true, ejection: 60_000, maxEjected: 1 };
  const balancing = { balance: 'least_conn' as const, hashKey: null, sticky: null, queue: { max: 10, timeout: 1000 }, outlier, retryBudget: 0.2, sendProxy: 0 as const, backendTls: null };
  const pool = new Pool('p', servers, members, balancing);
  pool.answered(0, 500, 1, 0);
  const source = { snapshot: new Snapshot([pool]), durations: new DurationHistogram(), connections: 0 };
  const status = statusOf(source, 0, 0);
  t.same(status.pools[0]!.members, [
    { server: '10.0.0.1:80', label: 'a:80', admin: 'ready', weight: 2, maxConnections: 0, backup: false, ejected: true, ejections: 1 },
    { server: '10.0.0.2:80', label: 'b:80', admin: 'ready', weight: 2, maxConnections: 5, backup: true, ejected: false, ejections: 0 },
  ]);
  t.equal(status.pools[0]!.balance, 'least_conn');
  const html = renderDashboard(status, null);
  t.match(html, /data-server="10\.0\.0\.1:80" data-state="ejected"/, 'an ejected server is drawn so');
  t.match(html, '<span class="role">backup</span>');
  t.match(html, '<span class="limit">max 5</span>');
  // Admin states as the page and GET /servers show them; a down server is down whatever its state.
  pool.setState(1, 'drain', 0);
  servers[1]!.stats.inFlight = 1;
  t.match(renderDashboard(statusOf(source, 0, 0), null), /data-server="10\.0\.0\.2:80" data-state="drain"/, 'draining, one in flight');
  servers[1]!.stats.inFlight = 0;
  t.match(renderDashboard(statusOf(source, 0, 0), null), /data-server="10\.0\.0\.2:80" data-state="drained"/, 'drained');
  pool.setState(1, 'maint', 0);
  t.match(renderDashboard(statusOf(source, 0, 0), null), /data-server="10\.0\.0\.2:80" data-state="maint"/);
  quiet.setHealth(servers[1]!, false, 'test', 'check');
  t.match(renderDashboard(statusOf(source, 0, 0), null), /data-server="10\.0\.0\.2:80" data-state="down"/);
  t.match(serverEntries(statusOf(source, 0, 0)), [{ health: 'up', admin: 'ready', ejected: true }, { health: 'down', admin: 'maint', drained: false }]);
  quiet.setHealth(servers[1]!, true, 'test', 'check');
  pool.setState(1, 'ready', 0);

  const worker = statusOf(source, 0, 0);
  worker.pools[0]!.members[1]!.ejected = true;
  worker.pools[0]!.waiting = 3;
  const total = statusOf(source, 0, 0);
  total.pools[0]!.members[0]!.ejected = false;
  addCounters(total, worker);
  t.match(total.pools[0], { waiting: 3, members: [{ ejected: true, ejections: 2 }, { ejected: true, ejections: 0 }] }, 'ejected in any worker is ejected');
  const between = statusOf(source, 0, 0);
  between.pools[0]!.members = [between.pools[0]!.members[1]!];
  addCounters(total, between);
  t.equal(total.pools[0]!.members[0]!.ejections, 2, 'a worker with other servers in the pool adds none of its members');
});
