// Route rules, request ids and limits.max_body through real sockets (interface.md, "Route rules",
// and the 413 of "Responses the balancer makes itself"): raw backends record exactly the bytes
// they got, and answer with fields the rules act on.

import type net from 'node:net';
import t from 'tap';
import { answerEveryHead, chunked, Harness, q, request, waitFor, type RawBackend } from './helpers/net.js';

const ANSWER = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: stub\r\nX-Request-ID: backend-own\r\nX-Debug: 1\r\n\r\nok';

/** The request heads a raw backend got, as text, one per request, without the empty line. */
function heads(backend: RawBackend): string[] {
  return backend
    .text()
    .split('\r\n\r\n')
    .filter((h) => h !== '');
}

/** A raw backend that answers every head with ANSWER. */
const recorder = (h: Harness) => h.rawBackend((socket: net.Socket) => answerEveryHead(socket, ANSWER));

t.test('strip_prefix and rewrite_prefix: the target the backend gets', async (t) => {
  const h = new Harness(t);
  const b = await recorder(h);
  const proxy = await h.proxy(`
request_id: ""
hosts:
  - host: shop.test
    paths:
      - { path: /api, strip_prefix: true, servers: [${q(b)}] }
  - host: v.test
    rewrite_prefix: /v2/
    servers: [${q(b)}]
paths:
  - { path: /api, strip_prefix: true, servers: [${q(b)}] }
  - { path: /old, rewrite_prefix: /v2, servers: [${q(b)}] }
  - { path: /root, rewrite_prefix: /, servers: [${q(b)}] }
  - { path: /, strip_prefix: true, servers: [${q(b)}] }
`);
  const client = await h.client(proxy);
  const cases: [string, string, string][] = [
    ['/api/users?x=1', 'a.test', '/users?x=1'],
    ['/api', 'a.test', '/'],
    ['/api?x', 'a.test', '/?x'],
    ['/api/', 'a.test', '/'],
    ['/old/users', 'a.test', '/v2/users'],
    ['/old', 'a.test', '/v2'],
    ['/old?q', 'a.test', '/v2?q'],
    ['/root/x', 'a.test', '/x'],
    ['/other', 'a.test', '/other'],
    ['/api/x', 'shop.test', '/x'],
    ['/y', 'v.test', '/v2/y'],
  ];
  for (const [target, host] of cases) t.equal((await client.get(target, host)).status, 200);
  t.same(
    heads(b).map((head) => head.split('\r\n')[0]),
    cases.map(([, , sent]) => `GET ${sent} HTTP/1.1`),
    'each target rewritten, the query kept',
  );
  // An absolute-form target is rewritten too (its Host from the authority).
  const abs = await client.send(request('GET', 'http://a.test/api/abs?z', { host: 'a.test' }));
  t.equal(abs.status, 200);
  t.match(heads(b).at(-1)!, /^GET \/abs\?z HTTP\/1\.1\r\nHost: a\.test\r\n/);
});

t.test('request_headers and response_headers: set, add, remove, applied as the heads are built', async (t) => {
  const h = new Harness(t);
  const b = await recorder(h);
  const proxy = await h.proxy(`
request_id: ""
paths:
  - path: /
    request_headers:
      set: { X-Env: prod, x-forwarded-proto: https }
      add: { X-Tag: a }
      remove: [X-Debug, X-Forwarded-For]
    response_headers:
      set: { Strict-Transport-Security: "max-age=63072000" }
      add: { X-Served-By: lb }
      remove: [server, X-DEBUG]
    servers: [${q(b)}]
`);
  const client = await h.client(proxy);
  const res = await client.get('/', 'r.test', [
    ['x-env', 'dev'],
    ['X-Env', 'staging'],
    ['X-Tag', 'client'],
    ['X-Debug', '1'],
    ['X-Forwarded-For', '6.6.6.6'],
  ]);
  t.equal(
    heads(b)[0],
    'GET / HTTP/1.1\r\nHost: r.test\r\nX-Tag: client\r\nX-Forwarded-Host: r.test\r\nX-Env: prod\r\nx-forwarded-proto: https\r\nX-Tag: a',
    'set replaced every X-Env and the balancer’s X-Forwarded-Proto, add added one more X-Tag, remove took X-Debug and X-Forwarded-For',
  );
  t.same(res.headers, [
    ['Content-Length', '2'],
    ['X-Request-ID', 'backend-own'],
    ['Strict-Transport-Security', 'max-age=63072000'],
    ['X-Served-By', 'lb'],
  ]);
  t.equal(res.text(), 'ok');
});

