// Response heads from backends: every case is fed whole, split in two at every offset and byte by
// byte, and all the ways must give the expected result (test/helpers/split.ts). Last, the corpus
// of bad responses (helpers/bad-responses.ts), head and chunked body, the same way.

import t from 'tap';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import type { HeadLimits } from '../../src/http/head-lines.js';
import type { ReaderOptions } from '../../src/http/head-reader.js';
import { DEFAULT_RESPONSE_LIMITS, ResponseParser, type ResponseHead } from '../../src/http/response-parser.js';
import { isDeepStrictEqual } from 'node:util';
import { ChunkedScanner } from '../../src/http/chunked.js';
import { BAD_RESPONSES } from '../helpers/bad-responses.js';
import { expectAllWays, feedAllWays, scanAllWays, type ErrorResult, type HeadResult, type ResponseResult } from '../helpers/split.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const head = (...lines: string[]) => lines.map((l) => l + '\r\n').join('') + '\r\n';

/** The expected result for `input`: a 200 whose fields are `fields`, unless told otherwise. */
function ok(input: string, fields: [string, string][], over: Partial<ResponseResult> = {}): ResponseResult {
  return {
    status: 200,
    minor: 1,
    body: 'length',
    contentLength: 0,
    keepAlive: true,
    fieldCount: fields.length,
    fields,
    consumed: Buffer.byteLength(input, 'latin1'),
    ...over,
  };
}

/** An expected error at `at` (an offset, or where a piece of the input first occurs, plus `plus`). */
interface Fail {
  code: ErrorCode;
  status: number;
  at: number | string;
  plus: number;
}
const fail = (code: ErrorCode, status: number, at: number | string, plus = 0): Fail => ({ code, status, at, plus });

function resolve(input: string, f: Fail): ErrorResult {
  const offset = typeof f.at === 'number' ? f.at : input.indexOf(f.at);
  if (offset < 0) throw new Error(`${JSON.stringify(f.at)} is not in the input`);
  if (ERRORS[f.code].status !== f.status) throw new Error(`${f.code} is ${ERRORS[f.code].status}, the table says ${f.status}`);
  return { error: f.code, status: f.status, offset: offset + f.plus };
}

interface Case {
  name: string;
  input: string;
  expected: ResponseResult | Fail | 'incomplete';
  requestWasHead?: boolean;
  limits?: HeadLimits;
}

function run(title: string, cases: Case[]): void {
  t.test(title, async (t) => {
    for (const c of cases) {
      const expected = c.expected === 'incomplete' || !('code' in c.expected) ? c.expected : resolve(c.input, c.expected);
      const make = (o: ReaderOptions) => {
        const p = new ResponseParser(c.limits, o);
        p.requestWasHead = c.requestWasHead ?? false;
        return p;
      };
      t.test(c.name, async (t) => expectAllWays(t, bytes(c.input), make, expected));
    }
  });
}

// Inputs used twice: once as the input, once for its length.
const cl = head('HTTP/1.1 200 OK', 'Content-Type: text/plain', 'Content-Length: 5');
const chunked = head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked');

