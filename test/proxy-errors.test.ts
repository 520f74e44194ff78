// The proxy end to end when things go wrong: backends that refuse, reset, hang up, send garbage
// or stall; clients that send malformed requests, go quiet, or leave in the middle; and the
// timeouts and limits that bound all of it. The proxy must answer what the contract says and
// stay up. Misbehaving backends are raw `net` servers (helpers/net.ts answers their health
// probes, so they stay in rotation until the proxy itself sees them fail).

import t from 'tap';
import type net from 'node:net';
import { parseConfig } from '../src/config/load.js';
import type { BackendConnection } from '../src/proxy/backend-connection.js';
import { ProxyServer } from '../src/proxy/proxy-server.js';
import { answerEveryHead, refusedPort, Harness, HOST, LogCapture, proxyTest, q, RawClient, request, serverOf, sha256, waitEvent, waitFor, within, type Backend, type RawBackend } from './helpers/net.js';

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

/** What a raw backend does with a connection once the proxy's request arrives. */
const behave = {
  garbage: (s: net.Socket) => s.once('data', () => s.write('this is not http\r\n\r\n')),
  reset: (s: net.Socket) => s.once('data', () => s.resetAndDestroy()),
  hangUp: (s: net.Socket) => s.once('data', () => s.end()),
  partialHead: (s: net.Socket) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Le')),
  truncatedBody: (s: net.Socket) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789')),
  stalledBody: (s: net.Socket) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789')),
  badChunk: (s: net.Socket) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')),
  /** A good first chunk; the test sends the bad one once the client has the head. */
  goodThenBadChunk: (s: net.Socket) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n')),
  switching: (s: net.Socket) => s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n')),
  earlyHints: (s: net.Socket) => answerEveryHead(s, 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' + OK),
  extraBytes: (s: net.Socket) => answerEveryHead(s, OK + 'EXTRA'),
  ok: (s: net.Socket) => answerEveryHead(s, OK),
  /** Responses whose framing no one can trust, and one that ends its connection. */
  byPath: (s: net.Socket) =>
    answerEveryHead(s, (target) => {
      switch (target) {
        case '/te-and-length':
          return 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
        case '/two-lengths':
          return 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!';
        case '/close':
          setImmediate(() => s.end());
          return 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';
        default:
          return OK;
      }
    }),
  /** Answers the first request on each connection; hangs up on the second, as a keep-alive timeout racing a request would. */
  oncePerConnection: (s: net.Socket) => {
    let text = '';
    let heads = 0;
    s.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n') && heads++ === 0) {
        text = text.slice(text.indexOf('\r\n\r\n') + 4);
        s.write(OK);
      } else if (heads > 1) s.destroy();
    });
  },
};

// ---------------------------------------------------------------------------------------------
// The file's proxies and backends (starting a proxy costs its health-check worker, most of a
// second): `errors` with the default timeouts, `timed` with short ones. Each test has its own
// Host and pool, so that round-robin positions, up/down states and connections are its own.

const root = new Harness(t);
const app: Record<string, Backend> = {};
for (const name of ['victim1', 'victim2', 'victim3', 'victim4', 'live-refused', 'live-reset', 'live-hang-up', 'client-side', 'pooled', 'slow', 'idle', 'live-blackhole', 'limited']) {
  app[name] = await root.backend(name);
}
const raw: Record<string, RawBackend> = {};
for (const [name, fn] of Object.entries({
  garbage: behave.garbage,
  reset: behave.reset,
  hangUp1: behave.hangUp,
  hangUp2: behave.hangUp,
  hangUp3: behave.hangUp,
  partialHead: behave.partialHead,
  truncatedBody: behave.truncatedBody,
  stalledBody: behave.stalledBody,
  badChunk: behave.badChunk,
  goodThenBadChunk: behave.goodThenBadChunk,
  switching: behave.switching,
  earlyHints: behave.earlyHints,
  extraBytes: behave.extraBytes,
  stale: behave.oncePerConnection,
  stalePost: behave.oncePerConnection,
  junk: behave.ok,
  recorder: behave.ok,
  byPath: behave.byPath,
})) {
  raw[name] = await root.rawBackend(fn);
}
const neverUp = await refusedPort();
const blackhole = await root.blackhole();

const pool = (...names: string[]) => `[${names.map((n) => q(app[n] ?? raw[n]!)).join(', ')}]`;