t.test('request_id: kept when valid, made when missing or invalid, echoed, one field to the backend', async (t) => {
  const h = new Harness(t);
  const b = await recorder(h);
  const proxy = await h.proxy(`
hosts:
  - { host: ok.test, servers: [${q(b)}] }
  - { host: moved.test, redirect: { location: "https://{host}{path}" } }
`);
  const client = await h.client(proxy);
  const ids = (head: string) => head.split('\r\n').filter((l) => /^x-request-id:/i.test(l));

  const fresh = await client.get('/a', 'ok.test');
  const id = fresh.header('x-request-id')!;
  t.match(id, /^[0-9a-f]{32}$/, '128 random bits as 32 hex digits');
  t.same(ids(heads(b)[0]!), [`X-Request-ID: ${id}`], 'the backend got the same id');
  t.same(fresh.headers.filter(([n]) => n === 'X-Request-ID'), [['X-Request-ID', id]], "the backend's own id field is replaced");

  const kept = await client.get('/b', 'ok.test', [['x-request-id', 'abc-123'], ['X-Request-Id', 'second']]);
  t.equal(kept.header('x-request-id'), 'abc-123', 'a valid id is kept');
  t.same(ids(heads(b)[1]!), ['x-request-id: abc-123'], 'as the client wrote it, and only the first');

  for (const bad of ['a b', 'x'.repeat(201), 'caf\xe9']) {
    const res = await client.get('/c', 'ok.test', [['X-Request-ID', bad], ['X-Request-ID', 'valid-but-second']]);
    t.match(res.header('x-request-id'), /^[0-9a-f]{32}$/, `${JSON.stringify(bad.slice(0, 8))}: replaced`);
    t.same(ids(heads(b).at(-1)!), [`X-Request-ID: ${res.header('x-request-id')}`]);
  }
  t.equal((await client.get('/d', 'ok.test', [['X-Request-ID', 'x'.repeat(200)]])).header('x-request-id'), 'x'.repeat(200), '200 characters are kept');

  // The balancer's own responses carry it too: a 404, a redirect.
  t.equal((await client.get('/', 'nowhere.test', [['X-Request-ID', 'lost-1']])).header('x-request-id'), 'lost-1');
  t.match((await client.get('/', 'nowhere.test', [['X-Request-ID', '']])).header('x-request-id'), /^[0-9a-f]{32}$/);
  t.match((await client.get('/', 'moved.test')).header('x-request-id'), /^[0-9a-f]{32}$/);

  // Ids differ, across batches of new ones too.
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) seen.add((await client.get('/', 'nowhere.test')).header('x-request-id')!);
  t.equal(seen.size, 300, 'every new id differs');
});

t.test('request_id: another field name, or off', async (t) => {
  const h = new Harness(t);
  const b = await recorder(h);
  const named = await h.proxy(`request_id: X-Trace\nservers: [${q(b)}]\n`);
  const client = await h.client(named);
  const res = await client.get('/', 'a.test', [['X-Trace', 't-1'], ['X-Request-ID', 'passes']]);
  t.equal(res.header('x-trace'), 't-1');
  t.equal(res.header('x-request-id'), 'backend-own', 'another field passes through');
  t.match(heads(b)[0]!, /\r\nX-Trace: t-1\r\nX-Request-ID: passes\r\n/);

  const off = await h.proxy(`request_id: ""\nservers: [${q(b)}]\n`);
  const plain = await (await h.client(off)).get('/', 'a.test');
  t.equal(plain.header('x-request-id'), 'backend-own', 'off: nothing added, nothing replaced');
  t.notMatch(heads(b)[1]!, /x-request-id/i);
  const bad = await h.client(off);
  await bad.write('GET / HTTP/1.1\r\n\r\n');
  const refused = await bad.read();
  t.equal(refused.status, 400);
  t.equal(refused.header('x-request-id'), undefined, 'nor on the balancer’s own responses');
  await waitFor('its access line', () => off.log.matching('" 400 ').length === 1);
  t.match(off.log.matching('" 400 ')[0], / - - - \d+ms MISSING_HOST$/, 'the access line’s request_id is -');

  // A reload changes the field.
  await off.server.reload({ ...off.config, requestId: 'X-Other' });
  t.match((await (await h.client(off)).get('/', 'a.test')).header('x-other'), /^[0-9a-f]{32}$/);
});

