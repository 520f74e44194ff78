// Head rewriting (src/http/forward.ts), pure: parse a head with the real parsers, rewrite it, and
// compare the bytes that would go out. Request heads gain X-Forwarded-* and lose hop-by-hop
// fields; response heads lose hop-by-hop fields and say what we do with the client connection.

import t from 'tap';
import { HttpError } from '../../src/errors.js';
import { buildClientHead, buildUpstreamHead, type ClientInfo } from '../../src/http/forward.js';
import { DEFAULTS, type HeaderRules, type RouteRules } from '../../src/config/schema.js';
import { EMPTY, RequestIds, type RequestIdSlot } from '../../src/http/request-id.js';
import { compileRoute, noRules, redirectLocation, rewriteTarget } from '../../src/http/route-rules.js';
import { errorResponse } from '../../src/http/responses.js';
import { RequestParser, type RequestHead } from '../../src/http/request-parser.js';
import { ResponseParser, type ResponseHead } from '../../src/http/response-parser.js';

/** No rules, no ids: the head builders as every route without rules uses them with request_id off. */
const NONE = noRules({ connect: 1, server: 1 });
const slot = (): RequestIdSlot => ({ idLine: EMPTY });

const CLIENT: ClientInfo = { address: '192.0.2.7', proto: 'http', trusted: false };
const TRUSTED: ClientInfo = { address: '10.0.0.1', proto: 'http', trusted: true };

/** Parses a request head written with "\n" line ends (turned into CRLF). */
function requestHead(text: string, maxFields = 100): RequestHead {
  const parser = new RequestParser({ maxStartLine: 8192, maxHead: 65536, maxFields });
  // A few bytes before the head, so that offsets that forget `start` would show.
  const bytes = Buffer.from('\r\n' + text.replace(/\n/g, '\r\n'), 'latin1');
  const head = parser.execute(bytes, 0);
  if (head === null || head instanceof HttpError) throw new Error(`could not parse ${JSON.stringify(text)}: ${String(head)}`);
  return head;
}

function responseHead(text: string, requestWasHead = false): ResponseHead {
  const parser = new ResponseParser();
  parser.requestWasHead = requestWasHead;
  const bytes = Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1');
  const head = parser.execute(bytes, 0);
  if (head === null || head instanceof HttpError) throw new Error(`could not parse ${JSON.stringify(text)}: ${String(head)}`);
  return head;
}

/** The upstream head for `text`, as text with "\n" line ends. */
function upstream(text: string, client: ClientInfo = CLIENT): string {
  return buildUpstreamHead(requestHead(text), client, NONE, null, slot()).toString('latin1').replace(/\r\n/g, '\n');
}

function toClient(text: string, connection: 'close' | 'keep-alive' | null, requestWasHead = false): string {
  return buildClientHead(responseHead(text, requestWasHead), connection, null, null, null, slot()).toString('latin1').replace(/\r\n/g, '\n');
}

t.test('buildUpstreamHead: the head as sent, plus X-Forwarded-For, -Host and -Proto', async (t) => {
  t.equal(
    upstream('GET /mango?x=1 HTTP/1.1\nHost: www.mango.com:8080\nAccept: */*\nX-Odd:   spaced  value \n\n'),
    'GET /mango?x=1 HTTP/1.1\n' +
      'Host: www.mango.com:8080\n' +
      'Accept: */*\n' +
      'X-Odd:   spaced  value \n' +
      'X-Forwarded-For: 192.0.2.7\n' +
      'X-Forwarded-Host: www.mango.com:8080\n' +
      'X-Forwarded-Proto: http\n\n',
  );
});

t.test('buildUpstreamHead: HTTP/1.2 is sent on as HTTP/1.1, our own version (RFC 9110 2.5)', async (t) => {
  t.equal(upstream('GET / HTTP/1.2\nHost: a\n\n').split('\n')[0], 'GET / HTTP/1.1');
  t.equal(upstream('GET / HTTP/1.9\nHost: a\n\n').split('\n')[0], 'GET / HTTP/1.1');
  t.equal(upstream('GET / HTTP/1.0\nHost: a\n\n').split('\n')[0], 'GET / HTTP/1.0', 'HTTP/1.0 stays: the backend must not answer it in chunks');
});

