// What an operator sees of every response (interface.md, "Logs an operator relies on"): each
// one, also those the balancer makes itself (400, 404, 408, 414, 431, 501, 502, 503, 504, 505),
// gets an access line with its error code and is counted in /status and /metrics
// (lb_responses_total); the text line field by field, the JSON line parsed; the WARN lines that
// name the server on a 504 and on a reset; and, as a real process with log.format json, stdout
// that holds access lines only and stderr that holds JSON objects only.

import type net from 'node:net';
import t, { type Test } from 'tap';
import { metricsOf } from '../src/admin/metrics.js';
import { statusOf, type ResponseCount } from '../src/admin/status.js';
import { lb, LB, withWarnings } from './helpers/lb-process.js';
import { Harness, HOST, q, request, waitFor, within, type Proxy } from './helpers/net.js';

/** What the parts of a text access line are, split on the spaces outside quotes and brackets. */
interface TextLine {
  client: string;
  time: string;
  request: string;
  status: string;
  bytes: string;
  referer: string;
  userAgent: string;
  host: string;
  server: string;
  requestId: string;
  duration: string;
  code: string;
}

function parseTextLine(line: string): TextLine {
  const parts = line.match(/"[^"]*"|\[[^\]]*\]|\S+/g)!;
  if (parts.length !== 14 || parts[1] !== '-' || parts[2] !== '-') throw new Error(`not an access line: ${line}`);
  const [client, , , time, request, status, bytes, referer, userAgent, host, server, requestId, duration, code] = parts as [string, ...string[]];
  return { client, time: time!, request: request!, status: status!, bytes: bytes!, referer: referer!, userAgent: userAgent!, host: host!, server: server!, requestId: requestId!, duration: duration!, code: code! };
}

/** The access lines among a proxy's log lines: they start with the client, not a timestamp. */
const accessLines = (proxy: Proxy) => proxy.log.lines.filter((l) => l.startsWith(`${HOST} - - [`) || l.startsWith('{"time"'));

/** Sends `bytes` on a new connection, reads the response, and returns it with the access line it added and the bytes the client got. */
async function exchange(h: Harness, proxy: Proxy, bytes: Buffer | string, what: string): Promise<{ status: number; line: string; length: number; id: string | undefined }> {
  const before = accessLines(proxy).length;
  const client = await h.client(proxy);
  await client.write(bytes);
  const res = await client.read();
  await waitFor(`the access line of ${what}`, () => accessLines(proxy).length === before + 1);
  return { status: res.status, line: accessLines(proxy)[before]!, length: client.bytesReceived, id: res.header('x-request-id') };
}

/** Raw backends that misbehave once the proxy's request arrives. */
const behave = {
  reset: (s: net.Socket) => s.once('data', () => s.resetAndDestroy()),
  partialHead: (s: net.Socket) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Le')),
  truncatedBody: (s: net.Socket) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789')),
  stalledBody: (s: net.Socket) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789')),
};

/** A proxy in front of a stub app, a server that will refuse, and raw backends that misbehave. */
async function setUp(t: Test, h: Harness, format: 'text' | 'json') {
  const ok = await h.backend('ok');
  const gone = await h.backend('gone');
  const raw = {
    reset: await h.rawBackend(behave.reset),
    partialHead: await h.rawBackend(behave.partialHead),
    truncatedBody: await h.rawBackend(behave.truncatedBody),
    stalledBody: await h.rawBackend(behave.stalledBody),
    silent: await h.rawBackend(), // takes the request, never answers
  };
  // admin: the checks' results are kept for /status, so that the test can wait for the first.
  const proxy = await h.proxy(`
admin: 127.0.0.1:0
log: { format: ${format} }
timeouts: { header: 300ms, server: 300ms }
limits: { max_request_line: 64, max_fields: 4 }
healthcheck: { interval: 1m }
hosts:
  - { host: ok.test, servers: [${q(ok)}] }
  - { host: refused.test, servers: [${q(gone)}] }
  - { host: reset.test, servers: [${q(raw.reset)}] }
  - { host: partial.test, servers: [${q(raw.partialHead)}] }
  - { host: truncated.test, servers: [${q(raw.truncatedBody)}] }
  - { host: stalled.test, servers: [${q(raw.stalledBody)}] }
  - { host: silent.test, servers: [${q(raw.silent)}] }
`);
  // Up at start (its first check passed), gone now: the proxy's connection is refused.
  await waitFor('the first health check', () => proxy.server.servers.every((s) => s.lastCheck !== null));
  await gone.close();
  t.ok(proxy.server.servers.every((s) => s.up), 'every server up to begin with');
  return { proxy, ok, raw };
}

