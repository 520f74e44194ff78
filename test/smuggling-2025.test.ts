// The request-smuggling classes published in 2024-2025, one table per class, each saying what we
// do: the parser's answer to every case, fed whole, split at every offset and byte by byte
// (test/helpers/split.ts); then, over real sockets, what the backend gets where we pass a case on.
//
// The classes, and where they were published:
//   - Expect and 0.CL desyncs: James Kettle, "HTTP/1.1 must die: the desync endgame" (PortSwigger,
//     2025): obfuscated Expect values and names, Expect on requests without a body, front ends
//     that read a body length of 0 where the backend reads Content-Length (0.CL);
//   - "funky chunks": chunk-size lines ended by a bare LF or CR (TERM.EXT, EXT.TERM), data
//     followed by something other than CRLF (TERM.SPILL, SPILL.TERM), oversized extensions, sizes
//     with leading zeros or past 64 bits, trailer tricks (Jeppe Bonde Weikop, 2025; CVE-2025-55315
//     Kestrel, CVE-2025-22871 Go net/http, CVE-2025-43859 h11, CVE-2025-58056 Netty);
//   - the HTTP Garden's findings on proxies (Ben Kallus et al., differential fuzzing of HTTP/1.1
//     servers and proxies, 2024): whitespace before the colon, NUL and CR in values, duplicate
//     Host, absolute-form against Host, and the fields a proxy removes or rewrites.
// README.md ("Request smuggling") lists each class with what we do.

import { readFileSync } from 'node:fs';
import type net from 'node:net';
import t from 'tap';
import { ERRORS, type ErrorCode } from '../src/errors.js';
import { ChunkedScanner, type ChunkedLimits } from '../src/http/chunked.js';
import { RequestParser } from '../src/http/request-parser.js';
import { Harness } from './helpers/net.js';
import { expectAllWays, expectScanAllWays, type ErrorResult, type HeadResult, type RequestResult } from './helpers/split.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

/** A head from its lines: each line gets CRLF, and the empty line ends it. */
const head = (...lines: string[]) => lines.map((l) => l + '\r\n').join('') + '\r\n';
const post = (...fields: string[]) => head('POST / HTTP/1.1', 'Host: a', ...fields);
const chunkedPost = post('Transfer-Encoding: chunked');

/** How one case ends: the parser's head (with the parts that matter here), or an error. */
type Expected = { accept: Partial<RequestResult> } | { reject: ErrorCode; status: number; at: number | string };
const accept = (over: Partial<RequestResult> = {}): Expected => ({ accept: over });
const reject = (code: ErrorCode, status: number, at: number | string): Expected => ({ reject: code, status, at });

/** A head case: the input is a request head (and nothing after it). */
interface HeadCase {
  name: string;
  head: string;
  expected: Expected;
}
/** A body case: the input is a chunked body; END when it is whole and valid. */
interface BodyCase {
  name: string;
  body: string;
  expected: typeof END | { reject: ErrorCode; at: number | string };
  /** The scanner's limits, when not the defaults: small ones keep a case over them short. */
  limits?: ChunkedLimits;
}
const SMALL: ChunkedLimits = { maxExtension: 8, maxTrailers: 16 };
const END = 'end';

/** A class: its name, what we do about it (the comment the README repeats), its cases. */
interface SmugglingClass {
  name: string;
  weDo: string;
  heads?: HeadCase[];
  bodies?: BodyCase[];
}

/** The field lines of a head, split the plain way: what the parser's offsets must point at. */
function fieldsOf(input: string): [string, string][] {
  const lines = input.slice(0, input.indexOf('\r\n\r\n')).split('\r\n').slice(1);
  return lines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')];
  });
}

function expectedHead(input: string, e: Expected): HeadResult {
  if ('reject' in e) {
    const at = typeof e.at === 'number' ? e.at : input.indexOf(e.at);
    if (at < 0) throw new Error(`${JSON.stringify(e.at)} is not in the input`);
    if (ERRORS[e.reject].status !== e.status) throw new Error(`${e.reject} is ${ERRORS[e.reject].status}, the table says ${e.status}`);
    return { error: e.reject, status: e.status, offset: at } satisfies ErrorResult;
  }
  const fields = fieldsOf(input);
  const method = input.slice(0, input.indexOf(' '));
  const target = input.split(' ')[1]!;
  return {
    method,
    target,
    targetForm: 'origin',
    path: target,
    minor: 1,
    host: 'a',
    authority: 'a',
    body: 'none',
    contentLength: 0,
    keepAlive: true,
    expectContinue: false,
    upgrade: false,
    connectionOptions: null,
    fieldCount: fields.length,
    fields,
    consumed: input.length,
    ...e.accept,
  };
}