const errors = await root.proxy(`
healthcheck: { interval: 1m }
hosts:
  - { host: refused.test, servers: ${pool('victim1', 'live-refused')} }
  - { host: all-refused.test, servers: ${pool('victim2', 'victim3')} }
  - { host: down.test, servers: [${q(neverUp)}] }
  - { host: concurrent-refused.test, servers: ${pool('victim4')} }
  - { host: garbage.test, servers: ${pool('garbage')} }
  - { host: reset.test, servers: ${pool('reset', 'live-reset')} }
  - { host: hang-up.test, servers: ${pool('hangUp1', 'live-hang-up')} }
  - { host: all-hang-up.test, servers: ${pool('hangUp2', 'hangUp3')} }
  - { host: partial-head.test, servers: ${pool('partialHead')} }
  - { host: truncated.test, servers: ${pool('truncatedBody')} }
  - { host: bad-chunk.test, servers: ${pool('badChunk')} }
  - { host: bad-chunk-later.test, servers: ${pool('goodThenBadChunk')} }
  - { host: switching.test, servers: ${pool('switching')} }
  - { host: early-hints.test, servers: ${pool('earlyHints')} }
  - { host: extra-bytes.test, servers: ${pool('extraBytes')} }
  - { host: stale.test, servers: ${pool('stale')} }
  - { host: stale-post.test, servers: ${pool('stalePost')} }
  - { host: junk.test, servers: ${pool('junk')} }
  - { host: record.test, servers: ${pool('recorder')} }
  - { host: by-path.test, servers: ${pool('byPath')} }
  - { host: client-side.test, servers: ${pool('client-side')} }
  - { host: pooled.test, servers: ${pool('pooled')} }
`);

const timed = await root.proxy(
  `
timeouts: { connect: 200ms, header: 300ms, idle: 300ms, server: 300ms }
healthcheck: { interval: 1m, timeout: 30s }
hosts:
  - { host: slow.test, servers: ${pool('slow')} }
  - { host: stalled.test, servers: ${pool('stalledBody')} }
  - { host: idle.test, servers: ${pool('idle')} }
  - { host: blackhole.test, servers: [${q(blackhole)}, ${q(app['live-blackhole']!)}] }
`,
  { level: 'warn' }, // access lines off: the branches that skip them run here
);

const onErrors = { proxy: errors };
const onTimed = { proxy: timed };

// ---------------------------------------------------------------------------------------------
// Refused connections: passive health

proxyTest(t, 'refused: a server that refuses is skipped, every request succeeds, and DOWN is logged once', async (t, h) => {
  const victim = app.victim1!;
  await victim.close(); // up at start (health passed), gone now
  const client = await h.client(errors);
  for (let i = 0; i < 6; i++) {
    const res = await client.get(`/${i}`, 'refused.test');
    t.equal(res.status, 200);
    t.equal(res.header('x-server'), 'live-refused');
  }
  const down = errors.log.matching(`server ${victim.address} `).filter((l) => l.includes(' DOWN'));
  t.equal(down.length, 1, 'one DOWN line');
  t.match(down[0], `WARN server ${victim.address} (pool refused.test) DOWN: connect ECONNREFUSED`);
  t.notOk(serverOf(errors, victim).up, 'out of rotation');
}, onErrors);

proxyTest(t, 'refused: when every server refuses, 503 "No backend servers available."', async (t, h) => {
  await app.victim2!.close();
  await app.victim3!.close();
  const client = await h.client(errors);
  let res = await client.get('/', 'all-refused.test');
  t.equal(res.status, 503);
  t.equal(res.text(), 'No backend servers available.');
  t.equal(res.header('retry-after'), '1', 'try again in a second');
  t.equal(res.header('connection'), undefined, 'a complete request: the connection stays');
  for (const v of [app.victim2!, app.victim3!]) t.equal(errors.log.matching(`server ${v.address} (pool all-refused.test) DOWN: connect ECONNREFUSED`).length, 1);
  // Now both are down: answered at once, without trying them.
  res = await client.send(request('HEAD', '/', { host: 'all-refused.test' }), { head: true });
  t.equal(res.status, 503, 'HEAD');
  t.equal(res.body.length, 0);
  res = await client.get('/', 'all-refused.test');
  t.equal(res.status, 503, 'the connection still works');
}, onErrors);

