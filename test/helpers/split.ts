// The harness every parser test uses: it feeds one input whole, split in two at every offset,
// and byte by byte, and turns what the parser returns into plain data, so that a test can ask
// that all the ways give the same result and that it is the expected one (the llhttp and
// picohttpparser way of testing an incremental parser).
//
// Pieces are fed the way a socket would: each one in its own buffer, behind a few junk bytes
// (so `start` matters), and the next piece only after the previous one returned null. A piece
// the parser has taken is then overwritten with junk: "null" means every byte was taken, so the
// parser must not keep looking at a buffer it was given earlier.

import { isDeepStrictEqual } from 'node:util';
import type { Test } from 'tap';
import { HttpError } from '../../src/errors.js';
import type { ChunkedScanner } from '../../src/http/chunked.js';
import { F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, FIELD_STRIDE, type RequestHead } from '../../src/http/request-parser.js';
import type { ResponseHead } from '../../src/http/response-parser.js';
import type { ReaderOptions } from '../../src/http/head-reader.js';

/** What every head parser offers: the execute contract of HeadReader. */
export interface HeadParser {
  execute(chunk: Buffer, start: number): RequestHead | ResponseHead | HttpError | null;
  consumed: number;
  /** Whether heads that arrive whole go through the WebAssembly scan (head-scan.ts). */
  readonly wasm: boolean;
}

/**
 * Makes a new parser with the given reader options: every way is fed once more whole with
 * { wasm: false }, so that the fast path and HeadReader.scan must agree on every input.
 */
export type MakeParser = (options: ReaderOptions) => HeadParser;

/** An error as plain data. The offset counts from the message's (or the body's) first byte. */
export interface ErrorResult {
  error: string;
  status: number;
  offset: number;
}

/** A request head as plain data: only what it means, none of the parser-owned arrays. */
export interface RequestResult {
  method: string;
  target: string;
  targetForm: 'origin' | 'absolute' | 'asterisk';
  path: string;
  minor: 0 | 1;
  host: string;
  authority: string;
  body: 'none' | 'length' | 'chunked';
  contentLength: number;
  keepAlive: boolean;
  expectContinue: boolean;
  upgrade: boolean;
  connectionOptions: string[] | null;
  fieldCount: number;
  /** Every field line as [name, value], recovered through the offsets the parser returned. */
  fields: [string, string][];
  /** Bytes of the input the head took, leading empty lines included. */
  consumed: number;
}

export interface ResponseResult {
  status: number;
  minor: 0 | 1;
  body: 'none' | 'length' | 'chunked' | 'until-close';
  contentLength: number;
  keepAlive: boolean;
  fieldCount: number;
  fields: [string, string][];
  consumed: number;
}

export type HeadResult = RequestResult | ResponseResult | ErrorResult | 'incomplete';

/** Where a chunked body ends in the whole input, or its error, or 'incomplete'. */
export type ScanResult = number | ErrorResult | 'incomplete';

const TARGET_FORMS = ['origin', 'absolute', 'asterisk'] as const;
const REQUEST_BODIES = ['none', 'length', 'chunked'] as const;
const RESPONSE_BODIES = ['none', 'length', 'chunked', 'until-close'] as const;

/** Junk put before (and, for the scanner, after) every piece, and over pieces already taken. */
const JUNK = 0xff;
const PAD = 3;

/** A parsed head's field lines as [name, value] strings, recovered from its offsets. */
function fieldsOf(head: { buf: Buffer; fields: Int32Array; fieldCount: number }): [string, string][] {
  const out: [string, string][] = [];
  for (let k = 0; k < head.fieldCount; k++) {
    const f = FIELD_STRIDE * k;
    out.push([
      head.buf.toString('latin1', head.fields[f + F_LINE]!, head.fields[f + F_NAME_END]!),
      head.buf.toString('latin1', head.fields[f + F_VALUE]!, head.fields[f + F_VALUE_END]!),
    ]);
  }
  return out;
}

export function errorResult(err: HttpError): ErrorResult {
  return { error: err.code, status: err.status, offset: err.offset };
}

/**
 * The plain form of what `execute` returned. `message` is the message's bytes from its first
 * byte on, used to check that the head's offsets point at the very bytes that were sent.
 */
