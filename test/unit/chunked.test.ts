// The chunked-body scanner: every case is fed whole, split in two at every offset and byte by
// byte (each piece between junk bytes, scanned as buf[start, end)), and all the ways must find
// the body's end at the same offset, or the same error at the same offset.

import t from 'tap';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import { ChunkedScanner, DEFAULT_CHUNKED_LIMITS, type ChunkedLimits } from '../../src/http/chunked.js';
import { expectScanAllWays, scanAllWays, scanByteByByte, scanSplitAtEveryOffset, scanWhole, type ScanResult } from '../helpers/split.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

/** The body ends after `input`'s last byte. */
const END = 'end';
/** The body ends just before this piece of the input (bytes that follow it are not the body's). */
const endBefore = (piece: string) => ({ endBefore: piece });
const fail = (code: ErrorCode, status: number, at: number) => ({ code, status, at });

interface Case {
  name: string;
  input: string;
  expected: typeof END | 'incomplete' | { endBefore: string } | { code: ErrorCode; status: number; at: number };
  limits?: ChunkedLimits;
}

function resolve(c: Case): ScanResult {
  const e = c.expected;
  if (e === END) return c.input.length;
  if (e === 'incomplete') return e;
  if ('endBefore' in e) return c.input.indexOf(e.endBefore);
  if (ERRORS[e.code].status !== e.status) throw new Error(`${e.code} is ${ERRORS[e.code].status}, the table says ${e.status}`);
  return { error: e.code, status: e.status, offset: e.at };
}

function run(title: string, cases: Case[]): void {
  t.test(title, async (t) => {
    for (const c of cases) {
      t.test(c.name, async (t) => expectScanAllWays(t, bytes(c.input), () => new ChunkedScanner(c.limits), resolve(c)));
    }
  });
}

const small: ChunkedLimits = { maxExtension: 8, maxTrailers: 16 };