t.test('buildUpstreamHead: incoming X-Forwarded-* from an untrusted client are replaced', async (t) => {
  t.equal(
    upstream(
      'GET / HTTP/1.1\nX-Forwarded-For: 6.6.6.6\nHost: a.com\nx-forwarded-host: evil.com\nX-FORWARDED-PROTO: https\nX-Forwarded-For: 7.7.7.7\n\n',
    ),
    'GET / HTTP/1.1\nHost: a.com\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n',
  );
});

t.test('buildUpstreamHead: a trusted proxy’s X-Forwarded-For is extended, its -Host and -Proto kept', async (t) => {
  t.equal(
    upstream(
      'GET / HTTP/1.1\nHost: a.com\nX-Forwarded-For: 198.51.100.1\nX-Forwarded-Host: www.mango.com\nX-Forwarded-For: 198.51.100.2, 198.51.100.3\nX-Forwarded-Proto: https\n\n',
      TRUSTED,
    ),
    'GET / HTTP/1.1\nHost: a.com\nX-Forwarded-Host: www.mango.com\nX-Forwarded-Proto: https\n' +
      'X-Forwarded-For: 198.51.100.1, 198.51.100.2, 198.51.100.3, 10.0.0.1\n\n',
    'several X-Forwarded-For lines make one list, in order, with the client last',
  );
  t.equal(
    upstream('GET / HTTP/1.1\nHost: a.com\nX-Forwarded-Proto: https\n\n', TRUSTED),
    'GET / HTTP/1.1\nHost: a.com\nX-Forwarded-Proto: https\nX-Forwarded-For: 10.0.0.1\nX-Forwarded-Host: a.com\n\n',
    'a trusted client without X-Forwarded-For or -Host gets ours',
  );
  t.equal(
    upstream('GET / HTTP/1.1\nHost: a.com\nX-Forwarded-Host: b.com\n\n', TRUSTED),
    'GET / HTTP/1.1\nHost: a.com\nX-Forwarded-Host: b.com\nX-Forwarded-For: 10.0.0.1\nX-Forwarded-Proto: http\n\n',
    'a trusted client without -Proto gets ours',
  );
});

t.test('buildUpstreamHead: hop-by-hop fields and the names Connection lists are removed', async (t) => {
  t.equal(
    upstream(
      'GET / HTTP/1.1\nHost: a.com\nConnection: X-Trace, keep-alive, x-other\nX-Trace: 1\nKeep-Alive: timeout=5\n' +
        'TE: trailers\nUpgrade: h2c\nProxy-Connection: keep-alive\nX-OTHER: 2\nX-Kept: 3\nAccept: */*\n\n',
    ),
    'GET / HTTP/1.1\nHost: a.com\nX-Kept: 3\nAccept: */*\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n',
  );
  t.equal(
    upstream('GET / HTTP/1.1\nHost: a.com\nConnection: close\nX-Close: 1\n\n'),
    'GET / HTTP/1.1\nHost: a.com\nX-Close: 1\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n',
    'Connection: close is this hop’s business: the backend connection stays reusable',
  );
  t.equal(
    upstream('GET / HTTP/1.1\nHost: a.com\nConnection: User-Agent\nUser-Agent: x/1\nReferer: http://r/\n\n'),
    'GET / HTTP/1.1\nHost: a.com\nReferer: http://r/\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n',
    'Referer and User-Agent, known for the access log, pass through, unless Connection lists them',
  );
});

t.test('buildUpstreamHead: the body’s framing fields pass through unchanged', async (t) => {
  t.equal(
    upstream('POST /sha256 HTTP/1.1\nHost: a.com\nContent-Length: 10\n\n'),
    'POST /sha256 HTTP/1.1\nHost: a.com\nContent-Length: 10\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n',
  );
  t.equal(
    upstream('POST /sha256 HTTP/1.1\nTransfer-Encoding: gzip, chunked\nHost: a.com\nExpect: 100-continue\n\n'),
    'POST /sha256 HTTP/1.1\nTransfer-Encoding: gzip, chunked\nHost: a.com\nExpect: 100-continue\n' +
      'X-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n',
  );
});