function normalizeHead(head: RequestHead | ResponseHead, consumed: number, message: Buffer): RequestResult | ResponseResult {
  // The head's bytes (start line to final CRLF) are the last bytes the head consumed.
  const headBytes = head.buf.subarray(head.start, head.end);
  const sent = message.subarray(consumed - headBytes.length, consumed);
  if (!headBytes.equals(sent)) {
    throw new Error(`head bytes ${JSON.stringify(headBytes.toString('latin1'))} are not the bytes sent ${JSON.stringify(sent.toString('latin1'))}`);
  }
  if ('method' in head) {
    const fields = fieldsOf(head);
    return {
      method: head.method,
      target: head.target,
      targetForm: TARGET_FORMS[head.targetForm],
      path: head.path,
      minor: head.minor,
      host: head.host,
      authority: head.authority,
      body: REQUEST_BODIES[head.body],
      contentLength: head.contentLength,
      keepAlive: head.keepAlive,
      expectContinue: head.expectContinue,
      upgrade: head.upgrade,
      connectionOptions: head.connectionOptions === null ? null : [...head.connectionOptions],
      fieldCount: head.fieldCount,
      fields,
      consumed,
    };
  }
  const fields = fieldsOf(head);
  return {
    status: head.status,
    minor: head.minor,
    body: RESPONSE_BODIES[head.body],
    contentLength: head.contentLength,
    keepAlive: head.keepAlive,
    fieldCount: head.fieldCount,
    fields,
    consumed,
  };
}

/** A copy of `piece` behind PAD junk bytes (and `after` more): fed as buf[PAD, PAD + length). */
function padded(piece: Buffer, after = 0): Buffer {
  const buf = Buffer.allocUnsafe(PAD + piece.length + after);
  buf.fill(JUNK, 0, PAD);
  piece.copy(buf, PAD);
  buf.fill(JUNK, PAD + piece.length);
  return buf;
}

/**
 * Feeds `pieces` (which together are the input) to one new parser and returns up to `messages`
 * results: heads, then possibly an error or 'incomplete' as the last one. After a head, the
 * next message is read from the bytes that follow it (pipelining).
 */
export function feedPieces(pieces: Buffer[], makeParser: MakeParser, messages = 1, input: Buffer = Buffer.concat(pieces), options: ReaderOptions = {}): HeadResult[] {
  const parser = makeParser(options);
  if (parser.wasm !== (options.wasm ?? parser.wasm)) throw new Error('the parser factory must pass its options on to the parser');
  const results: HeadResult[] = [];
  let messageStart = 0; // offset in the input where the current message began
  let pieceOffset = 0; // offset in the input of the current piece's first byte
  for (const piece of pieces) {
    const buf = padded(piece);
    let start = PAD;
    while (start < buf.length) {
      const r = parser.execute(buf, start);
      if (r === null) break;
      if (r instanceof HttpError) {
        results.push(errorResult(r));
        return results;
      }
      const taken = pieceOffset + (start - PAD) + parser.consumed; // input offset after the head
      results.push(normalizeHead(r, taken - messageStart, input.subarray(messageStart)));
      if (results.length === messages) return results;
      messageStart = taken;
      start += parser.consumed;
    }
    // Taken: the parser must have kept what it needs.
    buf.fill(JUNK);
    pieceOffset += piece.length;
  }
  results.push('incomplete');
  return results;
}

export function feedWhole(input: Buffer, makeParser: MakeParser, messages = 1): HeadResult[] {
  return feedPieces([input], makeParser, messages);
}

/** One result per split: in two pieces, cut at every offset 1..n-1. */
export function feedSplitAtEveryOffset(input: Buffer, makeParser: MakeParser, messages = 1): HeadResult[][] {
  const out: HeadResult[][] = [];
  for (let k = 1; k < input.length; k++) out.push(feedPieces([input.subarray(0, k), input.subarray(k)], makeParser, messages));
  return out;
}

export function feedByteByByte(input: Buffer, makeParser: MakeParser, messages = 1): HeadResult[] {
  const pieces: Buffer[] = [];
  for (let k = 0; k < input.length; k++) pieces.push(input.subarray(k, k + 1));
  return feedPieces(pieces, makeParser, messages);
}

/** The ways to feed an input, each with a name for failure messages. */
function ways<R>(input: Buffer, feed: (pieces: Buffer[], options: ReaderOptions) => R): { how: string; result: R }[] {
  const out = [{ how: 'whole', result: feed([input], {}) }];
  for (let k = 1; k < input.length; k++) {
    out.push({ how: `split at ${k}`, result: feed([input.subarray(0, k), input.subarray(k)], {}) });
  }
  const bytes: Buffer[] = [];
  for (let k = 0; k < input.length; k++) bytes.push(input.subarray(k, k + 1));
  if (input.length > 1) out.push({ how: 'byte by byte', result: feed(bytes, {}) });
  return out;
}

/** The ways to feed a head: the ways above, and whole once more without the WebAssembly scan. */
function headWays(input: Buffer, makeParser: MakeParser, messages: number): { how: string; result: HeadResult[] }[] {
  const feed = (pieces: Buffer[], options: ReaderOptions) => feedPieces(pieces, makeParser, messages, input, options);
  return [...ways(input, feed), { how: 'whole, without WebAssembly', result: feed([input], { wasm: false }) }];
}

/**
 * Every way's results: whole, split at each offset, byte by byte. With messages = 1 each entry
 * is the one result; with more, each entry is the list of results.
 */