run('valid bodies', [
  { name: 'simple', input: '5\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'empty body', input: '0\r\n\r\n', expected: END },
  { name: 'multiple chunks', input: '5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\r\n', expected: END },
  { name: 'uppercase hex', input: `A\r\n${'x'.repeat(10)}\r\n1F\r\n${'y'.repeat(31)}\r\n0\r\n\r\n`, expected: END },
  { name: 'lowercase hex', input: `a\r\n${'x'.repeat(10)}\r\n1f\r\n${'y'.repeat(31)}\r\n0\r\n\r\n`, expected: END },
  { name: 'mixed-case hex', input: `1aF\r\n${'z'.repeat(0x1af)}\r\n0\r\n\r\n`, expected: END },
  { name: 'leading zeros', input: '0005\r\nhello\r\n000\r\n\r\n', expected: END },
  { name: '16 hex digits', input: `000000000000000A\r\n${'x'.repeat(10)}\r\n0000000000000000\r\n\r\n`, expected: END },
  { name: 'data that looks like framing', input: '7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n', expected: END },
  { name: 'data with any bytes', input: '6\r\n\0\r\n\xff\x7f \r\n0\r\n\r\n', expected: END },
  { name: 'extensions', input: '5;name=value\r\nhello\r\n0;last\r\n\r\n', expected: END },
  { name: 'several extensions, quoted values', input: '5;a;b=1; c = "x y\t"\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'extension with obs-text in a quoted value', input: '5;a="\xe9"\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'extension of exactly maxExtension bytes', input: '5;1234567\r\nhello\r\n0 ;abcdef\r\n\r\n', expected: END, limits: small },
  { name: 'the extension limit is per size line', input: '1;1234567\r\nx\r\n1;1234567\r\ny\r\n0;1234567\r\n\r\n', expected: END, limits: small },
  { name: 'trailers', input: '5\r\nhello\r\n0\r\nX-Checksum: abc\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n', expected: END },
  { name: 'trailers named like the framing fields, but not them', input: '0\r\nContent-Length2: 1\r\nContent-Lengt: 1\r\nTransfer: x\r\nHost: a\r\n\r\n', expected: END },
  { name: 'trailer with an empty value', input: '0\r\nX:\r\n\r\n', expected: END },
  { name: 'trailer value with OWS and obs-text', input: '0\r\nX: \t a \xe9 \t\r\n\r\n', expected: END },
  { name: 'trailers of exactly maxTrailers bytes', input: '0\r\nAB: 12345\r\nC:1234567\r\n\r\n', expected: END, limits: small },
  {
    name: 'the end in the middle of a piece followed by more bytes',
    input: '5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n',
    expected: endBefore('GET'),
  },
  { name: 'the end followed by another body', input: '1\r\na\r\n0\r\n\r\n1\r\nb\r\n0\r\n\r\n', expected: endBefore('1\r\nb') },
  { name: 'no byte yet of the last chunk', input: '5\r\nhello\r\n', expected: 'incomplete' },
  { name: 'in the middle of the data', input: '5\r\nhel', expected: 'incomplete' },
  { name: 'in the middle of the size', input: '1', expected: 'incomplete' },
  { name: 'after the last chunk', input: '0\r\n', expected: 'incomplete' },
  { name: 'in the middle of a trailer', input: '0\r\nX: y', expected: 'incomplete' },
  { name: 'before the final LF', input: '0\r\nX: y\r\n\r', expected: 'incomplete' },
  { name: 'size of 2^53-1 waits for its data', input: '1FFFFFFFFFFFFF\r\nabc', expected: 'incomplete' },
]);

run('chunk size', [
  { name: 'non-hex size', input: 'g\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 0) },
  { name: 'non-hex after hex', input: '5g\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 1) },
  { name: 'non-hex in the second size', input: '1\r\na\r\nz\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 6) },
  { name: 'minus sign', input: '-5\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 0) },
  { name: 'plus sign', input: '+5\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 0) },
  { name: '0x prefix', input: '0x5\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 1) },
  { name: 'space before the size', input: ' 5\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 0) },
  // BWS may follow the size only before ";" (RFC 9112 7.1.1): the size line cannot end in it.
  { name: 'space after the size', input: '5 \r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'space inside the size', input: '1 0\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'tab after the size', input: '5\t\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'empty size', input: '\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 0) },
  { name: 'empty size before an extension', input: ';a\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 0) },
  { name: 'bare LF after the size', input: '5\nhello\r\n0\r\n\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 1) },
  { name: 'CR not followed by LF after the size', input: '5\rhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 2) },
  { name: 'NUL in the size', input: '5\0\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 1) },
  { name: '17 hex digits', input: '00000000000000001\r\nx\r\n', expected: fail('CHUNK_SIZE_TOO_LARGE', 400, 16) },
  { name: 'size over 2^53-1', input: '20000000000000\r\n', expected: fail('CHUNK_SIZE_TOO_LARGE', 400, 13) },
  { name: '16 hex digits of F', input: 'FFFFFFFFFFFFFFFF\r\n', expected: fail('CHUNK_SIZE_TOO_LARGE', 400, 13) },
  { name: 'size over 2^53-1 in a later chunk', input: '1\r\na\r\n20000000000000\r\n', expected: fail('CHUNK_SIZE_TOO_LARGE', 400, 19) },
]);

run('chunk data', [
  { name: 'data not followed by CRLF', input: '5\r\nhello!\r\n0\r\n\r\n', expected: fail('BAD_CHUNK_DATA_END', 400, 8) },
  { name: 'data followed by LF only', input: '5\r\nhello\n0\r\n\r\n', expected: fail('BAD_CHUNK_DATA_END', 400, 8) },
  { name: 'data followed by CR only', input: '5\r\nhello\r0\r\n\r\n', expected: fail('BAD_CHUNK_DATA_END', 400, 9) },
  { name: 'data shorter than its size', input: '6\r\nhello\r\n0\r\n\r\n', expected: fail('BAD_CHUNK_DATA_END', 400, 9) },
]);

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), chunk-ext-val =
// token / quoted-string (RFC 9112 7.1.1): what the grammar allows passes, whitespace and all;
// anything else is a 400 at the first byte the grammar does not allow.
run('extensions that pass', [
  { name: 'a name', input: '5;a\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'BWS before ";"', input: '5 ;a\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'BWS around ";" and "="', input: '5 ; name = value\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'HTAB as BWS', input: '5\t;\tname\t=\tvalue\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'several BWS bytes', input: '5  \t ;  a  =  b  ;  c\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'BWS after a name, before the next ";"', input: '5;a ;b\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'BWS after a token value, before the next ";"', input: '5;a=1 ;b=2\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'a quoted value with an escaped quote', input: '5;name="quoted \\" value"\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'a quoted value with ";", "=" and an escaped backslash', input: '5;a="x;y=z\\\\"\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'an empty quoted value', input: '5;a=""\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'BWS after a quoted value, before the next ";"', input: '5;a="x" ; b\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'a quoted-pair of HTAB and of obs-text', input: '5;a="\\\t\\\xe9"\r\nhello\r\n0\r\n\r\n', expected: END },
  { name: 'every tchar in a name and a value', input: "1;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz\r\nx\r\n0\r\n\r\n", expected: END },
  { name: 'on the last chunk', input: '0 ; last = "yes"\r\n\r\n', expected: END },
]);

run('extensions that do not', [
  { name: 'extension too long', input: '5;12345678\r\nhello\r\n0\r\n\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 9), limits: small },
  { name: 'extension too long on the last chunk', input: '1\r\nx\r\n0;abcdefgh\r\n\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 15), limits: small },
  { name: 'extension too long without its CR yet', input: '5;12345678', expected: fail('BAD_CHUNK_EXTENSION', 400, 9), limits: small },
  { name: 'BWS counts toward the limit', input: '5        ;a\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 9), limits: small },
  { name: 'control char in extension', input: '5;a\x01b\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 3) },
  { name: 'NUL in extension', input: '5;a=\0\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 4) },
  { name: 'NUL right after ";"', input: '5;\0ext\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'DEL in extension', input: '5;\x7f\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'bare LF ending an extension', input: '5;a\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 3) },
  { name: 'bare LF right after ";"', input: '5;\nhello\r\n0\r\n\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'bare LF after BWS', input: '5 \nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'bare CR inside a name', input: '5;a\rb\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 4) },
  { name: 'CR not followed by LF after an extension', input: '5;a\rhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 4) },
  { name: 'bare CR inside a quoted value', input: '5;a="x\ry"\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 6) },
  { name: 'bare LF inside a quoted value', input: '5;a="x\ny"\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 6) },
  { name: 'NUL escaped in a quoted value', input: '5;a="\\\0"\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 6) },
  { name: 'CR escaped in a quoted value', input: '5;a="\\\r\n"\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 6) },
  { name: 'an unclosed quoted value', input: '5;a="x\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 6) },
  { name: 'a bare ";"', input: '5;\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'a ";" with only BWS after it', input: '5; \r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 3) },
  { name: 'two ";" in a row', input: '5;;a\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'a value without a name', input: '5;=a\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: '"=" without a value', input: '5;a=\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 4) },
  { name: '"=" and BWS without a value', input: '5;a= \r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 5) },
  { name: 'BWS at the end of the line after a name', input: '5;a \r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 4) },
  { name: 'BWS at the end of the line after a value', input: '5;a=b\t\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 6) },
  { name: 'a second "="', input: '5;a=b=c\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 5) },
  { name: 'a space inside a name', input: '5;a b\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 4) },
  { name: 'a space inside a token value', input: '5;a=b c\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 6) },
  { name: 'a separator in a name', input: '5;a/b\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 3) },
  { name: 'obs-text in a token value', input: '5;a=\xe9\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 4) },
  { name: 'a byte after the closing quote', input: '5;a="x"y\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 7) },
  { name: 'a quote inside a token value', input: '5;a=b"c"\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 5) },
  { name: 'something after the size that is not an extension', input: '5 garbage\r\nhello\r\n', expected: fail('BAD_CHUNK_EXTENSION', 400, 2) },
  { name: 'a comma instead of ";"', input: '5,a\r\nhello\r\n', expected: fail('BAD_CHUNK_SIZE', 400, 1) },
]);

run('trailers', [
  { name: 'trailer too large', input: '0\r\nX: 0123456789abcdef\r\n\r\n', expected: fail('BAD_TRAILER', 400, 20), limits: small },
  { name: 'trailer name too large', input: '0\r\nABCDEFGHIJKLMNOPQ: 1\r\n\r\n', expected: fail('BAD_TRAILER', 400, 19), limits: small },
  { name: 'trailers too large over several lines', input: '0\r\nAB: 12345\r\nC:12345678\r\n\r\n', expected: fail('BAD_TRAILER', 400, 23), limits: small },
  { name: 'trailer name over the limit on a later line', input: '0\r\nAB: 1234567890\r\nCDEFG: 1\r\n\r\n', expected: fail('BAD_TRAILER', 400, 22), limits: small },
  { name: 'trailer without colon', input: '0\r\nX-Trailer\r\n\r\n', expected: fail('BAD_TRAILER', 400, 12) },
  { name: 'whitespace before trailer colon', input: '0\r\nX : y\r\n\r\n', expected: fail('BAD_TRAILER', 400, 4) },
  { name: 'trailer line starting with whitespace', input: '0\r\nX: y\r\n z\r\n\r\n', expected: fail('BAD_TRAILER', 400, 9) },
  { name: 'trailer with an empty name', input: '0\r\n: y\r\n\r\n', expected: fail('BAD_TRAILER', 400, 3) },
  { name: 'Content-Length as a trailer', input: '1\r\nx\r\n0\r\nContent-Length: 5\r\n\r\n', expected: fail('BAD_TRAILER', 400, 23) },
  { name: 'Transfer-Encoding as a trailer, any case', input: '0\r\nTRANSFER-encoding: chunked\r\n\r\n', expected: fail('BAD_TRAILER', 400, 20) },
  { name: 'NUL in a trailer name', input: '0\r\nX\0: y\r\n\r\n', expected: fail('BAD_TRAILER', 400, 4) },
  { name: 'control char in a trailer value', input: '0\r\nX: \x01\r\n\r\n', expected: fail('BAD_TRAILER', 400, 6) },
  { name: 'bare LF ending a trailer', input: '0\r\nX: y\n\r\n', expected: fail('BAD_TRAILER', 400, 7) },
  { name: 'CR not followed by LF ending a trailer', input: '0\r\nX: y\rZ\r\n\r\n', expected: fail('BAD_TRAILER', 400, 8) },
  { name: 'bare LF as the final line', input: '0\r\n\n', expected: fail('BAD_TRAILER', 400, 3) },
  { name: 'CR not followed by LF as the final line', input: '0\r\n\rX', expected: fail('BAD_TRAILER', 400, 4) },
]);

t.test('default limits', async (t) => {
  t.same(DEFAULT_CHUNKED_LIMITS, { maxExtension: 4096, maxTrailers: 16384 });
  // The limit counts the whole chunk-ext, its ";" included.
  const ok = bytes(`1;${'e'.repeat(4095)}\r\nx\r\n0\r\n\r\n`);
  const tooLong = bytes(`1;${'e'.repeat(4096)}\r\nx\r\n0\r\n\r\n`);
  const make = () => new ChunkedScanner();
  t.equal(scanWhole(ok, make), ok.length);
  t.equal(scanByteByByte(ok, make), ok.length);
  t.strictSame(scanWhole(tooLong, make), { error: 'BAD_CHUNK_EXTENSION', status: 400, offset: 1 + 4096 });
  t.strictSame(scanByteByByte(tooLong, make), { error: 'BAD_CHUNK_EXTENSION', status: 400, offset: 1 + 4096 });
});

t.test('reuse', async (t) => {
  t.test('a second body on the same scanner counts from its own start', async (t) => {
    const s = new ChunkedScanner();
    const input = bytes('5\r\nhello\r\n0\r\n\r\n5\r\nhello\r\n0\r\n\r\n1');
    const first = s.scan(input, 0, input.length) as number;
    t.equal(first, 15);
    t.equal(s.scan(input, first, input.length), 30);
    t.equal(s.scan(input, 30, input.length), -1, 'a third body begins');
  });
  t.test('error offsets after a finished body start from zero', async (t) => {
    const s = new ChunkedScanner();
    const input = bytes('0\r\n\r\nx');
    t.equal(s.scan(input, 0, input.length - 1), 5);
    const err = s.scan(input, 5, input.length);
    t.strictSame(typeof err === 'number' ? err : [err.code, err.offset], ['BAD_CHUNK_SIZE', 0]);
  });
  t.test('reset starts a new body', async (t) => {
    const s = new ChunkedScanner();
    t.equal(s.scan(bytes('5\r\nhel'), 0, 6), -1);
    s.reset();
    const input = bytes('0\r\n\r\n');
    t.equal(s.scan(input, 0, input.length), 5);
  });
  t.test('an empty range takes nothing', async (t) => {
    const s = new ChunkedScanner();
    t.equal(s.scan(bytes('5\r\n'), 3, 3), -1);
    t.equal(s.scan(bytes('0\r\n\r\n'), 0, 5), 5);
  });
});

t.test('the harness itself', async (t) => {
  const input = bytes('5\r\nhello\r\n0\r\n\r\n');
  const make = () => new ChunkedScanner();
  t.equal(scanAllWays(input, make).length, input.length + 1);
  t.equal(scanSplitAtEveryOffset(input, make).length, input.length - 1);
  t.ok(scanAllWays(input, make).every((r) => r === input.length));
});
