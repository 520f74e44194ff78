#!/usr/bin/env node
// `npm run bench:parser`: request heads parsed per second by this balancer's parser
// (dist/http/request-parser.js) and by llhttp, the C parser Node's own http server uses, on the
// same prebuilt Buffers, in one thread. See bench/README.md for exactly what each side does.
//
//   node bench/parser.js [--rounds N] [--ms M] [--baseline DIR]

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mri from 'mri';
import { describeMachine, gitRevision } from './lib/system.js';
import { median } from './lib/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const USAGE = `Usage: node bench/parser.js [options]     (npm run bench:parser builds first)

Options:
  -r, --rounds N   timed rounds per input and parser; the median is reported (default 9)
  -m, --ms M       milliseconds each timed round lasts, about (default 300)
  -b, --baseline DIR
                   also time the RequestParser built in DIR (its dist/, e.g. of another
                   commit), interleaved with the others, as "baseline"
  -h, --help       this help
`;

// --- The inputs: realistic heads, CRLF line ends, complete, without bodies -------------------

const crlf = (/** @type {string[]} */ lines) => Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');

/** A cookie of about 2 KiB: 24 name=value pairs of the sizes sites set. */
const COOKIE = Array.from({ length: 24 }, (_, i) => `c${i}_${'k'.repeat(6)}=${'v0123456789abcdef'.repeat(5)}`).join('; ');

const INPUTS = [
  {
    name: 'browser GET, 13 fields',
    buf: crlf([
      'GET /products/42?ref=home&utm_source=newsletter HTTP/1.1',
      'Host: www.mango.com',
      'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
      'Accept-Language: en-US,en;q=0.9,de;q=0.8',
      'Accept-Encoding: gzip, deflate, br, zstd',
      'Referer: https://www.mango.com/',
      'Connection: keep-alive',
      'Upgrade-Insecure-Requests: 1',
      'Sec-Fetch-Dest: document',
      'Sec-Fetch-Mode: navigate',
      'Sec-Fetch-Site: same-origin',
      'Sec-Fetch-User: ?1',
      'Cache-Control: max-age=0',
    ]),
  },
  {
    name: 'API POST, JSON, 8 fields',
    buf: crlf([
      'POST /api/v1/orders HTTP/1.1',
      'Host: api.mango.com',
      'Content-Type: application/json',
      'Content-Length: 182',
      'Accept: application/json',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ik1hbmdvIiwiaWF0IjoxNzAwMDAwMDAwfQ.3q2-7wQ0cM1b9vX2l8y5pQ6kZ0fJr4tH8n1sD7aE2uU',
      'User-Agent: mango-client/2.3.1 node/20.11.0',
      'X-Request-Id: 4f1c2a9e-8b7d-4e21-9c3a-0d5e6f7a8b9c',
      'Connection: keep-alive',
    ]),
  },
  {
    name: 'GET with a 2 KiB cookie, 6 fields',
    buf: crlf([
      'GET /account/orders HTTP/1.1',
      'Host: www.mango.com',
      'User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Accept: */*',
      'Accept-Encoding: gzip, deflate, br',
      `Cookie: ${COOKIE}`,
      'Connection: keep-alive',
    ]),
  },
];

// --- The parsers: each one a function that parses `buf` once and returns a number -----------

/**
 * Ours: RequestParser.execute(buf, 0) on a complete head returns a RequestHead: method, target,
 * Host and framing decoded (a few short strings), every field line as offsets into `buf`
 * (Int32Array), nothing else kept (the head is copied into WebAssembly memory to be scanned,
 * and that copy is timed). The parser object is reused, as a connection does.
 */
async function ourParser(dist = '../dist') {
  const { RequestParser } = await import(`${dist}/http/request-parser.js`);
  const parser = new RequestParser();
  return (/** @type {Buffer} */ buf) => {
    const head = parser.execute(buf, 0);
    if (head === null || !('fieldCount' in head)) throw new Error(`ours rejected the input: ${head?.code ?? 'incomplete'}`);
    return parser.consumed;
  };
}

/**
 * Ours, then every field name and value turned into a JS string (latin1), as llhttp's binding
 * hands them to JS: what a caller wanting all the headers as strings would pay on top.
 */
async function ourParserWithStrings() {
  const { RequestParser, FIELD_STRIDE, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END } = await import('../dist/http/request-parser.js');
  const parser = new RequestParser();
  /** @type {string[]} */
  const strings = [];
  // latin1Slice: what buf.toString('latin1', start, end) calls, without its argument checks.
  return (/** @type {any} */ buf) => {
    const head = parser.execute(buf, 0);
    if (head === null || !('fieldCount' in head)) throw new Error(`ours rejected the input: ${head?.code ?? 'incomplete'}`);
    const f = head.fields;
    strings.length = 0;
    for (let k = 0; k < head.fieldCount; k++) {
      const at = FIELD_STRIDE * k;
      strings.push(buf.latin1Slice(f[at + F_LINE], f[at + F_NAME_END]), buf.latin1Slice(f[at + F_VALUE], f[at + F_VALUE_END]));
    }
    return parser.consumed + strings.length;
  };
}

/**
 * llhttp, through the binding Node's http server uses (process.binding('http_parser'), as
 * node:_http_common and node:_http_server set it up in Node 20): one HTTPParser, initialized
 * once as a REQUEST parser with the default header size limit and no lenient flags, reused for
 * every head as a keep-alive connection reuses it. On each head llhttp (C) parses it, the
 * binding builds the URL and every header name and value as JS strings, and calls
 * kOnHeadersComplete(versionMajor, versionMinor, headers, method, url, ..., upgrade,
 * shouldKeepAlive) in JS, then kOnMessageComplete. Our callback keeps the headers array and
 * returns 1 ("skip the body", as for a HEAD response), so that the POST's Content-Length does
 * not make llhttp wait for body bytes. Node's server would then build an IncomingMessage: that
 * is not measured, as nothing after our parse is.
 */
function llhttpParser() {
  // process.binding is deprecated (DEP0111) but is the way to reach the binding from outside
  // Node's internals; silence the one warning it prints.
  process.noDeprecation = true;
  const { HTTPParser } = /** @type {any} */ (process).binding('http_parser');
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, HTTPParser.kLenientNone);
  /** @type {unknown} */
  let lastHeaders = null;
  let headersCalls = 0;
  parser[HTTPParser.kOnMessageBegin] = null;
  // Called only for more than 32 header fields or a head split over reads: never here.
  parser[HTTPParser.kOnHeaders] = () => headersCalls++;
  parser[HTTPParser.kOnHeadersComplete] = (/** @type {number} */ _major, /** @type {number} */ _minor, /** @type {string[]} */ headers) => {
    lastHeaders = headers;
    return 1;
  };
  parser[HTTPParser.kOnBody] = () => {};
  parser[HTTPParser.kOnMessageComplete] = () => {};
  parser[HTTPParser.kOnExecute] = null;
  return (/** @type {Buffer} */ buf) => {
    const n = parser.execute(buf);
    if (typeof n !== 'number') throw new Error(`llhttp rejected the input: ${n?.code}`);
    if (headersCalls > 0 || lastHeaders === null) throw new Error('llhttp did not hand over the headers in one call');
    return n;
  };
}

// --- Timing ------------------------------------------------------------------------------------

/**
 * Runs `parse(buf)` `n` times; returns the elapsed nanoseconds and a checksum that keeps the
 * results alive.
 * @param {(buf: Buffer) => number} parse
 * @param {Buffer} buf
 * @param {number} n
 */
function timeLoop(parse, buf, n) {
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sum += parse(buf);
  return { ns: Number(process.hrtime.bigint() - t0), sum };
}

/** How many iterations take about `ms` milliseconds, measured after some warmup. */
function calibrate(/** @type {(buf: Buffer) => number} */ parse, /** @type {Buffer} */ buf, /** @type {number} */ ms) {
  let n = 1000;
  for (;;) {
    const { ns } = timeLoop(parse, buf, n);
    if (ns > 50e6) return Math.max(1000, Math.round((n * ms * 1e6) / ns));
    n *= 4;
  }
}

async function main() {
  const args = mri(process.argv.slice(2), {
    string: ['rounds', 'ms', 'baseline'],
    boolean: ['help'],
    alias: { r: 'rounds', m: 'ms', b: 'baseline', h: 'help' },
    unknown: (flag) => {
      process.stderr.write(`bench/parser.js: unknown option ${flag}\n\n${USAGE}`);
      process.exit(2);
    },
  });
  if (args.help) return void process.stdout.write(USAGE);
  const rounds = Math.max(1, Math.floor(Number(args.rounds ?? 9)));
  const ms = Math.max(10, Number(args.ms ?? 300));

  const parsers = [
    { name: 'ours', make: () => ourParser() },
    { name: 'llhttp', make: llhttpParser },
    { name: 'ours + strings', make: ourParserWithStrings },
  ];
  const baseline = args.baseline === undefined ? null : path.resolve(args.baseline);
  if (baseline !== null) parsers.push({ name: 'baseline', make: () => ourParser(pathToFileURL(baseline).href) });
  const ready = await Promise.all(parsers.map(async (p) => ({ name: p.name, parse: await p.make() })));

  // Every parser must accept every input whole, and agree on where the head ends.
  for (const input of INPUTS) {
    for (const p of ready.filter((p) => p.name !== 'ours + strings')) {
      const consumed = p.parse(input.buf);
      if (consumed !== input.buf.length) throw new Error(`${p.name} consumed ${consumed} of ${input.buf.length} bytes of "${input.name}"`);
    }
  }

  const machine = describeMachine();
  const revision = gitRevision(path.resolve(here, '..'));
  process.stderr.write(
    `parser heads/s, one thread: ${machine.cpu}, Node ${machine.node}, load average ${machine.loadAverage.join(' ')}\n` +
      `warmup, then ${rounds} rounds of ~${ms} ms per input and parser, interleaved; median reported\n`,
  );

  // Warmup (each pair about a second, which also lets the JIT settle), then the iteration
  // counts for ~ms per timed round.
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const input of INPUTS) {
    for (const p of ready) {
      calibrate(p.parse, input.buf, 1000);
      counts.set(`${input.name}/${p.name}`, calibrate(p.parse, input.buf, ms));
    }
  }

  /** @type {Map<string, number[]>} */
  const rates = new Map();
  let checksum = 0;
  for (let round = 0; round < rounds; round++) {
    for (const input of INPUTS) {
      for (const p of ready) {
        const key = `${input.name}/${p.name}`;
        const n = /** @type {number} */ (counts.get(key));
        const { ns, sum } = timeLoop(p.parse, input.buf, n);
        checksum += sum;
        (rates.get(key) ?? rates.set(key, []).get(key))?.push((n * 1e9) / ns);
      }
    }
  }

  const results = INPUTS.map((input) => {
    const rate = (/** @type {string} */ name) => median(rates.get(`${input.name}/${name}`) ?? []);
    const spread = (/** @type {string} */ name) => {
      const xs = rates.get(`${input.name}/${name}`) ?? [];
      return (Math.max(...xs) - Math.min(...xs)) / median(xs);
    };
    return {
      input: input.name,
      bytes: input.buf.length,
      ours: rate('ours'),
      llhttp: rate('llhttp'),
      oursWithStrings: rate('ours + strings'),
      baseline: baseline === null ? null : rate('baseline'),
      spread: {
        ours: spread('ours'),
        llhttp: spread('llhttp'),
        oursWithStrings: spread('ours + strings'),
        ...(baseline === null ? {} : { baseline: spread('baseline') }),
      },
      rounds: Object.fromEntries(ready.map((p) => [p.name, rates.get(`${input.name}/${p.name}`)])),
    };
  });

  const fmt = (/** @type {number} */ x) => Math.round(x).toLocaleString('en-US');
  const lines = [
    `\n## Parser: request heads per second (${new Date().toISOString().slice(0, 10)}, parser at ${revision ?? '?'}, ${machine.cpu}, Node ${machine.node}, one thread, median of ${rounds})\n`,
    '| input | bytes | ours heads/s | llhttp heads/s | ours ÷ llhttp | ours + strings heads/s | (ours + strings) ÷ llhttp |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.input} | ${r.bytes} | ${fmt(r.ours)} | ${fmt(r.llhttp)} | ${(r.ours / r.llhttp).toFixed(2)}x | ${fmt(r.oursWithStrings)} | ${(r.oursWithStrings / r.llhttp).toFixed(2)}x |`,
    ),
    '',
    'ours: RequestParser.execute(buf, 0) (dist/http/request-parser.js): method, target, Host and framing decoded,',
    '  every field as offsets into the buffer, no other string made. JavaScript, with the line scan of a head',
    '  that arrived whole in WebAssembly (src/http/head-scan.wat: the head copied in, 16 bytes per test).',
    "llhttp: Node's internal binding (process.binding('http_parser').HTTPParser, set up as Node 20's http server does):",
    '  llhttp in C, then the URL and every header name and value made into JS strings and passed to a JS',
    '  callback (kOnHeadersComplete). Neither side builds a request object (IncomingMessage) afterwards.',
    'ours + strings: ours, then every field name and value made into a JS string too, as llhttp hands them over.',
    ...(baseline === null
      ? []
      : [
          `\nbaseline: ours as built in ${baseline}, in the same rounds:`,
          '| input | baseline heads/s | ours heads/s | ours ÷ baseline | baseline ÷ llhttp |',
          '|---|---:|---:|---:|---:|',
          ...results.map((r) => `| ${r.input} | ${fmt(r.baseline ?? 0)} | ${fmt(r.ours)} | ${(r.ours / (r.baseline ?? 1)).toFixed(2)}x | ${((r.baseline ?? 0) / r.llhttp).toFixed(2)}x |`),
        ]),
    `Spread (max - min) / median over the rounds, worst: ${Math.round(100 * Math.max(...results.flatMap((r) => Object.values(r.spread))))}%.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  const dir = path.join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `parser-${new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z')}.json`);
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), revision, baseline, machine, loadAverageAtEnd: os.loadavg(), rounds, ms, checksum, results }, null, 2)}\n`);
  process.stderr.write(`\nraw results: ${path.relative(process.cwd(), file)}\n`);
}

await main();