run('framing and keep-alive', [
  { name: '200 with Content-Length', input: cl, expected: ok(cl, [['Content-Type', 'text/plain'], ['Content-Length', '5']], { contentLength: 5 }) },
  {
    name: 'Content-Length: 0',
    input: head('HTTP/1.1 200 OK', 'Content-Length: 0'),
    expected: ok(head('HTTP/1.1 200 OK', 'Content-Length: 0'), [['Content-Length', '0']]),
  },
  { name: '200 chunked', input: chunked, expected: ok(chunked, [['Transfer-Encoding', 'chunked']], { body: 'chunked' }) },
  {
    name: 'chunked after gzip',
    input: head('HTTP/1.1 200 OK', 'Transfer-Encoding: gzip, Chunked'),
    expected: ok(head('HTTP/1.1 200 OK', 'Transfer-Encoding: gzip, Chunked'), [['Transfer-Encoding', 'gzip, Chunked']], { body: 'chunked' }),
  },
  {
    name: 'chunked across two field lines',
    input: head('HTTP/1.1 200 OK', 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked'),
    expected: ok(head('HTTP/1.1 200 OK', 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked'), [['Transfer-Encoding', 'gzip'], ['Transfer-Encoding', 'chunked']], {
      body: 'chunked',
    }),
  },
  {
    name: 'Transfer-Encoding not ending in chunked: read until close',
    input: head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked, gzip'),
    expected: ok(head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked, gzip'), [['Transfer-Encoding', 'chunked, gzip']], { body: 'until-close', keepAlive: false }),
  },
  {
    name: 'until close: neither length nor chunked',
    input: head('HTTP/1.1 200 OK', 'Content-Type: text/html'),
    expected: ok(head('HTTP/1.1 200 OK', 'Content-Type: text/html'), [['Content-Type', 'text/html']], { body: 'until-close', keepAlive: false }),
  },
  {
    name: 'until close with no fields at all',
    input: 'HTTP/1.1 200 OK\r\n\r\n',
    expected: ok('HTTP/1.1 200 OK\r\n\r\n', [], { body: 'until-close', keepAlive: false }),
  },
  {
    name: 'HTTP/1.0 with Content-Length closes',
    input: head('HTTP/1.0 200 OK', 'Content-Length: 5'),
    expected: ok(head('HTTP/1.0 200 OK', 'Content-Length: 5'), [['Content-Length', '5']], { minor: 0, contentLength: 5, keepAlive: false }),
  },
  {
    name: 'HTTP/1.0 keep-alive',
    input: head('HTTP/1.0 200 OK', 'Connection: Keep-Alive', 'Content-Length: 5'),
    expected: ok(head('HTTP/1.0 200 OK', 'Connection: Keep-Alive', 'Content-Length: 5'), [['Connection', 'Keep-Alive'], ['Content-Length', '5']], {
      minor: 0,
      contentLength: 5,
    }),
  },
  {
    name: 'HTTP/1.0 keep-alive but no length: until close',
    input: head('HTTP/1.0 200 OK', 'Connection: keep-alive'),
    expected: ok(head('HTTP/1.0 200 OK', 'Connection: keep-alive'), [['Connection', 'keep-alive']], { minor: 0, body: 'until-close', keepAlive: false }),
  },
  {
    name: 'Connection: close',
    input: head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Connection: foo, close'),
    expected: ok(head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Connection: foo, close'), [['Content-Length', '5'], ['Connection', 'foo, close']], {
      contentLength: 5,
      keepAlive: false,
    }),
  },
  {
    name: 'identical duplicate Content-Length accepted',
    input: head('HTTP/1.1 200 OK', 'Content-Length: 5', 'content-length: 5'),
    expected: ok(head('HTTP/1.1 200 OK', 'Content-Length: 5', 'content-length: 5'), [['Content-Length', '5'], ['content-length', '5']], { contentLength: 5 }),
  },
  {
    name: 'HTTP/1.1 minor versions above 1 read as 1.1',
    input: head('HTTP/1.7 200 OK', 'Content-Length: 1'),
    expected: ok(head('HTTP/1.7 200 OK', 'Content-Length: 1'), [['Content-Length', '1']], { contentLength: 1 }),
  },
]);

run('responses without a body', [
  {
    name: 'HEAD response with Content-Length',
    input: head('HTTP/1.1 200 OK', 'Content-Length: 100'),
    expected: ok(head('HTTP/1.1 200 OK', 'Content-Length: 100'), [['Content-Length', '100']], { body: 'none', contentLength: 100 }),
    requestWasHead: true,
  },
  {
    name: 'HEAD response chunked',
    input: chunked,
    expected: ok(chunked, [['Transfer-Encoding', 'chunked']], { body: 'none' }),
    requestWasHead: true,
  },
  {
    name: 'HEAD response with neither keeps the connection',
    input: 'HTTP/1.1 200 OK\r\n\r\n',
    expected: ok('HTTP/1.1 200 OK\r\n\r\n', [], { body: 'none' }),
    requestWasHead: true,
  },
  { name: '100 Continue', input: 'HTTP/1.1 100 Continue\r\n\r\n', expected: ok('HTTP/1.1 100 Continue\r\n\r\n', [], { status: 100, body: 'none' }) },
  {
    name: '101 Switching Protocols',
    input: head('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade'),
    expected: ok(head('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade'), [['Upgrade', 'websocket'], ['Connection', 'Upgrade']], {
      status: 101,
      body: 'none',
    }),
  },
  {
    name: '103 Early Hints',
    input: head('HTTP/1.1 103 Early Hints', 'Link: </s.css>; rel=preload'),
    expected: ok(head('HTTP/1.1 103 Early Hints', 'Link: </s.css>; rel=preload'), [['Link', '</s.css>; rel=preload']], { status: 103, body: 'none' }),
  },
  {
    name: '204 No Content',
    input: head('HTTP/1.1 204 No Content', 'Date: x'),
    expected: ok(head('HTTP/1.1 204 No Content', 'Date: x'), [['Date', 'x']], { status: 204, body: 'none' }),
  },
  {
    name: '304 with Content-Length',
    input: head('HTTP/1.1 304 Not Modified', 'Content-Length: 42'),
    expected: ok(head('HTTP/1.1 304 Not Modified', 'Content-Length: 42'), [['Content-Length', '42']], { status: 304, body: 'none', contentLength: 42 }),
  },
  {
    name: '205 is not bodiless by itself',
    input: head('HTTP/1.1 205 Reset Content', 'Content-Length: 0'),
    expected: ok(head('HTTP/1.1 205 Reset Content', 'Content-Length: 0'), [['Content-Length', '0']], { status: 205 }),
  },
]);

run('status line', [
  { name: 'no reason phrase', input: head('HTTP/1.1 404', 'Content-Length: 0'), expected: ok(head('HTTP/1.1 404', 'Content-Length: 0'), [['Content-Length', '0']], { status: 404 }) },
  { name: 'empty reason phrase', input: head('HTTP/1.1 404 ', 'Content-Length: 0'), expected: ok(head('HTTP/1.1 404 ', 'Content-Length: 0'), [['Content-Length', '0']], { status: 404 }) },
  {
    name: 'reason with spaces, tabs and obs-text',
    input: head('HTTP/1.1 500 Erreur \tinterne du serveur \xe9', 'Content-Length: 0'),
    expected: ok(head('HTTP/1.1 500 Erreur \tinterne du serveur \xe9', 'Content-Length: 0'), [['Content-Length', '0']], { status: 500 }),
  },
  { name: 'status 999', input: head('HTTP/1.1 999 Odd', 'Content-Length: 0'), expected: ok(head('HTTP/1.1 999 Odd', 'Content-Length: 0'), [['Content-Length', '0']], { status: 999 }) },
  { name: 'status 099', input: head('HTTP/1.1 099 Low', 'Content-Length: 0'), expected: fail('BAD_STATUS_LINE', 502, 9) },
  { name: 'status 000', input: head('HTTP/1.1 000 Zero'), expected: fail('BAD_STATUS_LINE', 502, 9) },
  { name: 'status of two digits', input: head('HTTP/1.1 20 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'status of four digits', input: head('HTTP/1.1 2000 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'no space after the status', input: head('HTTP/1.1 200OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'tab after the status', input: head('HTTP/1.1 200\tOK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'two spaces before the status', input: head('HTTP/1.1  200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'tab before the status', input: head('HTTP/1.1\t200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'letter in the status', input: head('HTTP/1.1 2x0 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'letter first in the status', input: head('HTTP/1.1 x00 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'letter last in the status', input: head('HTTP/1.1 20x OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'status line too short', input: head('HTTP/1.1 20'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'lowercase http', input: head('http/1.1 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'HTtP', input: head('HTtP/1.1 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'HTTp', input: head('HTTp/1.1 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'HtTP', input: head('HtTP/1.1 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'HTTP-1.1', input: head('HTTP-1.1 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'HTTP/2.0', input: head('HTTP/2.0 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'HTTP/2', input: head('HTTP/2 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'HTTP/1,1', input: head('HTTP/1,1 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'HTTP/1.x', input: head('HTTP/1.x 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'ICY 200 OK', input: head('ICY 200 OK'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  { name: 'a request line', input: head('GET / HTTP/1.1'), expected: fail('BAD_STATUS_LINE', 502, 0) },
  // Responses are not preceded by empty lines: the empty line is an empty status line.
  { name: 'empty line before the status line', input: '\r\n' + head('HTTP/1.1 200 OK', 'Content-Length: 0'), expected: fail('BAD_STATUS_LINE', 502, 0) },
]);

run('fields and framing errors', [
  { name: 'Transfer-Encoding and Content-Length', input: head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Content-Length: 5'), expected: fail('BAD_RESPONSE', 502, 0) },
  { name: 'differing Content-Length', input: head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6'), expected: fail('BAD_RESPONSE', 502, '6') },
  { name: 'Content-Length list', input: head('HTTP/1.1 200 OK', 'Content-Length: 5, 5'), expected: fail('BAD_RESPONSE', 502, '5, 5') },
  { name: 'Content-Length with a sign', input: head('HTTP/1.1 200 OK', 'Content-Length: +5'), expected: fail('BAD_RESPONSE', 502, '+5') },
  { name: 'Content-Length in hex', input: head('HTTP/1.1 200 OK', 'Content-Length: 0x5'), expected: fail('BAD_RESPONSE', 502, '0x5') },
  { name: 'Content-Length of 2^53', input: head('HTTP/1.1 200 OK', 'Content-Length: 9007199254740992'), expected: fail('BAD_RESPONSE', 502, '9007') },
  { name: 'whitespace before colon', input: head('HTTP/1.1 200 OK', 'Content-Length : 5'), expected: fail('BAD_RESPONSE', 502, ' :') },
  { name: 'obs-fold', input: head('HTTP/1.1 200 OK', 'X: a', ' b', 'Content-Length: 0'), expected: fail('BAD_RESPONSE', 502, ' b') },
  { name: 'line without colon', input: head('HTTP/1.1 200 OK', 'Content-Length 5'), expected: fail('BAD_RESPONSE', 502, 'Content') },
  { name: 'empty name', input: head('HTTP/1.1 200 OK', ': 5'), expected: fail('BAD_RESPONSE', 502, ': 5') },
  // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding MUST be treated as if its framing
  // were faulty, and the connection closed; for a proxy, a response with faulty framing is
  // discarded and the client gets 502 (RFC 9112 6.3 rule 5), as requests get 400 (TE_ON_HTTP10).
  { name: 'Transfer-Encoding on HTTP/1.0', input: head('HTTP/1.0 200 OK', 'Connection: keep-alive', 'Transfer-Encoding: chunked'), expected: fail('BAD_RESPONSE', 502, 0) },
  // Garbage at the byte level comes from the backend, so it is a 502 like every backend error
  // (errors.ts: "backend-side (response) errors answer 502"), never a 400 meant for clients.
  { name: 'bare LF in a response', input: 'HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n', expected: fail('BAD_RESPONSE', 502, '0\n', 1) },
  { name: 'bare CR in a response', input: 'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', expected: fail('BAD_RESPONSE', 502, '\rb', 1) },
  { name: 'NUL in a response', input: head('HTTP/1.1 200 OK', 'X: a\0'), expected: fail('BAD_RESPONSE', 502, '\0') },
]);

const small: HeadLimits = { maxStartLine: 20, maxHead: 64, maxFields: 3 };
const sized = (size: number) => head('HTTP/1.1 200 OK', 'X: ' + 'v'.repeat(size - 24));

run('limits', [
  {
    name: 'status line of exactly maxStartLine bytes',
    input: head('HTTP/1.1 200 OKAYOKA', 'Content-Length: 0'),
    expected: ok(head('HTTP/1.1 200 OKAYOKA', 'Content-Length: 0'), [['Content-Length', '0']]),
    limits: small,
  },
  { name: 'status line over maxStartLine', input: head('HTTP/1.1 200 OKAYOKAY', 'Content-Length: 0'), expected: fail('RESPONSE_HEAD_TOO_LARGE', 502, 20), limits: small },
  { name: 'head of exactly maxHead bytes', input: sized(64), expected: ok(sized(64), [['X', 'v'.repeat(40)]], { body: 'until-close', keepAlive: false }), limits: small },
  { name: 'head over maxHead', input: sized(65), expected: fail('RESPONSE_HEAD_TOO_LARGE', 502, 64), limits: small },
  {
    name: 'exactly maxFields fields',
    input: head('HTTP/1.1 200 OK', 'A: 1', 'B: 2', 'Content-Length: 0'),
    expected: ok(head('HTTP/1.1 200 OK', 'A: 1', 'B: 2', 'Content-Length: 0'), [['A', '1'], ['B', '2'], ['Content-Length', '0']]),
    limits: small,
  },
  // Too many fields is a head too large; from a backend it is a 502, not the client's 431.
  { name: 'one field over maxFields', input: head('HTTP/1.1 200 OK', 'A: 1', 'B: 2', 'C: 3', 'D: 4'), expected: fail('RESPONSE_HEAD_TOO_LARGE', 502, 'D: 4'), limits: small },
  { name: 'no empty line yet', input: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n', expected: 'incomplete' },
]);

t.test('default limits', async (t) => {
  t.same(DEFAULT_RESPONSE_LIMITS, { maxStartLine: 8192, maxHead: 65536, maxFields: 256 });
});

t.test('a 1xx, then the final response, back to back', async (t) => {
  const cont = 'HTTP/1.1 100 Continue\r\n\r\n';
  expectAllWays(t, bytes(cont + cl), (o) => new ResponseParser(undefined, o), [ok(cont, [], { status: 100, body: 'none' }), ok(cl, [['Content-Type', 'text/plain'], ['Content-Length', '5']], { contentLength: 5 })], 2);
});

t.test('the head points into the bytes', async (t) => {
  const input = bytes(cl + 'hello');
  const p = new ResponseParser();
  const r = p.execute(input, 0) as ResponseHead;
  t.equal(r.buf, input);
  t.equal(r.start, 0);
  t.equal(r.statusLineEnd, 'HTTP/1.1 200 OK'.length);
  t.equal(r.end, cl.length);
  t.equal(p.consumed, cl.length);
  t.equal(input.toString('latin1', p.consumed), 'hello');
  t.equal(r.kinds[1], 2, 'Content-Length is known by its kind');
});

t.test('the bad-response corpus: every case read the same whole, split at every offset and byte by byte', async (t) => {
  for (const c of BAD_RESPONSES) {
    t.test(c.name, async (t) => {
      const input = bytes(c.response);
      const make = (o: ReaderOptions) => {
        const p = new ResponseParser(undefined, o);
        p.requestWasHead = c.request === 'HEAD';
        return p;
      };
      // Head after head, as the relay reads them: interim ones, then the final one or an error.
      // (With one message, feedAllWays gives each way's one result rather than a list of one.)
      const all = (feedAllWays(input, make, c.heads.length) as (HeadResult | HeadResult[])[]).map((r) => (Array.isArray(r) ? r : [r]));
      const first = all[0]!;
      const differs = all.findIndex((r) => !isDeepStrictEqual(r, first));
      t.equal(differs, -1, 'every way reads the same heads');
      t.same(first.map(statusOrCode), c.heads, 'the heads the corpus says');
      if (c.chunked === undefined) return;
      // The chunked body after the last head, as the relay scans it.
      const headsEnd = first.reduce((n, r) => n + (r as ResponseResult).consumed, 0);
      const scans = scanAllWays(input.subarray(headsEnd), () => new ChunkedScanner());
      t.equal(scans.findIndex((r) => !isDeepStrictEqual(r, scans[0])), -1, 'every way scans the body the same');
      const scan = scans[0]!;
      t.equal(typeof scan === 'number' ? 'end' : scan === 'incomplete' ? scan : scan.error, c.chunked, 'the body ends as the corpus says');
    });
  }
});

/** A head's status, or the code of the error that stopped the parser. */
function statusOrCode(r: HeadResult): number | string {
  if (r === 'incomplete') return r;
  return 'error' in r ? r.error : (r as ResponseResult).status;
}