t.test('text: every response the balancer makes itself has its line, its code and its count', async (t) => {
  const h = new Harness(t);
  const { proxy, ok, raw } = await setUp(t, h, 'text');
  const get = (target: string, host: string, headers: [string, string][] = []) => request('GET', target, { host, headers });

  // [what is sent, status, request line as logged, host, server, code, referer, user agent]
  const cases: [string | Buffer, number, string, string, string, string, string, string][] = [
    [get('/ok', 'ok.test', [['Referer', 'https://r.test/a?b="c"'], ['User-Agent', 'agent/1.0 (x; y)']]), 200, '"GET /ok HTTP/1.1"', 'ok.test', ok.address, '-', '"https://r.test/a?b=\\x22c\\x22"', '"agent/1.0 (x; y)"'],
    [get('/ok', 'ok.test'), 200, '"GET /ok HTTP/1.1"', 'ok.test', ok.address, '-', '"-"', '"-"'],
    [get('/nowhere', 'nowhere.test', [['User-Agent', 'a']]), 404, '"GET /nowhere HTTP/1.1"', 'nowhere.test', '-', 'NO_ROUTE', '"-"', '"a"'],
    ['GET /no-host HTTP/1.1\r\nUser-Agent: unread\r\n\r\n', 400, '"GET /no-host HTTP/1.1"', '-', '-', 'MISSING_HOST', '"-"', '"-"'],
    ['GET /a b HTTP/1.1\r\nHost: ok.test\r\n\r\n', 400, '"-"', '-', '-', 'BAD_REQUEST_LINE', '"-"', '"-"'],
    [get('/' + 'x'.repeat(100), 'ok.test'), 414, '"-"', '-', '-', 'REQUEST_LINE_TOO_LONG', '"-"', '"-"'],
    [get('/many', 'ok.test', [['A', '1'], ['B', '2'], ['C', '3'], ['D', '4']]), 431, '"GET /many HTTP/1.1"', '-', '-', 'TOO_MANY_FIELDS', '"-"', '"-"'],
    ['POST /up HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: br, chunked\r\n\r\n', 501, '"POST /up HTTP/1.1"', '-', '-', 'UNKNOWN_TRANSFER_CODING', '"-"', '"-"'],
    ['CONNECT ok.test:443 HTTP/1.1\r\nHost: ok.test:443\r\n\r\n', 501, '"CONNECT ok.test:443 HTTP/1.1"', '-', '-', 'METHOD_NOT_IMPLEMENTED', '"-"', '"-"'],
    ['GET / HTTP/2.0\r\nHost: ok.test\r\n\r\n', 505, '"GET / HTTP/2.0"', '-', '-', 'UNSUPPORTED_VERSION', '"-"', '"-"'],
    [get('/refused', 'refused.test'), 503, '"GET /refused HTTP/1.1"', 'refused.test', '-', 'UPSTREAM_CONNECT', '"-"', '"-"'],
    [request('POST', '/reset', { host: 'reset.test', body: 'x' }), 502, '"POST /reset HTTP/1.1"', 'reset.test', '-', 'UPSTREAM_RESET', '"-"', '"-"'],
    [get('/partial', 'partial.test'), 502, '"GET /partial HTTP/1.1"', 'partial.test', '-', 'UPSTREAM_RESET', '"-"', '"-"'],
    [get('/silent', 'silent.test'), 504, '"GET /silent HTTP/1.1"', 'silent.test', '-', 'UPSTREAM_TIMEOUT', '"-"', '"-"'],
  ];
  for (const [bytes, status, requestLine, host, server, code, referer, userAgent] of cases) {
    const what = `${status} ${code}`;
    const got = await exchange(h, proxy, bytes, what);
    t.equal(got.status, status, `${what}: the status`);
    const line = parseTextLine(got.line);
    // Every response carries the request's id (a new one: none was sent), and the line shows it.
    t.match(got.id, /^[0-9a-f]{32}$/, `${what}: the response's request id`);
    t.match(line, { client: HOST, time: /^\[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\]$/, request: requestLine, status: String(status), bytes: String(got.length), referer, userAgent, host, server, requestId: got.id, duration: /^\d+ms$/, code }, `${what}: the line, field by field`);
  }

  // 408: a head that does not come whole within timeouts.header; its request line had.
  const slow = await exchange(h, proxy, 'GET /slow HTTP/1.1\r\nHost: ok.test\r\n', '408');
  t.equal(slow.status, 408);
  const line408 = parseTextLine(slow.line);
  t.match(line408, { request: '"GET /slow HTTP/1.1"', status: '408', bytes: String(slow.length), host: '-', server: '-', code: 'HEADER_TIMEOUT' });
  t.ok(parseInt(line408.duration, 10) >= 250, `timed from the head's first bytes: ${line408.duration}`);

  // Responses cut short after their head went out: no status to count, but the server is named.
  for (const [host, warn] of [
    ['truncated.test', `server ${raw.truncatedBody.address}: connection closed in the middle of the response to GET /cut, cutting it`],
    ['stalled.test', `server ${raw.stalledBody.address}: the response to GET /cut stalled past timeouts.server (300ms), cutting it`],
  ] as const) {
    const client = await h.client(proxy);
    await client.write(get('/cut', host));
    await client.waitEnd();
    await proxy.log.waitFor(warn);
    t.equal(proxy.log.matching(warn).length, 1, warn);
    await waitFor(`the access line of ${host}`, () => accessLines(proxy).some((l) => l.includes(` ${host} `)));
    t.match(parseTextLine(accessLines(proxy).find((l) => l.includes(` ${host} `))!), { status: '0', server: /^127\.0\.0\.1:\d+$/, code: '-' }, `${host}: cut (0)`);
  }

  // The WARN lines that name the server.
  t.equal(proxy.log.matching(`WARN server ${raw.silent.address}: no response within timeouts.server (300ms), answering 504 to GET /silent`).length, 1, 'the 504');
  t.match(proxy.log.matching(`WARN server ${raw.reset.address}: `), [/(ECONNRESET|EPIPE|connection closed) before any response to POST \/reset$/], 'the reset');
  t.equal(proxy.log.matching(`WARN server ${raw.partialHead.address}: connection closed inside the response head, answering 502 to GET /partial`).length, 1, 'the reset inside the head');

  // Counted, as /status and /metrics show them.
  const status = statusOf(proxy.server, 0, Date.now());
  const series = (pool: string, status: number, code: string, count: number): ResponseCount => ({ pool, status, code, source: code === '' ? 'server' : 'balancer', count });
  t.same(status.responses, [
    series('', 400, 'BAD_REQUEST_LINE', 1),
    series('', 400, 'MISSING_HOST', 1),
    series('', 404, 'NO_ROUTE', 1),
    series('', 408, 'HEADER_TIMEOUT', 1),
    series('', 414, 'REQUEST_LINE_TOO_LONG', 1),
    series('', 431, 'TOO_MANY_FIELDS', 1),
    series('', 501, 'METHOD_NOT_IMPLEMENTED', 1),
    series('', 501, 'UNKNOWN_TRANSFER_CODING', 1),
    series('', 505, 'UNSUPPORTED_VERSION', 1),
    series('ok.test', 200, '', 2),
    series('refused.test', 503, 'UPSTREAM_CONNECT', 1),
    series('reset.test', 502, 'UPSTREAM_RESET', 1),
    series('partial.test', 502, 'UPSTREAM_RESET', 1),
    series('silent.test', 504, 'UPSTREAM_TIMEOUT', 1),
  ]);
  const metrics = metricsOf(status);
  t.match(metrics, '\nlb_responses_total{pool="",status="408",code="HEADER_TIMEOUT",source="balancer"} 1\n');
  t.match(metrics, '\nlb_responses_total{pool="ok.test",status="200",code="",source="server"} 2\n');
  t.match(metrics, '\nlb_responses_total{pool="silent.test",status="504",code="UPSTREAM_TIMEOUT",source="balancer"} 1\n');
});

