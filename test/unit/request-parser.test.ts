// Request heads: every case is fed whole, split in two at every offset and byte by byte, and all
// the ways must give the expected result (test/helpers/split.ts). One table per part of
// /work/shared/design/http-rules.md, in its order; then limits, pipelining and reuse.

import t, { type Test } from 'tap';
import { HttpError, ERRORS, type ErrorCode } from '../../src/errors.js';
import { DEFAULT_REQUEST_LIMITS, RequestParser, routingHost, type RequestHead, type RequestLine } from '../../src/http/request-parser.js';
import type { HeadLimits } from '../../src/http/head-lines.js';
import { expectAllWays, feedAllWays, type MakeParser, feedByteByByte, feedPieces, feedSplitAtEveryOffset, feedWhole, type ErrorResult, type HeadResult, type RequestResult } from '../helpers/split.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

/** A head from its lines: each line gets CRLF, and the empty line ends it. */
const head = (...lines: string[]) => lines.map((l) => l + '\r\n').join('') + '\r\n';

/** The expected result for `input`: a plain `GET /` with `Host: a` unless told otherwise. */
function ok(input: string, over: Partial<RequestResult> = {}): RequestResult {
  const fields = over.fields ?? [['Host', 'a']];
  return {
    method: 'GET',
    target: over.target ?? '/',
    targetForm: 'origin',
    path: over.target ?? '/',
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
    consumed: Buffer.byteLength(input, 'latin1'),
    ...over,
    fields,
  };
}

/**
 * An expected error. `at` is the offset from the message's first byte, or a piece of the input
 * whose first occurrence is where the error is (plus `plus` bytes).
 */
type At = number | string;
interface Fail {
  code: ErrorCode;
  status: number;
  at: At;
  plus: number;
}
const fail = (code: ErrorCode, status: number, at: At, plus = 0): Fail => ({ code, status, at, plus });

function resolve(input: string, f: Fail): ErrorResult {
  let offset: number;
  if (typeof f.at === 'number') offset = f.at;
  else {
    offset = input.indexOf(f.at);
    if (offset < 0) throw new Error(`${JSON.stringify(f.at)} is not in the input`);
  }
  // The table states each status, so that it reads as the contract; it must match the catalogue.
  if (ERRORS[f.code].status !== f.status) throw new Error(`${f.code} is ${ERRORS[f.code].status}, the table says ${f.status}`);
  return { error: f.code, status: f.status, offset: offset + f.plus };
}

interface Case {
  name: string;
  input: string;
  expected: RequestResult | Fail | 'incomplete';
  limits?: HeadLimits;
}

function run(title: string, cases: Case[]): void {
  t.test(title, async (t) => {
    for (const c of cases) {
      const expected: HeadResult = c.expected === 'incomplete' || !('code' in c.expected) ? c.expected : resolve(c.input, c.expected);
      t.test(c.name, async (t) => expectAllWays(t, bytes(c.input), (o) => new RequestParser(c.limits, o), expected));
    }
  });
}

// ----------------------------------------------------------------------------------------------

const browserGet = head(
  'GET /mango/index.html?lang=en&q=%20x HTTP/1.1',
  'Host: www.mango.com',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'Accept-Language: en-US,en;q=0.5',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Connection: keep-alive',
  'Cookie: session=abc123; theme=dark',
  'Upgrade-Insecure-Requests: 1',
  'Sec-Fetch-Dest: document',
  'Sec-Fetch-Mode: navigate',
  'Priority: u=0, i',
);

const longTarget = '/' + 'a'.repeat(7999);

