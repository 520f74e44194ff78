// The proxy end to end over loopback sockets, when things go right: routing, round robin, keep-
// alive and pipelining, bodies byte for byte in both directions, the headers it adds and removes,
// backend connection reuse, and backpressure. Backends are servers/app.js stubs; the client is a
// raw socket with its own response reader (helpers/net.ts).

import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { deterministicBlocks } from '../servers/app.js';
import { parseConfig } from '../src/config/load.js';
import { ProxyServer } from '../src/proxy/proxy-server.js';
import { chunked, Harness, LogCapture, proxyTest, q, request, serverOf, sha256, waitFor, waitStalled, within, type Backend } from './helpers/net.js';

const MiB = 1024 * 1024;

/** A body of `n` pseudo-random bytes. */
function randomBody(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The rawHeaders the /headers endpoint saw, as [name, value] pairs. */
function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

// Two proxies for the whole file (starting one costs its health-check worker, most of a second),
// each test on its own Host and pool so that counts and round-robin positions are its own.
const root = new Harness(t);
const B: Record<string, Backend> = {};
for (const name of [
  ...['a', 'b', 'c', 'd', 'e', 'f', 'p1', 'p2', 'p3'],
  ...['body', 'slow-reader', 'headers', 'reuse', 'stale', 'concurrent', 'logged', 'conn-close', 'backpressure', 'h10', 'mango'],
  ...['host-a', 'host-b', 'path-mango', 'path-green', 'path-apple', 'default', 'shared', 'by-name'],
]) {
  B[name] = await root.backend(name);
}
const pool = (...names: string[]) => `[${names.map((n) => q(B[n]!)).join(', ')}]`;

/** No default pool: what matches nothing is 404. */
const main = await root.proxy(`
healthcheck: { interval: 1m }
hosts:
  - { host: rr.test, servers: ${pool('a', 'b', 'c')} }
  - { host: rr-across.test, servers: ${pool('d', 'e', 'f')} }
  - { host: pipe.test, servers: ${pool('p1', 'p2', 'p3')} }
  - { host: body.test, servers: ${pool('body')} }
  - { host: slow-reader.test, servers: ${pool('slow-reader')} }
  - { host: headers.test, servers: ${pool('headers')} }
  - { host: reuse.test, servers: ${pool('reuse')} }
  - { host: stale.test, servers: ${pool('stale')} }
  - { host: concurrent.test, servers: ${pool('concurrent')} }
  - { host: log.test, servers: ${pool('logged')} }
  - { host: conn-close.test, servers: ${pool('conn-close')} }
  - { host: backpressure.test, servers: ${pool('backpressure')} }
paths:
  - { path: /mango, servers: ${pool('mango')} }
  - { path: /headers, servers: ${pool('h10')} }
  - { path: /h10, servers: ${pool('h10')} }
  - { path: /bytes, servers: ${pool('h10')} }
`);

/** Routing with a default pool; 127.0.0.0/8 is a trusted proxy here. */
const routed = await root.proxy(`
healthcheck: { interval: 1m }
hosts:
  - { host: www.mango.com, servers: ${pool('host-a', 'host-b')} }
  - { host: shared.test, servers: ${pool('shared')} }
  - { host: by-name.test, servers: ["localhost:${B['by-name']!.port}"] }
paths:
  - { path: /mango, servers: ${pool('path-mango')} }
  - { path: /mango/green/, servers: ${pool('path-green')} }
  - { path: /apple, servers: ${pool('path-apple')} }
  - { path: /shared, servers: ${pool('shared')} }
servers: ${pool('default')}
trusted_proxies: ["127.0.0.0/8"]
`);

const onMain = { proxy: main };
const onRouted = { proxy: routed };

// ---------------------------------------------------------------------------------------------
// Routing

proxyTest(t, 'routing: Host (any case, with a port), then the longest path prefix on a segment boundary, then the default pool', async (t, h) => {
  const client = await h.client(routed);
  const cases: [host: string, target: string, server: RegExp][] = [
    ['www.mango.com', '/apple', /^host-[ab]$/],
    ['WWW.Mango.COM:8080', '/', /^host-[ab]$/],
    ['other.test', '/mango', /^path-mango$/],
    ['other.test', '/mango/', /^path-mango$/],
    ['other.test', '/mango?x=1', /^path-mango$/],
    ['other.test', '/mango/x?y=1', /^path-mango$/],
    ['other.test', '/mangoes', /^default$/],
    ['other.test', '/mango/green', /^path-green$/],
    ['other.test', '/mango/green/leaf', /^path-green$/],
    ['other.test', '/mango/greenish', /^path-mango$/],
    ['other.test', '/apple/pie', /^path-apple$/],
    ['other.test', '/Apple', /^default$/],
    ['other.test', '/', /^default$/],
  ];
  // All on one keep-alive connection: each request is routed on its own.
  for (const [host, target, server] of cases) {
    const res = await client.get(target, host);
    t.equal(res.status, 200, `${host} ${target}: 200`);
    t.match(res.header('x-server'), server, `${host} ${target} goes to ${server}`);
    t.equal(res.json().path, target, 'the backend gets the target as sent');
  }
}, onRouted);

proxyTest(t, 'routing: wildcard hosts (exact first, the longer wildcard next) and a host\'s own paths, one keep-alive connection', async (t, h) => {
  const [shop, api, any, deep, top] = await h.backends('shop', 'shop-api', 'any', 'deep', 'top');
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
hosts:
  - host: shop.test
    servers: [${q(shop!)}]
    paths: [{path: /api, servers: [${q(api!)}]}]
  - host: "*.test"
    servers: [${q(any!)}]
  - host: "*.deep.test"
    paths: [{path: /d, servers: [${q(deep!)}]}]
paths: [{path: /top, servers: [${q(top!)}]}]
`);
  const client = await h.client(proxy);
  const cases: [host: string, target: string, server: string][] = [
    ['shop.test', '/api/users', 'shop-api'],
    ['SHOP.test:8080', '/', 'shop'],
    ['www.test', '/api', 'any'],
    ['a.deep.test', '/d/x', 'deep'],
    ['a.deep.test', '/other', 'any'],
    ['a.deep.test', '/top', 'any'],
    ['other.example', '/top/x', 'top'],
  ];
  for (const [host, target, server] of cases) {
    const res = await client.get(target, host);
    t.equal(res.header('x-server'), server, `${host} ${target} goes to ${server}`);
  }
  t.equal((await client.get('/', 'other.example')).status, 404, 'nothing matched: 404');
  t.strictSame(proxy.server.pools.map((p) => p.name), ['shop.test/api', 'shop.test', '*.test', '*.deep.test/d', '/top']);
});

proxyTest(t, 'routing: an absolute-form target is routed by its authority, which replaces Host', async (t, h) => {
  const client = await h.client(routed);
  let res = await client.send(request('GET', 'http://www.mango.com/apple', { host: 'other.test' }));
  t.match(res.header('x-server'), /^host-/, 'by the authority, not by Host: other.test');
  t.equal(res.json().path, '/apple', 'origin-form upstream');

  res = await client.send(request('GET', 'http://other.test/apple?x=1', { host: 'www.mango.com' }));
  t.equal(res.header('x-server'), 'path-apple');
  t.equal(res.json().path, '/apple?x=1');

  res = await client.send(request('GET', 'HTTP://WWW.MANGO.COM:8080/headers', { host: 'other.test' }));
  const headers = pairs(res.json<{ rawHeaders: string[] }>().rawHeaders);
  t.same(
    headers.filter(([n]) => /^host$/i.test(n)),
    [['Host', 'WWW.MANGO.COM:8080']],
    'one Host, the target’s authority',
  );
}, onRouted);

proxyTest(t, 'routing: a keep-alive connection is never pinned: /mango, /apple, /mango go to their own pools', async (t, h) => {
  const [mango, apple] = [B['path-mango']!, B['path-apple']!];
  const before = [mango.requests, apple.requests, mango.sockets.length];
  const client = await h.client(routed);
  const servers = [];
  for (const target of ['/mango', '/apple', '/mango']) servers.push((await client.get(target, 'other.test')).header('x-server'));
  t.same(servers, ['path-mango', 'path-apple', 'path-mango']);
  t.same([mango.requests - before[0]!, apple.requests - before[1]!], [2, 1]);
  t.equal(mango.sockets.length, before[2], 'the /mango requests went over the pooled backend connection');
}, onRouted);

proxyTest(t, 'routing: no route is 404 "Not Found", and the connection stays usable', async (t, h) => {
  const mango = B.mango!;
  const client = await h.client(main);
  let res = await client.get('/mangoes', 'nowhere.test');
  t.equal(res.status, 404);
  t.equal(res.text(), 'Not Found');
  t.equal(res.header('content-type'), 'text/plain');
  t.equal(res.header('connection'), undefined, 'no Connection: close');
  res = await client.send(request('HEAD', '/nothing', { host: 'nowhere.test' }), { head: true });
  t.equal(res.status, 404, 'HEAD');
  t.equal(res.header('content-length'), '9', 'HEAD: the length of the body it would have');
  res = await client.get('/mango', 'nowhere.test');
  t.equal(res.status, 200, 'the next request on the connection');

  // Pipelined: two answered at once by the proxy, then one that goes to a backend.
  await client.write(Buffer.concat([request('GET', '/a'), request('GET', '/b'), request('GET', '/mango/x')]));
  t.same([(await client.read()).status, (await client.read()).status, (await client.read()).json().path], [404, 404, '/mango/x']);

  // A 404 for a request with a body: the body is not read, so the connection closes.
  res = await client.send(request('POST', '/nope', { body: 'abc' }));
  t.equal(res.status, 404);
  t.equal(res.header('connection'), 'close');
  await client.waitEnd();
  t.equal(mango.requests, 2);
}, onMain);

// ---------------------------------------------------------------------------------------------
// Round robin, keep-alive, pipelining

proxyTest(t, 'round robin: 3 servers, 9 requests: a, b, c, a, b, c, a, b, c', async (t, h) => {
  const client = await h.client(main);
  const order = [];
  for (let i = 0; i < 9; i++) order.push((await client.get(`/${i}`, 'rr.test')).header('x-server'));
  t.same(order, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  t.same(
    ['a', 'b', 'c'].map((n) => B[n]!.requests),
    [3, 3, 3],
  );
}, onMain);

proxyTest(t, 'round robin: the cycle goes on across client connections', async (t, h) => {
  const order = [];
  for (let i = 0; i < 4; i++) {
    const client = await h.client(main);
    order.push((await client.get('/', 'rr-across.test')).header('x-server'));
  }
  t.same(order, ['d', 'e', 'f', 'd']);
}, onMain);

proxyTest(t, 'pipelining: three requests in one write are answered in order', async (t, h) => {
  const client = await h.client(main);
  const host = 'pipe.test';
  // The first is the slowest: its answer must still come first.
  await client.write(Buffer.concat([request('GET', '/slow?ms=50', { host }), request('GET', '/two', { host }), request('GET', '/three', { host })]));
  const answers = [await client.read(), await client.read(), await client.read()];
  t.same(
    answers.map((r) => r.json().path),
    ['/slow?ms=50', '/two', '/three'],
  );
  t.same(
    answers.map((r) => r.header('x-server')),
    ['p1', 'p2', 'p3'],
    'each pipelined request routed on its own',
  );
}, onMain);

proxyTest(t, 'pipelining: a POST with a body between two GETs, all in one write', async (t, h) => {
  const client = await h.client(main);
  const host = 'body.test';
  const body = randomBody(100_000);
  await client.write(Buffer.concat([request('GET', '/first', { host }), request('POST', '/sha256', { host, body }), request('GET', '/last', { host })]));
  t.equal((await client.read()).json().path, '/first');
  t.same((await client.read()).json(), { sha256: sha256(body), bytes: body.length });
  t.equal((await client.read()).json().path, '/last');
}, onMain);

proxyTest(t, 'pipelining: 204 and 304 carry no body, so the next response is read right after them', async (t, h) => {
  const client = await h.client(main);
  const host = 'body.test';
  await client.write(Buffer.concat([request('GET', '/status/204', { host }), request('GET', '/status/304', { host }), request('GET', '/after', { host })]));
  const [a, b, c] = [await client.read(), await client.read(), await client.read()];
  t.same([a.status, a.body.length, b.status, b.body.length], [204, 0, 304, 0]);
  t.equal(c.json().path, '/after');
  t.equal((await client.get('/status/404', host)).status, 404, 'a backend’s own 404 passes through');
  t.equal(client.unread, 0, 'no stray bytes');
}, onMain);

proxyTest(t, 'keep-alive: a HEAD response has no body and the connection goes on', async (t, h) => {
  const client = await h.client(main);
  const host = 'body.test';
  for (const target of ['/bytes?n=1000', '/bytes?n=1000&chunked=1']) {
    const res = await client.send(request('HEAD', target, { host }), { head: true });
    t.equal(res.status, 200);
    t.equal(res.body.length, 0);
    t.ok(res.header('x-sha256'), 'the fields a GET would get');
  }
  const res = await client.get('/bytes?n=10', host);
  t.equal(sha256(res.body), res.header('x-sha256'), 'the next request on the connection');
  t.equal(client.unread, 0, 'no stray bytes');
}, onMain);

// ---------------------------------------------------------------------------------------------
// Bodies, byte for byte

proxyTest(t, 'upload: 5 MiB with Content-Length, written in odd-sized pieces, hashes the same at the backend', async (t, h) => {
  const client = await h.client(main);
  const body = randomBody(5 * MiB + 3);
  await client.write(request('POST', '/sha256', { host: 'body.test', headers: [['Content-Length', String(body.length)]] }));
  await client.writeInPieces(body, [1, 7, 1000, 65_537, 333_333, 13]);
  const res = await client.read({ timeoutMs: 15_000 });
  t.same(res.json(), { sha256: sha256(body), bytes: body.length });
  t.equal((await client.get('/next', 'body.test')).status, 200, 'the connection goes on');
}, onMain);

proxyTest(t, 'upload: 3 MiB chunked, with a chunk extension and a trailer, hashes the same at the backend', async (t, h) => {
  const client = await h.client(main);
  const body = randomBody(3 * MiB + 1);
  let wire = chunked(body, 12_345);
  // An extension on the first chunk ("3039;ext=1") and a trailer field after the last one.
  wire = Buffer.concat([Buffer.from('3039;ext=1', 'latin1'), wire.subarray(4, wire.length - 2), Buffer.from('X-Trailer: 1\r\n\r\n')]);
  await client.write(request('POST', '/sha256', { host: 'body.test', headers: [['Transfer-Encoding', 'chunked']] }));
  await client.writeInPieces(wire, [5, 4096, 99_999, 3]);
  t.same((await client.read({ timeoutMs: 15_000 })).json(), { sha256: sha256(body), bytes: body.length });
  t.equal((await client.get('/next', 'body.test')).status, 200, 'the connection goes on');
}, onMain);

proxyTest(t, 'upload: backpressure: a backend that stops reading holds the client back, and the body arrives whole', async (t, h) => {
  const backend = B['slow-reader']!;
  let held: IncomingMessage | null = null;
  // After the app's own handler (which starts reading the body), stop reading it.
  backend.server.once('request', (req: IncomingMessage) => {
    req.pause();
    held = req;
  });
  const client = await h.client(main);
  // More than loopback socket buffers can hold on the way (client, proxy, backend).
  const block = randomBody(64 * 1024);
  const body = Buffer.concat(Array.from({ length: 768 }, (_, i) => (i % 2 === 0 ? block : block.reverse())));
  const sent = client.send(request('POST', '/sha256', { host: 'slow-reader.test', body }), { timeoutMs: 20_000 });
  sent.catch(() => {}); // awaited below; a failure before that must not go unhandled
  await waitFor('the backend to get the request', () => held !== null);
  // The client's writes must come to a stop with bytes still unsent: the proxy stopped reading
  // it. Were it buffering instead, the client would get rid of all of it.
  const socket = client.socket;
  const flushed = await waitStalled(
    'the client’s upload to stall',
    () => socket.bytesWritten - socket.writableLength,
    () => socket.writableLength > 0,
  );
  t.ok(flushed < body.length, `the upload is held back (${flushed} of ${body.length} bytes taken)`);
  held!.resume();
  t.same((await sent).json(), { sha256: sha256(body), bytes: body.length });
}, onMain);

proxyTest(t, 'pipelining: a request that arrives while the response to a POST is awaited waits its turn', async (t, h) => {
  const backend = B.body!;
  const before = backend.exchanges.length;
  const client = await h.client(main);
  // The head alone, then the body once the backend has the head, then the next request.
  await client.write(request('POST', '/slow?ms=200', { host: 'body.test', headers: [['Content-Length', '3']] }));
  await waitFor('the POST to reach the backend', () => backend.exchanges.length === before + 1);
  await client.write('abc');
  const { req } = backend.exchanges[before]!;
  await waitFor('the backend to have the whole POST', () => req.complete);
  await client.write(request('GET', '/next', { host: 'body.test' }));
  t.equal((await client.read()).json().path, '/slow?ms=200');
  t.equal((await client.read()).json().path, '/next');
}, onMain);

proxyTest(t, 'upload: /echo sends the body back; an empty body works too', async (t, h) => {
  const client = await h.client(main);
  const body = randomBody(70_000);
  let res = await client.send(request('PUT', '/echo', { host: 'body.test', body }));
  t.ok(res.body.equals(body), 'echoed byte for byte');
  res = await client.send(request('POST', '/sha256', { host: 'body.test', body: '' }));
  t.same(res.json(), { sha256: sha256(''), bytes: 0 }, 'Content-Length: 0');
}, onMain);

proxyTest(t, 'upload: Expect: 100-continue gets the backend’s 100 before the body is sent', async (t, h) => {
  const client = await h.client(main);
  const body = randomBody(10_000);
  await client.write(request('POST', '/sha256', { host: 'body.test', headers: [['Content-Length', String(body.length)], ['Expect', '100-continue']] }));
  const interim = await client.read();
  t.equal(interim.status, 100, 'the interim response is relayed');
  await client.write(body);
  const res = await client.read();
  t.same(res.json(), { sha256: sha256(body), bytes: body.length });
}, onMain);

proxyTest(t, 'download: Content-Length, chunked and close-delimited bodies arrive byte for byte', async (t, h) => {
  const client = await h.client(main);
  const n = 3 * MiB + 17;
  let res = await client.get(`/bytes?n=${n}`, 'body.test');
  t.equal(res.framing, 'length');
  t.equal(res.body.length, n);
  t.equal(sha256(res.body), res.header('x-sha256'));

  res = await client.get(`/bytes?n=${n}&chunked=1`, 'body.test');
  t.equal(res.framing, 'chunked', 'chunked framing passes through');
  t.equal(res.body.length, n);
  t.equal(sha256(res.body), res.header('x-sha256'));

  res = await client.get(`/bytes?n=${n}&close=1`, 'body.test');
  t.equal(res.framing, 'close');
  t.equal(res.header('connection'), 'close', 'the body ends with the connection, so the client’s closes too');
  t.equal(res.body.length, n);
  t.equal(sha256(res.body), res.header('x-sha256'));
  t.ok(client.ended, 'the proxy closed the client connection');
}, onMain);

proxyTest(t, 'backpressure: a 20 MiB download to a client that stops reading arrives byte for byte', async (t, h) => {
  const backend = B.backpressure!;
  const n = 20 * MiB;
  const expected = createHash('sha256');
  for (const block of deterministicBlocks(n)) expected.update(block);

  const client = await h.client(main);
  client.pause();
  await client.write(request('GET', `/bytes?n=${n}`, { host: 'backpressure.test' }));
  await waitFor('the backend to start answering', () => backend.exchanges.length === 1);
  const res = backend.exchanges[0]!.res;
  // While the client reads nothing, the backend must come to a stop: the proxy stopped reading
  // it. Were the proxy buffering instead, the backend would write all 20 MiB and finish.
  const written = await waitStalled(
    'the backend to stall',
    () => res.socket?.bytesWritten ?? 0,
    () => res.writableNeedDrain || res.writableFinished,
  );
  t.notOk(res.writableFinished, `the backend is held back (${written} bytes written of ${n})`);
  t.ok(client.bytesReceived < n, `the client got only part of it (${client.bytesReceived})`);
  client.resume();
  const body = await client.read({ timeoutMs: 20_000 });
  t.equal(body.body.length, n);
  t.equal(sha256(body.body), expected.digest('hex'));
}, onMain);

/**
 * Two other clients, 40 responses each of 13 B to 70 KB, every body checked by its sha256: reads
 * that land in the shared read buffer while a stopped client's bytes wait.
 */
async function serveOthersMeanwhile(t: Test, h: Harness): Promise<void> {
  const others = await Promise.all([h.client(main), h.client(main)]);
  await Promise.all(
    others.map(async (client, k) => {
      for (let i = 0; i < 40; i++) {
        const size = [13, 900, 20_000, 70_000][(i + k) % 4]! + i;
        const res = await client.get(`/bytes?n=${size}`, 'body.test');
        if (sha256(res.body) !== res.header('x-sha256')) t.fail(`response ${i} on client ${k} differs`);
      }
    }),
  );
}

proxyTest(t, 'relayed bytes stay intact while they wait: a client that stops reading, and others served meanwhile through the shared read buffer', async (t, h) => {
  // Backend sockets read into one shared buffer (or, while a long body streams, into buffers of
  // their own): whatever waits in the stopped client's queue must not be overwritten by the
  // reads that serve the other clients meanwhile.
  const n = 8 * MiB + 5;
  const slow = await h.client(main);
  slow.pause();
  await slow.write(request('GET', `/bytes?n=${n}&chunked=1`, { host: 'body.test' }));
  const started = (e: { req: { url?: string } }) => e.req.url === `/bytes?n=${n}&chunked=1`;
  await waitFor('the backend to answer the slow client', () => B.body!.exchanges.some(started));
  await serveOthersMeanwhile(t, h);
  t.ok(slow.bytesReceived < n, 'the slow client still waits for most of its body');
  slow.resume();
  const res = await slow.read({ timeoutMs: 20_000 });
  t.equal(res.body.length, n);
  t.equal(sha256(res.body), res.header('x-sha256'), 'byte for byte');
}, onMain);

proxyTest(t, 'relayed bytes stay intact while they wait: pipelined responses queued behind a client that stops reading', async (t, h) => {
  // Each 40 KB response arrives with its head in one read of the shared buffer, and its body
  // is written on from there (copied: ownBytes). Once the stopped client's socket is full,
  // those writes wait in its queue, while the other clients' reads land in the same buffer.
  // Without the copy, the queued bodies would be overwritten (a broken ownBytes fails here).
  const count = 400; // 16 MB: more than the loopback socket buffers hold
  const piped = await h.client(main);
  piped.pause();
  const paths = Array.from({ length: count }, (_, i) => `/bytes?n=${40_000 + i}&tag=queued`);
  await piped.write(Buffer.concat(paths.map((path) => request('GET', path, { host: 'body.test' }))));
  const queued = () => B.body!.exchanges.filter((e) => e.req.url?.endsWith('&tag=queued')).length;
  await waitFor('the backend to have answered 100 of the pipelined requests', () => queued() >= 100);
  await serveOthersMeanwhile(t, h);
  t.ok(queued() < count, `the proxy waits for the stopped client (${queued()} of ${count} answered)`);
  piped.resume();
  let intact = 0;
  for (let i = 0; i < count; i++) {
    const res = await piped.read({ timeoutMs: 20_000 });
    if (res.body.length === 40_000 + i && sha256(res.body) === res.header('x-sha256')) intact++;
  }
  t.equal(intact, count, 'every queued response, byte for byte');
}, onMain);

proxyTest(t, 'request bytes stay intact while they wait: pipelined requests and a body held, and others served meanwhile through the shared read buffer', async (t, h) => {
  // Client sockets read into the same shared buffer: bytes a connection keeps beyond their read
  // (pipelined requests waiting their turn, a body waiting for its backend connection) must not
  // be overwritten by the reads that serve other clients meanwhile.
  const host = 'body.test';
  const piped = await h.client(main);
  const tail = `/held-${'x'.repeat(300)}`;
  const body = randomBody(30_000);
  await piped.write(
    Buffer.concat([request('GET', '/slow?ms=300', { host }), request('POST', '/sha256', { host, body }), request('GET', tail, { host })]),
  );
  const others = await Promise.all([h.client(main), h.client(main)]);
  await Promise.all(
    others.map(async (client, k) => {
      for (let i = 0; i < 30; i++) {
        const other = randomBody(100 + 997 * i);
        const res = await client.send(request('POST', '/sha256', { host, body: other }));
        if (res.json<{ sha256: string }>().sha256 !== sha256(other)) t.fail(`request ${i} on client ${k} differs`);
      }
    }),
  );
  t.equal((await piped.read()).json().path, '/slow?ms=300');
  t.same((await piped.read()).json(), { sha256: sha256(body), bytes: body.length }, 'the held body, byte for byte');
  t.equal((await piped.read()).json().path, tail, 'the held request, as sent');
}, onMain);

// ---------------------------------------------------------------------------------------------
// Headers

proxyTest(t, 'headers: X-Forwarded-For, -Host and -Proto are set; incoming ones replaced', async (t, h) => {
  const client = await h.client(main);
  const res = await client.get('/headers', 'headers.test:8080', [
    ['X-Forwarded-For', '6.6.6.6'],
    ['X-Forwarded-Host', 'evil.test'],
    ['X-Forwarded-Proto', 'https'],
    ['Accept', '*/*'],
  ]);
  t.same(pairs(res.json<{ rawHeaders: string[] }>().rawHeaders), [
    ['Host', 'headers.test:8080'],
    ['Accept', '*/*'],
    ['X-Forwarded-For', '127.0.0.1'],
    ['X-Forwarded-Host', 'headers.test:8080'],
    ['X-Forwarded-Proto', 'http'],
    // A new request id: the same one the client gets.
    ['X-Request-ID', res.header('x-request-id')],
  ]);
  t.match(res.header('x-request-id'), /^[0-9a-f]{32}$/);
}, onMain);

proxyTest(t, 'headers: from a trusted proxy, X-Forwarded-For is appended to and -Host / -Proto kept', async (t, h) => {
  const client = await h.client(routed);
  const res = await client.get('/headers', 'trusted.test', [
    ['X-Forwarded-For', '198.51.100.1'],
    ['X-Forwarded-Host', 'public.mango.com'],
    ['X-Forwarded-Proto', 'https'],
  ]);
  t.same(pairs(res.json<{ rawHeaders: string[] }>().rawHeaders), [
    ['Host', 'trusted.test'],
    ['X-Forwarded-Host', 'public.mango.com'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-For', '198.51.100.1, 127.0.0.1'],
    ['X-Request-ID', res.header('x-request-id')],
  ]);
}, onRouted);

proxyTest(t, 'headers: hop-by-hop fields are not forwarded, either way', async (t, h) => {
  const client = await h.client(main);
  const res = await client.get('/headers', 'headers.test', [
    ['Connection', 'X-Hop, keep-alive'],
    ['X-Hop', 'listed in Connection'],
    ['Keep-Alive', 'timeout=5'],
    ['TE', 'trailers'],
    ['Upgrade', 'websocket'],
    ['Proxy-Connection', 'keep-alive'],
    ['X-End-To-End', 'kept'],
  ]);
  t.same(pairs(res.json<{ rawHeaders: string[] }>().rawHeaders), [
    ['Host', 'headers.test'],
    ['X-End-To-End', 'kept'],
    ['X-Forwarded-For', '127.0.0.1'],
    ['X-Forwarded-Host', 'headers.test'],
    ['X-Forwarded-Proto', 'http'],
    ['X-Request-ID', res.header('x-request-id')],
  ]);
  // Node's http server answers with Connection: keep-alive and Keep-Alive: timeout=5.
  t.notOk(res.names().includes('keep-alive'), 'the backend’s Keep-Alive is not relayed');
  t.notOk(res.names().includes('connection'), 'nor its Connection');
  t.equal(res.header('x-server'), 'headers', 'end-to-end fields are');
}, onMain);

proxyTest(t, 'HTTP/1.0: the connection closes after the response unless the client asked for keep-alive', async (t, h) => {
  const v10 = { host: null, version: 'HTTP/1.0' };
  const keepAlive: [string, string][] = [['Connection', 'keep-alive']];
  let client = await h.client(main);
  let res = await client.send(request('GET', '/headers', v10));
  t.equal(res.status, 200);
  t.equal(res.header('connection'), 'close');
  await client.waitEnd();
  t.same(
    pairs(res.json<{ rawHeaders: string[] }>().rawHeaders),
    [
      ['X-Forwarded-For', '127.0.0.1'],
      ['X-Forwarded-Proto', 'http'],
      ['Connection', 'keep-alive'],
      ['X-Request-ID', res.header('x-request-id')],
    ],
    'no Host to copy; the backend is asked to keep its connection',
  );

  client = await h.client(main);
  res = await client.send(request('GET', '/h10', { ...v10, headers: keepAlive }));
  t.equal(res.header('connection'), 'keep-alive', 'asked for keep-alive: told it persists');
  res = await client.send(request('GET', '/h10/second', { ...v10, headers: keepAlive }));
  t.equal(res.json().path, '/h10/second', 'and it does');
  t.notOk(client.ended);

  res = await client.send(request('GET', '/bytes?n=100&close=1', { ...v10, headers: keepAlive }));
  t.equal(res.header('connection'), 'close', 'a close-delimited body ends the connection all the same');
  t.equal(sha256(res.body), res.header('x-sha256'));
  await client.waitEnd();
}, onMain);

proxyTest(t, 'HTTP/1.0: a keep-alive client gets Connection: keep-alive on a response the proxy makes itself', async (t, h) => {
  const client = await h.client(main);
  const res = await client.send(request('GET', '/nope', { host: null, version: 'HTTP/1.0', headers: [['Connection', 'keep-alive']] }));
  t.equal(res.status, 404);
  t.equal(res.header('connection'), 'keep-alive', 'without it an HTTP/1.0 client takes the connection as closing');
}, onMain);

proxyTest(t, 'HTTP/1.1: a client that sends Connection: close gets it back and the connection ends', async (t, h) => {
  const backend = B['conn-close']!;
  const client = await h.client(main);
  const res = await client.send(request('GET', '/', { host: 'conn-close.test', headers: [['Connection', 'close']] }));
  t.equal(res.header('connection'), 'close');
  await client.waitEnd();
  const again = await h.client(main);
  await again.get('/', 'conn-close.test');
  t.equal(backend.sockets.length, 1, 'the backend connection was kept for the next client all the same');
}, onMain);

// ---------------------------------------------------------------------------------------------
// Backend connections

proxyTest(t, 'backend connections are reused: 10 sequential requests, 1 backend connection', async (t, h) => {
  const backend = B.reuse!;
  const client = await h.client(main);
  for (let i = 0; i < 10; i++) t.equal((await client.get(`/${i}`, 'reuse.test')).status, 200);
  t.equal(backend.requests, 10);
  t.equal(backend.sockets.length, 1, 'one connection carried all ten');
  t.ok(backend.connections < 10, `fewer TCP connections (${backend.connections}, health probes included) than requests`);

  // Other clients, one after the other: the pooled connection serves them too.
  for (let i = 0; i < 3; i++) {
    const other = await h.client(main);
    t.equal((await other.get('/', 'reuse.test')).status, 200);
  }
  t.equal(backend.sockets.length, 1);
}, onMain);

proxyTest(t, 'backend connections: one the backend closed while pooled is dropped, and the next request opens another', async (t, h) => {
  const backend = B.stale!;
  const client = await h.client(main);
  t.equal((await client.get('/one', 'stale.test')).status, 200);
  t.equal(serverOf(main, backend).idle.length, 1, 'pooled');
  backend.sockets[0]!.destroy(); // as a backend's keep-alive timeout would
  await waitFor('the proxy to drop the closed connection', () => serverOf(main, backend).idle.length === 0);
  t.equal((await client.get('/two', 'stale.test')).status, 200);
  t.equal(backend.sockets.length, 2, 'a new connection');
  t.equal(serverOf(main, backend).idle.length, 1, 'and only the live one is pooled');
}, onMain);

proxyTest(t, 'backend connections: concurrent clients each get their own, then they are pooled', async (t, h) => {
  const backend = B.concurrent!;
  const clients = await Promise.all([h.client(main), h.client(main), h.client(main)]);
  const answers = await Promise.all(clients.map((c, i) => c.get(`/slow?ms=30&i=${i}`, 'concurrent.test')));
  t.same(
    answers.map((a) => a.json().path),
    ['/slow?ms=30&i=0', '/slow?ms=30&i=1', '/slow?ms=30&i=2'],
  );
  t.equal(backend.sockets.length, 3);
  t.equal(serverOf(main, backend).idle.length, 3, 'all three pooled');
}, onMain);

proxyTest(t, 'config: host names are resolved once, at start', async (t, h) => {
  const server = serverOf(routed, B['by-name']!);
  t.equal(server.host, '127.0.0.1');
  t.equal(server.label, `localhost:${B['by-name']!.port}`);
  const client = await h.client(routed);
  t.equal((await client.get('/', 'by-name.test')).header('x-server'), 'by-name');
}, onRouted);

proxyTest(t, 'config: a server listed in several pools is one server, with one set of connections', async (t, h) => {
  const shared = B.shared!;
  t.same(routed.server.snapshot.poolsOf(serverOf(routed, shared)), ['shared.test', '/shared']);
  const client = await h.client(routed);
  t.equal((await client.get('/', 'shared.test')).header('x-server'), 'shared');
  t.equal((await client.get('/shared', 'other.test')).header('x-server'), 'shared');
  t.equal(shared.sockets.length, 1, 'the connection was shared by both routes');
}, onRouted);

// ---------------------------------------------------------------------------------------------
// The access log

proxyTest(t, 'access log: one line per request, nginx combined plus host, server, request id, duration and code', async (t, h) => {
  const client = await h.client(main);
  const first = await client.send(request('GET', '/logged?x=1', { host: 'log.test', headers: [['Referer', 'https://log.test/from'], ['User-Agent', 'tester/1.0 (x)']] }));
  // A valid id of the client's own is kept.
  const second = await client.get('/bare', 'log.test', [['X-Request-ID', 'client-id-7']]);
  t.equal(second.header('x-request-id'), 'client-id-7');
  await waitFor('the access lines', () => main.log.matching(' log.test ').length === 2);
  const address = B.logged!.address.replace(/\./g, '\\.');
  const [withFields, without] = main.log.matching(' log.test ');
  t.match(
    withFields,
    new RegExp(
      `^127\\.0\\.0\\.1 - - \\[\\d\\d/\\w{3}/\\d{4}:\\d\\d:\\d\\d:\\d\\d \\+0000\\] "GET /logged\\?x=1 HTTP/1\\.1" 200 \\d+ ` +
        `"https://log\\.test/from" "tester/1\\.0 \\(x\\)" log\\.test ${address} ${first.header('x-request-id')} \\d+ms -$`,
    ),
  );
  t.match(without, new RegExp(`"GET /bare HTTP/1\\.1" 200 \\d+ "-" "-" log\\.test ${address} client-id-7 \\d+ms -$`), 'no Referer, no User-Agent: "-"');
}, onMain);

// ---------------------------------------------------------------------------------------------
// Shutdown

// Last: it closes the file's main proxy.
proxyTest(t, 'close(): idle clients are closed, a request in flight finishes with Connection: close', async (t, h) => {
  const backend = B.body!;
  const idle = await h.client(main);
  await idle.get('/', 'body.test');
  const busy = await h.client(main);
  const before = backend.exchanges.length;
  await busy.write(request('GET', '/slow?ms=100', { host: 'body.test' }));
  await waitFor('the slow request to reach the backend', () => backend.exchanges.length === before + 1);
  const closed = main.server.close();
  await idle.waitEnd();
  t.pass('the idle client was closed');
  const res = await busy.read();
  t.equal(res.status, 200, 'the request in flight was answered');
  t.equal(res.header('connection'), 'close');
  await busy.waitEnd();
  await within(closed, 'close() to finish');
  t.equal(serverOf(main, backend).idle.length, 0, 'no backend connection pooled after close');
  await t.rejects(h.client(main), { code: 'ECONNREFUSED' }, 'no longer listening');
}, { alive: false });

t.test('close(): a proxy that never listened closes at once', async (t) => {
  const server = new ProxyServer(parseConfig('servers: ["127.0.0.1:1"]', 'test.yaml'), new LogCapture().logger);
  await within(server.close(), 'close()');
  t.pass('closed');
});
