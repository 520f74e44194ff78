// The small pieces under the parsers: field names, field lines, lists, Content-Length, tokens,
// the character tables (chars.ts) and the error catalogue (errors.ts).

import t from 'tap';
import { ERRORS, HttpError, statusOf, type ErrorCode } from '../../src/errors.js';
import { HEX_VALUE, HOST_CHAR, LINE_CHAR, TARGET_CHAR, TCHAR, equalsIgnoreCase, isOws, lower, skipLineChars, text, wordsOf } from '../../src/http/chars.js';
import { Field, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, KNOWN_FIELD_NAMES, fieldKind, fieldLineError, isToken, lowerText, nextListElement, parseContentLength } from '../../src/http/fields.js';
import { RequestParser } from '../../src/http/request-parser.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

/** Runs `fn` on `s` placed inside other bytes, so that start and end matter. */
function inside<R>(s: string, fn: (buf: Buffer, start: number, end: number) => R): R {
  const buf = bytes('\x00:,' + s + ',: \x00');
  return fn(buf, 3, 3 + s.length);
}

t.test('fieldKind', async (t) => {
  const known: [string, number][] = [
    ['Host', Field.HOST],
    ['host', Field.HOST],
    ['HOST', Field.HOST],
    ['hOsT', Field.HOST],
    ['Content-Length', Field.CONTENT_LENGTH],
    ['content-length', Field.CONTENT_LENGTH],
    ['CONTENT-LENGTH', Field.CONTENT_LENGTH],
    ['Transfer-Encoding', Field.TRANSFER_ENCODING],
    ['transfer-ENCODING', Field.TRANSFER_ENCODING],
    ['Connection', Field.CONNECTION],
    ['CONNECTION', Field.CONNECTION],
    ['Keep-Alive', Field.KEEP_ALIVE],
    ['keep-alive', Field.KEEP_ALIVE],
    ['Proxy-Connection', Field.PROXY_CONNECTION],
    ['PROXY-connection', Field.PROXY_CONNECTION],
    ['TE', Field.TE],
    ['te', Field.TE],
    ['Te', Field.TE],
    ['Upgrade', Field.UPGRADE],
    ['UPGRADE', Field.UPGRADE],
    ['Expect', Field.EXPECT],
    ['eXPECT', Field.EXPECT],
    ['X-Forwarded-For', Field.X_FORWARDED_FOR],
    ['x-forwarded-for', Field.X_FORWARDED_FOR],
    ['X-Forwarded-Host', Field.X_FORWARDED_HOST],
    ['X-FORWARDED-HOST', Field.X_FORWARDED_HOST],
    ['X-Forwarded-Proto', Field.X_FORWARDED_PROTO],
    ['x-Forwarded-proto', Field.X_FORWARDED_PROTO],
    ['Referer', Field.REFERER],
    ['REFERER', Field.REFERER],
    ['User-Agent', Field.USER_AGENT],
    ['user-agent', Field.USER_AGENT],
  ];
  // Same lengths as known names, one byte off; and lengths no known name has.
  const nearMisses = [
    'T3', 'tf', 'Hosts', 'Hoss', 'Hos', 'hots', 'Expekt', 'Expec', 'Upgrad3', 'Upgrades',
    'Connectiom', 'Connexion', 'Keep_Alive', 'keep-alivE2', 'Kepp-Alive', 'Content-Lengtz', 'Content_Length',
    'Content-Length2', 'X-Forwarded-Fox', 'Y-Forwarded-For', 'Proxy-Connectiom', 'X-Forwarded-Hosy',
    'Transfer-Encodinx', 'X-Forwarded-Protp', 'Transfer-Encodings', 'X', 'Date', 'Accept', 'Cookie',
    'Content-Type', 'Set-Cookie', 'Authorization', 'Sec-WebSocket-Key', '', 'Host\xc8', 'H\xefst', 'T\xc5',
    'Referrer', 'Refere', 'Referez', 'User-Agents', 'User_Agent', 'Useragent', 'U\xf3er-Agent',
  ];
  for (const [name, kind] of known) t.equal(inside(name, fieldKind), kind, name);
  for (const name of nearMisses) t.equal(inside(name, fieldKind), Field.OTHER, JSON.stringify(name));
  // The lookup's premise: no two known names share both length and first letter.
  const keys = KNOWN_FIELD_NAMES.map((name) => `${name.length} ${name[0]}`);
  t.equal(new Set(keys).size, keys.length, 'every known name has its own length and first letter');
  t.equal(new Set(known.map(([, kind]) => kind)).size, KNOWN_FIELD_NAMES.length, 'every known name is tried above');
  // A name is compared as its bytes, not as a longer run of bytes around it.
  t.equal(fieldKind(bytes('Hostname'), 0, 4), Field.HOST);
  t.equal(fieldKind(bytes('xHost'), 1, 5), Field.HOST);
});