run('valid requests', [
  {
    name: 'browser-like GET with many headers',
    input: browserGet,
    expected: ok(browserGet, {
      target: '/mango/index.html?lang=en&q=%20x',
      host: 'www.mango.com',
      authority: 'www.mango.com',
      fields: [
        ['Host', 'www.mango.com'],
        ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
        ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
        ['Accept-Language', 'en-US,en;q=0.5'],
        ['Accept-Encoding', 'gzip, deflate, br, zstd'],
        ['Connection', 'keep-alive'],
        ['Cookie', 'session=abc123; theme=dark'],
        ['Upgrade-Insecure-Requests', '1'],
        ['Sec-Fetch-Dest', 'document'],
        ['Sec-Fetch-Mode', 'navigate'],
        ['Priority', 'u=0, i'],
      ],
    }),
  },
  {
    name: 'POST with Content-Length',
    input: head('POST /form HTTP/1.1', 'Host: a', 'Content-Length: 11', 'Content-Type: text/plain'),
    expected: ok(head('POST /form HTTP/1.1', 'Host: a', 'Content-Length: 11', 'Content-Type: text/plain'), {
      method: 'POST',
      target: '/form',
      body: 'length',
      contentLength: 11,
      fields: [['Host', 'a'], ['Content-Length', '11'], ['Content-Type', 'text/plain']],
    }),
  },
  {
    name: 'Content-Length: 0 means no body',
    input: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 0'),
    expected: ok(head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 0'), { method: 'POST', fields: [['Host', 'a'], ['Content-Length', '0']] }),
  },
  {
    name: 'Content-Length with leading zeros',
    input: head('PUT / HTTP/1.1', 'Host: a', 'Content-Length: 007'),
    expected: ok(head('PUT / HTTP/1.1', 'Host: a', 'Content-Length: 007'), {
      method: 'PUT',
      body: 'length',
      contentLength: 7,
      fields: [['Host', 'a'], ['Content-Length', '007']],
    }),
  },
  {
    name: 'Content-Length of 2^53-1',
    input: head('PUT / HTTP/1.1', 'Host: a', 'content-length: 9007199254740991'),
    expected: ok(head('PUT / HTTP/1.1', 'Host: a', 'content-length: 9007199254740991'), {
      method: 'PUT',
      body: 'length',
      contentLength: 9007199254740991,
      fields: [['Host', 'a'], ['content-length', '9007199254740991']],
    }),
  },
  {
    name: 'chunked POST',
    input: head('POST /upload HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked'),
    expected: ok(head('POST /upload HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked'), {
      method: 'POST',
      target: '/upload',
      body: 'chunked',
      fields: [['Host', 'a'], ['Transfer-Encoding', 'chunked']],
    }),
  },
  {
    name: 'chunked in upper case',
    input: head('POST / HTTP/1.1', 'Host: a', 'TRANSFER-ENCODING: CHUNKED'),
    expected: ok(head('POST / HTTP/1.1', 'Host: a', 'TRANSFER-ENCODING: CHUNKED'), {
      method: 'POST',
      body: 'chunked',
      fields: [['Host', 'a'], ['TRANSFER-ENCODING', 'CHUNKED']],
    }),
  },
  {
    name: 'gzip, chunked is chunked',
    input: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: gzip, chunked'),
    expected: ok(head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: gzip, chunked'), {
      method: 'POST',
      body: 'chunked',
      fields: [['Host', 'a'], ['Transfer-Encoding', 'gzip, chunked']],
    }),
  },
  {
    name: 'codings with parameters before chunked',
    input: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: deflate;q=0.5 ,x-gzip ; a=b, X-Compress,compress , chunked'),
    expected: ok(head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: deflate;q=0.5 ,x-gzip ; a=b, X-Compress,compress , chunked'), {
      method: 'POST',
      body: 'chunked',
      fields: [['Host', 'a'], ['Transfer-Encoding', 'deflate;q=0.5 ,x-gzip ; a=b, X-Compress,compress , chunked']],
    }),
  },
  {
    name: 'Transfer-Encoding across two field lines',
    input: head('POST / HTTP/1.1', 'Transfer-Encoding: gzip', 'Host: a', 'Transfer-Encoding: chunked'),
    expected: ok(head('POST / HTTP/1.1', 'Transfer-Encoding: gzip', 'Host: a', 'Transfer-Encoding: chunked'), {
      method: 'POST',
      body: 'chunked',
      fields: [['Transfer-Encoding', 'gzip'], ['Host', 'a'], ['Transfer-Encoding', 'chunked']],
    }),
  },
  {
    name: 'HTTP/1.0 without Host and without keep-alive',
    input: head('GET /old HTTP/1.0', 'Accept: */*'),
    expected: ok(head('GET /old HTTP/1.0', 'Accept: */*'), {
      target: '/old',
      minor: 0,
      host: '',
      authority: '',
      keepAlive: false,
      fields: [['Accept', '*/*']],
    }),
  },
  {
    name: 'HTTP/1.0 without any field',
    input: 'GET / HTTP/1.0\r\n\r\n',
    expected: ok('GET / HTTP/1.0\r\n\r\n', { minor: 0, host: '', authority: '', keepAlive: false, fields: [] }),
  },
  {
    name: 'HTTP/1.0 with keep-alive',
    input: head('GET / HTTP/1.0', 'Host: a', 'Connection: Keep-Alive'),
    expected: ok(head('GET / HTTP/1.0', 'Host: a', 'Connection: Keep-Alive'), {
      minor: 0,
      fields: [['Host', 'a'], ['Connection', 'Keep-Alive']],
    }),
  },
  {
    name: 'HTTP/1.0 with a body of known length',
    input: head('POST / HTTP/1.0', 'Content-Length: 3'),
    expected: ok(head('POST / HTTP/1.0', 'Content-Length: 3'), {
      method: 'POST',
      minor: 0,
      host: '',
      authority: '',
      keepAlive: false,
      body: 'length',
      contentLength: 3,
      fields: [['Content-Length', '3']],
    }),
  },
  {
    name: 'Connection: close',
    input: head('GET / HTTP/1.1', 'Host: a', 'Connection: close'),
    expected: ok(head('GET / HTTP/1.1', 'Host: a', 'Connection: close'), { keepAlive: false, fields: [['Host', 'a'], ['Connection', 'close']] }),
  },
  {
    name: 'close wins over keep-alive',
    input: head('GET / HTTP/1.0', 'Connection: keep-alive', 'Connection: CLOSE'),
    expected: ok(head('GET / HTTP/1.0', 'Connection: keep-alive', 'Connection: CLOSE'), {
      minor: 0,
      host: '',
      authority: '',
      keepAlive: false,
      fields: [['Connection', 'keep-alive'], ['Connection', 'CLOSE']],
    }),
  },
  {
    name: 'Connection options list',
    input: head('GET / HTTP/1.1', 'Host: a', 'Connection: keep-alive, X-Trace ,, Upgrade', 'connection: TE,a/b'),
    expected: ok(head('GET / HTTP/1.1', 'Host: a', 'Connection: keep-alive, X-Trace ,, Upgrade', 'connection: TE,a/b'), {
      connectionOptions: ['x-trace', 'te'],
      fields: [['Host', 'a'], ['Connection', 'keep-alive, X-Trace ,, Upgrade'], ['connection', 'TE,a/b']],
    }),
  },
  {
    name: 'Upgrade named by Connection: a protocol switch',
    input: head('GET /chat HTTP/1.1', 'Host: a', 'Connection: Upgrade', 'Upgrade: websocket'),
    expected: ok(head('GET /chat HTTP/1.1', 'Host: a', 'Connection: Upgrade', 'Upgrade: websocket'), {
      target: '/chat',
      upgrade: true,
      fields: [['Host', 'a'], ['Connection', 'Upgrade'], ['Upgrade', 'websocket']],
    }),
  },
  {
    name: 'Upgrade not named by Connection: no switch',
    input: head('GET / HTTP/1.1', 'Host: a', 'Upgrade: websocket'),
    expected: ok(head('GET / HTTP/1.1', 'Host: a', 'Upgrade: websocket'), { fields: [['Host', 'a'], ['Upgrade', 'websocket']] }),
  },
  {
    name: 'one empty line before the request line',
    input: '\r\n' + head('GET / HTTP/1.1', 'Host: a'),
    expected: ok('\r\n' + head('GET / HTTP/1.1', 'Host: a')),
  },
  {
    name: 'several empty lines before the request line',
    input: '\r\n\r\n\r\n' + head('GET / HTTP/1.1', 'Host: a'),
    expected: ok('\r\n\r\n\r\n' + head('GET / HTTP/1.1', 'Host: a')),
  },
  {
    name: 'absolute-form: routed by its authority, Host replaced',
    input: head('GET http://WWW.Mango.com:8080/apple?x=1 HTTP/1.1', 'Host: other.example'),
    expected: ok(head('GET http://WWW.Mango.com:8080/apple?x=1 HTTP/1.1', 'Host: other.example'), {
      target: 'http://WWW.Mango.com:8080/apple?x=1',
      targetForm: 'absolute',
      path: '/apple?x=1',
      host: 'www.mango.com',
      authority: 'WWW.Mango.com:8080',
      fields: [['Host', 'other.example']],
    }),
  },
  {
    name: 'absolute-form: Host after the target is still ignored for routing',
    input: head('GET http://b/ HTTP/1.1', 'Host: a'),
    expected: ok(head('GET http://b/ HTTP/1.1', 'Host: a'), { target: 'http://b/', targetForm: 'absolute', path: '/', host: 'b', authority: 'b' }),
  },
  {
    name: 'absolute-form without a path gets "/"',
    input: head('GET http://b HTTP/1.1', 'Host: b'),
    expected: ok(head('GET http://b HTTP/1.1', 'Host: b'), {
      target: 'http://b',
      targetForm: 'absolute',
      path: '/',
      host: 'b',
      authority: 'b',
      fields: [['Host', 'b']],
    }),
  },
  {
    name: 'absolute-form with a query and no path gets "/?q"',
    input: head('GET http://b?q=1 HTTP/1.1', 'Host: b'),
    expected: ok(head('GET http://b?q=1 HTTP/1.1', 'Host: b'), {
      target: 'http://b?q=1',
      targetForm: 'absolute',
      path: '/?q=1',
      host: 'b',
      authority: 'b',
      fields: [['Host', 'b']],
    }),
  },
  {
    name: 'absolute-form https, scheme in upper case',
    input: head('DELETE HTTPS://B.Example/x HTTP/1.1', 'Host: b'),
    expected: ok(head('DELETE HTTPS://B.Example/x HTTP/1.1', 'Host: b'), {
      method: 'DELETE',
      target: 'HTTPS://B.Example/x',
      targetForm: 'absolute',
      path: '/x',
      host: 'b.example',
      authority: 'B.Example',
      fields: [['Host', 'b']],
    }),
  },
  {
    name: 'absolute-form with an IPv6 literal and a port',
    input: head('GET http://[::1]:8080/p HTTP/1.1', 'Host: [::1]:8080'),
    expected: ok(head('GET http://[::1]:8080/p HTTP/1.1', 'Host: [::1]:8080'), {
      target: 'http://[::1]:8080/p',
      targetForm: 'absolute',
      path: '/p',
      host: '[::1]',
      authority: '[::1]:8080',
      fields: [['Host', '[::1]:8080']],
    }),
  },
  {
    name: 'Host with a port: routed without it, in lower case',
    input: head('GET / HTTP/1.1', 'host: WWW.Mango.COM:8080'),
    expected: ok(head('GET / HTTP/1.1', 'host: WWW.Mango.COM:8080'), {
      host: 'www.mango.com',
      authority: 'WWW.Mango.COM:8080',
      fields: [['host', 'WWW.Mango.COM:8080']],
    }),
  },
  {
    name: 'Host IPv6 literal without a port',
    input: head('GET / HTTP/1.1', 'Host: [2001:db8::1]'),
    expected: ok(head('GET / HTTP/1.1', 'Host: [2001:db8::1]'), { host: '[2001:db8::1]', authority: '[2001:db8::1]', fields: [['Host', '[2001:db8::1]']] }),
  },
  {
    name: 'Host IPv6 literal with a port',
    input: head('GET / HTTP/1.1', 'Host: [::1]:8080'),
    expected: ok(head('GET / HTTP/1.1', 'Host: [::1]:8080'), { host: '[::1]', authority: '[::1]:8080', fields: [['Host', '[::1]:8080']] }),
  },
  {
    name: 'Host with an empty port',
    input: head('GET / HTTP/1.1', 'Host: a:'),
    expected: ok(head('GET / HTTP/1.1', 'Host: a:'), { host: 'a', authority: 'a:', fields: [['Host', 'a:']] }),
  },
  {
    name: 'Host with sub-delims and pct-encoding',
    input: head('GET / HTTP/1.1', "Host: a-b_c~d!$&'()*+,;=%41.e"),
    expected: ok(head('GET / HTTP/1.1', "Host: a-b_c~d!$&'()*+,;=%41.e"), {
      host: "a-b_c~d!$&'()*+,;=%41.e",
      authority: "a-b_c~d!$&'()*+,;=%41.e",
      fields: [['Host', "a-b_c~d!$&'()*+,;=%41.e"]],
    }),
  },
  {
    name: 'empty Host accepted',
    input: head('GET / HTTP/1.1', 'Host: '),
    expected: ok(head('GET / HTTP/1.1', 'Host: '), { host: '', authority: '', fields: [['Host', '']] }),
  },
  {
    name: 'empty Host without a space accepted',
    input: head('GET / HTTP/1.1', 'Host:'),
    expected: ok(head('GET / HTTP/1.1', 'Host:'), { host: '', authority: '', fields: [['Host', '']] }),
  },
  {
    name: 'OPTIONS *',
    input: head('OPTIONS * HTTP/1.1', 'Host: a'),
    expected: ok(head('OPTIONS * HTTP/1.1', 'Host: a'), { method: 'OPTIONS', target: '*', targetForm: 'asterisk', path: '*' }),
  },
  {
    name: 'OPTIONS with an origin-form target',
    input: head('OPTIONS /x HTTP/1.1', 'Host: a'),
    expected: ok(head('OPTIONS /x HTTP/1.1', 'Host: a'), { method: 'OPTIONS', target: '/x' }),
  },
  {
    name: 'Expect: 100-continue',
    input: head('PUT /big HTTP/1.1', 'Host: a', 'Content-Length: 100000', 'Expect: 100-Continue'),
    expected: ok(head('PUT /big HTTP/1.1', 'Host: a', 'Content-Length: 100000', 'Expect: 100-Continue'), {
      method: 'PUT',
      target: '/big',
      body: 'length',
      contentLength: 100000,
      expectContinue: true,
      fields: [['Host', 'a'], ['Content-Length', '100000'], ['Expect', '100-Continue']],
    }),
  },
  {
    name: 'another expectation is not 100-continue',
    input: head('PUT / HTTP/1.1', 'Host: a', 'Expect: 100-continue-please'),
    expected: ok(head('PUT / HTTP/1.1', 'Host: a', 'Expect: 100-continue-please'), {
      method: 'PUT',
      fields: [['Host', 'a'], ['Expect', '100-continue-please']],
    }),
  },
  {
    // RFC 9110 10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
    // request MUST ignore that expectation." (and a proxy must not send a 1.0 client a 100).
    name: 'Expect: 100-continue on HTTP/1.0 is ignored',
    input: head('PUT / HTTP/1.0', 'Content-Length: 5', 'Expect: 100-continue'),
    expected: ok(head('PUT / HTTP/1.0', 'Content-Length: 5', 'Expect: 100-continue'), {
      method: 'PUT',
      minor: 0,
      host: '',
      authority: '',
      keepAlive: false,
      body: 'length',
      contentLength: 5,
      fields: [['Content-Length', '5'], ['Expect', '100-continue']],
    }),
  },
  {
    name: 'field value OWS trimmed, inner whitespace kept',
    input: head('GET / HTTP/1.1', 'Host:a', 'X-A: \t value  with \t inner  \t ', 'X-B:\t\t', 'X-C:', 'X-D: x'),
    expected: ok(head('GET / HTTP/1.1', 'Host:a', 'X-A: \t value  with \t inner  \t ', 'X-B:\t\t', 'X-C:', 'X-D: x'), {
      fields: [['Host', 'a'], ['X-A', 'value  with \t inner'], ['X-B', ''], ['X-C', ''], ['X-D', 'x']],
    }),
  },
  {
    name: 'obs-text in a field value',
    input: head('GET / HTTP/1.1', 'Host: a', 'X-Name: caf\xe9 \x80\xff'),
    expected: ok(head('GET / HTTP/1.1', 'Host: a', 'X-Name: caf\xe9 \x80\xff'), { fields: [['Host', 'a'], ['X-Name', 'caf\xe9 \x80\xff']] }),
  },
  {
    name: 'every tchar in a field name',
    input: head('GET / HTTP/1.1', 'Host: a', "!#$%&'*+-.^_`|~09AZaz: v"),
    expected: ok(head('GET / HTTP/1.1', 'Host: a', "!#$%&'*+-.^_`|~09AZaz: v"), { fields: [['Host', 'a'], ["!#$%&'*+-.^_`|~09AZaz", 'v']] }),
  },
  {
    name: 'colon and other VCHARs inside a value',
    input: head('GET / HTTP/1.1', 'Host: a', 'X-Time: 12:30:00 "q" <x> {y}'),
    expected: ok(head('GET / HTTP/1.1', 'Host: a', 'X-Time: 12:30:00 "q" <x> {y}'), { fields: [['Host', 'a'], ['X-Time', '12:30:00 "q" <x> {y}']] }),
  },
  {
    name: '8000-octet target accepted',
    input: head(`GET ${longTarget} HTTP/1.1`, 'Host: a'),
    expected: ok(head(`GET ${longTarget} HTTP/1.1`, 'Host: a'), { target: longTarget }),
  },
  {
    name: 'HTTP/1.2 treated as 1.1',
    input: head('GET / HTTP/1.2', 'Host: a'),
    expected: ok(head('GET / HTTP/1.2', 'Host: a')),
  },
  {
    name: 'HTTP/1.9 treated as 1.1, so Host is required',
    input: head('GET / HTTP/1.9'),
    expected: fail('MISSING_HOST', 400, 0),
  },
  {
    name: 'asterisk-form with a custom method',
    input: head('M-SEARCH * HTTP/1.1', 'Host: a'),
    expected: fail('BAD_TARGET_FORM', 400, '*'),
  },
  { name: 'custom method PURGE', input: head('PURGE /x HTTP/1.1', 'Host: a'), expected: ok(head('PURGE /x HTTP/1.1', 'Host: a'), { method: 'PURGE', target: '/x' }) },
  { name: 'custom method GEX', input: head('GEX / HTTP/1.1', 'Host: a'), expected: ok(head('GEX / HTTP/1.1', 'Host: a'), { method: 'GEX' }) },
  { name: 'PATCH', input: head('PATCH / HTTP/1.1', 'Host: a'), expected: ok(head('PATCH / HTTP/1.1', 'Host: a'), { method: 'PATCH' }) },
  { name: 'HEAD', input: head('HEAD / HTTP/1.1', 'Host: a'), expected: ok(head('HEAD / HTTP/1.1', 'Host: a'), { method: 'HEAD' }) },
  { name: 'TRACE', input: head('TRACE / HTTP/1.1', 'Host: a'), expected: ok(head('TRACE / HTTP/1.1', 'Host: a'), { method: 'TRACE' }) },
  // RFC 9110 9.1: methods are case-sensitive. A standard method in another case is refused
  // (http-rules.md): a next hop that folds case would frame the exchange differently from us.
  { name: 'GET in lower case', input: head('get / HTTP/1.1', 'Host: a'), expected: fail('METHOD_CASE', 400, 0) },
  { name: 'POST in mixed case', input: head('Post / HTTP/1.1', 'Host: a', 'Content-Length: 0'), expected: fail('METHOD_CASE', 400, 0) },
  { name: 'gEt', input: head('gEt / HTTP/1.1', 'Host: a'), expected: fail('METHOD_CASE', 400, 0) },
  { name: 'head in lower case', input: head('head / HTTP/1.1', 'Host: a'), expected: fail('METHOD_CASE', 400, 0) },
  { name: 'Connect in mixed case', input: head('Connect a:443 HTTP/1.1', 'Host: a:443'), expected: fail('METHOD_CASE', 400, 0) },
  { name: 'options in lower case, asterisk-form', input: head('options * HTTP/1.1', 'Host: a'), expected: fail('METHOD_CASE', 400, 0) },
  { name: 'a lower-case method after an empty line', input: '\r\n' + head('delete / HTTP/1.1', 'Host: a'), expected: fail('METHOD_CASE', 400, 2) },
  {
    name: 'an unknown method in lower case is an extension method, passed on',
    input: head('purge /x HTTP/1.1', 'Host: a'),
    expected: ok(head('purge /x HTTP/1.1', 'Host: a'), { method: 'purge', target: '/x' }),
  },
  {
    name: 'a standard name with one more letter is an unknown method',
    input: head('GETS / HTTP/1.1', 'Host: a'),
    expected: ok(head('GETS / HTTP/1.1', 'Host: a'), { method: 'GETS' }),
  },
  {
    name: 'other known field names pass through',
    input: head('GET / HTTP/1.1', 'Host: a', 'Keep-Alive: timeout=5', 'Proxy-Connection: x', 'TE: trailers', 'Upgrade: websocket', 'X-Forwarded-For: 1.2.3.4', 'X-Forwarded-Host: h', 'X-Forwarded-Proto: http'),
    expected: ok(
      head('GET / HTTP/1.1', 'Host: a', 'Keep-Alive: timeout=5', 'Proxy-Connection: x', 'TE: trailers', 'Upgrade: websocket', 'X-Forwarded-For: 1.2.3.4', 'X-Forwarded-Host: h', 'X-Forwarded-Proto: http'),
      {
        fields: [
          ['Host', 'a'],
          ['Keep-Alive', 'timeout=5'],
          ['Proxy-Connection', 'x'],
          ['TE', 'trailers'],
          ['Upgrade', 'websocket'],
          ['X-Forwarded-For', '1.2.3.4'],
          ['X-Forwarded-Host', 'h'],
          ['X-Forwarded-Proto', 'http'],
        ],
      },
    ),
  },
  { name: 'no empty line yet', input: 'GET / HTTP/1.1\r\nHost: a\r\n', expected: 'incomplete' },
  { name: 'empty lines only', input: '\r\n\r\n', expected: 'incomplete' },
  { name: 'a CR waiting for its LF', input: 'GET / HTTP/1.1\r\nHost: a\r\n\r', expected: 'incomplete' },
]);