function expectedBody(input: string, e: BodyCase['expected']) {
  if (e === END) return input.length;
  const at = typeof e.at === 'number' ? e.at : input.indexOf(e.at);
  if (at < 0) throw new Error(`${JSON.stringify(e.at)} is not in the input`);
  return { error: e.reject, status: ERRORS[e.reject].status, offset: at };
}

// ---------------------------------------------------------------------------------------------
// The classes.

const CLASSES: SmugglingClass[] = [
  {
    name: 'Expect: 100-continue and its obfuscations',
    weDo:
      'Expect never changes how we frame a request: the body is Content-Length bytes or chunked, sent on whether or ' +
      'not a 100 comes. "100-continue" is matched case-insensitively (RFC 9110 10.1.1) and only in HTTP/1.1; any ' +
      'other value is passed on as it came. A 1xx from the backend is relayed (not to HTTP/1.0 clients) and waited ' +
      'past; a final response that comes before the whole body was sent makes that backend connection unusable for ' +
      'another request. An Expect hidden by whitespace before the colon, an obs-fold or a bare LF is a 400.',
    heads: [
      { name: 'Expect: 100-continue with a body', head: post('Expect: 100-continue', 'Content-Length: 5'), expected: accept({ method: 'POST', body: 'length', contentLength: 5, expectContinue: true }) },
      { name: 'Expect: 100-Continue (case)', head: post('Expect: 100-Continue', 'Content-Length: 5'), expected: accept({ method: 'POST', body: 'length', contentLength: 5, expectContinue: true }) },
      { name: 'Expect: y 100-continue', head: post('Expect: y 100-continue', 'Content-Length: 5'), expected: accept({ method: 'POST', body: 'length', contentLength: 5 }) },
      { name: 'Expect: 100-continue, x (a list)', head: post('Expect: 100-continue, x', 'Content-Length: 5'), expected: accept({ method: 'POST', body: 'length', contentLength: 5 }) },
      { name: 'Expect: 100-continuex', head: post('Expect: 100-continuex', 'Content-Length: 5'), expected: accept({ method: 'POST', body: 'length', contentLength: 5 }) },
      { name: 'Expect with OWS around the value', head: post('Expect: \t100-continue\t ', 'Content-Length: 5'), expected: accept({ method: 'POST', body: 'length', contentLength: 5, expectContinue: true }) },
      { name: 'Expect on a GET without a body', head: head('GET / HTTP/1.1', 'Host: a', 'Expect: 100-continue'), expected: accept({ expectContinue: true }) },
      { name: 'Expect on HTTP/1.0 is ignored', head: head('POST / HTTP/1.0', 'Host: a', 'Expect: 100-continue', 'Content-Length: 5'), expected: accept({ method: 'POST', minor: 0, keepAlive: false, body: 'length', contentLength: 5 }) },
      { name: 'Expect : 100-continue (space before the colon)', head: post('Expect : 100-continue', 'Content-Length: 5'), expected: reject('BAD_FIELD_NAME', 400, ' : 100') },
      { name: 'Expect folded onto a second line', head: post('Expect:', ' 100-continue', 'Content-Length: 5'), expected: reject('OBS_FOLD', 400, ' 100-continue') },
      { name: 'Expect as the first field, after a space', head: head('POST / HTTP/1.1', ' Expect: 100-continue', 'Host: a', 'Content-Length: 5'), expected: reject('OBS_FOLD', 400, ' Expect') },
      { name: 'Expect ended by a bare LF', head: 'POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\nContent-Length: 5\r\n\r\n', expected: reject('BARE_LF', 400, '\nContent') },
      { name: 'Expect with NUL in the value', head: post('Expect: 100-continue\0', 'Content-Length: 5'), expected: reject('BAD_CHARACTER', 400, '\0') },
    ],
  },
  {
    name: '0.CL: a body length one hop reads as 0',
    weDo:
      'Every Content-Length we accept is read, on every method (GET and HEAD included): we never forward a ' +
      'Content-Length whose bytes we did not count as the body. One that another hop could read differently is a ' +
      '400: whitespace before the colon, an obs-fold, a sign, hex, a list, spaces inside or after the value, two of ' +
      'them, one with Transfer-Encoding.',
    heads: [
      { name: 'GET with a body', head: head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 5'), expected: accept({ body: 'length', contentLength: 5 }) },
      { name: 'HEAD with a body', head: head('HEAD / HTTP/1.1', 'Host: a', 'Content-Length: 5'), expected: accept({ method: 'HEAD', body: 'length', contentLength: 5 }) },
      { name: 'OPTIONS with a body', head: head('OPTIONS / HTTP/1.1', 'Host: a', 'Content-Length: 5'), expected: accept({ method: 'OPTIONS', body: 'length', contentLength: 5 }) },
      { name: 'leading zeros are the same number for every hop', head: post('Content-Length: 005'), expected: accept({ method: 'POST', body: 'length', contentLength: 5 }) },
      { name: 'HTAB before the value is OWS', head: post('Content-Length:\t5'), expected: accept({ method: 'POST', body: 'length', contentLength: 5 }) },
      { name: 'Content-Length : 5', head: post('Content-Length : 5'), expected: reject('BAD_FIELD_NAME', 400, ' : 5') },
      { name: 'Content-Length folded', head: post('Content-Length: 5', ' 5'), expected: reject('OBS_FOLD', 400, ' 5\r\n\r\n') },
      { name: 'Content-Length with a trailing space', head: post('Content-Length: 5 '), expected: reject('BAD_CONTENT_LENGTH', 400, '5 ') },
      { name: 'Content-Length: 5, 5', head: post('Content-Length: 5, 5'), expected: reject('BAD_CONTENT_LENGTH', 400, '5, 5') },
      { name: 'Content-Length: +5', head: post('Content-Length: +5'), expected: reject('BAD_CONTENT_LENGTH', 400, '+5') },
      { name: 'Content-Length: 0x5', head: post('Content-Length: 0x5'), expected: reject('BAD_CONTENT_LENGTH', 400, '0x5') },
      { name: 'Content-Length with a VT before it', head: post('Content-Length: \x0b5'), expected: reject('BAD_CHARACTER', 400, '\x0b') },
      { name: 'two Content-Length, 0 then 5', head: post('Content-Length: 0', 'Content-Length: 5'), expected: reject('DUPLICATE_CONTENT_LENGTH', 400, 'Content-Length: 5') },
      { name: 'Content-Length and Transfer-Encoding', head: post('Content-Length: 0', 'Transfer-Encoding: chunked'), expected: reject('TE_WITH_CL', 400, 0) },
    ],
  },
  {
    name: 'funky chunks: line terminators in the size line (TERM.EXT, EXT.TERM)',
    weDo:
      'A size line ends in CRLF and nothing else (RFC 9112 7.1): a bare LF or a bare CR anywhere in it, in the ' +
      'size, in an extension or in a quoted value, is a 400, so no hop can end the line where we do not. An ' +
      'extension is checked against its grammar (RFC 9112 7.1.1), BWS included, and passed on unchanged.',
    bodies: [
      { name: 'BWS around ";" and "=" is valid', body: '5 ; name = value\r\nhello\r\n0\r\n\r\n', expected: END },
      { name: 'a quoted value with an escaped quote is valid', body: '5;name="quoted \\" value"\r\nhello\r\n0\r\n\r\n', expected: END },
      { name: 'a bare LF ends the size line', body: '5\nhello\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_SIZE', at: 1 } },
      { name: 'a bare LF ends an extension (TERM.EXT)', body: '2;\nxx\r\n45\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_EXTENSION', at: 2 } },
      { name: 'a bare LF inside an extension value (EXT.TERM)', body: '2;a=b\nc\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_EXTENSION', at: 5 } },
      { name: 'a bare LF inside a quoted value', body: '2;a="b\nc"\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_EXTENSION', at: 6 } },
      { name: 'a bare CR inside an extension', body: '2;a\rb\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_SIZE', at: 4 } },
      { name: 'a bare CR ends the size line', body: '2\rxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_SIZE', at: 2 } },
      { name: 'a bare LF ends the last chunk', body: '0\n\r\n', expected: { reject: 'BAD_CHUNK_SIZE', at: 1 } },
      { name: 'NUL in an extension', body: '2;\0\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_EXTENSION', at: 2 } },
      { name: 'a size followed by something that is not an extension', body: '2 xx\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_EXTENSION', at: 2 } },
      { name: 'an extension too long', body: '2;123456789\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_EXTENSION', at: 9 }, limits: SMALL },
    ],
  },
  {
    name: 'funky chunks: what ends the chunk data (TERM.SPILL, SPILL.TERM)',
    weDo:
      'After exactly chunk-size bytes of data comes CRLF, or a 400 (BAD_CHUNK_DATA_END): no hop that reads ' +
      'more or fewer bytes, or takes a bare LF, a bare CR or any two bytes as the end, can get a body we passed.',
    bodies: [
      { name: 'more data than the size (spill)', body: '2\r\nxxyy\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_DATA_END', at: 5 } },
      { name: 'a bare LF after the data', body: '2\r\nxx\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_DATA_END', at: 5 } },
      { name: 'a bare CR after the data', body: '2\r\nxx\r0\r\n\r\n', expected: { reject: 'BAD_CHUNK_DATA_END', at: 6 } },
      { name: 'any two bytes after the data', body: '2\r\nxxAB0\r\n\r\n', expected: { reject: 'BAD_CHUNK_DATA_END', at: 5 } },
      { name: 'less data than the size', body: '3\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_DATA_END', at: 6 } },
    ],
  },
  {
    name: 'funky chunks: the chunk size itself',
    weDo:
      'chunk-size is 1*HEXDIG, at most 16 digits (leading zeros count) and at most 2^53-1: no sign, no "0x", no ' +
      'whitespace before it, none after it unless an extension follows; a size that would wrap around in 64 bits ' +
      'on another hop is a 400 here (CHUNK_SIZE_TOO_LARGE).',
    bodies: [
      { name: 'leading zeros, 16 digits', body: '0000000000000002\r\nxx\r\n0\r\n\r\n', expected: END },
      { name: 'leading zeros, 17 digits', body: '00000000000000002\r\nxx\r\n0\r\n\r\n', expected: { reject: 'CHUNK_SIZE_TOO_LARGE', at: 16 } },
      { name: '2^64 + 2, which wraps to 2', body: '10000000000000002\r\nxx\r\n0\r\n\r\n', expected: { reject: 'CHUNK_SIZE_TOO_LARGE', at: 14 } },
      { name: 'a 0x prefix', body: '0x2\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_SIZE', at: 1 } },
      { name: 'a sign', body: '+2\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_SIZE', at: 0 } },
      { name: 'a space before the size', body: ' 2\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_SIZE', at: 0 } },
      { name: 'a space after the size', body: '2 \r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_EXTENSION', at: 2 } },
      { name: 'an empty size', body: '\r\nxx\r\n0\r\n\r\n', expected: { reject: 'BAD_CHUNK_SIZE', at: 0 } },
    ],
  },
  {
    name: 'funky chunks: trailer tricks',
    weDo:
      'Trailers are field lines ending in CRLF, bounded (16 KiB in all): a bare LF, an obs-fold, whitespace before the colon ' +
      'or a line without a colon is a 400, and so are Content-Length and Transfer-Encoding as trailers (RFC 9110 ' +
      '6.5.1: a hop that merged them would frame the body a second way). Other trailers pass through as they came.',
    bodies: [
      { name: 'a trailer', body: '0\r\nX-Sum: 1\r\n\r\n', expected: END },
      { name: 'Host as a trailer passes', body: '0\r\nHost: b\r\n\r\n', expected: END },
      { name: 'Content-Length as a trailer', body: '0\r\nContent-Length: 5\r\n\r\n', expected: { reject: 'BAD_TRAILER', at: 17 } },
      { name: 'Transfer-Encoding as a trailer', body: '0\r\ntransfer-encoding: chunked\r\n\r\n', expected: { reject: 'BAD_TRAILER', at: 20 } },
      { name: 'a trailer ended by a bare LF', body: '0\r\nX: 1\nY: 2\r\n\r\n', expected: { reject: 'BAD_TRAILER', at: 7 } },
      { name: 'the trailer section ended by a bare LF', body: '0\r\nX: 1\r\n\n', expected: { reject: 'BAD_TRAILER', at: 9 } },
      { name: 'a folded trailer', body: '0\r\nX: 1\r\n 2\r\n\r\n', expected: { reject: 'BAD_TRAILER', at: 9 } },
      { name: 'whitespace before a trailer colon', body: '0\r\nX : 1\r\n\r\n', expected: { reject: 'BAD_TRAILER', at: 4 } },
      { name: 'a trailer without a colon', body: '0\r\nX\r\n\r\n', expected: { reject: 'BAD_TRAILER', at: 4 } },
      { name: 'a trailer section too large', body: '0\r\nX: 0123456789abcdef\r\n\r\n', expected: { reject: 'BAD_TRAILER', at: 20 }, limits: SMALL },
    ],
  },
  {
    name: 'HTTP Garden: field lines a proxy passed on',
    weDo:
      'Each is a 400 before any byte reaches a backend: whitespace before the colon (RFC 9112 5.1), NUL, CR, VT or ' +
      'any other control in a value (RFC 9110 5.5), an obs-fold (RFC 9112 5.2), an empty name, a line without a colon.',
    heads: [
      { name: 'space before the colon', head: head('GET / HTTP/1.1', 'Host: a', 'X-A : 1'), expected: reject('BAD_FIELD_NAME', 400, ' : 1') },
      { name: 'HTAB before the colon', head: head('GET / HTTP/1.1', 'Host: a', 'X-A\t: 1'), expected: reject('BAD_FIELD_NAME', 400, '\t: 1') },
      { name: 'NUL in a value', head: head('GET / HTTP/1.1', 'Host: a', 'X: a\0b'), expected: reject('BAD_CHARACTER', 400, '\0') },
      { name: 'CR in a value', head: head('GET / HTTP/1.1', 'Host: a', 'X: a\rb'), expected: reject('BARE_CR', 400, 'b\r\n\r\n') },
      { name: 'VT in a value', head: head('GET / HTTP/1.1', 'Host: a', 'X: a\x0bb'), expected: reject('BAD_CHARACTER', 400, '\x0b') },
      { name: 'obs-fold', head: head('GET / HTTP/1.1', 'Host: a', 'X: a', '\tb'), expected: reject('OBS_FOLD', 400, '\tb') },
      { name: 'an empty name', head: head('GET / HTTP/1.1', 'Host: a', ': b'), expected: reject('EMPTY_FIELD_NAME', 400, ': b') },
      { name: 'a line without a colon', head: head('GET / HTTP/1.1', 'Host: a', 'X'), expected: reject('MISSING_COLON', 400, 'X\r\n\r\n') },
    ],
  },
  {
    name: 'HTTP Garden: Host and the request line',
    weDo:
      'Host must be there once and valid (RFC 9112 3.2): a duplicate, a list, userinfo or a space is a 400. An ' +
      'absolute-form target wins over Host (RFC 9112 3.2.2): we route by its authority, and the backend gets an ' +
      'origin-form target with Host replaced by that authority, so it cannot route by a Host we did not. A ' +
      'standard method in another case is a 400 (METHOD_CASE); so is a version other than "HTTP/" DIGIT "." DIGIT ' +
      'and a fragment in the target.',
    heads: [
      { name: 'two Host fields', head: head('GET / HTTP/1.1', 'Host: a', 'Host: b'), expected: reject('DUPLICATE_HOST', 400, 'Host: b') },
      { name: 'Host as a list', head: head('GET / HTTP/1.1', 'Host: a, b'), expected: reject('BAD_HOST', 400, 'a, b') },
      { name: 'Host with userinfo', head: head('GET / HTTP/1.1', 'Host: u@a'), expected: reject('BAD_HOST', 400, 'u@a') },
      {
        name: 'absolute-form with another Host',
        head: head('GET http://b/x HTTP/1.1', 'Host: a'),
        expected: accept({ target: 'http://b/x', targetForm: 'absolute', path: '/x', host: 'b', authority: 'b' }),
      },
      { name: 'absolute-form with userinfo', head: head('GET http://a@b/ HTTP/1.1', 'Host: b'), expected: reject('BAD_TARGET', 400, 'a@b') },
      { name: 'a method in lower case', head: head('get / HTTP/1.1', 'Host: a'), expected: reject('METHOD_CASE', 400, 0) },
      { name: 'a method in mixed case', head: head('hEaD / HTTP/1.1', 'Host: a'), expected: reject('METHOD_CASE', 400, 0) },
      { name: 'an extension method passes as it came', head: head('PURGE / HTTP/1.1', 'Host: a'), expected: accept() },
      { name: 'a version in lower case', head: head('GET / http/1.1', 'Host: a'), expected: reject('BAD_VERSION', 400, 'http') },
      { name: 'a version with three digits', head: head('GET / HTTP/1.01', 'Host: a'), expected: reject('BAD_VERSION', 400, 'HTTP') },
      { name: 'a fragment in the target', head: head('GET /a#b HTTP/1.1', 'Host: a'), expected: reject('BAD_TARGET', 400, '#') },
    ],
  },
  {
    name: 'HTTP Garden: hop-by-hop fields that name the framing',
    weDo:
      'Connection may name fields to drop at the next hop (RFC 9110 7.6.1), but never the ones that frame or route ' +
      'the request: Content-Length, Transfer-Encoding and Host are read and kept whatever Connection lists, so the ' +
      'backend frames the body as we did. Transfer-Encoding on HTTP/1.0 is a 400.',
    heads: [
      {
        name: 'Connection: content-length',
        head: post('Connection: content-length', 'Content-Length: 5'),
        expected: accept({ method: 'POST', body: 'length', contentLength: 5, connectionOptions: ['content-length'] }),
      },
      {
        name: 'Connection: transfer-encoding, host',
        head: post('Connection: transfer-encoding, host', 'Transfer-Encoding: chunked'),
        expected: accept({ method: 'POST', body: 'chunked', connectionOptions: ['transfer-encoding', 'host'] }),
      },
      { name: 'Transfer-Encoding on HTTP/1.0', head: head('POST / HTTP/1.0', 'Host: a', 'Transfer-Encoding: chunked'), expected: reject('TE_ON_HTTP10', 400, 0) },
    ],
  },
];