t.test('field lines split into name and value (by the head reader, as each CR arrives)', async (t) => {
  /** [name, value] through the offsets, or the error's code and offset from the line's start. */
  function split(line: string): [string, string] | [ErrorCode, number] {
    const requestLine = 'GET / HTTP/1.0\r\n'; // no Host needed
    const buf = bytes(`${requestLine}${line}\r\n\r\n`);
    const head = new RequestParser().execute(buf, 0);
    if (head instanceof HttpError) return [head.code, head.offset - requestLine.length];
    const f = head!.fields;
    t.equal(head!.fieldCount, 1);
    t.equal(f[F_LINE], requestLine.length, 'the line starts after the request line');
    return [buf.toString('latin1', f[F_LINE], f[F_NAME_END]), buf.toString('latin1', f[F_VALUE], f[F_VALUE_END])];
  }
  t.strictSame(split('Host: a'), ['Host', 'a']);
  t.strictSame(split('Host:a'), ['Host', 'a']);
  t.strictSame(split('X:'), ['X', '']);
  t.strictSame(split('X: \t '), ['X', '']);
  t.strictSame(split('X:  a b \t'), ['X', 'a b']);
  t.strictSame(split('X: a: b'), ['X', 'a: b']);
  t.strictSame(split('X-Y_Z: \xe9'), ['X-Y_Z', '\xe9']);
  t.strictSame(split(' X: y'), ['OBS_FOLD', 0]);
  t.strictSame(split('\tX: y'), ['OBS_FOLD', 0]);
  t.strictSame(split('X : y'), ['BAD_FIELD_NAME', 1]);
  t.strictSame(split('X\t: y'), ['BAD_FIELD_NAME', 1]);
  t.strictSame(split('X"Y: z'), ['BAD_FIELD_NAME', 1]);
  t.strictSame(split('X'), ['MISSING_COLON', 0]);
  t.strictSame(split('X y'), ['MISSING_COLON', 0]);
  t.strictSame(split(': y'), ['EMPTY_FIELD_NAME', 0]);
  t.strictSame(split(':'), ['EMPTY_FIELD_NAME', 0]);
  // An empty line ends a head, so never reaches the split; fieldLineError still names it.
  t.equal(fieldLineError(bytes('ab'), 1, 1, 1, 0).code, 'MISSING_COLON');
});

t.test('nextListElement', async (t) => {
  function list(s: string): string[] {
    return inside(s, (buf, start, end) => {
      const el = new Int32Array(2);
      const out: string[] = [];
      for (let i = start; (i = nextListElement(buf, i, end, el)) >= 0; ) {
        t.ok(el[0]! >= start && el[1]! <= end, 'inside the bounds');
        out.push(buf.toString('latin1', el[0], el[1]));
      }
      return out;
    });
  }
  t.strictSame(list('a'), ['a']);
  t.strictSame(list('a,b'), ['a', 'b']);
  t.strictSame(list('gzip, chunked'), ['gzip', 'chunked']);
  t.strictSame(list(' \t a \t , \t b \t '), ['a', 'b']);
  t.strictSame(list(',,a,,,b,,'), ['a', 'b']);
  t.strictSame(list(', ,\t,'), []);
  t.strictSame(list(''), []);
  t.strictSame(list('   '), []);
  t.strictSame(list('a b , c\td'), ['a b', 'c\td']);
  t.strictSame(list('x;q=1 , y'), ['x;q=1', 'y']);
  t.strictSame(list('"a,b"'), ['"a', 'b"'], 'quoted strings are not special');
});

t.test('parseContentLength', async (t) => {
  const cases: [string, number][] = [
    ['0', 0],
    ['5', 5],
    ['007', 7],
    ['1234567890', 1234567890],
    ['9007199254740991', 9007199254740991],
    ['0000000000000005', 5],
    ['9007199254740992', -1],
    ['9999999999999999', -1],
    ['00000000000000005', -1],
    ['18446744073709551616', -1],
    ['', -1],
    ['-1', -1],
    ['+1', -1],
    [' 5', -1],
    ['5 ', -1],
    ['1 2', -1],
    ['5,5', -1],
    ['5, 5', -1],
    ['1e3', -1],
    ['0x1', -1],
    ['1.0', -1],
    ['/', -1],
    [':', -1],
    ['\xb5', -1],
  ];
  for (const [s, n] of cases) t.equal(inside(s, parseContentLength), n, JSON.stringify(s));
  t.equal(parseContentLength(bytes('12345'), 1, 3), 23, 'only buf[start, end)');
});