// ----------------------------------------------------------------------------------------------
// RFC 9112 2.2: bytes and lines.

run('bytes and lines', [
  { name: 'bare LF ending the request line', input: 'GET / HTTP/1.1\nHost: a\r\n\r\n', expected: fail('BARE_LF', 400, 14) },
  { name: 'bare LF ending a field line', input: 'GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n', expected: fail('BARE_LF', 400, 'a\n', 1) },
  { name: 'bare LF ending the head', input: 'GET / HTTP/1.1\r\nHost: a\r\n\n', expected: fail('BARE_LF', 400, 25) },
  { name: 'bare LF before the request line', input: '\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', expected: fail('BARE_LF', 400, 0) },
  { name: 'bare LF after an empty line', input: '\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', expected: fail('BARE_LF', 400, 2) },
  { name: 'bare LF inside a value', input: head('GET / HTTP/1.1', 'Host: a', 'X: a\nb'), expected: fail('BARE_LF', 400, 'a\nb', 1) },
  // A bare CR is found on the byte after it, which is not the LF.
  { name: 'bare CR inside a value', input: head('GET / HTTP/1.1', 'Host: a', 'X: a\rb'), expected: fail('BARE_CR', 400, '\rb', 1) },
  { name: 'bare CR inside the request line', input: head('GET /\r HTTP/1.1', 'Host: a'), expected: fail('BARE_CR', 400, 6) },
  { name: 'bare CR before the final LF', input: 'GET / HTTP/1.1\r\nHost: a\r\n\r\r\n', expected: fail('BARE_CR', 400, 26) },
  { name: 'bare CR before the request line', input: '\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n', expected: fail('BARE_CR', 400, 1) },
  { name: 'CR CR LF ending a line', input: 'GET / HTTP/1.1\r\r\nHost: a\r\n\r\n', expected: fail('BARE_CR', 400, 15) },
  { name: 'NUL in header name', input: head('GET / HTTP/1.1', 'Ho\0st: a'), expected: fail('BAD_CHARACTER', 400, '\0') },
  { name: 'NUL in header value', input: head('GET / HTTP/1.1', 'Host: a\0b'), expected: fail('BAD_CHARACTER', 400, '\0') },
  { name: 'NUL in request target', input: head('GET /a\0b HTTP/1.1', 'Host: a'), expected: fail('BAD_CHARACTER', 400, 6) },
  { name: 'NUL in method', input: head('G\0T / HTTP/1.1', 'Host: a'), expected: fail('BAD_CHARACTER', 400, 1) },
  { name: 'NUL before the request line', input: '\0GET / HTTP/1.1\r\n\r\n', expected: fail('BAD_CHARACTER', 400, 0) },
  { name: 'DEL in header value', input: head('GET / HTTP/1.1', 'Host: a', 'X: a\x7fb'), expected: fail('BAD_CHARACTER', 400, '\x7f') },
  { name: 'DEL in request target', input: head('GET /a\x7f HTTP/1.1', 'Host: a'), expected: fail('BAD_CHARACTER', 400, 6) },
  { name: 'control char 0x01 in header value', input: head('GET / HTTP/1.1', 'Host: a', 'X: \x01'), expected: fail('BAD_CHARACTER', 400, '\x01') },
  { name: 'ESC in header name', input: head('GET / HTTP/1.1', 'Host: a', 'X\x1b: y'), expected: fail('BAD_CHARACTER', 400, '\x1b') },
  { name: 'vertical tab in header value', input: head('GET / HTTP/1.1', 'Host: a', 'X: \x0b'), expected: fail('BAD_CHARACTER', 400, '\x0b') },
  { name: 'form feed in request line', input: head('GET /\x0c HTTP/1.1', 'Host: a'), expected: fail('BAD_CHARACTER', 400, 5) },
]);