export function feedAllWays(input: Buffer, makeParser: MakeParser): HeadResult[];
export function feedAllWays(input: Buffer, makeParser: MakeParser, messages: number): HeadResult[][];
export function feedAllWays(input: Buffer, makeParser: MakeParser, messages = 1): HeadResult[] | HeadResult[][] {
  const all = headWays(input, makeParser, messages).map((w) => w.result);
  return messages === 1 ? all.map((r) => r[0]!) : all;
}

/**
 * One assertion: every way of feeding `input` gives `expected` (a single result, or a list of
 * results when `messages` > 1). On failure it names the first way that differed.
 */
export function expectAllWays(
  t: Test,
  input: Buffer,
  makeParser: MakeParser,
  expected: HeadResult | HeadResult[],
  messages = 1,
): void {
  expectSame(t, headWays(input, makeParser, messages), messages === 1 ? [expected as HeadResult] : expected);
}

function expectSame<R>(t: Test, results: { how: string; result: R }[], expected: unknown): void {
  const wrong = results.find((w) => !isDeepStrictEqual(w.result, expected));
  if (wrong === undefined) t.pass(`all ${results.length} ways`);
  else t.strictSame(wrong.result, expected, `fed ${wrong.how}`);
}

// ----------------------------------------------------------------------------------------------
// The chunked scanner.

/**
 * Feeds `pieces` to one scanner. Each piece sits between junk bytes and is scanned as
 * buf[PAD, PAD + length). Returns where the body ends in the whole input, the error, or
 * 'incomplete'.
 */
export function scanPieces(pieces: Buffer[], makeScanner: () => ChunkedScanner): ScanResult {
  const scanner = makeScanner();
  let pieceOffset = 0;
  for (const piece of pieces) {
    const buf = padded(piece, PAD);
    const r = scanner.scan(buf, PAD, PAD + piece.length);
    if (r instanceof HttpError) return errorResult(r);
    if (r >= 0) return pieceOffset + r - PAD;
    if (r !== -1) throw new Error(`scan returned ${r}`);
    buf.fill(JUNK);
    pieceOffset += piece.length;
  }
  return 'incomplete';
}

export function scanWhole(input: Buffer, makeScanner: () => ChunkedScanner): ScanResult {
  return scanPieces([input], makeScanner);
}

export function scanSplitAtEveryOffset(input: Buffer, makeScanner: () => ChunkedScanner): ScanResult[] {
  const out: ScanResult[] = [];
  for (let k = 1; k < input.length; k++) out.push(scanPieces([input.subarray(0, k), input.subarray(k)], makeScanner));
  return out;
}

export function scanByteByByte(input: Buffer, makeScanner: () => ChunkedScanner): ScanResult {
  const pieces: Buffer[] = [];
  for (let k = 0; k < input.length; k++) pieces.push(input.subarray(k, k + 1));
  return scanPieces(pieces, makeScanner);
}

export function scanAllWays(input: Buffer, makeScanner: () => ChunkedScanner): ScanResult[] {
  return ways(input, (pieces) => scanPieces(pieces, makeScanner)).map((w) => w.result);
}

export function expectScanAllWays(t: Test, input: Buffer, makeScanner: () => ChunkedScanner, expected: ScanResult): void {
  expectSame(t, ways(input, (pieces) => scanPieces(pieces, makeScanner)), expected);
}

// ----------------------------------------------------------------------------------------------
// The PROXY protocol header parser.

/** What the PROXY header parser's execute contract offers (src/http/proxy-protocol.ts). */
export interface ProxyParser {
  execute(buf: Uint8Array, at: number): object | { code: string; offset: number } | null;
  consumed: number;
}

/** A header as the parser returned it and the bytes of the input it took; an error's code and offset; or 'incomplete'. */
export type ProxyResult = { header: object; consumed: number } | { error: string; offset: number } | 'incomplete';

/** Feeds `pieces` to one new parser, each behind junk and overwritten once taken, as feedPieces does. */
export function proxyPieces(pieces: Buffer[], makeParser: () => ProxyParser): ProxyResult {
  const parser = makeParser();
  let pieceOffset = 0;
  for (const piece of pieces) {
    const buf = padded(piece);
    const r = parser.execute(buf, PAD);
    if (r !== null) {
      if ('code' in r && 'offset' in r) return { error: r.code, offset: r.offset };
      return { header: { ...r }, consumed: pieceOffset + parser.consumed };
    }
    buf.fill(JUNK);
    pieceOffset += piece.length;
  }
  return 'incomplete';
}

/** One assertion: `input` fed whole, split at every offset and byte by byte gives `expected` every way. */
export function expectProxyAllWays(t: Test, input: Buffer, makeParser: () => ProxyParser, expected: ProxyResult): void {
  expectSame(t, ways(input, (pieces) => proxyPieces(pieces, makeParser)), expected);
}