t.test('buildUpstreamHead: an absolute-form target becomes origin-form and its authority the Host', async (t) => {
  t.equal(
    upstream('GET http://www.Mango.com:8080/x?y=1 HTTP/1.1\nHost: other.com\nAccept: */*\n\n'),
    'GET /x?y=1 HTTP/1.1\nHost: www.Mango.com:8080\nAccept: */*\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: www.Mango.com:8080\nX-Forwarded-Proto: http\n\n',
  );
  t.equal(
    upstream('GET https://a.com HTTP/1.1\nHost: a.com\n\n'),
    'GET / HTTP/1.1\nHost: a.com\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n',
    'no path: "/"',
  );
  t.equal(
    upstream('OPTIONS http://a.com?q HTTP/1.0\n\n'),
    'OPTIONS /?q HTTP/1.0\nHost: a.com\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\nConnection: keep-alive\n\n',
    'a query right after the authority; HTTP/1.0 without Host',
  );
});

t.test('buildUpstreamHead: HTTP/1.0 asks the backend to keep the connection; no Host, no X-Forwarded-Host', async (t) => {
  t.equal(
    upstream('GET /headers HTTP/1.0\nConnection: keep-alive\nAccept: */*\n\n'),
    'GET /headers HTTP/1.0\nAccept: */*\nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Proto: http\nConnection: keep-alive\n\n',
  );
  t.equal(
    upstream('GET / HTTP/1.0\nHost: \n\n'),
    'GET / HTTP/1.0\nHost: \nX-Forwarded-For: 192.0.2.7\nX-Forwarded-Proto: http\nConnection: keep-alive\n\n',
    'an empty Host is passed on but not copied',
  );
});

t.test('buildUpstreamHead: an IPv6 client address and an https listener', async (t) => {
  t.equal(
    upstream('GET / HTTP/1.1\nHost: a.com\n\n', { address: '2001:db8::1', proto: 'https', trusted: false }),
    'GET / HTTP/1.1\nHost: a.com\nX-Forwarded-For: 2001:db8::1\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: https\n\n',
  );
});

t.test('buildUpstreamHead: long values and many fields are copied whole', async (t) => {
  const many = Array.from({ length: 150 }, (_, i) => `X-F${i}: ${'v'.repeat(i)}`);
  const text = `GET /${'p'.repeat(3000)} HTTP/1.1\nHost: ${'h'.repeat(200)}.com\n${many.join('\n')}\n\n`;
  const out = buildUpstreamHead(requestHead(text, 200), CLIENT, NONE, null, slot()).toString('latin1').replace(/\r\n/g, '\n');
  t.equal(
    out,
    `GET /${'p'.repeat(3000)} HTTP/1.1\nHost: ${'h'.repeat(200)}.com\n${many.join('\n')}\n` +
      `X-Forwarded-For: 192.0.2.7\nX-Forwarded-Host: ${'h'.repeat(200)}.com\nX-Forwarded-Proto: http\n\n`,
  );
  // Only hop-by-hop lines among many: each dropped, the rest kept in order.
  const mixed = Array.from({ length: 140 }, (_, i) => (i % 3 === 0 ? `Keep-Alive: ${i}` : `X-M${i}: ${i}`));
  const expected = mixed.filter((l) => !l.startsWith('Keep-Alive'));
  t.equal(
    buildUpstreamHead(requestHead(`GET / HTTP/1.1\n${mixed.join('\n')}\nHost: a.com\n\n`, 200), TRUSTED, NONE, null, slot())
      .toString('latin1')
      .replace(/\r\n/g, '\n'),
    `GET / HTTP/1.1\n${expected.join('\n')}\nHost: a.com\nX-Forwarded-For: 10.0.0.1\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n`,
  );
  const longForwardedFor = Array.from({ length: 300 }, (_, i) => `198.51.100.${i % 256}`).join(', ');
  t.equal(
    upstream(`GET / HTTP/1.1\nHost: a.com\nX-Forwarded-For: ${longForwardedFor}\n\n`, TRUSTED),
    `GET / HTTP/1.1\nHost: a.com\nX-Forwarded-For: ${longForwardedFor}, 10.0.0.1\nX-Forwarded-Host: a.com\nX-Forwarded-Proto: http\n\n`,
    'a long trusted X-Forwarded-For',
  );
});