t.test('isToken', async (t) => {
  t.equal(inside('', isToken), false);
  t.equal(inside('chunked', isToken), true);
  t.equal(inside("!#$%&'*+-.^_`|~0123456789ABCXYZabcxyz", isToken), true);
  for (const c of ' \t"(),/:;<=>?@[\\]{}\x7f\x00\x80\xff') t.equal(inside('a' + c, isToken), false, JSON.stringify(c));
  t.equal(isToken(bytes('a b'), 0, 1), true, 'only buf[start, end)');
});

t.test('lowerText', async (t) => {
  t.equal(inside('Content-Length', lowerText), 'content-length');
  t.equal(inside('X-TRACE', lowerText), 'x-trace');
  t.equal(inside('', lowerText), '');
  t.equal(inside('@[`{', lowerText), '@[`{', 'only A-Z change');
  t.equal(inside('\xc0\xdeZ', lowerText), '\xc0\xdez', 'not latin1 letters');
});

t.test('character tables', async (t) => {
  const tchar = "!#$%&'*+-.^_`|~";
  const hostExtra = "-._~!$&'()*+,;=%[]:";
  for (let b = 0; b < 256; b++) {
    const c = String.fromCharCode(b);
    const alnum = /[0-9A-Za-z]/.test(c);
    if (TCHAR[b] !== (alnum || tchar.includes(c) ? 1 : 0)) t.fail(`TCHAR[${b}]`);
    if (LINE_CHAR[b] !== (b === 9 || (b >= 0x20 && b !== 0x7f) ? 1 : 0)) t.fail(`LINE_CHAR[${b}]`);
    if (TARGET_CHAR[b] !== (b > 0x20 && b < 0x7f && b !== 0x23 ? 1 : 0)) t.fail(`TARGET_CHAR[${b}]`);
    if (HOST_CHAR[b] !== (alnum || hostExtra.includes(c) ? 1 : 0)) t.fail(`HOST_CHAR[${b}]`);
    const hex = /[0-9a-fA-F]/.test(c) ? parseInt(c, 16) : 255;
    if (HEX_VALUE[b] !== hex) t.fail(`HEX_VALUE[${b}]`);
    if (lower(b) !== (b >= 0x41 && b <= 0x5a ? b + 32 : b)) t.fail(`lower(${b})`);
    if (isOws(b) !== (b === 9 || b === 32)) t.fail(`isOws(${b})`);
  }
  t.pass('all 256 bytes of every table');
  t.equal(equalsIgnoreCase(bytes('ChUnKeD'), 0, 7, 'chunked'), true);
  t.equal(equalsIgnoreCase(bytes('chunke'), 0, 6, 'chunked'), false, 'shorter');
  t.equal(equalsIgnoreCase(bytes('chunkex'), 0, 7, 'chunked'), false, 'last byte differs');
  t.equal(equalsIgnoreCase(bytes('Xchunked'), 1, 8, 'chunked'), true, 'from start');
  t.equal(equalsIgnoreCase(bytes('\xc3'), 0, 1, '\xe3'), false, 'only ASCII folds');
  t.equal(text(bytes('a\xe9b'), 1, 3), '\xe9b');
});