proxyTest(t, 'refused: two requests refused at the same time: both 503, DOWN logged once', async (t, h) => {
  const victim = app.victim4!;
  await victim.close();
  const [a, b] = await Promise.all([h.client(errors), h.client(errors)]);
  const get = request('GET', '/', { host: 'concurrent-refused.test' });
  await Promise.all([a.write(get), b.write(get)]);
  t.same([(await a.read()).status, (await b.read()).status], [503, 503]);
  t.equal(errors.log.matching(`server ${victim.address} (pool concurrent-refused.test) DOWN`).length, 1);
}, onErrors);

proxyTest(t, 'refused: a server the health check found down at start is not tried: 503', async (t, h) => {
  await errors.log.waitFor(`server ${HOST}:${neverUp} (pool down.test) DOWN`);
  const client = await h.client(errors);
  const res = await client.get('/', 'down.test');
  t.equal(res.status, 503);
  t.equal(res.text(), 'No backend servers available.');
}, onErrors);

// ---------------------------------------------------------------------------------------------
// Backends that fail after accepting

proxyTest(t, '502: a backend that answers garbage', async (t, h) => {
  const client = await h.client(errors);
  let res = await client.get('/', 'garbage.test');
  t.equal(res.status, 502);
  t.equal(res.text(), 'Bad Gateway');
  t.ok(errors.log.matching(`server ${raw.garbage!.address}:`).some((l) => l.includes('WARN')), 'logged as a warning');
  res = await client.get('/', 'garbage.test');
  t.equal(res.status, 502, 'the client connection goes on');
  t.ok(serverOf(errors, raw.garbage!).up, 'garbage is not a refusal: the server stays up');
}, onErrors);

proxyTest(t, '502: a backend that resets after reading a POST; the POST is not retried', async (t, h) => {
  const live = app['live-reset']!;
  const client = await h.client(errors);
  const res = await client.send(request('POST', '/sha256', { host: 'reset.test', body: Buffer.alloc(50_000, 1) }));
  t.equal(res.status, 502);
  t.equal(res.text(), 'Bad Gateway');
  t.equal(live.requests, 0, 'not sent to the other server');
  t.match(errors.log.matching(`server ${raw.reset!.address}:`)[0], /(ECONNRESET|EPIPE|connection closed) before any response to POST \/sha256/);
}, onErrors);

proxyTest(t, 'retry: a GET to a backend that hangs up without answering goes to the next server', async (t, h) => {
  const client = await h.client(errors);
  const res = await client.get('/retried', 'hang-up.test');
  t.equal(res.status, 200);
  t.equal(res.header('x-server'), 'live-hang-up');
  t.match(raw.hangUp1!.text(), /^GET \/retried HTTP\/1\.1\r\n/, 'the first server got the request');
  t.equal(errors.log.matching(`server ${raw.hangUp1!.address}:`).filter((l) => l.includes('retrying GET /retried')).length, 1, 'the retry is logged');
  // The retry moved the round robin on again: each request starts at the server that hangs up.
  const head = await client.send(request('HEAD', '/h', { host: 'hang-up.test' }), { head: true });
  t.same([head.status, head.header('x-server')], [200, 'live-hang-up'], 'HEAD is retried');
  const options = await client.send(request('OPTIONS', '/o', { host: 'hang-up.test' }));
  t.same([options.status, options.header('x-server')], [200, 'live-hang-up'], 'OPTIONS is retried');
  t.equal(raw.hangUp1!.sockets.length, 3, 'each went to the first server first');
}, onErrors);

proxyTest(t, 'retry: at most one try per server; when all hang up, 502', async (t, h) => {
  const client = await h.client(errors);
  const res = await client.get('/', 'all-hang-up.test');
  t.equal(res.status, 502);
  t.same([raw.hangUp2!.sockets.length, raw.hangUp3!.sockets.length], [1, 1], 'each server tried once');
}, onErrors);

proxyTest(t, 'retry: a pooled connection the backend closed as a request went out is retried on a new one', async (t, h) => {
  const stale = raw.stale!;
  const client = await h.client(errors);
  t.equal((await client.get('/one', 'stale.test')).status, 200);
  const res = await client.get('/two', 'stale.test');
  t.equal(res.status, 200, 'the GET was sent again');
  t.equal(stale.sockets.length, 2, 'on a new connection');
  t.equal((stale.text().match(/GET \/two /g) ?? []).length, 2);
}, onErrors);