t.test('buildClientHead: always a new buffer, even when nothing changes (the read buffer is reused)', async (t) => {
  const head = responseHead('HTTP/1.1 200 OK\nContent-Length: 2\nX-Server: a\n\nok');
  const out = buildClientHead(head, null, null, null, null, slot());
  head.buf.fill(0x21); // the next read lands where the head was
  t.equal(out.toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Server: a\r\n\r\n', 'a copy');
});

t.test('buildClientHead: the first body bytes go behind the head, in the same buffer', async (t) => {
  const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', 'latin1');
  const parser = new ResponseParser();
  const head = parser.execute(bytes, 0) as ResponseHead;
  const at = parser.consumed;
  const same = buildClientHead(head, null, null, null, null, slot(), bytes, at, bytes.length);
  const text = bytes.toString('latin1');
  t.equal(same.toString('latin1'), text);
  t.equal(
    buildClientHead(head, 'close', null, null, null, slot(), bytes, at, bytes.length).toString('latin1'),
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
  );
  t.equal(buildClientHead(head, null, null, null, null, slot(), Buffer.from('xxhelloxx'), 2, 7).toString('latin1'), text, 'a body from another buffer is copied in');
  bytes.fill(0x21); // the next read lands where the response was
  t.equal(same.toString('latin1'), text, 'a copy');
});

t.test('buildClientHead: a head that came in pieces is copied out of the parser scratch buffer', async (t) => {
  const parser = new ResponseParser();
  const text = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'latin1');
  t.equal(parser.execute(text.subarray(0, 10), 0), null);
  const head = parser.execute(text.subarray(10), 0) as ResponseHead;
  t.equal(head.scratch, true);
  const out = buildClientHead(head, null, null, null, null, slot());
  head.buf.fill(0x21); // the next head that comes in pieces
  t.equal(out.toString('latin1'), text.toString('latin1'), 'a copy');
});

t.test('buildClientHead: hop-by-hop fields removed, Connection says what this hop does', async (t) => {
  const text = 'HTTP/1.1 200 OK\nConnection: keep-alive\nKeep-Alive: timeout=5\nContent-Length: 2\nUpgrade: h2c\nX-Server: a\nProxy-Connection: x\nTE: y\n\n';
  t.equal(toClient(text, null), 'HTTP/1.1 200 OK\nContent-Length: 2\nX-Server: a\n\n');
  t.equal(toClient(text, 'close'), 'HTTP/1.1 200 OK\nContent-Length: 2\nX-Server: a\nConnection: close\n\n');
  t.equal(toClient(text, 'keep-alive'), 'HTTP/1.1 200 OK\nContent-Length: 2\nX-Server: a\nConnection: keep-alive\n\n');
  t.equal(toClient('HTTP/1.1 204 No Content\n\n', 'close'), 'HTTP/1.1 204 No Content\nConnection: close\n\n', 'no fields at all');
  t.equal(
    toClient('HTTP/1.0 200 OK\nConnection: close\nX-A: 1\n\n', 'close'),
    'HTTP/1.0 200 OK\nX-A: 1\nConnection: close\n\n',
    'the status line is kept as the backend wrote it',
  );
  t.equal(
    toClient('HTTP/1.1 100 Continue\n\n', null),
    'HTTP/1.1 100 Continue\n\n',
    'an interim response passes as it is',
  );
});