for (const c of CLASSES) {
  t.test(c.name, async (t) => {
    t.comment(`what we do: ${c.weDo}`);
    for (const h of c.heads ?? []) {
      t.test(h.name, async (t) => expectAllWays(t, bytes(h.head), (o) => new RequestParser(undefined, o), expectedHead(h.head, h.expected)));
    }
    for (const b of c.bodies ?? []) {
      t.test(b.name, async (t) => expectScanAllWays(t, bytes(b.body), () => new ChunkedScanner(b.limits), expectedBody(b.body, b.expected)));
    }
  });
}

t.test('every class is in the README, with what we do in the same words', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('### Request smuggling');
  const section = readme.slice(start, readme.indexOf('\n## ', start)).replace(/\s+/g, ' ');
  for (const c of CLASSES) t.ok(section.includes(`**${c.name}**: ${c.weDo}`), c.name);
});

// ---------------------------------------------------------------------------------------------
// End to end: what the backend gets where we pass a case on.

/**
 * How the backend answers what it has received on a connection and not yet answered: the bytes
 * it takes as one request and the response to them, or null to wait for more.
 */
type Answer = (pending: string) => { taken: number; response: string } | null;

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
/** The end of the first head in `pending`, or -1. */
const headEnd = (pending: string) => (pending.indexOf('\r\n\r\n') < 0 ? -1 : pending.indexOf('\r\n\r\n') + 4);