proxyTest(t, '502: a POST on a pooled connection the backend closed is not sent again', async (t, h) => {
  const stale = raw.stalePost!;
  const client = await h.client(errors);
  t.equal((await client.get('/one', 'stale-post.test')).status, 200);
  const res = await client.send(request('POST', '/two', { host: 'stale-post.test', body: 'x' }));
  t.equal(res.status, 502);
  t.equal(stale.sockets.length, 1, 'no second connection');
}, onErrors);

proxyTest(t, '502: a backend that closes in the middle of its response head', async (t, h) => {
  const client = await h.client(errors);
  const res = await client.get('/', 'partial-head.test');
  t.equal(res.status, 502);
  t.equal(res.text(), 'Bad Gateway');
}, onErrors);

proxyTest(t, '502: a backend that switches protocols nobody asked for', async (t, h) => {
  const client = await h.client(errors);
  const res = await client.get('/', 'switching.test');
  t.equal(res.status, 502);
  t.ok(errors.log.matching(`server ${raw.switching!.address}:`).some((l) => l.includes('WARN')), 'logged as a warning');
}, onErrors);

proxyTest(t, '502: a backend response framed two ways (Transfer-Encoding and Content-Length, or two lengths)', async (t, h) => {
  const client = await h.client(errors);
  for (const target of ['/te-and-length', '/two-lengths']) {
    const res = await client.get(target, 'by-path.test');
    t.same([res.status, res.text()], [502, 'Bad Gateway'], target);
  }
  t.equal((await client.get('/', 'by-path.test')).text(), 'ok', 'the client connection goes on');
}, onErrors);

proxyTest(t, 'backend connections: a backend that says Connection: close is not reused; the client’s connection goes on', async (t, h) => {
  const backend = raw.byPath!;
  const client = await h.client(errors);
  const before = backend.sockets.length;
  const res = await client.get('/close', 'by-path.test');
  t.equal(res.text(), 'ok');
  t.equal(res.header('connection'), undefined, 'the backend’s Connection is hop-by-hop');
  t.equal((await client.get('/', 'by-path.test')).text(), 'ok');
  t.equal(backend.sockets.length, before + 1, 'a new backend connection for the next request');
  t.notOk(client.ended);
}, onErrors);

proxyTest(t, 'cut response: a backend that closes in the middle of its body: the client connection is closed too', async (t, h) => {
  const client = await h.client(errors);
  await t.rejects(client.get('/', 'truncated.test'), /closed 90 bytes before the end of a 100-byte body/);
  t.ok(client.ended);
}, onErrors);

proxyTest(t, '502: a backend whose chunked body is malformed before any of it went out', async (t, h) => {
  const client = await h.client(errors);
  const res = await client.get('/', 'bad-chunk.test');
  t.equal(res.status, 502, 'the head was held back with the body, so a clean 502 is still possible');
  t.equal(res.text(), 'Bad Gateway');
  t.ok(errors.log.matching(`server ${raw.badChunk!.address}:`).some((l) => l.includes('WARN')), 'logged as a warning');
}, onErrors);

proxyTest(t, 'cut response: a backend whose chunked body turns malformed after the head went out: the client connection is closed', async (t, h) => {
  const backend = raw.goodThenBadChunk!;
  const client = await h.client(errors);
  await client.write(request('GET', '/', { host: 'bad-chunk-later.test' }));
  const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n';
  await client.waitBytes(head.length);
  backend.sockets[0]!.write('zz\r\n');
  await t.rejects(client.read(), /closed inside a chunked body/);
  t.ok(client.ended);
}, onErrors);

proxyTest(t, 'interim responses: a 103 before the final response is relayed', async (t, h) => {
  const client = await h.client(errors);
  await client.write(request('GET', '/', { host: 'early-hints.test' }));
  const { interim, final } = await client.readFinal();
  t.same(
    interim.map((r) => [r.status, r.header('link')]),
    [[103, '</a.css>; rel=preload']],
  );
  t.equal(final.text(), 'ok');
}, onErrors);