t.test('buildClientHead: response fields named in Connection are hop-by-hop too', async (t) => {
  // RFC 9110 7.6.1: "Intermediaries MUST parse a received Connection header field before a
  // message is forwarded and, for each connection-option in this field, remove any header or
  // trailer field(s) from the message with the same name as the connection-option".
  t.equal(
    toClient('HTTP/1.1 200 OK\nConnection: X-Backend-Secret\nX-Backend-Secret: 42\nContent-Length: 0\n\n', null),
    'HTTP/1.1 200 OK\nContent-Length: 0\n\n',
  );
});

// The responses the proxy makes itself (src/http/responses.ts): what interface.md's table says.
t.test('errorResponse: status, reason, text/plain body, Content-Length, and Connection: close when asked', async (t) => {
  const table: [number, string, string][] = [
    [400, 'Bad Request', 'Bad Request'],
    [404, 'Not Found', 'Not Found'],
    [408, 'Request Timeout', 'Request Timeout'],
    [413, 'Payload Too Large', 'Payload Too Large'],
    [414, 'URI Too Long', 'URI Too Long'],
    [431, 'Request Header Fields Too Large', 'Request Header Fields Too Large'],
    [501, 'Not Implemented', 'Not Implemented'],
    [502, 'Bad Gateway', 'Bad Gateway'],
    [503, 'Service Unavailable', 'No backend servers available.'],
    [504, 'Gateway Timeout', 'Gateway Timeout'],
    [505, 'HTTP Version Not Supported', 'HTTP Version Not Supported'],
  ];
  for (const [status, reason, body] of table) {
    const retryAfter = status === 503 ? 'Retry-After: 1\r\n' : '';
    const head = `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${retryAfter}`;
    t.equal(errorResponse(status, null).toString('latin1'), `${head}\r\n${body}`, `${status}`);
    t.equal(errorResponse(status, 'close').toString('latin1'), `${head}Connection: close\r\n\r\n${body}`, `${status}, closing`);
    t.equal(errorResponse(status, 'keep-alive').toString('latin1'), `${head}Connection: keep-alive\r\n\r\n${body}`, `${status}, to a persistent HTTP/1.0 client`);
    t.equal(errorResponse(status, null, true).toString('latin1'), `${head}\r\n`, `${status} to a HEAD: no body`);
  }
  t.equal(errorResponse(503, 'close'), errorResponse(503, 'close'), 'built once, then the same bytes');
  t.equal(errorResponse(599, null).toString('latin1'), 'HTTP/1.1 599 Error\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nError', 'a status not in the table');
});

/** Route rules as the config reader gives them, compiled for a route whose prefix is `prefix`. */
function route(rules: Partial<RouteRules>, prefix = '/api') {
  return compileRoute({ ...DEFAULTS.rules, ...rules }, prefix, { connect: 1, server: 1 });
}
const headerRules = (h: Partial<HeaderRules>): HeaderRules => ({ set: [], add: [], remove: [], ...h });

