// The admin API end to end (interface.md, "Runtime control"), one process, real backends: GET
// /servers; POST state and weight with the bearer token (401, 403, 400, 404 and nothing changed
// when refused); drain (in flight finish, `drained`, sticky clients still come), maint (sticky
// clients go elsewhere), ready; weights for the next pick; ?pool=; what survives a reload. The
// cluster's side (every worker, a replacement too) is in cluster.test.ts.

import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseConfig } from '../src/config/load.js';
import { load } from './helpers/load.js';
import { Harness, HOST, proxyTest, q, request, waitFor, within, type Proxy, type Response } from './helpers/net.js';

const TOKEN = 'test-token-0123456789abcdef0123456789';
const dir = mkdtempSync(join(tmpdir(), 'lb-control-'));
writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
const TOKEN_FILE = join(dir, 'token');

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to the admin listener. */
function admin(port: number, method: string, path: string, body = '', headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, path, method, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };

/** The admin port the proxy logged. */
async function adminPort(proxy: Proxy): Promise<number> {
  await proxy.log.waitFor('status page on http://');
  return Number(/status page on http:\/\/127\.0\.0\.1:(\d+)\//.exec(proxy.log.matching('status page on')[0]!)![1]);
}

/** A proxy from YAML, with its admin port. */
async function start(h: Harness, yaml: string): Promise<{ proxy: Proxy; port: number }> {
  const proxy = await h.proxy(yaml);
  return { proxy, port: await adminPort(proxy) };
}

async function servedBy(h: Harness, proxy: Proxy, count: number, headers: [string, string][] = []): Promise<Response[]> {
  const client = await h.client(proxy);
  const out: Response[] = [];
  for (let i = 0; i < count; i++) out.push(await client.send(request('GET', '/', { host: 'pool.test', headers })));
  return out;
}

const names = (responses: Response[]) => responses.map((r) => r.header('x-server')).join('');

t.test('read-only without token_file: GET /servers; every POST 403', (t) =>
  proxyTest(t, 'read-only', async (t, h) => {
    const [a] = await h.backends('a');
    const { port } = await start(h, `healthcheck: { interval: 1m }\nadmin: 127.0.0.1:0\nservers: [${q(a!)}]`);
    const list = await admin(port, 'GET', '/servers');
    t.equal(list.status, 200);
    t.same(JSON.parse(list.body), {
      servers: [{ pool: 'default', server: a!.address, health: 'up', admin: 'ready', weight: 1, in_flight: 0, drained: false, ejected: false }],
    });
    const refused = await admin(port, 'POST', `/servers/${a!.address}/state`, 'drain', auth);
    t.equal(refused.status, 403);
    t.match(refused.body, 'read-only');
  }),
);

t.test('POST: the token, Origin, the body, the names; nothing changes when refused', (t) =>
  proxyTest(t, 'refusals', async (t, h) => {
    const [a] = await h.backends('a');
    const { proxy, port } = await start(h, `healthcheck: { interval: 1m }\nadmin: { address: 127.0.0.1:0, token_file: "${TOKEN_FILE}" }\nservers: [${q(a!)}]`);
    const path = `/servers/${encodeURIComponent(a!.address)}/state`;
    const none = await admin(port, 'POST', path, 'maint');
    t.equal(none.status, 401);
    t.equal(none.headers['www-authenticate'], 'Bearer');
    await proxy.log.waitFor('admin API: refused a POST from 127.0.0.1: no bearer token');
    t.equal((await admin(port, 'POST', path, 'maint', { authorization: 'Bearer wrong' })).status, 401);
    await proxy.log.waitFor('admin API: refused a POST from 127.0.0.1: a wrong bearer token');
    t.equal((await admin(port, 'POST', path, 'maint', { authorization: `Basic ${TOKEN}` })).status, 401, 'not a bearer token');
    t.equal((await admin(port, 'POST', path, 'maint', { ...auth, origin: 'http://evil.example' })).status, 403, 'a browser page');
    const bad = await admin(port, 'POST', path, 'sleep', auth);
    t.equal(bad.status, 400);
    t.match(bad.body, 'expected ready, drain or maint');
    t.equal((await admin(port, 'POST', `/servers/${a!.address}/weight`, '257', auth)).status, 400, 'a weight above 256');
    t.equal((await admin(port, 'POST', `/servers/${a!.address}/weight`, '-1', auth)).status, 400);
    t.equal((await admin(port, 'POST', path, 'x'.repeat(2000), auth)).status, 413, 'a body far too long');
    const unknown = await admin(port, 'POST', '/servers/nosuch:1/state', 'drain', auth);
    t.equal(unknown.status, 404);
    t.match(unknown.body, 'no server "nosuch:1"');
    t.equal((await admin(port, 'POST', `${path}?pool=nosuch`, 'drain', auth)).status, 404, 'an unknown pool');
    const notInPool = await admin(port, 'POST', '/servers/nosuch:1/state?pool=default', 'drain', auth);
    t.same([notInPool.status, notInPool.body], [404, 'Not Found: no server "nosuch:1" in pool "default"\n']);
    t.equal((await admin(port, 'POST', '/servers/%E0%A4%A/state', 'drain', auth)).status, 404, 'a name that is not valid URL-encoding');
    const get = await admin(port, 'GET', path);
    t.equal(get.status, 405);
    t.equal(get.headers.allow, 'POST');
    t.equal((await admin(port, 'POST', '/servers', '', auth)).status, 405, 'GET /servers only');
    t.match(JSON.parse((await admin(port, 'GET', '/servers')).body), { servers: [{ admin: 'ready', weight: 1 }] }, 'nothing changed');
  }),
);

t.test('drain: no new requests, in flight finish, drained once none is left; sticky clients still come; maint sends them away', (t) =>
  proxyTest(t, 'drain', async (t, h) => {
    const [a, b] = await h.backends('a', 'b');
    const { proxy, port } = await start(
      h,
      `healthcheck: { interval: 1m }\nadmin: { address: 127.0.0.1:0, token_file: "${TOKEN_FILE}" }\nsticky: { cookie: S }\nservers: [${q(a!)}, ${q(b!)}]`,
    );
    // A sticky cookie for each server, while both are ready (round robin: one each).
    const cookies = new Map((await servedBy(h, proxy, 2)).map((r) => [r.header('x-server')!, r.header('set-cookie')!.split(';')[0]!]));
    t.same([...cookies.keys()].sort(), ['a', 'b']);
    // A request in flight at one of them: slow.
    const slowClient = await h.client(proxy);
    const slow = slowClient.send(request('GET', '/slow?ms=400', { host: 'pool.test' }));
    await waitFor('the slow request at a server', () => a!.exchanges.length + b!.exchanges.length === 3);
    const slowAt = a!.exchanges.some((e) => e.req.url === '/slow?ms=400') ? a! : b!;
    const other = slowAt === a ? b! : a!;
    const drained = await admin(port, 'POST', `/servers/${slowAt.address}/state`, 'drain', auth);
    t.equal(drained.status, 200);
    t.same(JSON.parse(drained.body).servers, [
      { pool: 'default', server: slowAt.address, health: 'up', admin: 'drain', weight: 1, in_flight: 1, drained: false, ejected: false },
    ]);
    await proxy.log.waitFor(`server ${slowAt.address} (pool default): ready -> drain, by the admin API (127.0.0.1)`);
    t.equal(names(await servedBy(h, proxy, 4)), other.name.repeat(4), 'no new request to the draining server');
    t.equal((await within(slow, 'the slow response')).status, 200, 'the request in flight finished');
    t.match(JSON.parse((await admin(port, 'GET', '/servers')).body).servers, [{ drained: slowAt === a }, { drained: slowAt === b }]);
    // A sticky client of the draining server still goes to it.
    const cookie = cookies.get(slowAt.name)!;
    t.equal(names(await servedBy(h, proxy, 2, [['Cookie', cookie]])), slowAt.name.repeat(2), 'sticky clients still come while it drains');
    t.equal((await admin(port, 'POST', `/servers/${slowAt.address}/state`, 'maint', auth)).status, 200);
    t.equal(names(await servedBy(h, proxy, 2, [['Cookie', cookie]])), other.name.repeat(2), 'in maintenance: elsewhere');
    t.equal((await admin(port, 'POST', `/servers/${slowAt.address}/state`, 'ready', auth)).status, 200);
    t.equal(new Set(names(await servedBy(h, proxy, 4))).size, 2, 'ready: both again');
  }),
);

t.test('weight: for the next pick; 0 takes no new requests; ?pool= changes one pool only; survives a reload', (t) =>
  proxyTest(t, 'weight', async (t, h) => {
    const [a, b] = await h.backends('a', 'b');
    const yaml = `healthcheck: { interval: 1m }\nadmin: { address: 127.0.0.1:0, token_file: "${TOKEN_FILE}" }\nservers: [${q(a!)}, ${q(b!)}]\npaths:\n  - { path: /p, servers: [${q(a!)}, ${q(b!)}] }`;
    const { proxy, port } = await start(h, yaml);
    const three = await admin(port, 'POST', `/servers/${a!.address}/weight?pool=default`, '3', auth);
    t.equal(three.status, 200);
    t.same(JSON.parse(three.body).servers.map((s: { pool: string; weight: number }) => [s.pool, s.weight]), [['default', 3]], 'the default pool only');
    t.equal(names(await servedBy(h, proxy, 8)), 'aabaaaba', '3:1, smooth');
    const client = await h.client(proxy);
    const inP: string[] = [];
    for (let i = 0; i < 4; i++) inP.push((await client.send(request('GET', '/p', { host: 'pool.test' }))).header('x-server')!);
    t.equal(inP.join(''), 'abab', 'pool /p keeps weight 1');
    t.equal((await admin(port, 'POST', `/servers/${a!.address}/weight`, '0', auth)).status, 200);
    t.equal(names(await servedBy(h, proxy, 4)), 'bbbb', 'weight 0: no new requests');
    t.equal((await admin(port, 'POST', `/servers/${b!.address}/state`, 'drain', auth)).status, 200);
    const config = parseConfig(yaml, 'test.yaml');
    config.listen = proxy.config.listen;
    await proxy.server.reload(config);
    t.match(JSON.parse((await admin(port, 'GET', '/servers')).body).servers, [
      { pool: '/p', server: a!.address, weight: 0, admin: 'ready' },
      { pool: '/p', server: b!.address, weight: 1, admin: 'drain' },
      { pool: 'default', server: a!.address, weight: 0, admin: 'ready' },
      { pool: 'default', server: b!.address, weight: 1, admin: 'drain' },
    ], 'states and weights survive a reload');
    t.equal((await admin(port, 'POST', `/servers/${a!.address}/weight`, '1', auth)).status, 200);
    t.equal((await admin(port, 'POST', `/servers/${b!.address}/state`, 'ready', auth)).status, 200);
  }),
);

t.test('under steady load: drain, maint and ready move the traffic with zero client errors', (t) =>
  proxyTest(t, 'steady load', async (t, h) => {
    const [a, b] = await h.backends('a', 'b');
    const { proxy, port } = await start(h, `healthcheck: { interval: 1m }\nadmin: { address: 127.0.0.1:0, token_file: "${TOKEN_FILE}" }\nservers: [${q(a!)}, ${q(b!)}]`);
    const traffic = load(proxy.port, 'pool.test', 4);
    await waitFor('both to serve', () => traffic.count('a') > 50 && traffic.count('b') > 50, 10_000);
    const post = async (state: string) => t.equal((await admin(port, 'POST', `/servers/${a!.address}/state`, state, auth)).status, 200, state);

    for (const state of ['drain', 'maint']) {
      await post(state);
      // Requests picked before the change may still reach it: count from when the pool says it is
      // drained and every client has had one more answer since (the last answer from a may still
      // be on its way to its client when the count of requests in flight reaches 0).
      await waitFor(`a to be drained (${state})`, () => proxy.server.servers[0]!.stats.inFlight === 0, 5000);
      const drainedAt = traffic.count('b');
      await waitFor('each client to have had an answer since', () => traffic.count('b') > drainedAt + 20, 10_000);
      const atA = traffic.count('a');
      const atB = traffic.count('b');
      await waitFor('more traffic', () => traffic.count('b') > atB + 200, 10_000);
      t.equal(traffic.count('a'), atA, `no new request reaches a server in ${state}`);
      await post('ready');
      await waitFor('a to serve again', () => traffic.count('a') > atA + 50, 10_000);
    }
    await traffic.stop();
    t.strictSame(traffic.stats.failed, [], 'zero failed client requests');
    t.comment(`${traffic.stats.ok} requests through drain, maint and ready; none failed`);
  }),
);