proxyTest(t, 'interim responses: none is sent to an HTTP/1.0 client', async (t, h) => {
  // RFC 9110 15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client."
  const client = await h.client(errors);
  const res = await client.send(request('GET', '/', { host: 'early-hints.test', version: 'HTTP/1.0' }));
  t.equal(res.status, 200, 'the first response the client reads is the final one');
}, onErrors);

proxyTest(t, 'backend connections: bytes after the end of a response: that connection is not reused', async (t, h) => {
  const client = await h.client(errors);
  t.equal((await client.get('/', 'extra-bytes.test')).text(), 'ok', 'the client gets the response, not the extra bytes');
  t.equal((await client.get('/', 'extra-bytes.test')).text(), 'ok');
  t.equal(client.unread, 0);
  t.equal(raw.extraBytes!.sockets.length, 2, 'a new connection for the second request');
}, onErrors);

proxyTest(t, 'backend connections: a pooled connection that sends bytes unasked is dropped', async (t, h) => {
  const junk = raw.junk!;
  const client = await h.client(errors);
  t.equal((await client.get('/', 'junk.test')).status, 200);
  t.equal(serverOf(errors, junk).idle.length, 1);
  junk.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  await waitEvent(junk.sockets[0]!, 'close', 'the proxy to close the out-of-step connection');
  t.equal(serverOf(errors, junk).idle.length, 0);
  t.equal((await client.get('/', 'junk.test')).status, 200);
  t.equal(junk.sockets.length, 2);
}, onErrors);

proxyTest(t, 'backend connections: a pooled connection idle past its time is closed', async (t, h) => {
  const backend = app.pooled!;
  const client = await h.client(errors);
  t.equal((await client.get('/', 'pooled.test')).status, 200);
  // The idle pool holds the proxy's BackendConnections (seen through the BackendSide interface).
  const pooled = serverOf(errors, backend).idle[0]! as BackendConnection;
  // Its deadline is POOL_IDLE_MS (4 s) away; bring it forward rather than wait.
  pooled.deadline = 1;
  await waitEvent(backend.sockets[0]!, 'close', 'the idle pooled connection to be closed');
  t.equal(serverOf(errors, backend).idle.length, 0);
  t.equal((await client.get('/', 'pooled.test')).status, 200, 'the next request opens a new one');
}, onErrors);