t.test('buildUpstreamHead: request rules drop and add lines, and may replace the balancer’s X-Forwarded-*', async (t) => {
  const rules = route({ requestHeaders: headerRules({ set: [['X-Forwarded-Host', 'public.test'], ['X-Env', 'prod']], add: [['X-Tag', 'a']], remove: ['x-forwarded-for', 'X-FORWARDED-PROTO', 'X-Debug'] }) });
  const head = requestHead('GET /api/x HTTP/1.1\nHost: a.test\nX-Env: dev\nX-Debug: 1\nX-Keep: k\nX-Forwarded-Host: evil\n\n');
  t.equal(
    buildUpstreamHead(head, CLIENT, rules, null, slot()).toString('latin1').replace(/\r\n/g, '\n'),
    'GET /api/x HTTP/1.1\nHost: a.test\nX-Keep: k\nX-Forwarded-Host: public.test\nX-Env: prod\nX-Tag: a\n\n',
    'every X-Forwarded-* is the rules’ (the CRLF before the first added line is the copied fields’)',
  );
  // No fields copied at all: the request line's CRLF ends what was copied.
  const bare = route({ requestHeaders: headerRules({ remove: ['X-Forwarded-For', 'X-Forwarded-Proto'] }) });
  t.equal(buildUpstreamHead(requestHead('GET / HTTP/1.0\n\n'), CLIENT, bare, null, slot()).toString('latin1'), 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  t.equal(buildUpstreamHead(requestHead('GET / HTTP/1.1\nHost: a\n\n'), CLIENT, bare, null, slot()).toString('latin1'), 'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Host: a\r\n\r\n');
});

t.test('buildUpstreamHead: request ids, kept, replaced or made, one field to the backend', async (t) => {
  const ids = new RequestIds('X-Request-ID');
  const none = route({});
  const up = (text: string, s: RequestIdSlot) => buildUpstreamHead(requestHead(text), CLIENT, none, ids, s).toString('latin1');
  const made = slot();
  t.match(up('GET / HTTP/1.1\nHost: a\n\n', made), /\r\nX-Forwarded-Proto: http\r\nX-Request-ID: [0-9a-f]{32}\r\n\r\n$/);
  t.match(ids.idOf(made), /^[0-9a-f]{32}$/);
  const kept = slot();
  t.equal(up('GET / HTTP/1.1\nHost: a\nx-request-id: abc\nX-Request-ID: second\n\n', kept), 'GET / HTTP/1.1\r\nHost: a\r\nx-request-id: abc\r\nX-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Host: a\r\nX-Forwarded-Proto: http\r\n\r\n');
  t.equal(ids.idOf(kept), 'abc', 'a copy of the first');
  const replaced = slot();
  t.match(up('GET / HTTP/1.1\nHost: a\nX-Request-ID: a b\nX-Request-ID: valid\n\n', replaced), /^GET \/ HTTP\/1\.1\r\nHost: a\r\nX-Forwarded-For: [^\r]+\r\nX-Forwarded-Host: a\r\nX-Forwarded-Proto: http\r\nX-Request-ID: [0-9a-f]{32}\r\n\r\n$/);
  // Connection may list the field: then it is hop-by-hop, and a new id goes instead.
  t.match(up('GET / HTTP/1.1\nHost: a\nConnection: x-request-id\nX-Request-ID: abc\n\n', slot()), /X-Request-ID: [0-9a-f]{32}\r\n\r\n$/);
  // The response: the backend's own id fields dropped, the request's added.
  const res = responseHead('HTTP/1.1 200 OK\nX-Request-ID: backend\nContent-Length: 0\nx-request-id: again\n\n');
  t.equal(buildClientHead(res, null, null, null, ids, kept).toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Request-ID: abc\r\n\r\n');
  // Response rules: drop, then add, beside a sticky cookie line.
  const rr = route({ responseHeaders: headerRules({ set: [['X-A', '1']], add: [['X-B', '2']], remove: ['server'] }) }).response;
  const backend = responseHead('HTTP/1.1 200 OK\nServer: s\nX-A: 0\nContent-Length: 0\n\n');
  t.equal(
    buildClientHead(backend, 'close', Buffer.from('Set-Cookie: c=1\r\n'), rr, ids, kept).toString('latin1'),
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\nSet-Cookie: c=1\r\nX-A: 1\r\nX-B: 2\r\nX-Request-ID: abc\r\n\r\n',
  );
});

t.test('rewriteTarget and redirectLocation', async (t) => {
  t.equal(rewriteTarget(route({ rewritePrefix: '' }), '/api/users?x'), '/users?x');
  t.equal(rewriteTarget(route({ rewritePrefix: '' }), '/api'), '/');
  t.equal(rewriteTarget(route({ rewritePrefix: '' }), '/api?x'), '/?x');
  t.equal(rewriteTarget(route({ rewritePrefix: '/v2' }), '/api/users'), '/v2/users');
  t.equal(rewriteTarget(route({ rewritePrefix: '/v2' }, '/'), '/x'), '/v2/x', 'the root prefix cuts nothing');
  t.equal(rewriteTarget(route({ rewritePrefix: '' }, '/'), '/x'), '/x');
  const r = route({ redirect: { location: '{scheme}://{host}{path}#{host}', code: 307 } }).redirect!;
  t.equal(r.code, 307);
  t.equal(redirectLocation(r.parts, 'a.test', '/p?q', 'https'), 'https://a.test/p?q#a.test');
});