t.test('redirect: {host} {path} {scheme}, the code, counted and logged as the balancer’s own', async (t) => {
  const h = new Harness(t);
  const proxy = await h.proxy(`
request_id: ""
hosts:
  - host: "*.old.test"
    redirect: { location: "{scheme}://new.test{path}?from={host}", code: 301 }
paths:
  - { path: /go, redirect: { location: "https://{host}{path}" } }
  - { path: /see, redirect: { location: /elsewhere, code: 303 } }
`);
  const client = await h.client(proxy);
  let res = await client.get('/a/b?c=1', 'www.old.test:8080');
  t.equal(res.status, 301);
  t.equal(res.reason, 'Moved Permanently');
  t.equal(res.header('location'), 'http://new.test/a/b?c=1?from=www.old.test');
  t.equal(res.header('content-length'), '0');
  res = await client.get('/go/x?y', 'Shop.Test');
  t.equal(res.status, 308);
  t.equal(res.header('location'), 'https://shop.test/go/x?y', 'the host as routed: lower case, no port');
  res = await client.send(request('HEAD', '/see', { host: 'a.test' }), { head: true });
  t.equal(res.status, 303);
  t.equal(res.header('location'), '/elsewhere');
  t.equal(res.header('connection'), undefined, 'the connection stays open');
  res = await client.send(request('GET', '/go', { host: 'a.test', headers: [['Connection', 'close']] }));
  t.equal(res.header('connection'), 'close', 'the client asked to close');
  await client.waitEnd();
  await waitFor('four access lines', () => proxy.log.matching('REDIRECT_').length === 4);
  t.match(proxy.log.matching('REDIRECT_')[0], /"GET \/a\/b\?c=1 HTTP\/1\.1" 301 \d+ "-" "-" www\.old\.test - - \d+ms REDIRECT_301$/);
  const counts = proxy.server.snapshot.pools.find((p) => p.name === '/go')!.responses.fromBalancer;
  t.same([...counts], [['REDIRECT_308', 2]]);
});

t.test('timeouts on a route override the top level', async (t) => {
  const h = new Harness(t);
  const silent = await h.rawBackend();
  const proxy = await h.proxy(`
timeouts: { server: 1m }
paths:
  - { path: /fast, timeouts: { server: 100ms, connect: 1s }, servers: [${q(silent)}] }
`);
  const client = await h.client(proxy);
  const res = await client.get('/fast', 'a.test');
  t.equal(res.status, 504, 'the route’s 100ms, not the top level’s minute');
  t.ok(proxy.log.matching('timeouts.server (100ms)').length > 0, 'the warning names the route’s value');
});

t.test('limits.max_body: a Content-Length over it is refused before anything reaches a server', async (t) => {
  const h = new Harness(t);
  const b = await recorder(h);
  const proxy = await h.proxy(`limits: { max_body: 10 }\nservers: [${q(b)}]\n`);
  const client = await h.client(proxy);
  t.equal((await client.send(request('POST', '/', { host: 'a.test', body: '0123456789' }))).status, 200, '10 bytes pass');
  const res = await client.send(request('POST', '/', { host: 'a.test', body: '0123456789x' }));
  t.equal(res.status, 413);
  t.equal(res.text(), 'Payload Too Large');
  t.equal(res.header('connection'), 'close');
  await client.waitEnd();
  t.equal(heads(b).length, 2, 'only the first request (head, then body) reached the backend');
  await waitFor('the access line', () => proxy.log.matching('BODY_TOO_LARGE').length === 1);
});

t.test('limits.max_body: a chunked body that passes it stops there; the backend connection is closed', async (t) => {
  const h = new Harness(t);
  const b = await h.rawBackend();
  const proxy = await h.proxy(`request_id: ""\nlimits: { max_body: 10 }\nservers: [${q(b)}]\n`);
  const client = await h.client(proxy);
  const head = 'POST /up HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n';
  await client.write(head + '6\r\n012345\r\n');
  await waitFor('the head and the first chunk at the backend', () => b.text().endsWith('012345\r\n'));
  await client.write('5\r\n6789x\r\n0\r\n\r\n');
  const res = await client.read();
  t.equal(res.status, 413);
  await client.waitEnd();
  await waitFor('the backend connection closed', () => b.sockets[0]!.destroyed || b.sockets[0]!.readableEnded);
  t.equal(b.text().slice(b.text().indexOf('\r\n\r\n') + 4), '6\r\n012345\r\n', 'the backend got 6 bytes of body, never more than 10');

  // A response that has begun is cut instead.
  const b2 = await h.rawBackend((socket) => socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart')));
  const started = await h.proxy(`limits: { max_body: 4 }\nservers: [${q(b2)}]\n`);
  const c2 = await h.client(started);
  await c2.write(head + '2\r\nab\r\n');
  await c2.waitBytes(1);
  await c2.write(chunked(Buffer.from('cdefgh'), 3));
  const got = await c2.waitEnd();
  t.match(got.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[^]*start$/, 'the response so far, then the connection closes');
});