// ----------------------------------------------------------------------------------------------
// RFC 9112 3: the request line.

run('request line', [
  { name: 'two spaces between method and target', input: head('GET  / HTTP/1.1', 'Host: a'), expected: fail('BAD_REQUEST_LINE', 400, 4) },
  { name: 'two spaces between target and version', input: head('GET /  HTTP/1.1', 'Host: a'), expected: fail('BAD_REQUEST_LINE', 400, 6) },
  { name: 'trailing space after version', input: head('GET / HTTP/1.1 ', 'Host: a'), expected: fail('BAD_REQUEST_LINE', 400, 14) },
  { name: 'space before the method', input: head(' GET / HTTP/1.1', 'Host: a'), expected: fail('BAD_REQUEST_LINE', 400, 0) },
  { name: 'tab between method and target', input: head('GET\t/ HTTP/1.1', 'Host: a'), expected: fail('BAD_METHOD', 400, 3) },
  { name: 'method alone', input: head('GET', 'Host: a'), expected: fail('BAD_REQUEST_LINE', 400, 0) },
  { name: 'method and a space', input: head('GET ', 'Host: a'), expected: fail('BAD_REQUEST_LINE', 400, 4) },
  { name: 'invalid method char "("', input: head('GE(T / HTTP/1.1', 'Host: a'), expected: fail('BAD_METHOD', 400, 2) },
  { name: 'invalid method char "@"', input: head('GET@ / HTTP/1.1', 'Host: a'), expected: fail('BAD_METHOD', 400, 3) },
  { name: 'obs-text in method', input: head('G\xc9T / HTTP/1.1', 'Host: a'), expected: fail('BAD_METHOD', 400, 1) },
  { name: 'lowercase http/1.1', input: head('GET / http/1.1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'HTTP/0.9 request line (no version)', input: head('GET /', 'Host: a'), expected: fail('MISSING_VERSION', 400, 5) },
  { name: 'HTTP/0.9 request line alone', input: 'GET /index.html\r\n\r\n', expected: fail('MISSING_VERSION', 400, 15) },
  { name: 'HTTP/2.0', input: head('GET / HTTP/2.0', 'Host: a'), expected: fail('UNSUPPORTED_VERSION', 505, 6) },
  { name: 'HTTP/0.9 as a version', input: head('GET / HTTP/0.9', 'Host: a'), expected: fail('UNSUPPORTED_VERSION', 505, 6) },
  { name: 'HTTP/3.0', input: head('GET / HTTP/3.0', 'Host: a'), expected: fail('UNSUPPORTED_VERSION', 505, 6) },
  { name: 'version HTTP/1', input: head('GET / HTTP/1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTTP/1.10', input: head('GET / HTTP/1.10', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTTP/11.1', input: head('GET / HTTP/11.1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version hTTP/1.1', input: head('GET / hTTP/1.1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HtTP/1.1', input: head('GET / HtTP/1.1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTtP/1.1', input: head('GET / HTtP/1.1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTTp/1.1', input: head('GET / HTTp/1.1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTTP-1.1', input: head('GET / HTTP-1.1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTTP/x.1', input: head('GET / HTTP/x.1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTTP/1,1', input: head('GET / HTTP/1,1', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTTP/1.x', input: head('GET / HTTP/1.x', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  { name: 'version HTTP/1.1 with obs-text', input: head('GET / HTTP/1.\xb9', 'Host: a'), expected: fail('BAD_VERSION', 400, 6) },
  // "/a b HTTP/1.1": the target ends at the first space, so "b HTTP/1.1" is read as the version.
  { name: 'target with a space', input: head('GET /a b HTTP/1.1', 'Host: a'), expected: fail('BAD_REQUEST_LINE', 400, 8) },
  { name: 'target with a tab', input: head('GET /a\tb HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET', 400, 6) },
  { name: 'target with a byte >= 0x80', input: head('GET /caf\xe9 HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET', 400, 8) },
  { name: 'target with a fragment (#)', input: head('GET /a#b HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET', 400, 6) },
  { name: 'asterisk-form with GET', input: head('GET * HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET_FORM', 400, 4) },
  { name: 'asterisk followed by more', input: head('OPTIONS *x HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET_FORM', 400, 8) },
  { name: 'CONNECT with authority-form', input: head('CONNECT a:443 HTTP/1.1', 'Host: a:443'), expected: fail('METHOD_NOT_IMPLEMENTED', 501, 8) },
  { name: 'CONNECT with asterisk', input: head('CONNECT * HTTP/1.1', 'Host: a'), expected: fail('METHOD_NOT_IMPLEMENTED', 501, 8) },
  // CONNECT is refused because the gateway opens no tunnels (request-parser.ts), whatever its target;
  // RFC 9110 9.3.6: CONNECT uses the authority-form only, so an origin-form CONNECT is not valid either.
  { name: 'CONNECT with origin-form', input: head('CONNECT /x HTTP/1.1', 'Host: a'), expected: fail('METHOD_NOT_IMPLEMENTED', 501, 8) },
  { name: 'authority-form with GET', input: head('GET a:80 HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET_FORM', 400, 4) },
  { name: 'relative target without a slash', input: head('GET apple HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET_FORM', 400, 4) },
  { name: 'short target that is not a form', input: head('GET h HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET_FORM', 400, 4) },
  { name: 'scheme "http:/" only', input: head('GET http:/x HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET_FORM', 400, 4) },
  { name: 'ftp scheme', input: head('GET ftp://a/ HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET_FORM', 400, 4) },
  { name: 'absolute-form with an empty host', input: head('GET http:///x HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET', 400, 11) },
  { name: 'absolute-form with nothing after the scheme', input: head('GET https:// HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET', 400, 12) },
  { name: 'absolute-form with userinfo', input: head('GET http://user@a/ HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET', 400, 11) },
  { name: 'absolute-form with a bad port', input: head('GET http://a:8o/ HTTP/1.1', 'Host: a'), expected: fail('BAD_TARGET', 400, 11) },
]);

// ----------------------------------------------------------------------------------------------
// RFC 9112 5 and RFC 9110 5: field lines.

run('field lines', [
  { name: 'whitespace before colon', input: head('GET / HTTP/1.1', 'Host : a'), expected: fail('BAD_FIELD_NAME', 400, 20) },
  { name: 'tab before colon', input: head('GET / HTTP/1.1', 'Host: a', 'X\t: y'), expected: fail('BAD_FIELD_NAME', 400, '\t') },
  { name: 'obs-fold', input: head('GET / HTTP/1.1', 'Host: a', 'X: y', ' z'), expected: fail('OBS_FOLD', 400, ' z') },
  { name: 'obs-fold with a tab', input: head('GET / HTTP/1.1', 'Host: a', 'X: y', '\tz'), expected: fail('OBS_FOLD', 400, '\tz') },
  { name: 'whitespace before the first header', input: head('GET / HTTP/1.1', ' Host: a'), expected: fail('OBS_FOLD', 400, 16) },
  { name: 'line without colon', input: head('GET / HTTP/1.1', 'Host: a', 'X-No-Colon'), expected: fail('MISSING_COLON', 400, 'X-No') },
  { name: 'line without colon, with spaces', input: head('GET / HTTP/1.1', 'Host: a', 'not a field'), expected: fail('MISSING_COLON', 400, 'not') },
  { name: 'empty name', input: head('GET / HTTP/1.1', 'Host: a', ': y'), expected: fail('EMPTY_FIELD_NAME', 400, ': y') },
  { name: 'non-token char in name', input: head('GET / HTTP/1.1', 'Host: a', 'X@Y: z'), expected: fail('BAD_FIELD_NAME', 400, '@') },
  { name: 'obs-text in name', input: head('GET / HTTP/1.1', 'Host: a', 'X\xe9: z'), expected: fail('BAD_FIELD_NAME', 400, '\xe9') },
  { name: 'space inside a name', input: head('GET / HTTP/1.1', 'Host: a', 'X Y: z'), expected: fail('BAD_FIELD_NAME', 400, ' Y') },
  { name: 'the first error wins', input: head('GET / HTTP/1.1', 'X : y', 'Host: a', 'Host: b'), expected: fail('BAD_FIELD_NAME', 400, ' :') },
]);

// ----------------------------------------------------------------------------------------------
// RFC 9112 3.2: Host.

run('Host', [
  { name: 'missing Host in HTTP/1.1', input: head('GET / HTTP/1.1', 'Accept: */*'), expected: fail('MISSING_HOST', 400, 0) },
  { name: 'missing Host after empty lines', input: '\r\n' + head('GET / HTTP/1.1'), expected: fail('MISSING_HOST', 400, 2) },
  { name: 'missing Host with absolute-form', input: head('GET http://a/ HTTP/1.1'), expected: fail('MISSING_HOST', 400, 0) },
  { name: 'duplicate Host', input: head('GET / HTTP/1.1', 'Host: a', 'Host: b'), expected: fail('DUPLICATE_HOST', 400, 'Host: b') },
  { name: 'duplicate identical Host', input: head('GET / HTTP/1.1', 'Host: a', 'X: y', 'host: a'), expected: fail('DUPLICATE_HOST', 400, 'host') },
  { name: 'duplicate Host in HTTP/1.0', input: head('GET / HTTP/1.0', 'Host: a', 'Host: a'), expected: fail('DUPLICATE_HOST', 400, 25) },
  { name: 'Host with a space inside', input: head('GET / HTTP/1.1', 'Host: exa mple'), expected: fail('BAD_HOST', 400, 'exa') },
  { name: 'Host "a b"', input: head('GET / HTTP/1.1', 'Host: a b'), expected: fail('BAD_HOST', 400, 'a b') },
  { name: 'Host with an unclosed bracket', input: head('GET / HTTP/1.1', 'Host: [::1'), expected: fail('BAD_HOST', 400, '[') },
  { name: 'Host with a bracket inside brackets', input: head('GET / HTTP/1.1', 'Host: [[::1]'), expected: fail('BAD_HOST', 400, '[') },
  { name: 'Host with a space inside brackets', input: head('GET / HTTP/1.1', 'Host: [: :1]'), expected: fail('BAD_HOST', 400, '[') },
  { name: 'Host with junk after brackets', input: head('GET / HTTP/1.1', 'Host: [::1]x'), expected: fail('BAD_HOST', 400, '[') },
  { name: 'Host with a bracket in a name', input: head('GET / HTTP/1.1', 'Host: a]b'), expected: fail('BAD_HOST', 400, 'a]') },
  { name: 'Host with an opening bracket in a name', input: head('GET / HTTP/1.1', 'Host: a[b'), expected: fail('BAD_HOST', 400, 'a[') },
  { name: 'Host "host:port"', input: head('GET / HTTP/1.1', 'Host: host:port'), expected: fail('BAD_HOST', 400, 'host:') },
  { name: 'Host "host:12a"', input: head('GET / HTTP/1.1', 'Host: host:12a'), expected: fail('BAD_HOST', 400, 'host:') },
  { name: 'Host with two ports', input: head('GET / HTTP/1.1', 'Host: a:1:2'), expected: fail('BAD_HOST', 400, 'a:1') },
  { name: 'IPv6 Host with a bad port', input: head('GET / HTTP/1.1', 'Host: [::1]:8o'), expected: fail('BAD_HOST', 400, '[') },
  { name: 'Host with userinfo', input: head('GET / HTTP/1.1', 'Host: user@a'), expected: fail('BAD_HOST', 400, 'user') },
  { name: 'Host with a path', input: head('GET / HTTP/1.1', 'Host: a/b'), expected: fail('BAD_HOST', 400, 'a/b') },
  { name: 'Host with obs-text', input: head('GET / HTTP/1.1', 'Host: caf\xe9'), expected: fail('BAD_HOST', 400, 'caf') },
  { name: 'invalid Host with absolute-form', input: head('GET http://a/ HTTP/1.1', 'Host: a b'), expected: fail('BAD_HOST', 400, 'a b') },
]);

// ----------------------------------------------------------------------------------------------
// RFC 9112 6.3: framing.

const post = (...fields: string[]) => head('POST / HTTP/1.1', 'Host: a', ...fields);

run('framing', [
  { name: 'Transfer-Encoding and Content-Length', input: post('Transfer-Encoding: chunked', 'Content-Length: 5'), expected: fail('TE_WITH_CL', 400, 0) },
  { name: 'Content-Length and Transfer-Encoding', input: post('Content-Length: 5', 'Transfer-Encoding: chunked'), expected: fail('TE_WITH_CL', 400, 0) },
  { name: 'TE and CL after empty lines', input: '\r\n' + post('Content-Length: 5', 'Transfer-Encoding: chunked'), expected: fail('TE_WITH_CL', 400, 2) },
  { name: 'duplicate Content-Length lines', input: post('Content-Length: 5', 'Content-Length: 5'), expected: fail('DUPLICATE_CONTENT_LENGTH', 400, 'Content-Length: 5\r\n', 19) },
  { name: 'differing Content-Length lines', input: post('Content-Length: 5', 'content-length: 6'), expected: fail('DUPLICATE_CONTENT_LENGTH', 400, 'content-length') },
  { name: 'Content-Length list', input: post('Content-Length: 5, 5'), expected: fail('BAD_CONTENT_LENGTH', 400, '5, 5') },
  { name: 'Content-Length with a plus sign', input: post('Content-Length: +5'), expected: fail('BAD_CONTENT_LENGTH', 400, '+5') },
  { name: 'Content-Length with a minus sign', input: post('Content-Length: -5'), expected: fail('BAD_CONTENT_LENGTH', 400, '-5') },
  { name: 'Content-Length in hex', input: post('Content-Length: 0x5'), expected: fail('BAD_CONTENT_LENGTH', 400, '0x5') },
  { name: 'Content-Length with a hex digit', input: post('Content-Length: 5a'), expected: fail('BAD_CONTENT_LENGTH', 400, '5a') },
  { name: 'Content-Length with a space inside', input: post('Content-Length: 1 2'), expected: fail('BAD_CONTENT_LENGTH', 400, '1 2') },
  { name: 'empty Content-Length', input: post('Content-Length: '), expected: fail('BAD_CONTENT_LENGTH', 400, 'Content-Length: ', 16) },
  { name: 'Content-Length of 2^53', input: post('Content-Length: 9007199254740992'), expected: fail('BAD_CONTENT_LENGTH', 400, '9007') },
  { name: 'Content-Length of 17 digits', input: post('Content-Length: 00000000000000001'), expected: fail('BAD_CONTENT_LENGTH', 400, '0000') },
  { name: 'Content-Length of 20 digits', input: post('Content-Length: 99999999999999999999'), expected: fail('BAD_CONTENT_LENGTH', 400, '9999') },
  { name: 'Transfer-Encoding with an empty list element', input: post('Transfer-Encoding: gzip,, chunked'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'Transfer-Encoding ending in a comma', input: post('Transfer-Encoding: chunked ,'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'Transfer-Encoding with trailing whitespace', input: post('Transfer-Encoding: chunked\t'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'Content-Length with trailing whitespace', input: post('Content-Length: 5 '), expected: fail('BAD_CONTENT_LENGTH', 400, '5 ') },
  { name: 'Transfer-Encoding gzip alone', input: post('Transfer-Encoding: gzip'), expected: fail('TE_NOT_CHUNKED', 400, 0) },
  { name: 'Transfer-Encoding "chunked, gzip"', input: post('Transfer-Encoding: chunked, gzip'), expected: fail('TE_NOT_CHUNKED', 400, 0) },
  { name: 'Transfer-Encoding "chunked, chunked"', input: post('Transfer-Encoding: chunked, chunked'), expected: fail('TE_NOT_CHUNKED', 400, 0) },
  { name: 'chunked on two field lines', input: post('Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'), expected: fail('TE_NOT_CHUNKED', 400, 0) },
  { name: 'chunked then gzip on two field lines', input: post('Transfer-Encoding: chunked', 'Transfer-Encoding: gzip'), expected: fail('TE_NOT_CHUNKED', 400, 0) },
  { name: 'Transfer-Encoding "chunked;x=1"', input: post('Transfer-Encoding: chunked;x=1'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'Transfer-Encoding "chunked ;x=1"', input: post('Transfer-Encoding: chunked ;x=1'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'malformed element before chunked', input: post('Transfer-Encoding: chunked;x=1, chunked'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'coding followed by junk', input: post('Transfer-Encoding: gzip x, chunked'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'parameter without a coding', input: post('Transfer-Encoding: ;q=1, chunked'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'empty Transfer-Encoding', input: post('Transfer-Encoding: '), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'Transfer-Encoding of commas only', input: post('Transfer-Encoding: , ,'), expected: fail('BAD_TRANSFER_ENCODING', 400, 0) },
  { name: 'unknown transfer coding', input: post('Transfer-Encoding: br'), expected: fail('UNKNOWN_TRANSFER_CODING', 501, 0) },
  { name: 'unknown coding before chunked', input: post('Transfer-Encoding: foo, chunked'), expected: fail('UNKNOWN_TRANSFER_CODING', 501, 0) },
  { name: 'unknown coding with a parameter', input: post('Transfer-Encoding: foo;a=b, chunked'), expected: fail('UNKNOWN_TRANSFER_CODING', 501, 0) },
  { name: 'Transfer-Encoding on HTTP/1.0', input: head('POST / HTTP/1.0', 'Transfer-Encoding: chunked'), expected: fail('TE_ON_HTTP10', 400, 0) },
]);

// ----------------------------------------------------------------------------------------------
// Limits: small custom ones, so the inputs stay small; the defaults are checked at the end.

const small: HeadLimits = { maxStartLine: 20, maxHead: 64, maxFields: 3 };

/** A head of exactly `size` bytes: a request line, Host, and one field padded to fit. */
const headOfSize = (size: number) => head('GET / HTTP/1.1', 'Host: a', 'X: ' + 'v'.repeat(size - 32));
/** Its fields. */
const fieldsOfSize = (size: number): [string, string][] => [['Host', 'a'], ['X', 'v'.repeat(size - 32)]];

run('limits', [
  {
    name: 'request line of exactly maxStartLine bytes',
    input: head('GET /234567 HTTP/1.1', 'Host: a'),
    expected: ok(head('GET /234567 HTTP/1.1', 'Host: a'), { target: '/234567' }),
    limits: small,
  },
  { name: 'request line one byte over maxStartLine', input: head('GET /2345678 HTTP/1.1', 'Host: a'), expected: fail('REQUEST_LINE_TOO_LONG', 414, 20), limits: small },
  { name: 'request line over the limit without a CR yet', input: 'GET /234567890123456789', expected: fail('REQUEST_LINE_TOO_LONG', 414, 20), limits: small },
  {
    name: 'request line limit counts from the request line, not the empty lines',
    input: '\r\n' + head('GET /234567 HTTP/1.1', 'Host: a'),
    expected: ok('\r\n' + head('GET /234567 HTTP/1.1', 'Host: a'), { target: '/234567' }),
    limits: small,
  },
  { name: 'request line too long after an empty line', input: '\r\n' + head('GET /2345678 HTTP/1.1', 'Host: a'), expected: fail('REQUEST_LINE_TOO_LONG', 414, 22), limits: small },
  { name: 'a field line may be longer than maxStartLine', input: headOfSize(60), expected: ok(headOfSize(60), { fields: fieldsOfSize(60) }), limits: small },
  { name: 'head of exactly maxHead bytes', input: headOfSize(64), expected: ok(headOfSize(64), { fields: fieldsOfSize(64) }), limits: small },
  { name: 'head one byte over maxHead', input: headOfSize(65), expected: fail('HEAD_TOO_LARGE', 431, 64), limits: small },
  { name: 'head over maxHead, incomplete at the limit', input: headOfSize(65).slice(0, 64), expected: 'incomplete', limits: small },
  { name: 'head over maxHead, one byte past the limit', input: headOfSize(65).slice(0, 65), expected: fail('HEAD_TOO_LARGE', 431, 64), limits: small },
  { name: 'empty lines count toward maxHead', input: '\r\n' + headOfSize(63), expected: fail('HEAD_TOO_LARGE', 431, 64), limits: small },
  { name: 'endless empty lines', input: '\r\n'.repeat(40), expected: fail('HEAD_TOO_LARGE', 431, 64), limits: small },
  {
    name: 'exactly maxFields fields',
    input: head('GET / HTTP/1.1', 'Host: a', 'B: 1', 'C: 2'),
    expected: ok(head('GET / HTTP/1.1', 'Host: a', 'B: 1', 'C: 2'), { fields: [['Host', 'a'], ['B', '1'], ['C', '2']] }),
    limits: small,
  },
  { name: 'one field over maxFields', input: head('GET / HTTP/1.1', 'Host: a', 'B: 1', 'C: 2', 'D: 3'), expected: fail('TOO_MANY_FIELDS', 431, 'D: 3'), limits: small },
  { name: 'too many fields is found before the head ends', input: 'GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n', expected: fail('TOO_MANY_FIELDS', 431, 'D: 3'), limits: small },
]);

// ----------------------------------------------------------------------------------------------

t.test('default limits', async (t) => {
  t.same(DEFAULT_REQUEST_LIMITS, { maxStartLine: 8192, maxHead: 16384, maxFields: 100 });
  const fields = (n: number) => Array.from({ length: n }, (_, k) => (k === 0 ? 'Host: a' : `F${k}: v`));
  const hundred = head('GET / HTTP/1.1', ...fields(100));
  const whole: MakeParser = (o) => new RequestParser(undefined, o);
  t.test('exactly 100 fields accepted', async (t) => {
    expectAllWays(t, bytes(hundred), whole, ok(hundred, { fields: fields(100).map((f) => f.split(': ') as [string, string]) }));
  });
  t.test('101 fields -> 431', async (t) => {
    const input = head('GET / HTTP/1.1', ...fields(101));
    expectAllWays(t, bytes(input), whole, resolve(input, fail('TOO_MANY_FIELDS', 431, 'F100')));
  });
  // Inputs of 8 and 16 KiB: fed whole, byte by byte and cut around the limit (every cut of
  // every one would make this file slow; the small limits above are cut everywhere).
  function expectSomeWays(t: Test, input: string, expected: HeadResult, limit: number) {
    const buf = bytes(input);
    t.strictSame(feedWhole(buf, whole)[0], expected, 'whole');
    t.strictSame(feedByteByByte(buf, whole)[0], expected, 'byte by byte');
    for (const k of [1, 100, limit - 2, limit - 1, limit, limit + 1, limit + 2, buf.length - 1]) {
      t.strictSame(feedPieces([buf.subarray(0, k), buf.subarray(k)], whole)[0], expected, `split at ${k}`);
    }
  }
  t.test('request line of exactly 8 KiB accepted', async (t) => {
    const target = '/' + 'a'.repeat(8192 - 'GET  HTTP/1.1'.length - 1);
    const input = head(`GET ${target} HTTP/1.1`, 'Host: a');
    expectSomeWays(t, input, ok(input, { target }), 8192);
  });
  t.test('request line over 8 KiB -> 414', async (t) => {
    const input = head(`GET /${'a'.repeat(8192)} HTTP/1.1`, 'Host: a');
    expectSomeWays(t, input, resolve(input, fail('REQUEST_LINE_TOO_LONG', 414, 8192)), 8192);
  });
  t.test('head of exactly 16 KiB accepted', async (t) => {
    const input = headOfSize(16384);
    expectSomeWays(t, input, ok(input, { fields: fieldsOfSize(16384) }), 16384);
  });
  t.test('head over 16 KiB -> 431', async (t) => {
    const input = headOfSize(16385);
    expectSomeWays(t, input, resolve(input, fail('HEAD_TOO_LARGE', 431, 16384)), 16384);
  });
});

// ----------------------------------------------------------------------------------------------
// Pipelining: heads back to back; each must consume exactly its own bytes.

t.test('pipelining', async (t) => {
  const one = head('GET /1 HTTP/1.1', 'Host: a');
  const two = head('GET /2 HTTP/1.1', 'Host: b', 'Connection: close');
  const make: MakeParser = (o) => new RequestParser(undefined, o);
  t.test('two requests back to back', async (t) => {
    expectAllWays(t, bytes(one + two), make, [
      ok(one, { target: '/1' }),
      ok(two, { target: '/2', host: 'b', authority: 'b', keepAlive: false, fields: [['Host', 'b'], ['Connection', 'close']] }),
    ], 2);
  });
  t.test('three requests with an empty line between', async (t) => {
    expectAllWays(t, bytes(one + '\r\n' + two + one), make, [
      ok(one, { target: '/1' }),
      ok('\r\n' + two, { target: '/2', host: 'b', authority: 'b', keepAlive: false, fields: [['Host', 'b'], ['Connection', 'close']] }),
      ok(one, { target: '/1' }),
    ], 3);
  });
  t.test('a head of exactly maxHead bytes, then the next', async (t) => {
    const first = headOfSize(64);
    expectAllWays(t, bytes(first + one), (o) => new RequestParser(small, o), [ok(first, { fields: fieldsOfSize(64) }), ok(one, { target: '/1' })], 2);
  });
  t.test('a head of exactly maxHead bytes, then one too large', async (t) => {
    const first = headOfSize(64);
    expectAllWays(t, bytes(first + headOfSize(65)), (o) => new RequestParser(small, o), [ok(first, { fields: fieldsOfSize(64) }), { error: 'HEAD_TOO_LARGE', status: 431, offset: 64 }], 2);
  });
  t.test('a head and the start of the next', async (t) => {
    expectAllWays(t, bytes(one + 'GET /2 HT'), make, [ok(one, { target: '/1' }), 'incomplete'], 2);
  });
  t.test('a head and a malformed one', async (t) => {
    expectAllWays(t, bytes(one + 'GET /2 HTTP/1.1\r\nHost: b\r\nX : y\r\n\r\n'), make, [
      ok(one, { target: '/1' }),
      { error: 'BAD_FIELD_NAME', status: 400, offset: 27 },
    ], 2);
  });
  t.test('bytes after the head are left for the body', async (t) => {
    const input = bytes(head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5') + 'hello' + one);
    const p = new RequestParser();
    const first = p.execute(input, 0) as RequestHead;
    t.equal(first.contentLength, 5);
    const bodyStart = p.consumed;
    t.equal(input.toString('latin1', bodyStart, bodyStart + 5), 'hello');
    const second = p.execute(input, bodyStart + 5) as RequestHead;
    t.equal(second.path, '/1');
    t.equal(p.consumed, one.length);
    t.equal(bodyStart + 5 + p.consumed, input.length);
  });
  t.test('a body that begins in the piece that ends a split head', async (t) => {
    const p = new RequestParser();
    const h = head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5');
    t.equal(p.execute(bytes(h.slice(0, 10)), 0), null);
    const piece = bytes(h.slice(10) + 'hello');
    const r = p.execute(piece, 0) as RequestHead;
    t.equal(r.contentLength, 5);
    t.equal(p.consumed, h.length - 10);
    t.equal(piece.toString('latin1', p.consumed), 'hello');
  });
});

// ----------------------------------------------------------------------------------------------

t.test('reuse', async (t) => {
  const good = bytes(head('GET /ok HTTP/1.1', 'Host: a'));
  t.test('after an error the parser reads the next message', async (t) => {
    const p = new RequestParser();
    t.type(p.execute(bytes('GET / HTTP/1.1\r\nX : y\r\n\r\n'), 0), HttpError);
    t.equal((p.execute(good, 0) as RequestHead).path, '/ok');
  });
  t.test('after an error in a split head the parser reads the next message whole', async (t) => {
    const p = new RequestParser();
    t.equal(p.execute(bytes('GET / HTTP/1.1\r\n'), 0), null);
    t.type(p.execute(bytes('X\0'), 0), HttpError);
    t.equal((p.execute(good, 0) as RequestHead).path, '/ok');
  });
  t.test('reset forgets a partial head', async (t) => {
    const p = new RequestParser();
    t.equal(p.execute(bytes('POST /partial HT'), 0), null);
    p.reset();
    t.equal((p.execute(good, 0) as RequestHead).path, '/ok');
    t.equal(p.consumed, good.length);
  });
  t.test('a head after a split head reuses the scratch buffer', async (t) => {
    const p = new RequestParser();
    for (let round = 0; round < 3; round++) {
      t.equal(p.execute(good.subarray(0, 7), 0), null);
      const r = p.execute(good.subarray(7), 0) as RequestHead;
      t.equal(r.path, '/ok');
      t.equal(p.consumed, good.length - 7);
    }
  });
  t.test('an empty piece is taken', async (t) => {
    const p = new RequestParser();
    t.equal(p.execute(Buffer.alloc(0), 0), null);
    t.equal(p.execute(good, good.length), null);
    t.equal((p.execute(good, 0) as RequestHead).path, '/ok');
  });
  t.test('each request on one parser gets its own Host, kept or not', async (t) => {
    // The parser keeps the last Host's strings (HostCache): a changed Host, one of the same
    // length, and one too long to keep must each be read again.
    const p = new RequestParser();
    const long = 'h'.repeat(70) + '.example';
    const hosts = ['www.mango.com', 'www.mango.com', 'WWW.Mango.com:80', 'www.apple.com', 'www.mango.com', long, long, 'a'];
    for (const host of hosts) {
      const r = p.execute(bytes(head('GET / HTTP/1.1', `Host: ${host}`)), 0) as RequestHead;
      t.equal(r.authority, host);
      t.equal(r.host, routingHost(host));
    }
  });
  t.test('the head points into the bytes', async (t) => {
    const input = bytes('\r\n' + head('GET /ok HTTP/1.1', 'Host: a'));
    const r = new RequestParser().execute(input, 0) as RequestHead;
    t.equal(r.buf, input);
    t.equal(r.start, 2);
    t.equal(r.requestLineEnd, 2 + 'GET /ok HTTP/1.1'.length);
    t.equal(r.end, input.length);
  });
});

t.test('refusedRequestLine: what a log line can show of a refused head, every way it arrives', async (t) => {
  /** The refused request line of `input`, fed in every way (whole, split at every offset, byte by byte; with and without the fast path): all must agree. */
  function refused(input: string, limits?: HeadLimits, abandon = false): RequestLine | null | string {
    const buf = bytes(input);
    const ways: Buffer[][] = [[buf], Array.from(buf, (_, k) => buf.subarray(k, k + 1))];
    for (let k = 1; k < buf.length; k++) ways.push([buf.subarray(0, k), buf.subarray(k)]);
    const seen = new Set<string>();
    let last: RequestLine | null | string = 'no error';
    for (const wasm of [true, false]) {
      for (const pieces of ways) {
        const parser = new RequestParser(limits, { wasm });
        let got: RequestLine | null | string = 'no error';
        for (const piece of pieces) {
          const r = parser.execute(piece, 0);
          if (r instanceof HttpError) {
            got = parser.refusedRequestLine();
            break;
          }
          if (r !== null) break;
        }
        if (abandon && got === 'no error') {
          parser.abandon();
          got = parser.refusedRequestLine();
        }
        seen.add(JSON.stringify(got));
        last = got;
      }
    }
    t.equal(seen.size, 1, `${JSON.stringify(input)}: the same every way`);
    return last;
  }
  const line = (method: string, target: string, version = 'HTTP/1.1'): RequestLine => ({ method, target, version });

  // Refused after the request line: it is shown, whatever came after it.
  t.same(refused(head('GET /a?b=1 HTTP/1.1', 'X: 1')), line('GET', '/a?b=1'), 'MISSING_HOST');
  t.same(refused('\r\n\r\n' + head('GET / HTTP/1.1')), line('GET', '/'), 'after empty lines');
  t.same(refused(head('GET / HTTP/1.1', 'X: a\x00b')), line('GET', '/'), 'BAD_CHARACTER in a field line');
  t.same(refused(head('GET / HTTP/1.1', 'X : y')), line('GET', '/'), 'BAD_FIELD_NAME');
  t.same(refused(headOfSize(65), small), line('GET', '/'), 'HEAD_TOO_LARGE');
  t.same(refused(head('GET / HTTP/1.1', 'Host: a', 'B: 1', 'C: 2', 'D: 3'), small), line('GET', '/'), 'TOO_MANY_FIELDS');
  // Refused for the request line itself, still shaped as one: shown as sent.
  t.same(refused(head('GET / HTTP/2.0', 'Host: a')), line('GET', '/', 'HTTP/2.0'), '505');
  t.same(refused(head('CONNECT a.com:443 HTTP/1.1', 'Host: a.com')), line('CONNECT', 'a.com:443'), 'CONNECT');
  t.same(refused(head('GET /caf\xe9#x HTTP/1.1', 'Host: a')), line('GET', '/caf\xe9#x'), 'a target with bytes the parser refuses');
  // Not a request line, or not whole: nothing to show.
  for (const garbled of ['G(ET / HTTP/1.1', 'GET  / HTTP/1.1', ' / HTTP/1.1', 'GET / HTTP/1.1 x', 'GET / http/1.1', 'GET / HTTP/1.x', 'GET / HTTP/x.1', 'GET / HTTP/1.12', 'GET / HTTP/1-1', 'GET /', 'GET', 'GET /\x7f HTTP/1.1']) {
    t.equal(refused(head(garbled, 'Host: a')), null, JSON.stringify(garbled));
  }
  t.equal(refused(head('GET /2345678 HTTP/1.1', 'Host: a'), small), null, '414');
  t.equal(refused('GET / HTTP/1.1\rX'), null, 'BARE_CR ending the request line');
  t.equal(refused('GET / HTTP/1.1\n'), null, 'BARE_LF ending the request line');
  t.equal(refused('GET /\x00 HTTP/1.1\r\n'), null, 'BAD_CHARACTER in the request line');
  // A head given up on (timeouts.header): its request line when it came whole.
  t.same(refused('GET /slow HTTP/1.1\r\nHost: a\r\n', undefined, true), line('GET', '/slow'), 'abandoned after its request line');
  t.equal(refused('GET /slow HT', undefined, true), null, 'abandoned inside its request line');
  const idle = new RequestParser();
  idle.abandon();
  t.equal(idle.refusedRequestLine(), null, 'abandoned with no head in progress');
  t.type(idle.execute(bytes(head('GET /next HTTP/1.1', 'Host: a')), 0), 'object', 'and the parser reads on');
  idle.abandon();
  t.equal(idle.refusedRequestLine(), null, 'nothing of the head read before');
});

t.test('routingHost', async (t) => {
  t.equal(routingHost('WWW.Mango.com:8080'), 'www.mango.com');
  t.equal(routingHost('a'), 'a');
  t.equal(routingHost('[::1]'), '[::1]');
  t.equal(routingHost('[::1]:80'), '[::1]');
  t.equal(routingHost(''), '');
});

t.test('the harness itself', async (t) => {
  const input = bytes(head('GET / HTTP/1.1', 'Host: a'));
  const make: MakeParser = (o) => new RequestParser(undefined, o);
  const all = feedAllWays(input, make);
  t.equal(all.length, input.length + 2, 'whole, every cut, byte by byte, whole without WebAssembly');
  t.equal(feedSplitAtEveryOffset(input, make).length, input.length - 1);
  t.strictSame(new Set(all.map((r) => JSON.stringify(r))).size, 1);
  t.throws(() => feedAllWays(input, () => new RequestParser()), /must pass its options on/, 'a factory that drops the options would compare the fast path with itself');
});
