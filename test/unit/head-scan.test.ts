// The WebAssembly fast path of the head reader (head-scan.wat, head-scan.ts): the committed
// binary is the assembled source; every head it accepts gets the very lines HeadReader.scan
// finds; everything it is not sure of is left to HeadReader.scan. (Every parser test also feeds
// its input whole with and without the fast path: test/helpers/split.ts.)

import t from 'tap';
import { HttpError } from '../../src/errors.js';
import { newHeadLines, type HeadLimits, type HeadLines } from '../../src/http/head-lines.js';
import { HeadReader, type ReaderOptions } from '../../src/http/head-reader.js';
import { TCHAR } from '../../src/http/chars.js';
import { headScanner } from '../../src/http/head-scan.js';
import { HEAD_SCAN_WASM } from '../../src/http/head-scan-wasm.js';
import { DEFAULT_REQUEST_LIMITS, RequestParser, type RequestHead } from '../../src/http/request-parser.js';
import { assemble, tsSource, TS_FILE } from '../helpers/build-wasm.js';
import { readFileSync } from 'node:fs';

/** The little of the WebAssembly API used here (TypeScript declares it only in its "dom" lib). */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module);
    readonly exports: unknown;
  }
}

const bytes = (s: string) => Buffer.from(s, 'latin1');
const head = (...lines: string[]) => lines.map((l) => l + '\r\n').join('') + '\r\n';

/** The lines a reader found, as plain numbers: what its `parse` would read. */
interface Lines {
  start: number;
  end: number;
  count: number;
  offsets: number[];
  nameEnds: number[];
  fields: number[];
  kinds: number[];
}

/** A reader whose `parse` hands back a copy of the lines, to compare the two scans directly. */
class LineReader extends HeadReader<Lines> {
  protected readonly skipsEmptyLines = true;
  constructor(limits: HeadLimits, options: ReaderOptions) {
    super(limits, { tooLong: 'REQUEST_LINE_TOO_LONG', tooLarge: 'HEAD_TOO_LARGE' }, options);
  }
  protected parse(lines: HeadLines): Lines {
    const fieldCount = lines.count - 1;
    return {
      start: lines.start,
      end: lines.end,
      count: lines.count,
      offsets: [...lines.offsets.subarray(0, 2 * lines.count)],
      nameEnds: [...lines.nameEnds.subarray(1, lines.count)],
      fields: [...lines.fields.subarray(0, 4 * fieldCount)],
      kinds: [...lines.kinds.subarray(0, fieldCount)],
    };
  }
}

/** What each scan makes of buf[start..]: the lines, an error code, or 'incomplete'. */
function readBoth(buf: Buffer, start: number, limits: HeadLimits = DEFAULT_REQUEST_LIMITS) {
  const outcome = (r: Lines | HttpError | null) => (r === null ? 'incomplete' : r instanceof HttpError ? r.code : r);
  return {
    fast: outcome(new LineReader(limits, {}).execute(buf, start)),
    js: outcome(new LineReader(limits, { wasm: false }).execute(buf, start)),
  };
}

t.test('the committed binary is head-scan.wat assembled', async (t) => {
  const assembled = await assemble();
  t.ok(assembled.equals(HEAD_SCAN_WASM), 'head-scan-wasm.ts holds the bytes of head-scan.wat (npm run build:wasm writes it)');
  t.equal(readFileSync(TS_FILE, 'utf8'), tsSource(assembled), 'and in the form build:wasm writes');
});

t.test("the module's TCHAR table is chars.ts's", async (t) => {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(HEAD_SCAN_WASM));
  const memory = (exports as { memory: { buffer: ArrayBuffer } }).memory;
  t.strictSame([...new Uint8Array(memory.buffer, 16, 256)], [...TCHAR]);
});

t.test('this Node runs the fast path', async (t) => {
  t.not(headScanner, null);
  t.equal(new RequestParser().wasm, true);
  t.equal(new RequestParser(undefined, { wasm: false }).wasm, false);
});

const BROWSER_GET = head(
  'GET /products/42?ref=home HTTP/1.1',
  'Host: www.mango.com',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)',
  'Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
  'Accept-Encoding:gzip, deflate, br',
  'Cookie: \t a=1; b=2 \t ',
  'X-Tabbed:\tone\ttwo\t',
  'X-Empty:',
  'X-Blank:   ',
  'Connection: keep-alive',
  'X-Obs-Text: caf\xe9 \xff',
);

t.test('the same lines from both scans, wherever the head lies in the buffer', async (t) => {
  const inputs = [
    BROWSER_GET,
    head('GET / HTTP/1.1', 'Host: a'),
    head('GET / HTTP/1.1'),
    head('GET /\tx HTTP/1.1', 'Host: a'), // HTAB in the start line: a LINE_CHAR; the parser judges it
    head('GET / HTTP/1.1', 'Content-Length: 5') + 'hello',
    head('GET / HTTP/1.1', 'Host: a') + head('GET /2 HTTP/1.1', 'Host: b'),
  ];
  for (const input of inputs) {
    for (const before of [0, 1, 2, 3, 5, 17]) {
      const buf = Buffer.concat([Buffer.alloc(before, 0xff), bytes(input)]);
      const { fast, js } = readBoth(buf, before);
      t.not(typeof fast, 'string', `${JSON.stringify(input.slice(0, 20))} at ${before} is a head`);
      t.strictSame(fast, js, `${JSON.stringify(input.slice(0, 20))} at ${before}`);
    }
  }
});