t.test('json: every access line is one object, with what the text line has', async (t) => {
  const h = new Harness(t);
  const { proxy, ok } = await setUp(t, h, 'json');
  await exchange(h, proxy, request('GET', '/ok', { host: 'ok.test', headers: [['Referer', 'https://r.test/'], ['User-Agent', 'agent "1"']] }), '200');
  await exchange(h, proxy, request('GET', '/ok', { host: 'ok.test' }), '200 without Referer and User-Agent');
  await exchange(h, proxy, request('GET', '/' + 'x'.repeat(100), { host: 'ok.test' }), '414');
  await exchange(h, proxy, 'GET /no-host HTTP/1.1\r\n\r\n', '400');
  await exchange(h, proxy, request('GET', '/nowhere', { host: 'nowhere.test' }), '404');
  const lines = accessLines(proxy);
  t.equal(lines.length, 5);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const p of parsed) {
    t.strictSame(Object.keys(p), ['time', 'client', 'method', 'host', 'path', 'status', 'server', 'bytes', 'ms', 'code', 'referer', 'user_agent', 'request_id'], 'the same keys, in order');
    t.match(p, { time: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, client: HOST, bytes: Number, ms: Number, request_id: /^[0-9a-f]{32}$/ });
  }
  t.match(parsed[0], { method: 'GET', host: 'ok.test', path: '/ok', status: 200, server: ok.address, code: null, referer: 'https://r.test/', user_agent: 'agent "1"' });
  t.match(parsed[1], { status: 200, referer: null, user_agent: null });
  t.match(parsed[2], { method: null, host: '', path: null, status: 414, server: '-', code: 'REQUEST_LINE_TOO_LONG', referer: null, user_agent: null });
  t.match(parsed[3], { method: 'GET', path: '/no-host', status: 400, code: 'MISSING_HOST' });
  t.match(parsed[4], { method: 'GET', host: 'nowhere.test', path: '/nowhere', status: 404, server: '-', code: 'NO_ROUTE' });
});

