// The fuzzer's parts: a seeded PRNG, generators of request heads and chunked bodies (valid ones
// with what they must parse to, and mutations of them), the checks one input goes through, and
// an in-process llhttp (Node's own parser) to compare with. test/fuzz.test.ts drives them.
//
// Every input is rebuilt from (seed, index) alone, so a failure is reproduced by
// FUZZ_SEED=<seed> FUZZ_ONLY=<index>. Inputs are latin1 strings while they are built (one
// char per byte) and Buffers when fed.

import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ERRORS, HttpError } from '../../src/errors.js';
import { ChunkedScanner } from '../../src/http/chunked.js';
import { Body, DEFAULT_REQUEST_LIMITS, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, FIELD_STRIDE, RequestParser } from '../../src/http/request-parser.js';
import { ResponseParser } from '../../src/http/response-parser.js';
import { feedPieces, scanPieces, type HeadResult, type MakeParser, type ScanResult } from './split.js';
import type { ReaderOptions } from '../../src/http/head-reader.js';

// ---------------------------------------------------------------------------------------------
// The PRNG.

/** mulberry32: a 32-bit state, good enough to pick mutations, and the same on every machine. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** The seed of input `index` of a run: one PRNG per input, so that any input replays alone. */
export function inputSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Alphabets.

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM = '0123456789abcdefghijklmnopqrstuvwxyz';
/** request-target characters our parser takes: VCHAR without "#". */
const TARGET_CHARS = (() => {
  let s = '';
  for (let b = 0x21; b <= 0x7e; b++) if (b !== 0x23) s += String.fromCharCode(b);
  return s;
})();
/** Bytes that break parsers: line ends, controls, separators, the obs-text edges. */
const SPECIAL = ['\r', '\n', '\0', ' ', '\t', ':', ',', ';', '"', '=', '\x7f', '\x80', '\xff', '\x0b', '\x0c', '/', '?', '#', '@', '[', ']', '\\', '(', ')', '\x01', '\x1f'];
const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PURGE', 'PROPFIND', 'MKCOL', 'REPORT', 'SEARCH', 'M-SEARCH', 'QUERY'];
const ODD_METHODS = ['get', 'Get', 'CONNECT', 'FOO', 'G ET', 'GET\t', '', 'GET/', 'G\0T', 'GETT', 'HEAD\r', 'PRI', 'X-CUSTOM', 'GE', '*', 'GET ', "'", 'ACL', 'SOURCE', 'LINK', 'POSTX'];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'HTTP/1.9', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/3.0', 'http/1.1', 'HTTP/1.', 'HTTP/11', 'HTTP/1.1 ', 'HTTP/ 1.1', 'HTTP/1.10', 'HTTPS/1.1', 'HTTP/1,1', 'HTTP\\1.1', '', 'HTTP/9.9', 'HTTP/1.1\t', 'HTTP/A.B'];
const ABSOLUTE_TARGETS = [
  'http://example.com/', 'http://example.com', 'http://Example.COM:8080/a?b=1', 'HTTP://a/x', 'https://a:443/',
  'http://[::1]:80/p', 'http://[::1/', 'http://', 'http:///x', 'http://user@a/', 'http://a:99999/', 'http://a:x/',
  'ftp://a/', 'http:/a/', 'http://a?q', 'http://a b/', 'http://a%41/', '//a/b', 'a/b', 'http://a/#f', 'http://a:/',
];
/** Field lines that make request smuggling, framing and Host checks happen. */
const FRAMING_LINES = [
  'Transfer-Encoding: chunked', 'Transfer-Encoding : chunked', 'Transfer-Encoding:\tchunked', 'Transfer-Encoding: xchunked',
  'Transfer-Encoding: chunked, chunked', 'Transfer-Encoding: chunked;q=1', 'Transfer-Encoding: gzip', 'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, gzip', 'Transfer-Encoding: identity', 'Transfer-Encoding:', 'Transfer-encoding: CHUNKED', ' Transfer-Encoding: chunked',
  'Transfer-Encoding: "chunked"', 'Transfer-Encoding: chunk', 'Transfer-Encoding: chunked\x00', 'Transfer-Encoding:chunked', 'Transfer-Encoding: ,chunked',
  'Transfer-Encoding: chunked ,', 'Transfer-Encoding: x-gzip;a=1, chunked', 'Transfer_Encoding: chunked', 'Transfer-Encoding: \x0bchunked',
  'Content-Length: 5', 'Content-Length: 0', 'Content-Length: +5', 'Content-Length: -1', 'Content-Length: 5, 5', 'Content-Length: 5,6',
  'Content-Length: 0x5', 'Content-Length: 5 5', 'Content-Length: 99999999999999999999', 'Content-Length: 9007199254740992', 'Content-Length : 5',
  'Content-Length:5', 'Content-Length:  5  ', 'Content-Length: ', 'Content-Length: 1e3', 'Content-Length: 007', 'Content-length: 3',
  'Host: a', 'Host: b', 'Host:', 'Host: a b', 'Host: [::1]:8080', 'Host: a:b', 'Host: a@b', 'Host : a', 'host: A.example',
  'Connection: close', 'Connection: keep-alive', 'Connection: Upgrade, x-hop', 'Upgrade: websocket', 'Expect: 100-continue', 'TE: trailers',
  'Keep-Alive: timeout=5', 'Proxy-Connection: keep-alive', 'X-Forwarded-For: 1.2.3.4',
];