t.test('what the fast path leaves to HeadReader.scan', async (t) => {
  // Each input goes to HeadReader.scan (scan returns -1), and the reader's answer is that scan's.
  const limits: HeadLimits = { maxStartLine: 20, maxHead: 200, maxFields: 3 };
  const cases: [string, string][] = [
    ['an empty line before the request line', '\r\n' + head('GET / HTTP/1.1', 'Host: a')],
    ['incomplete request line', 'GET / HTTP/1.1'],
    ['request line ends in CR', 'GET / HTTP/1.1\r'],
    ['request line: CR without LF', 'GET / HTTP/1.1\rHost: a\r\n\r\n'],
    ['request line: bare LF', 'GET / HTTP/1.1\nHost: a\r\n\r\n'],
    ['request line: NUL', 'GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['request line: DEL', 'GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['request line over maxStartLine', head('GET /0123456789 HTTP/1.1', 'Host: a')],
    ['incomplete field line', 'GET / HTTP/1.1\r\nHost: a'],
    ['field line ends in CR', 'GET / HTTP/1.1\r\nHost: a\r'],
    ['field line: CR without LF', 'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n'],
    ['field line: bare LF', 'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n'],
    ['field value: NUL', head('GET / HTTP/1.1', 'Host: a\0b')],
    ['field value: DEL', head('GET / HTTP/1.1', 'Host: a\x7f')],
    ['field value: ESC', head('GET / HTTP/1.1', 'X: \x1b[0m', 'Host: a')],
    ['incomplete name', 'GET / HTTP/1.1\r\nHos'],
    ['no colon', head('GET / HTTP/1.1', 'Host a')],
    ['space before the colon', head('GET / HTTP/1.1', 'Host : a')],
    ['empty name', head('GET / HTTP/1.1', ': a', 'Host: a')],
    ['obs-fold', head('GET / HTTP/1.1', 'Host: a', ' folded')],
    ['a name with a non-tchar', head('GET / HTTP/1.1', 'Ho(st: a')],
    ['more fields than maxFields', head('GET / HTTP/1.1', 'Host: a', 'A: 1', 'B: 2', 'C: 3')],
    ['no empty line yet', 'GET / HTTP/1.1\r\nHost: a\r\n'],
    ['the final CR alone', 'GET / HTTP/1.1\r\nHost: a\r\n\r'],
    ['the final CR without LF', 'GET / HTTP/1.1\r\nHost: a\r\n\rX'],
    ['head over maxHead', head('GET / HTTP/1.1', 'Host: a', `X: ${'x'.repeat(200)}`)],
  ];
  for (const [name, input] of cases) {
    const buf = bytes(input);
    const lines = newHeadLines(limits);
    t.equal(headScanner!.scan(buf, 0, buf.length, limits, lines), -1, `${name}: -1`);
    const { fast, js } = readBoth(buf, 0, limits);
    t.strictSame(fast, js, `${name}: ${typeof js === 'string' ? js : 'a head'} either way`);
  }
});

t.test('heads longer than the first try, and than the scanner holds', async (t) => {
  const cookie = `Cookie: ${'c=0123456789abcdef; '.repeat(300)}`; // 6 KiB: a second try
  const input = head('GET / HTTP/1.1', 'Host: a', cookie);
  const buf = bytes(input + 'body after the head');
  const lines = newHeadLines(DEFAULT_REQUEST_LIMITS);
  t.equal(headScanner!.scan(buf, 0, buf.length, DEFAULT_REQUEST_LIMITS, lines), input.length, 'read on the second try');
  t.strictSame(readBoth(buf, 0).fast, readBoth(buf, 0).js);

  // 150 KiB of fields: more than the module's memory holds, so HeadReader.scan reads it.
  const big: HeadLimits = { maxStartLine: 8192, maxHead: 256 * 1024, maxFields: 1000 };
  const huge = head('GET / HTTP/1.1', 'Host: a', ...Array.from({ length: 150 }, (_, k) => `X-${k}: ${'v'.repeat(1000)}`));
  const hugeBuf = bytes(huge);
  t.equal(headScanner!.scan(hugeBuf, 0, hugeBuf.length, big, newHeadLines(big)), -1, 'over its capacity: -1');
  const { fast, js } = readBoth(hugeBuf, 0, big);
  t.equal((fast as Lines).count, 152, 'read whole all the same');
  t.strictSame(fast, js);

  // More field lines than LINES has room for: HeadReader.scan reads them.
  const many = head('GET / HTTP/1.1', 'Host: a', ...Array.from({ length: 900 }, (_, k) => `X${k}: v`));
  const manyBuf = bytes(many);
  t.equal(headScanner!.scan(manyBuf, 0, manyBuf.length, big, newHeadLines(big)), -1, '900 fields: -1');
  const both = readBoth(manyBuf, 0, big);
  t.equal((both.fast as Lines).count, 902);
  t.strictSame(both.fast, both.js);
});

t.test('a head read by the fast path parses as it does without it', async (t) => {
  const buf = bytes(BROWSER_GET);
  const fast = new RequestParser().execute(buf, 0) as RequestHead;
  const js = new RequestParser(undefined, { wasm: false }).execute(buf, 0) as RequestHead;
  t.equal(fast.host, 'www.mango.com');
  t.equal(fast.fieldCount, 10);
  t.strictSame({ ...fast, fields: [...fast.fields], kinds: [...fast.kinds] }, { ...js, fields: [...js.fields], kinds: [...js.kinds] });
});