t.test('a process with log.format json: stdout holds access lines only, stderr JSON objects only', async (t) => {
  const h = new Harness(t);
  const ok = await h.backend('ok');
  const dir = t.testdir({ 'lb.yaml': `listen: 127.0.0.1:0\nlog: { format: json }\nhealthcheck: { interval: 1m }\nhosts:\n  - { host: ok.test, servers: [${q(ok)}] }\n` });
  // A warning of Node's own while it runs (on SIGUSR2, which the balancer leaves alone): Node would
  // print it as text.
  const warn = `process.once('SIGUSR2', () => process.emitWarning('a warning of Node\\'s own', { type: 'DeprecationWarning', code: 'DEP0999' }))`;
  const proc = lb([`--import=data:text/javascript,${encodeURIComponent(warn)}`, LB, 'lb.yaml'], dir, withWarnings());
  t.teardown(() => proc.child.kill('SIGKILL'));
  const port = Number((await within(proc.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the listening line', 30_000))[1]);
  proc.child.kill('SIGUSR2');
  await within(proc.until(/DEP0999/), 'the warning');
  for (const bytes of [request('GET', '/ok', { host: 'ok.test' }), request('GET', '/', { host: 'nowhere.test' }), 'GET /no-host HTTP/1.1\r\n\r\n']) {
    const client = await h.client(port);
    await client.write(bytes);
    await client.read();
  }
  await within(proc.until(/"code":"MISSING_HOST"/), 'the last access line', 10_000);
  proc.child.kill('SIGTERM');
  const { code, stdout, stderr } = await within(proc.exit, 'the exit', 15_000);
  t.equal(code, 0);
  const out = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(out.map((l) => [l.status, l.code]), [[200, null], [404, 'NO_ROUTE'], [400, 'MISSING_HOST']], 'stdout: the three access lines');
  const err = stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(err.every((l) => typeof l.time === 'string' && typeof l.level === 'string' && typeof l.msg === 'string'), 'stderr: every line {time, level, msg}');
  t.ok(err.some((l) => l.msg === `listening on http://127.0.0.1:${port}`), 'listening');
  t.ok(err.some((l) => l.msg === 'SIGTERM: closing') && err.some((l) => l.msg === 'closed'), 'and the stop');
  t.ok(err.some((l) => l.level === 'warn' && l.msg === "DeprecationWarning DEP0999: a warning of Node's own"), "and Node's own warning");
});