// ---------------------------------------------------------------------------------------------
// Malformed requests

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: record.test\r\n\r\n';
const malformed: [name: string, bytes: string, status: number, body: string][] = [
  ['bare LF line ends', 'GET / HTTP/1.1\nHost: record.test\n\n', 400, 'Bad Request'],
  ['a request line past 8 KiB', `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: record.test\r\n\r\n`, 414, 'URI Too Long'],
  ['a head past 16 KiB', `GET / HTTP/1.1\r\nHost: record.test\r\n${`X-Big: ${'b'.repeat(100)}\r\n`.repeat(200)}\r\n`, 431, 'Request Header Fields Too Large'],
  ['an unknown transfer coding', 'POST / HTTP/1.1\r\nHost: record.test\r\nTransfer-Encoding: foo, chunked\r\n\r\n', 501, 'Not Implemented'],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: record.test\r\n\r\n', 505, 'HTTP Version Not Supported'],
  ['Transfer-Encoding with Content-Length', 'POST / HTTP/1.1\r\nHost: record.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'Bad Request'],
  ['no Host', 'GET / HTTP/1.1\r\n\r\n', 400, 'Bad Request'],
  ['two Hosts', 'GET / HTTP/1.1\r\nHost: record.test\r\nHost: other.test\r\n\r\n', 400, 'Bad Request'],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: record.test\r\nX-A: 1\r\n  folded\r\n\r\n', 400, 'Bad Request'],
  ['a space before the colon', 'GET / HTTP/1.1\r\nHost : record.test\r\n\r\n', 400, 'Bad Request'],
  ['NUL in a value', 'GET / HTTP/1.1\r\nHost: record.test\r\nX-A: a\0b\r\n\r\n', 400, 'Bad Request'],
  ['a negative Content-Length', 'POST / HTTP/1.1\r\nHost: record.test\r\nContent-Length: -1\r\n\r\n', 400, 'Bad Request'],
  ['CONNECT', 'CONNECT record.test:443 HTTP/1.1\r\nHost: record.test:443\r\n\r\n', 501, 'Not Implemented'],
];

proxyTest(t, 'malformed requests: the status, Connection: close, and nothing after them reaches a backend', async (t, h) => {
  for (const [name, bytes, status, body] of malformed) {
    const client = await h.client(errors);
    await client.write(bytes + SMUGGLED);
    const res = await client.read();
    t.same([res.status, res.text(), res.header('connection')], [status, body, 'close'], name);
    await client.waitEnd();
  }
  t.equal(raw.recorder!.received.length, 0, 'the backend received nothing at all');
}, onErrors);

proxyTest(t, 'malformed requests: a good request, then a bad one pipelined: one answer each, the backend sees the first only', async (t, h) => {
  const before = raw.recorder!.text().length;
  const client = await h.client(errors);
  await client.write('GET /good HTTP/1.1\r\nHost: record.test\r\n\r\n' + 'GET /bad HTTP/1.1\r\nHost: record.test\r\nX: \x01\r\n\r\n' + SMUGGLED);
  t.equal((await client.read()).text(), 'ok');
  const res = await client.read();
  t.same([res.status, res.header('connection')], [400, 'close']);
  await client.waitEnd();
  const seen = raw.recorder!.text().slice(before);
  t.match(seen, /^GET \/good HTTP\/1\.1\r\n/);
  t.notMatch(seen, /\/bad|smuggled/);
}, onErrors);

proxyTest(t, 'malformed requests: a bad chunked body: 400, close, and no backend sees the bad chunk or what followed', async (t, h) => {
  const recorder = raw.recorder!;
  const before = recorder.sockets.length;
  const client = await h.client(errors);
  await client.write('POST /upload HTTP/1.1\r\nHost: record.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n' + SMUGGLED);
  const res = await client.read();
  t.same([res.status, res.text(), res.header('connection')], [400, 'Bad Request', 'close']);
  await client.waitEnd();
  t.notMatch(recorder.text(), /zz|smuggled/, 'neither the bad chunk nor what followed reached the backend');
  // The head may have gone out before the bad chunk was seen: then that connection is dropped.
  for (const socket of recorder.sockets.slice(before)) {
    if (!socket.destroyed) await waitEvent(socket, 'close', 'the proxy to drop the backend connection that got the head');
  }
  t.equal(serverOf(errors, recorder).idle.length, 0, 'nothing pooled');
}, onErrors);

// ---------------------------------------------------------------------------------------------
// Clients that leave

proxyTest(t, 'client aborts mid-download: the backend connection is destroyed, the proxy goes on', async (t, h) => {
  const backend = app['client-side']!;
  const client = await h.client(errors);
  await client.write(request('GET', `/bytes?n=${20 * 1024 * 1024}`, { host: 'client-side.test' }));
  await client.waitBytes(1024 * 1024);
  client.destroy();
  const socket = backend.exchanges[backend.exchanges.length - 1]!.req.socket;
  if (!socket.destroyed) await waitEvent(socket, 'close', 'the backend connection to be closed');
  t.pass('the backend connection was closed');
  t.equal(serverOf(errors, backend).idle.length, 0, 'and not pooled');
}, onErrors);

proxyTest(t, 'client aborts while its request waits for the backend: the backend connection is destroyed', async (t, h) => {
  const backend = app['client-side']!;
  const before = backend.exchanges.length;
  const client = await h.client(errors);
  await client.write(request('GET', '/slow?ms=5000', { host: 'client-side.test' }));
  await waitFor('the request to reach the backend', () => backend.exchanges.length === before + 1);
  client.socket.resetAndDestroy();
  const { res } = backend.exchanges[before]!;
  if (!res.closed) await waitEvent(res, 'close', 'the backend’s response to be abandoned');
  t.notOk(res.writableFinished, 'the slow answer was never completed');
}, onErrors);

proxyTest(t, 'client half-closes after its request: it gets the response with Connection: close', async (t, h) => {
  const client = await h.client(errors);
  await client.write(request('GET', '/half', { host: 'client-side.test' }));
  client.end();
  const res = await client.read();
  t.equal(res.json().path, '/half');
  t.equal(res.header('connection'), 'close');
  await client.waitEnd();
}, onErrors);

proxyTest(t, 'client half-closes in the middle of a request body: no response, the backend connection is dropped', async (t, h) => {
  const backend = app['client-side']!;
  const before = backend.exchanges.length;
  const client = await h.client(errors);
  await client.write(request('POST', '/sha256', { host: 'client-side.test', headers: [['Content-Length', '1000']] }));
  await client.write(Buffer.alloc(10));
  await waitFor('the request to reach the backend', () => backend.exchanges.length === before + 1);
  client.end();
  const rest = await client.waitEnd();
  t.equal(rest.length, 0, 'no response to a request cut short');
  const { req } = backend.exchanges[before]!;
  if (!req.socket.destroyed) await waitEvent(req.socket, 'close', 'the backend connection to be closed');
  t.pass('the backend connection was closed');
}, onErrors);

proxyTest(t, 'client half-closes between requests: the proxy closes the connection', async (t, h) => {
  const client = await h.client(errors);
  t.equal((await client.get('/', 'client-side.test')).status, 200);
  client.end();
  t.equal((await client.waitEnd()).length, 0);
}, onErrors);

// ---------------------------------------------------------------------------------------------
// Timeouts

proxyTest(t, 'timeouts.header: half a head, then silence: 408 and the connection closes', async (t, h) => {
  const client = await h.client(timed);
  const started = Date.now();
  await client.write('GET / HTTP/1.1\r\nHost: slow.test\r\n');
  const res = await client.read();
  t.same([res.status, res.text(), res.header('connection')], [408, 'Request Timeout', 'close']);
  t.ok(Date.now() - started >= 250, `after about timeouts.header (${Date.now() - started} ms)`);
  await client.waitEnd();
}, onTimed);

proxyTest(t, 'timeouts.header: a connection that never sends a byte is closed without a response', async (t, h) => {
  const client = await h.client(timed);
  const rest = await client.waitEnd();
  t.equal(rest.length, 0);
}, onTimed);

proxyTest(t, 'timeouts.idle: a keep-alive connection with nothing in flight is closed', async (t, h) => {
  const client = await h.client(timed);
  t.equal((await client.get('/', 'idle.test')).status, 200);
  const answered = Date.now();
  t.equal((await client.waitEnd()).length, 0, 'closed without a byte');
  t.ok(Date.now() - answered >= 250, `after about timeouts.idle (${Date.now() - answered} ms)`);
}, onTimed);

proxyTest(t, 'timeouts.server: a backend too slow to answer: 504 and the connection closes', async (t, h) => {
  const client = await h.client(timed);
  const res = await client.get('/slow?ms=3000', 'slow.test');
  t.same([res.status, res.text(), res.header('connection')], [504, 'Gateway Timeout', 'close']);
  await client.waitEnd();
  t.ok(serverOf(timed, app.slow!).up, 'slowness does not take a server out');
}, onTimed);

proxyTest(t, 'timeouts.server: a backend that stalls in the middle of its body: the client connection is cut', async (t, h) => {
  const client = await h.client(timed);
  await t.rejects(client.get('/', 'stalled.test'), /closed 90 bytes before the end of a 100-byte body/);
}, onTimed);

proxyTest(t, 'timeouts.connect: a server that never completes the handshake is marked down and the next one answers', async (t, h) => {
  const client = await h.client(timed);
  // A POST whose body arrives while the proxy is still trying to connect: it waits, then goes
  // whole to the server that answers (nothing was sent to the first one).
  const body = Buffer.alloc(100_000, 7);
  await client.write(request('POST', '/sha256', { host: 'blackhole.test', headers: [['Content-Length', String(body.length)]] }));
  await waitFor('the proxy to start connecting', () => serverOf(timed, { port: blackhole }).stats.requests === 1);
  await client.write(body.subarray(0, 1000));
  await client.write(body.subarray(1000));
  const res = await client.read();
  t.equal(res.status, 200);
  t.equal(res.header('x-server'), 'live-blackhole');
  t.same(res.json(), { sha256: sha256(body), bytes: body.length });
  const down = timed.log.matching(`server ${HOST}:${blackhole} (pool blackhole.test) DOWN`);
  t.equal(down.length, 1);
  t.match(down[0], /DOWN: connect timeout$/);
}, onTimed);

// ---------------------------------------------------------------------------------------------
// Listening

proxyTest(t, 'limits.max_connections: a connection past the limit is closed at once; listen on all interfaces', async (t, h) => {
  const backend = app.limited!;
  const proxy = await h.proxy(`listen: 0\nlimits: { max_connections: 1 }\nhealthcheck: { interval: 1m }\nservers: [${q(backend)}]`, {
    configure: (c) => (c.listen = [{ ...c.listen[0]!, host: '', port: 0 }]),
  });
  const first = await h.client(proxy);
  t.equal((await first.get('/')).status, 200);
  const second = await h.client(proxy);
  t.equal((await second.waitEnd()).length, 0, 'the second connection is closed without a response');
  t.equal((await first.get('/')).status, 200, 'the first one goes on');
  first.destroy();
  // The count drops when the proxy sees the first connection close; retry a few times.
  let answered = 0;
  for (let attempt = 0; attempt < 50 && answered === 0; attempt++) {
    const next = await RawClient.connect(proxy.port);
    try {
      answered = (await next.send(request('GET', '/', { headers: [['Connection', 'close']] }), { timeoutMs: 1000 })).status;
    } catch {
      // closed at once: the old connection is not gone yet
    } finally {
      next.destroy();
    }
  }
  t.equal(answered, 200, 'a new connection is served once the first is gone');

  // Another proxy on the same port cannot listen.
  const config = parseConfig(`servers: [${q(backend)}]`, 'test.yaml');
  config.listen = [{ ...config.listen[0]!, host: HOST, port: proxy.port }];
  const taken = new ProxyServer(config, new LogCapture().logger);
  await t.rejects(taken.listen(), { code: 'EADDRINUSE' });
  await within(taken.close(), 'the proxy that could not listen to close');
}, { alive: false });

// ---------------------------------------------------------------------------------------------
// Every answer of the balancer's own goes through one path (errors.ts): status, body and code

proxyTest(t, 'each answer of the balancer its own carries its error code to the access log', async (t, h) => {
  const gone = await h.rawBackend(); // passes its first check, then closes: refused
  const hangUp = await h.rawBackend(behave.hangUp);
  const garbage = await h.rawBackend(behave.garbage);
  const silent = await h.rawBackend(); // accepts the request, never answers
  const proxy = await h.proxy(`
timeouts: { server: 300ms }
healthcheck: { interval: 1m, timeout: 30s }
log: { format: json }
hosts:
  - { host: refused.test, servers: [${q(gone)}] }
  - { host: down.test, servers: [${q(neverUp)}] }
  - { host: hang-up.test, servers: [${q(hangUp)}] }
  - { host: garbage.test, servers: [${q(garbage)}] }
  - { host: silent.test, servers: [${q(silent)}] }
`);
  await waitFor('the first health check of the server that goes', () => gone.probes > 0);
  await new Promise((resolve) => gone.server.close(resolve));
  await proxy.log.waitFor(`server ${HOST}:${neverUp} (pool down.test) DOWN`);
  const cases: [host: string, method: string, status: number, code: string][] = [
    ['nowhere.test', 'GET', 404, 'NO_ROUTE'],
    ['refused.test', 'GET', 503, 'UPSTREAM_CONNECT'],
    ['down.test', 'GET', 503, 'NO_SERVER'],
    ['hang-up.test', 'POST', 502, 'UPSTREAM_RESET'],
    ['garbage.test', 'GET', 502, 'BAD_STATUS_LINE'],
    ['silent.test', 'GET', 504, 'UPSTREAM_TIMEOUT'],
  ];
  for (const [host, method, status, code] of cases) {
    const client = await h.client(proxy);
    const res = await client.send(request(method, `/${code}`, { host, body: method === 'POST' ? 'x' : undefined }));
    t.equal(res.status, status, `${host}: ${status}`);
    await proxy.log.waitFor(`"path":"/${code}"`);
    const line = proxy.log.matching(`"path":"/${code}"`)[0]!;
    // The balancer answered: no server, whichever it tried.
    t.match(JSON.parse(line.slice(line.indexOf('{'))), { host, status, code, server: '-' }, `${host}: ${code} in the access line`);
  }
  // A response from a server: no code.
  const ok = await h.backend('ok');
  await proxy.server.reload(parseConfig(`log: { format: json }\nservers: [${q(ok)}]\n`, 'ok.yaml'));
  t.equal((await (await h.client(proxy)).get('/from-server', 'any.test')).status, 200);
  await proxy.log.waitFor('"path":"/from-server"');
  const line = proxy.log.matching('"path":"/from-server"')[0]!;
  t.match(JSON.parse(line.slice(line.indexOf('{'))), { status: 200, code: null });
});