/** A random string of `n` characters of `alphabet`. */
function word(rng: Rng, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

function byteChar(b: number): string {
  return String.fromCharCode(b & 0xff);
}

/** A field-value: VCHAR, SP, HTAB, obs-text; no leading or trailing whitespace. */
function fieldValue(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rng.int(20);
    if (r === 0) s += byteChar(rng.range(0x80, 0xff));
    else if (r === 1 && i > 0 && i < n - 1) s += rng.chance(0.5) ? ' ' : '\t';
    else s += byteChar(rng.range(0x21, 0x7e));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Request heads.

/** Valid request heads, each complete (some with a body or a second request after them). */
export const HEAD_CORPUS: readonly string[] = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /apple?x=1&y=%20 HTTP/1.1\r\nHost: www.mango.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n',
  'POST /upload HTTP/1.1\r\nHost: a:8080\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello',
  'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
  'GET /old HTTP/1.0\r\n\r\n',
  'GET /ka HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\n\r\n',
  'GET http://example.com:8080/p?q HTTP/1.1\r\nHost: ignored\r\n\r\n',
  'GET https://[::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
  'HEAD /h HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  'DELETE /d HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n',
  'PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc',
  'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n',
  '\r\n\r\nGET /after-empty-lines HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tabs:\t v \t\r\nX-Obs: caf\xe9 \xff\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nCookie: ' + 'k=v; '.repeat(200) + 'end=1\r\n\r\n',
  'M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n\r\n',
  'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nokGET /next HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.1\r\nhost: A.Example.ORG\r\ncontent-length: 0\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: x\r\nX-Forwarded-Proto: https\r\n\r\n',
  'GET /' + 'a'.repeat(3000) + ' HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.2\r\nHost: a\r\n\r\n',
  'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1;q="a b"\r\nabc\r\n0;last\r\nTrailer-One: 1\r\nX: y\r\n\r\n',
];

/** A grammar-made valid head and what the parser must report for it. */
export interface ValidHead {
  text: string;
  method: string;
  target: string;
  minor: 0 | 1;
  fields: [string, string][];
  body: 'none' | 'length' | 'chunked';
  contentLength: number;
  /** Longer than the head limit: it must be refused with HEAD_TOO_LARGE. */
  tooLarge: boolean;
}

/** A request head made from the grammar, valid for our parser, with its expected reading. */
export function generateHead(rng: Rng): ValidHead {
  const method = rng.chance(0.8) ? rng.pick(KNOWN_METHODS) : word(rng, TCHARS, rng.range(1, 12));
  const minor = rng.chance(0.8) ? 1 : 0;
  let target: string;
  const form = rng.int(10);
  // RFC 9112 3.2: an HTTP/1.1 request carries Host, whatever the target's form.
  const hostNeeded = minor === 1;
  if (form === 0) {
    const host = rng.chance(0.2) ? '[::1]' : word(rng, ALNUM, rng.range(1, 10)) + (rng.chance(0.5) ? '.example' : '');
    target = `${rng.chance(0.8) ? 'http' : 'https'}://${host}${rng.chance(0.3) ? ':' + rng.int(65536) : ''}${rng.chance(0.7) ? '/' + word(rng, TARGET_CHARS, rng.int(30)) : ''}`;
  } else if (form === 1 && method === 'OPTIONS') {
    target = '*';
  } else {
    target = '/' + word(rng, TARGET_CHARS, rng.chance(0.05) ? rng.range(100, 7000) : rng.int(40));
  }
  const fields: [string, string][] = [];
  const lines: string[] = [];
  const addField = (name: string, value: string) => {
    fields.push([name, value]);
    const before = rng.chance(0.2) ? rng.pick([' ', '\t', '  ', ' \t']) : rng.chance(0.2) ? '' : ' ';
    // Trailing OWS is valid (RFC 9112 5.1), but not after a framing field: llhttp rejects it
    // there, and so do we, so that no hop frames the message another way.
    const framing = /^(content-length|transfer-encoding)$/i.test(name);
    const after = !framing && rng.chance(0.1) ? rng.pick([' ', '\t', ' \t ']) : '';
    lines.push(`${name}:${value === '' ? '' : before}${value}${value === '' ? '' : after}`);
  };
  if (hostNeeded || rng.chance(0.3)) {
    addField(rng.pick(['Host', 'host', 'HOST']), word(rng, ALNUM + '.-', rng.range(1, 20)) + (rng.chance(0.3) ? ':' + rng.int(65536) : ''));
  }
  const extra = rng.chance(0.05) ? rng.range(20, 90) : rng.int(8);
  for (let k = 0; k < extra; k++) addField('X-' + word(rng, TCHARS, rng.range(1, 12)), fieldValue(rng, rng.chance(0.05) ? rng.range(100, 2000) : rng.int(30)));
  let body: ValidHead['body'] = 'none';
  let contentLength = 0;
  const framing = rng.int(4);
  if (framing === 1) {
    contentLength = rng.int(1000);
    addField('Content-Length', String(contentLength));
    body = contentLength > 0 ? 'length' : 'none';
  } else if (framing === 2 && minor === 1) {
    addField('Transfer-Encoding', rng.pick(['chunked', 'gzip, chunked', 'Chunked', 'deflate,chunked']));
    body = 'chunked';
  }
  // Shuffle the field lines (Host need not be first).
  for (let k = lines.length - 1; k > 0; k--) {
    const j = rng.int(k + 1);
    [lines[k], lines[j]] = [lines[j]!, lines[k]!];
    [fields[k], fields[j]] = [fields[j]!, fields[k]!];
  }
  const text = `${method} ${target} HTTP/1.${minor}\r\n` + lines.map((l) => l + '\r\n').join('') + '\r\n';
  // Past the head limit (every byte up to the final CRLF), the head is refused whatever it says.
  const tooLarge = text.length > DEFAULT_REQUEST_LIMITS.maxHead;
  return { text, method, target, minor: minor as 0 | 1, fields, body, contentLength, tooLarge };
}

/** The head part of `s` (through the first empty line) as lines, and what follows it. */
function splitLines(s: string): { lines: string[]; rest: string } {
  const end = s.indexOf('\r\n\r\n');
  if (end < 0) return { lines: s.split('\r\n'), rest: '' };
  return { lines: s.slice(0, end).split('\r\n'), rest: s.slice(end + 4) };
}

function joinLines(lines: string[], rest: string, complete: boolean): string {
  return lines.join('\r\n') + (complete ? '\r\n\r\n' : '') + rest;
}

type Mutation = (rng: Rng, s: string) => string;

function at(rng: Rng, s: string): number {
  return rng.int(s.length + 1);
}

/** Byte-level and line-level mutations of a head, each named for what it does. */
const HEAD_MUTATIONS: Mutation[] = [
  function flipBit(rng, s) {
    if (s.length === 0) return s;
    const i = rng.int(s.length);
    return s.slice(0, i) + byteChar(s.charCodeAt(i) ^ (1 << rng.int(8))) + s.slice(i + 1);
  },
  function setByte(rng, s) {
    if (s.length === 0) return s;
    const i = rng.int(s.length);
    return s.slice(0, i) + (rng.chance(0.6) ? rng.pick(SPECIAL) : byteChar(rng.int(256))) + s.slice(i + 1);
  },
  function insertSpecial(rng, s) {
    const i = at(rng, s);
    return s.slice(0, i) + rng.pick(SPECIAL) + s.slice(i);
  },
  function insertRandomBytes(rng, s) {
    const i = at(rng, s);
    let add = '';
    for (let k = rng.range(1, 8); k > 0; k--) add += byteChar(rng.int(256));
    return s.slice(0, i) + add + s.slice(i);
  },
  function deleteBytes(rng, s) {
    const i = at(rng, s);
    return s.slice(0, i) + s.slice(i + rng.range(1, 8));
  },
  function duplicateSlice(rng, s) {
    const i = at(rng, s);
    const piece = s.slice(i, i + rng.range(1, 40));
    const j = at(rng, s);
    return s.slice(0, j) + piece + s.slice(j);
  },
  function truncate(rng, s) {
    return s.slice(0, at(rng, s));
  },
  function duplicateLine(rng, s) {
    const { lines, rest } = splitLines(s);
    const k = rng.int(lines.length);
    lines.splice(rng.int(lines.length + 1), 0, lines[k]!);
    return joinLines(lines, rest, true);
  },
  function dropLine(rng, s) {
    const { lines, rest } = splitLines(s);
    if (lines.length > 1) lines.splice(rng.int(lines.length), 1);
    return joinLines(lines, rest, true);
  },
  function swapLines(rng, s) {
    const { lines, rest } = splitLines(s);
    const a = rng.int(lines.length);
    const b = rng.int(lines.length);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    return joinLines(lines, rest, true);
  },
  function framingLine(rng, s) {
    const { lines, rest } = splitLines(s);
    for (let k = rng.range(1, 3); k > 0; k--) lines.splice(rng.range(1, lines.length), 0, rng.pick(FRAMING_LINES));
    return joinLines(lines, rest, true);
  },
  function changeLineEnd(rng, s) {
    // One CRLF becomes LF, CR, LFCR, CRCRLF, CRLF SP (obs-fold) or CRLF HTAB.
    const ends: number[] = [];
    for (let i = s.indexOf('\r\n'); i >= 0; i = s.indexOf('\r\n', i + 2)) ends.push(i);
    if (ends.length === 0) return s;
    const i = rng.pick(ends);
    return s.slice(0, i) + rng.pick(['\n', '\r', '\n\r', '\r\r\n', '\r\n ', '\r\n\t', '\r\n\r\n', '']) + s.slice(i + 2);
  },
  function changeVersion(rng, s) {
    return s.replace(/HTTP\/\d\.\d/, rng.pick(VERSIONS));
  },
  function changeMethod(rng, s) {
    const sp = s.indexOf(' ');
    const method = rng.chance(0.5) ? rng.pick(ODD_METHODS) : rng.pick(KNOWN_METHODS);
    return sp < 0 ? method + ' ' + s : method + s.slice(sp);
  },
  function absoluteForm(rng, s) {
    return s.replace(/^(\S*) \S*/, `$1 ${rng.pick(ABSOLUTE_TARGETS)}`);
  },
  function hugeValue(rng, s) {
    const { lines, rest } = splitLines(s);
    const n = rng.pick([1000, 8000, 8191, 8192, 8193, 16000, 16384, 20000]) + rng.range(-3, 3);
    const line = rng.chance(0.5) ? `X-Big: ${'v'.repeat(n)}` : `X-${'n'.repeat(n)}: v`;
    if (rng.chance(0.3)) lines[0] = lines[0]!.replace(' ', ' /' + 'p'.repeat(n));
    else lines.splice(rng.range(1, lines.length), 0, line);
    return joinLines(lines, rest, true);
  },
  function manyFields(rng, s) {
    const { lines, rest } = splitLines(s);
    const n = rng.pick([50, 98, 99, 100, 101, 150]);
    const add: string[] = [];
    for (let k = 0; k < n; k++) add.push(`F${k}: ${k}`);
    lines.splice(rng.range(1, lines.length), 0, ...add);
    return joinLines(lines, rest, true);
  },
  function owsAroundColon(rng, s) {
    const colons: number[] = [];
    for (let i = s.indexOf(':'); i >= 0 && colons.length < 64; i = s.indexOf(':', i + 1)) colons.push(i);
    if (colons.length === 0) return s;
    const i = rng.pick(colons) + (rng.chance(0.5) ? 0 : 1);
    return s.slice(0, i) + rng.pick([' ', '\t', '  ', '\x0b']) + s.slice(i);
  },
  function toggleCase(rng, s) {
    const i = rng.int(Math.max(1, s.length));
    const c = s.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return s.slice(0, i) + byteChar(c ^ 0x20) + s.slice(i + 1);
    return s;
  },
  function leadingLines(rng, s) {
    return rng.pick(['\r\n', '\r\n\r\n', '\n', ' \r\n', '\r', '\t\r\n', '\r\n'.repeat(50)]) + s;
  },
  function spaceInRequestLine(rng, s) {
    const sp = s.indexOf(' ');
    if (sp < 0) return s;
    const at2 = rng.chance(0.5) ? sp : s.indexOf(' ', sp + 1);
    return at2 < 0 ? s : s.slice(0, at2) + rng.pick([' ', '\t', '  ', '\x0c']) + s.slice(at2);
  },
  function appendBody(rng, s) {
    return s + rng.pick(['hello', '0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'x'.repeat(rng.int(100))]);
  },
];

/** 1 to `max` random mutations of `s`. */
function mutate(rng: Rng, s: string, mutations: Mutation[], max: number): string {
  for (let k = rng.range(1, max); k > 0; k--) s = rng.pick(mutations)(rng, s);
  return s;
}

/** Mostly printable, some specials, some any byte. */
function randomBytes(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rng.int(10);
    s += r < 6 ? byteChar(rng.range(0x20, 0x7e)) : r < 8 ? rng.pick(SPECIAL) : byteChar(rng.int(256));
  }
  return s;
}

/** One fuzz input for the request parser: its bytes, how it was made, and the reading it must get if known. */
export interface HeadInput {
  kind: string;
  bytes: Buffer;
  valid: ValidHead | null;
}

export function makeHeadInput(rng: Rng): HeadInput {
  const r = rng.int(100);
  let kind: string;
  let text: string;
  let valid: ValidHead | null = null;
  if (r < 35) {
    kind = 'corpus+mutations';
    text = mutate(rng, rng.pick(HEAD_CORPUS), HEAD_MUTATIONS, 4);
  } else if (r < 55) {
    kind = 'generated';
    valid = generateHead(rng);
    text = valid.text;
  } else if (r < 85) {
    kind = 'generated+mutations';
    text = mutate(rng, generateHead(rng).text, HEAD_MUTATIONS, 3);
  } else if (r < 93) {
    kind = 'random bytes';
    text = (rng.chance(0.5) ? rng.pick(KNOWN_METHODS) + ' ' : '') + randomBytes(rng, rng.int(200));
  } else {
    kind = 'corpus';
    text = rng.pick(HEAD_CORPUS);
  }
  return { kind, bytes: Buffer.from(text, 'latin1'), valid };
}

// ---------------------------------------------------------------------------------------------
// Chunked bodies.

/** A chunked body (valid), followed by bytes that are not part of it. */
export interface BodyInput {
  kind: string;
  bytes: Buffer;
  /** Where the valid body ends (the scanner must say so), or -1 once mutated. */
  end: number;
}

function chunkExtension(rng: Rng): string {
  let s = '';
  for (let k = rng.range(1, 3); k > 0; k--) {
    s += ';' + (rng.chance(0.2) ? rng.pick([' ', '\t']) : '') + word(rng, TCHARS, rng.range(1, 8));
    if (rng.chance(0.5)) s += '=' + (rng.chance(0.5) ? word(rng, TCHARS, rng.range(1, 8)) : `"${word(rng, ALNUM + ' \t;=', rng.int(10))}"`);
  }
  return s;
}

function hexSize(rng: Rng, n: number): string {
  let h = n.toString(16);
  if (rng.chance(0.3)) h = h.toUpperCase();
  if (rng.chance(0.1)) h = '0'.repeat(rng.range(1, 16 - h.length)) + h;
  return h;
}

export function generateChunked(rng: Rng): { text: string; end: number } {
  let s = '';
  for (let k = rng.int(6); k > 0; k--) {
    const n = rng.chance(0.03) ? rng.range(1000, 70000) : rng.range(1, 64);
    let data = '';
    for (let i = 0; i < n; i++) data += byteChar(rng.chance(0.05) ? rng.pick([13, 10, 0]) : rng.int(256));
    s += hexSize(rng, n) + (rng.chance(0.2) ? chunkExtension(rng) : '') + '\r\n' + data + '\r\n';
  }
  s += (rng.chance(0.8) ? '0' : '0'.repeat(rng.range(2, 16))) + (rng.chance(0.1) ? chunkExtension(rng) : '') + '\r\n';
  for (let k = rng.chance(0.2) ? rng.range(1, 3) : 0; k > 0; k--) s += `${word(rng, TCHARS, rng.range(1, 10))}:${rng.chance(0.5) ? ' ' : ''}${fieldValue(rng, rng.int(20))}\r\n`;
  s += '\r\n';
  return { text: s, end: s.length };
}

const BODY_MUTATIONS: Mutation[] = [
  ...HEAD_MUTATIONS.filter((m) => ['flipBit', 'setByte', 'insertSpecial', 'insertRandomBytes', 'deleteBytes', 'duplicateSlice', 'truncate', 'changeLineEnd'].includes(m.name)),
  function oddSize(rng, s) {
    // Replace the first chunk-size with one that lies, overflows or is not hex.
    const size = rng.pick(['1' + '0'.repeat(16), 'f'.repeat(17), 'fffffffffffffff', '20000000000000', '1fffffffffffff', '-1', '+5', '0x5', ' 5', '5 ', '5\t', '', 'g', '00000000000000005', '5;', '5 ;a', 'FFFFFFFFFFFFFFFF']);
    return s.replace(/^[0-9a-fA-F]*/, size);
  },
  function longExtension(rng, s) {
    const n = rng.pick([4000, 4095, 4096, 4097, 5000]);
    return s.replace(/\r\n/, ';' + 'e'.repeat(n - 1 + rng.range(-1, 1)) + '\r\n');
  },
  function longTrailers(rng, s) {
    const n = rng.pick([16000, 16383, 16384, 16385, 17000]);
    return s.replace(/(^|\n)(0+)\r\n/, `$1$2\r\nT: ${'t'.repeat(n - 3 + rng.range(-2, 2))}\r\n`);
  },
  function sizeLies(rng, s) {
    // One more or one less byte of data than the size says.
    const m = /^([0-9a-fA-F]+)\r\n/.exec(s);
    if (m === null) return s;
    const n = parseInt(m[1]!, 16) + (rng.chance(0.5) ? 1 : -1);
    return n < 0 ? s : n.toString(16) + s.slice(m[1]!.length);
  },
  function bareLfInTrailer(rng, s) {
    return s.endsWith('\r\n\r\n') ? s.slice(0, -2) + rng.pick(['\n', 'X: y\n\r\n', ' X: y\r\n\r\n', 'X : y\r\n\r\n', ':y\r\n\r\n']) : s;
  },
];

export function makeBodyInput(rng: Rng): BodyInput {
  const body = generateChunked(rng);
  const tail = rng.pick(['', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', '0\r\n\r\n', randomBytes(rng, rng.int(20))]);
  if (rng.chance(0.35)) return { kind: 'chunked', bytes: Buffer.from(body.text + tail, 'latin1'), end: body.end };
  return { kind: 'chunked+mutations', bytes: Buffer.from(mutate(rng, body.text + tail, BODY_MUTATIONS, 3), 'latin1'), end: -1 };
}

// ---------------------------------------------------------------------------------------------
// Response heads (what backends send), a smaller share of the run.

const RESPONSE_CORPUS: readonly string[] = [
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nConnection: close\r\n\r\n',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  'HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nKeep-Alive: timeout=5\r\n\r\n',
];

export function makeResponseInput(rng: Rng): { kind: string; bytes: Buffer } {
  const text = rng.chance(0.2) ? rng.pick(RESPONSE_CORPUS) : mutate(rng, rng.pick(RESPONSE_CORPUS), HEAD_MUTATIONS, 3);
  return { kind: 'response', bytes: Buffer.from(text, 'latin1') };
}

// ---------------------------------------------------------------------------------------------
// Feeding one input every way and checking the results.

/** Up to this length an input is also fed byte by byte. */
export const BYTE_BY_BYTE_MAX = 256;

/** `count` random cut points of an input of `length` bytes, sorted, as pieces. */
function randomPieces(rng: Rng, input: Buffer, cuts: number): Buffer[] {
  const points = new Set<number>();
  for (let k = 0; k < cuts && input.length > 1; k++) points.add(rng.range(1, input.length - 1));
  const sorted = [...points].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of sorted) {
    pieces.push(input.subarray(from, p));
    from = p;
  }
  pieces.push(input.subarray(from));
  return pieces;
}

/** The ways to feed one input: whole, 2 or 3 random splits, byte by byte when short. */
function feedWays(rng: Rng, input: Buffer): { how: string; pieces: Buffer[]; options?: ReaderOptions }[] {
  const ways: { how: string; pieces: Buffer[]; options?: ReaderOptions }[] = [
    { how: 'whole', pieces: [input] },
    { how: 'whole, without WebAssembly', pieces: [input], options: { wasm: false } },
  ];
  const splits = rng.range(2, 3);
  for (let k = 0; k < splits; k++) {
    const pieces = randomPieces(rng, input, rng.range(1, 3));
    let cut = 0;
    ways.push({ how: `split at ${pieces.slice(0, -1).map((p) => (cut += p.length)).join(',')}`, pieces });
  }
  if (input.length > 1 && input.length <= BYTE_BY_BYTE_MAX) {
    const bytes: Buffer[] = [];
    for (let k = 0; k < input.length; k++) bytes.push(input.subarray(k, k + 1));
    ways.push({ how: 'byte by byte', pieces: bytes });
  }
  return ways;
}

/** What went wrong with one input, or null. */
export type Problem = string | null;

/** Messages read per input: the first head and, when it leaves bytes, the next one (reuse, pipelining). */
const MESSAGES = 2;

const short = (v: unknown) => {
  const s = JSON.stringify(v);
  return s.length > 600 ? s.slice(0, 600) + '...' : s;
};

/** Per-input counters for the run's summary. */
export interface Tally {
  /** Inputs by outcome of the whole feed, e.g. "head", "error BAD_VERSION", "incomplete". */
  outcomes: Map<string, number>;
  /** Parser calls made (execute and scan). */
  calls: number;
}

export function newTally(): Tally {
  return { outcomes: new Map(), calls: 0 };
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * Feeds a head input (request or response) every way; checks that no call throws, that each
 * feed makes a bounded number of calls, that the result is the same every way and sane, and for
 * a grammar-made head that it is the expected reading.
 */
export function checkHead(rng: Rng, input: Buffer, makeParser: MakeParser, valid: ValidHead | null, tally: Tally): Problem {
  let whole: HeadResult[] | null = null;
  for (const way of feedWays(rng, input)) {
    let calls = 0;
    const counted = (options: ReaderOptions) => {
      const parser = makeParser(options);
      return {
        execute(chunk: Buffer, start: number) {
          calls++;
          return parser.execute(chunk, start);
        },
        get consumed() {
          return parser.consumed;
        },
        get wasm() {
          return parser.wasm;
        },
      };
    };
    let result: HeadResult[];
    try {
      result = feedPieces(way.pieces, counted, MESSAGES, input, way.options);
    } catch (err) {
      return `fed ${way.how}: threw ${(err as Error).stack ?? String(err)}`;
    }
    tally.calls += calls;
    // Each piece is offered once per message it contains at most: one more call per message.
    if (calls > way.pieces.length + MESSAGES) return `fed ${way.how}: ${calls} calls for ${way.pieces.length} pieces`;
    if (whole === null) {
      whole = result;
      const problem = checkHeadResults(input, result, valid);
      if (problem !== null) return problem;
      const first = result[0]!;
      count(tally.outcomes, typeof first === 'string' ? first : 'error' in first ? `error ${first.error}` : 'head');
    } else if (!isDeepStrictEqual(result, whole)) {
      return `fed ${way.how}: ${short(result)}\n  but whole: ${short(whole)}`;
    }
  }
  return null;
}

function checkHeadResults(input: Buffer, results: HeadResult[], valid: ValidHead | null): Problem {
  let used = 0;
  for (const r of results) {
    if (r === 'incomplete') continue;
    if ('error' in r) {
      if (!(r.error in ERRORS) || ERRORS[r.error as keyof typeof ERRORS].status !== r.status) return `unknown error ${short(r)}`;
      if (r.offset < 0 || r.offset > input.length - used) return `error offset out of the input: ${short(r)}`;
      continue;
    }
    if (r.consumed <= 0 || r.consumed > input.length - used) return `consumed ${r.consumed} of ${input.length - used} bytes`;
    used += r.consumed;
  }
  if (valid !== null && valid.tooLarge) {
    const r = results[0]!;
    if (r === 'incomplete' || !('error' in r) || r.error !== 'HEAD_TOO_LARGE') return `a head of ${valid.text.length} bytes was read as ${short(r)}, not HEAD_TOO_LARGE`;
  } else if (valid !== null) {
    const r = results[0]!;
    if (r === 'incomplete' || 'error' in r || !('method' in r)) return `a valid head was not read as one: ${short(r)}`;
    const got = { method: r.method, target: r.target, minor: r.minor, fields: r.fields, body: r.body, contentLength: r.contentLength, consumed: r.consumed };
    const want = { method: valid.method, target: valid.target, minor: valid.minor, fields: valid.fields, body: valid.body, contentLength: valid.contentLength, consumed: valid.text.length };
    if (!isDeepStrictEqual(got, want)) return `valid head read as ${short(got)}\n  expected ${short(want)}`;
  }
  return null;
}

/** Feeds a chunked body every way: no throw, bounded calls, the same end or error every way. */
export function checkBody(rng: Rng, input: Buffer, end: number, tally: Tally): Problem {
  let whole: ScanResult | null = null;
  for (const way of feedWays(rng, input)) {
    let calls = 0;
    const counted = () => {
      const scanner = new ChunkedScanner();
      return {
        scan(buf: Buffer, s: number, e: number) {
          calls++;
          return scanner.scan(buf, s, e);
        },
      } as ChunkedScanner;
    };
    let result: ScanResult;
    try {
      result = scanPieces(way.pieces, counted);
    } catch (err) {
      return `fed ${way.how}: threw ${(err as Error).stack ?? String(err)}`;
    }
    tally.calls += calls;
    if (calls > way.pieces.length) return `fed ${way.how}: ${calls} scan calls for ${way.pieces.length} pieces`;
    if (whole === null) {
      whole = result;
      if (typeof result === 'number' && (result <= 0 || result > input.length)) return `end ${result} outside the input`;
      if (typeof result === 'object' && (result.offset < 0 || result.offset > input.length || ERRORS[result.error as keyof typeof ERRORS] === undefined)) {
        return `bad error ${short(result)}`;
      }
      if (end >= 0 && result !== end) return `a valid body ending at ${end} was scanned as ${short(result)}`;
      count(tally.outcomes, typeof result === 'number' ? 'end' : typeof result === 'string' ? result : `error ${result.error}`);
    } else if (!isDeepStrictEqual(result, whole)) {
      return `fed ${way.how}: ${short(result)}\n  but whole: ${short(whole)}`;
    }
  }
  return null;
}

export const makeRequestParser: MakeParser = (options) => new RequestParser(undefined, options);
export const makeResponseParser: MakeParser = (options) => new ResponseParser(undefined, options);

// ---------------------------------------------------------------------------------------------
// Node's own parser (llhttp, strict: no lenient flags), in process, as a second opinion.

/** The part of Node's internal parser binding (node:_http_common) used here. */
interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  [callback: number]: (...args: never[]) => unknown;
}
interface NodeHttpParserClass {
  new (): NodeHttpParser;
  REQUEST: number;
  kLenientNone: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}

const require = createRequire(import.meta.url);
const httpCommon = require('_http_common') as { HTTPParser: NodeHttpParserClass; methods: string[] };
const { HTTPParser } = httpCommon;
/**
 * llhttp's method numbers (its enum, HTTP and RTSP methods together): Node's `methods` list stops
 * at SOURCE (33), so QUERY (46) has no name there.
 */
const LLHTTP_METHODS = [
  ...httpCommon.methods.slice(0, 34),
  ...['PRI', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH', 'QUERY'],
];

/** What llhttp made of the first message of an input. */
export interface LlhttpReading {
  /** 'head': the head was complete; 'error': rejected before that; 'incomplete': more bytes wanted. */
  verdict: 'head' | 'error' | 'incomplete';
  /** llhttp's error code (HPE_...) when it rejected the input, in the head or in the body. */
  code: string;
  method: string;
  url: string;
  /** Field names and values, alternating (Node's rawHeaders). */
  headers: string[];
  upgrade: boolean;
  /** The body bytes of the first message (de-chunked), and whether that message ended. */
  body: Buffer;
  complete: boolean;
}

/** The state of the llhttpRead in progress: the callbacks of the one parser below write into it. */
interface LlhttpRun {
  reading: LlhttpReading;
  messages: number;
  url: string;
  headers: string[];
  body: Buffer[];
}
let llhttpRun: LlhttpRun | null = null;

/** One parser, initialized again for every input, as Node's own server reuses its parsers. */
const llhttp = (() => {
  const parser = new HTTPParser();
  parser[HTTPParser.kOnMessageBegin] = () => {
    llhttpRun!.messages++;
  };
  parser[HTTPParser.kOnHeaders] = (h: string[], u: string) => {
    const run = llhttpRun!;
    // After the head, this carries the trailer fields: not part of the head.
    if (run.messages > 1 || run.reading.verdict === 'head') return;
    run.headers.push(...h);
    run.url += u;
  };
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, h: string[] | undefined, method: number, u: string | undefined, _s: unknown, _m: unknown, upgrade: boolean) => {
    const run = llhttpRun!;
    if (run.messages > 1) return 0;
    if (h !== undefined) run.headers.push(...h);
    if (u !== undefined) run.url += u;
    const reading = run.reading;
    reading.verdict = 'head';
    reading.method = LLHTTP_METHODS[method] ?? String(method);
    reading.url = run.url;
    reading.headers = run.headers;
    reading.upgrade = upgrade;
    return 0;
  };
  parser[HTTPParser.kOnBody] = (b: Buffer, start?: number, len?: number) => {
    const run = llhttpRun!;
    if (run.messages > 1) return;
    run.body.push(Buffer.from(start === undefined ? b : b.subarray(start, start + len!)));
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    const run = llhttpRun!;
    if (run.messages === 1) run.reading.complete = true;
  };
  parser[HTTPParser.kOnExecute] = () => {};
  return parser;
})();

/** llhttp errors raised at the end of the head (framing), after the head callback. */
const HEAD_END_ERRORS = new Set(['HPE_INVALID_TRANSFER_ENCODING', 'HPE_INVALID_CONTENT_LENGTH', 'HPE_UNEXPECTED_CONTENT_LENGTH']);

/** The first message of `input` as llhttp reads it (strict: no lenient flags, as node:http by default). */
export function llhttpRead(input: Buffer): LlhttpReading {
  const reading: LlhttpReading = { verdict: 'incomplete', code: '', method: '', url: '', headers: [], upgrade: false, body: Buffer.alloc(0), complete: false };
  llhttpRun = { reading, messages: 0, url: '', headers: [], body: [] };
  // No header size limit here: our limits are checked by our own tests, not compared.
  llhttp.initialize(HTTPParser.REQUEST, {}, 1 << 30, HTTPParser.kLenientNone);
  const r = llhttp.execute(input);
  if (r instanceof Error) {
    // An error after the first message ended belongs to what follows it: not compared.
    if (!reading.complete) {
      reading.code = (r as Error & { code: string }).code;
      // llhttp judges the framing fields once the head is complete, after telling us so: that
      // is still a rejection of the head.
      if (reading.verdict !== 'head' || (llhttpRun.body.length === 0 && HEAD_END_ERRORS.has(reading.code))) reading.verdict = 'error';
    }
  }
  reading.body = Buffer.concat(llhttpRun.body);
  llhttpRun = null;
  return reading;
}

/** Our reading of the same first message: the head, then its body by the same rules the proxy uses. */
export interface OurReading {
  verdict: 'head' | 'error' | 'incomplete';
  code: string;
  method: string;
  url: string;
  headers: string[];
  body: Buffer;
  complete: boolean;
}

export function ourRead(input: Buffer): OurReading {
  const reading: OurReading = { verdict: 'incomplete', code: '', method: '', url: '', headers: [], body: Buffer.alloc(0), complete: false };
  const parser = new RequestParser();
  const head = parser.execute(input, 0);
  if (head === null) return reading;
  if (head instanceof HttpError) {
    reading.verdict = 'error';
    reading.code = head.code;
    return reading;
  }
  reading.verdict = 'head';
  reading.method = head.method;
  reading.url = head.target;
  for (let k = 0; k < head.fieldCount; k++) {
    const f = FIELD_STRIDE * k;
    reading.headers.push(head.buf.toString('latin1', head.fields[f + F_LINE]!, head.fields[f + F_NAME_END]!), head.buf.toString('latin1', head.fields[f + F_VALUE]!, head.fields[f + F_VALUE_END]!));
  }
  const from = parser.consumed;
  if (head.body === Body.NONE) reading.complete = true;
  else if (head.body === Body.LENGTH) {
    reading.body = input.subarray(from, Math.min(input.length, from + head.contentLength));
    reading.complete = from + head.contentLength <= input.length;
  } else {
    const end = new ChunkedScanner().scan(input, from, input.length);
    if (end instanceof HttpError) reading.code = end.code;
    else if (end >= 0) {
      reading.complete = true;
      reading.body = dechunk(input.subarray(from, end));
    }
  }
  return reading;
}

/** The data of a chunked body the scanner accepted. */
function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    let size = 0;
    while (body[i] !== 0x3b && body[i] !== 0x0d) size = size * 16 + parseInt(String.fromCharCode(body[i++]!), 16);
    i = body.indexOf('\r\n', i) + 2;
    if (size === 0) return Buffer.concat(out);
    out.push(body.subarray(i, i + size));
    i += size + 2;
  }
}

/**
 * Compares our reading of the first message of `input` with llhttp's. Returns a category:
 * 'agree' (same verdict and, for heads, the same method, target, fields and body), a named
 * difference where one side is stricter, or 'DIFFER ...' where both read it and disagree.
 */
export function compareWithLlhttp(input: Buffer): { category: string; detail: string } {
  const ours = ourRead(input);
  const theirs = llhttpRead(input);
  const detail = () => `ours ${short({ ...ours, body: ours.body.toString('latin1') })}\n  llhttp ${short({ ...theirs, body: theirs.body.toString('latin1') })}`;
  if (theirs.verdict === 'error' && ours.verdict === 'head') return { category: `llhttp rejects ${theirs.code}, ours accepts`, detail: detail() };
  if (theirs.verdict === 'error' && ours.verdict === 'incomplete') return { category: `llhttp rejects ${theirs.code}, ours waits`, detail: detail() };
  if (ours.verdict === 'error' && theirs.verdict !== 'error') return { category: 'ours stricter', detail: detail() };
  if (ours.verdict !== 'head' || theirs.verdict !== 'head') return { category: ours.verdict === theirs.verdict ? 'agree' : `ours ${ours.verdict}, llhttp ${theirs.verdict}`, detail: detail() };
  // Both read a head.
  if (ours.method !== theirs.method || ours.url !== theirs.url) return { category: 'DIFFER request line', detail: detail() };
  if (!isDeepStrictEqual(ours.headers, theirs.headers)) return { category: 'DIFFER fields', detail: detail() };
  if (theirs.upgrade) return { category: 'agree (upgrade)', detail: '' };
  if (theirs.code !== '' && ours.code === '') {
    return { category: ours.complete ? `llhttp rejects body ${theirs.code}, ours accepts` : `llhttp rejects body ${theirs.code}, ours waits`, detail: detail() };
  }
  if (ours.code !== '') return { category: theirs.code !== '' ? 'agree (body rejected)' : 'ours stricter (body)', detail: detail() };
  if (ours.complete !== theirs.complete) return { category: 'DIFFER framing (message end)', detail: detail() };
  if (ours.complete && !ours.body.equals(theirs.body)) return { category: 'DIFFER framing (body)', detail: detail() };
  return { category: 'agree', detail: '' };
}

/**
 * The differences between llhttp and us that are deliberate. Each is an edit of the input that
 * removes the difference: where llhttp rejects an input and we read it, the edits are applied in
 * turn until llhttp reads it too; the edits that took are the explanation. An input that no edit
 * explains is a finding. Every edit keeps the message's framing as it was.
 */
export const LLHTTP_DIFFERENCES: readonly {
  name: string;
  reason: string;
  edit: (input: Buffer) => Buffer;
}[] = [
  {
    name: 'method outside llhttp\'s list',
    reason:
      'RFC 9110 9.1: method = token, and the set is extensible; llhttp knows a fixed list (and PRI only ' +
      'with HTTP/2.0). A backend on llhttp answers such a request 400 itself; the framing is the same.',
    edit: (input) => editRequestLine(input, (method, target, version) => [LLHTTP_REQUEST_METHODS.has(method) ? method : 'GET', target, version]),
  },
  {
    name: 'HTTP/1.x with x > 1',
    reason: 'RFC 9110 2.5 and http-rules.md: a 1.x version with x > 1 is read as HTTP/1.1 (and forwarded as HTTP/1.1); llhttp rejects it.',
    edit: (input) => editRequestLine(input, (method, target, version) => [method, target, /^HTTP\/1\.[2-9]$/.test(version) ? 'HTTP/1.1' : version]),
  },
  {
    name: 'chunk extension with BWS',
    reason:
      'RFC 9112 7.1.1 allows BWS around ";" and "=" in a chunk extension (and RFC 9110 5.6.3 says a recipient ' +
      'MUST parse it); we check the grammar and pass the line on as it came, llhttp rejects the whitespace. ' +
      'The chunk sizes, hence the framing, are read the same.',
    edit: (input) => removeChunkExtensions(input),
  },
];

/** Methods llhttp takes on a request: the HTTP ones (not RTSP), PRI excepted, and QUERY. */
const LLHTTP_REQUEST_METHODS = new Set([...LLHTTP_METHODS.slice(0, 34), 'QUERY']);

function editRequestLine(input: Buffer, edit: (method: string, target: string, version: string) => [string, string, string]): Buffer {
  const s = input.toString('latin1');
  const m = /^((?:\r\n)*)([^ \r\n]+) ([^ \r\n]+) ([^ \r\n]+)\r\n/.exec(s);
  if (m === null) return input;
  const [method, target, version] = edit(m[2]!, m[3]!, m[4]!);
  return Buffer.from(`${m[1]}${method} ${target} ${version}\r\n` + s.slice(m[0].length), 'latin1');
}

/**
 * The input with the first message's chunked body rewritten: chunk extensions removed (also on a
 * size line not ended yet).
 */
function removeChunkExtensions(input: Buffer): Buffer {
  const head = new RequestParser().execute(input, 0);
  if (head === null || head instanceof HttpError || head.body !== Body.CHUNKED) return input;
  const s = input.toString('latin1');
  let i = head.end;
  let out = s.slice(0, i);
  for (;;) {
    const m = /^([0-9a-fA-F]+)([ \t]*;[^\r\n]*)?(\r\n|$)/.exec(s.slice(i, i + 20_000));
    if (m === null) return Buffer.from(out + s.slice(i), 'latin1');
    out += m[1]! + m[3]!;
    i += m[0].length;
    const size = parseInt(m[1]!, 16);
    if (m[3] === '' || !Number.isSafeInteger(size)) return Buffer.from(out + s.slice(i), 'latin1');
    if (size > 0) {
      out += s.slice(i, i + size + 2);
      i += size + 2;
      continue;
    }
    // The trailer section: field lines up to an empty line.
    for (;;) {
      const end = s.indexOf('\r\n', i);
      if (end < 0) return Buffer.from(out + s.slice(i), 'latin1');
      const line = s.slice(i, end + 2);
      i = end + 2;
      out += line;
      if (line === '\r\n') return Buffer.from(out + s.slice(i), 'latin1');
    }
  }
}

/**
 * Whether a category from compareWithLlhttp is one where we read what llhttp does not: it rejects
 * the message, or it has not seen the head end where we have. (Where llhttp rejects a head we
 * still wait for, we have forwarded nothing.)
 */
export function needsExplaining(category: string): boolean {
  return (category.startsWith('llhttp rejects') && !category.endsWith('ours waits')) || category === 'ours head, llhttp incomplete';
}

/**
 * Where llhttp rejects `input` (or waits for more) and we read it: the names of the known differences whose edits
 * make llhttp read it too, or null when they do not (a difference to look at).
 */
export function explainLlhttpRejection(input: Buffer): string[] | null {
  const used: string[] = [];
  let edited = input;
  for (const difference of LLHTTP_DIFFERENCES) {
    const next = difference.edit(edited);
    if (next.equals(edited)) continue;
    edited = next;
    used.push(difference.name);
    const category = compareWithLlhttp(edited).category;
    if (category.startsWith('DIFFER')) return null;
    if (!needsExplaining(category)) return used;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The watchdog: a parser that loops forever blocks the thread that called it, so a second thread
// watches a progress counter and, if it stops moving, writes the input being run and ends the
// process (a plain script, no TypeScript loader needed).

const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const state = new Int32Array(workerData.state);
const bytes = new Uint8Array(workerData.bytes);
let last = -1, since = Date.now();
setInterval(() => {
  if (Atomics.load(state, 0) !== last) { last = Atomics.load(state, 0); since = Date.now(); return; }
  if (Date.now() - since < workerData.stallMs) return;
  const n = Atomics.load(state, 2);
  const input = Buffer.from(bytes.subarray(0, Math.min(n, bytes.length))).toString('latin1');
  fs.writeSync(2, '\\nFUZZ WATCHDOG: input ' + Atomics.load(state, 1) + ' of seed ' + workerData.seed + ' did not return within ' +
    workerData.stallMs + ' ms (a parser loops?). Replay: FUZZ_SEED=' + workerData.seed + ' FUZZ_ONLY=' + Atomics.load(state, 1) +
    '\\ninput (' + n + ' bytes): ' + JSON.stringify(input.slice(0, 4000)) + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, 100);
`;

export class Watchdog {
  /** The progress counter, the index and the length of the input being run, and its first 64 KiB. */
  readonly shared = { state: new SharedArrayBuffer(12), bytes: new SharedArrayBuffer(64 * 1024) };
  private readonly worker: Worker;

  constructor(seed: number, stallMs: number) {
    this.worker = new Worker(WATCHDOG, {
      eval: true,
      execArgv: [],
      workerData: { ...this.shared, seed, stallMs },
    });
    this.worker.unref();
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

/** The thread that runs the inputs tells the watchdog (whichever thread that is) of each one. */
export class Progress {
  private readonly state: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(shared: Watchdog['shared']) {
    this.state = new Int32Array(shared.state);
    this.bytes = new Uint8Array(shared.bytes);
  }

  /** Records the input about to run. */
  begin(index: number, input: Buffer): void {
    this.bytes.set(input.subarray(0, this.bytes.length));
    Atomics.store(this.state, 2, input.length);
    Atomics.store(this.state, 1, index);
    Atomics.add(this.state, 0, 1);
  }
}