t.test('end to end: what the backend gets where we pass a case on', async (t) => {
  // One backend and one balancer for all the cases (a balancer takes seconds to start on a busy
  // machine); each case says how the backend answers, and sees what each connection received.
  const h = new Harness(t);
  let answer: Answer = () => null;
  let received: { socket: net.Socket; text: string }[] = [];
  const backend = await h.rawBackend((socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      received.push({ socket, text });
      pending += text;
      for (let a = answer(pending), n = 0; a !== null && n < 10; a = answer(pending), n++) {
        pending = pending.slice(a.taken);
        socket.write(a.response);
      }
    });
  });
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${backend.address}"]
`);
  /** The bytes the backend received since the case began, over all connections. */
  const receivedText = () => received.map((r) => r.text).join('');

  t.test('chunk extensions with BWS and quoted values reach the backend byte for byte', async (t) => {
    const body = '5 ; name = value\r\nhello\r\n3;q="a \\" b" ;x\r\nabc\r\n0 ;\tlast=1\r\nX-Sum: 1\r\n\r\n';
    received = [];
    answer = (pending) => (pending.endsWith(body) ? { taken: pending.length, response: OK } : null);
    const client = await h.client(proxy);
    await client.write(bytes(chunkedPost + body));
    t.equal((await client.read()).status, 200);
    const text = receivedText();
    t.equal(text.slice(headEnd(text)), body, 'the body as the client sent it');
  });

  t.test('absolute-form with another Host: the backend gets the target\'s authority as Host', async (t) => {
    received = [];
    answer = (pending) => (headEnd(pending) < 0 ? null : { taken: headEnd(pending), response: OK });
    const client = await h.client(proxy);
    await client.write(bytes(head('GET http://b/x HTTP/1.1', 'Host: a')));
    t.equal((await client.read()).status, 200);
    const text = receivedText();
    t.match(text, /^GET \/x HTTP\/1\.1\r\n/, 'origin-form');
    t.match(text, /\r\nHost: b\r\n/, 'Host is the authority of the target');
    t.notMatch(text, /\r\nHost: a\r\n/, 'the Host the client sent is gone');
  });

  t.test('Connection naming Content-Length does not take it away from the backend', async (t) => {
    received = [];
    answer = (pending) => (pending.endsWith('\r\n\r\nhello') ? { taken: pending.length, response: OK } : null);
    const client = await h.client(proxy);
    await client.write(bytes(post('Connection: content-length', 'Content-Length: 5') + 'hello'));
    t.equal((await client.read()).status, 200);
    t.match(receivedText(), /\r\nContent-Length: 5\r\n/);
    t.ok(receivedText().endsWith('\r\n\r\nhello'), 'and the body after the head');
  });

  t.test('Expect: 100-continue answered before the body (0.CL at the backend): neither connection is used again', async (t) => {
    // The backend answers every head at once and reads no body, as a backend does on a path that
    // takes none: the body, whatever it holds, it would read as its next request. So the client's
    // connection closes after that answer (nothing more of it is read), and the backend's
    // connection is not given another request.
    received = [];
    answer = (pending) => {
      const end = headEnd(pending);
      if (end < 0) return null;
      const target = pending.split(' ')[1]!;
      return { taken: end, response: `HTTP/1.1 200 OK\r\nContent-Length: ${target.length}\r\n\r\n${target}` };
    };
    const client = await h.client(proxy);
    const smuggled = head('GET /smuggled HTTP/1.1', 'Host: a');
    await client.write(bytes(post('Expect: 100-continue', `Content-Length: ${smuggled.length}`)));
    const early = await client.read();
    t.same([early.status, early.body.toString(), early.header('connection')], [200, '/', 'close'], 'the early answer closes the connection');
    client.socket.write(bytes(smuggled)); // the body, late: whatever becomes of it, no one reads an answer to it
    await client.waitEnd();
    const next = await (await h.client(proxy)).get('/next', 'a');
    t.same([next.status, next.body.toString()], [200, '/next'], 'the next request gets its own answer');
    const textOn = (socket: net.Socket) => received.filter((r) => r.socket === socket).map((r) => r.text).join('');
    const sockets = [...new Set(received.map((r) => r.socket))];
    const postOn = sockets.filter((s) => textOn(s).includes('POST / '));
    const nextOn = sockets.filter((s) => textOn(s).includes('GET /next '));
    t.ok(postOn.length === 1 && nextOn.length === 1 && postOn[0] !== nextOn[0], 'on a backend connection of its own');
  });
});