t.test('skipLineChars stops where the byte-by-byte loop stops', async (t) => {
  // The plain loop it replaces: the reference.
  const slow = (buf: Buffer, i: number, end: number) => {
    while (i < end && LINE_CHAR[buf[i]!] === 1) i++;
    return i;
  };
  const fast = (buf: Buffer, i: number, end: number) => skipLineChars(buf, wordsOf(buf), buf.byteOffset, i, end);
  // Every byte value, at every position of a 40-byte line of 'a's (so in every lane of a word,
  // and before, inside and after the words), the line starting at every alignment, inside a
  // larger ArrayBuffer at an odd offset, scanned with every alignment of `end` too.
  const memory = Buffer.alloc(64);
  const buf = memory.subarray(5, 60);
  let checked = 0;
  for (let b = 0; b < 256; b++) {
    for (let pos = 0; pos < 40; pos++) {
      for (let start = 0; start < 4; start++) {
        buf.fill(0x61);
        buf[start + pos] = b;
        for (const end of [start + 40, start + 41, start + 42, start + 43, start + pos]) {
          if (fast(buf, start, end) !== slow(buf, start, end)) t.fail(`byte ${b} at ${pos}, start ${start}, end ${end}`);
          checked++;
        }
        // A marked byte before the start, in the same word, must not stop the scan there.
        const after = start + pos + 1;
        if (fast(buf, after, start + 41) !== slow(buf, after, start + 41)) t.fail(`byte ${b} just before ${after}`);
        checked++;
      }
    }
  }
  t.pass(`${checked} cases`);
  // Two bytes side by side, from the edges of the classes: in one word, a byte that wraps makes
  // the byte above it wrap too (HTAB then SP), which must not stop the scan at the SP.
  const edges = [0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x21, 0x61, 0x7e, 0x7f, 0x80, 0xa0, 0xff];
  let pairs = 0;
  for (const a of edges) {
    for (const b of edges) {
      for (let pos = 0; pos < 8; pos++) {
        buf.fill(0x61);
        buf[pos] = a;
        buf[pos + 1] = b;
        if (fast(buf, 0, 12) !== slow(buf, 0, 12)) t.fail(`${a} then ${b} at ${pos}`);
        pairs++;
      }
    }
  }
  t.pass(`${pairs} pairs`);
  // Tabs are LINE_CHARs below 0x20 that the words mark: the scan goes on past each, then words again.
  const tabs = bytes('a\tbcdefgh\tijklmnop\t\tqrstuvwxyz0123456789\x7fz');
  t.equal(fast(tabs, 0, tabs.length), tabs.length - 2, 'past three words with tabs, to the DEL');
  t.equal(fast(tabs, 0, tabs.length - 2), tabs.length - 2, 'to the end');
  t.equal(fast(bytes(''), 0, 0), 0, 'empty');
  t.equal(fast(bytes('ab\r\n'), 2, 2), 2, 'empty range');
  // A buffer that does not fill its memory's last word.
  const odd = Buffer.from(new ArrayBuffer(7)).fill(0x62);
  t.equal(fast(odd, 0, 7), 7);
  odd[6] = 0;
  t.equal(fast(odd, 1, 7), 6);
  t.equal(wordsOf(odd), wordsOf(odd.subarray(1)), 'one word view per ArrayBuffer');
});

t.test('errors', async (t) => {
  const e = new HttpError('BAD_HOST', 7);
  t.ok(e instanceof Error);
  t.equal(e.name, 'HttpError');
  t.equal(e.code, 'BAD_HOST');
  t.equal(e.status, 400);
  t.equal(e.offset, 7);
  t.equal(e.message, ERRORS.BAD_HOST.reason);
  t.equal(new HttpError('TE_WITH_CL').offset, -1, 'no offset given');
  // Every status is one the contract's table lists for the balancer's own responses, or a route's redirect.
  const statuses = new Set([301, 302, 303, 307, 308, 400, 404, 408, 413, 414, 431, 501, 502, 503, 504, 505]);
  for (const [code, { status, reason }] of Object.entries(ERRORS)) {
    t.ok(statuses.has(status), `${code} answers ${status}`);
    t.ok(reason.length > 0 && !reason.includes('\n'), `${code} has a one-line reason`);
  }
  // Client-side limits are 414 and 431; the backend's are 502.
  t.equal(new HttpError('REQUEST_LINE_TOO_LONG').status, 414);
  t.equal(new HttpError('HEAD_TOO_LARGE').status, 431);
  t.equal(new HttpError('TOO_MANY_FIELDS').status, 431);
  t.equal(new HttpError('UNKNOWN_TRANSFER_CODING').status, 501);
  t.equal(new HttpError('METHOD_NOT_IMPLEMENTED').status, 501);
  t.equal(new HttpError('UNSUPPORTED_VERSION').status, 505);
  t.equal(new HttpError('RESPONSE_HEAD_TOO_LARGE').status, 502);
  // The proxy's own failures (interface.md, "Responses the balancer makes itself").
  t.same(
    (['NO_ROUTE', 'NO_SERVER', 'UPSTREAM_CONNECT', 'UPSTREAM_RESET', 'UPSTREAM_TIMEOUT', 'QUEUE_FULL', 'QUEUE_TIMEOUT', 'BODY_TOO_LARGE', 'HEADER_TIMEOUT'] as const).map(statusOf),
    [404, 503, 503, 502, 504, 503, 503, 413, 408],
  );
});
