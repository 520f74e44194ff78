// The fast path of HeadReader: when a head lies whole in the piece just read, as nearly every
// head does, its lines are found by head-scan.wat, WebAssembly that tests 16 bytes at once,
// and written into the reader's HeadLines exactly as HeadReader.scan writes them. Whatever
// that scan is not sure of goes back to HeadReader.scan, which reads the head from its start.

import { FIELD_STRIDE, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, fieldKind } from './fields.js';
import type { HeadLimits, HeadLines } from './head-lines.js';
import { HEAD_SCAN_WASM } from './head-scan-wasm.js';

/** The little of the WebAssembly API used here (TypeScript declares it only in its "dom" lib). */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module);
    readonly exports: unknown;
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
  }
  interface Global {
    readonly value: number;
  }
}

/** What head-scan.wat exports (see its memory map). */
interface HeadScanExports {
  memory: WebAssembly.Memory;
  LINE_COUNT: WebAssembly.Global;
  LINES: WebAssembly.Global;
  INPUT: WebAssembly.Global;
  scanHead(length: number, maxStartLine: number, maxFields: number): number;
}

/** Numbers per line in LINES: line start, CR, name end, value start, value end. */
const ENTRY = 5;

/**
 * Bytes copied for the first try. Heads are nearly always shorter; a longer one is copied on
 * to the end (at most `maxHead`) and scanned again, rather than copying a whole read (up to
 * 64 KiB, a body after the head) every time.
 */
const FIRST_TRY = 4096;

export class HeadScanner {
  private readonly scanHead: HeadScanExports['scanHead'];
  /** The module's memory, as bytes (for the input) and as 32-bit numbers (for the lines). */
  private readonly bytes: Uint8Array;
  private readonly numbers: Int32Array;
  private readonly lineCount: number;
  private readonly lines: number;
  private readonly input: number;
  /** The longest input: the rest of memory but the 0 byte and the 16 a vector load may read past it. */
  private readonly capacity: number;
  /** The most field lines LINES has room for. */
  private readonly maxLines: number;

  constructor(exports: HeadScanExports) {
    this.scanHead = exports.scanHead;
    this.bytes = new Uint8Array(exports.memory.buffer);
    this.numbers = new Int32Array(exports.memory.buffer);
    this.lineCount = exports.LINE_COUNT.value;
    this.lines = exports.LINES.value;
    this.input = exports.INPUT.value;
    this.capacity = this.bytes.length - this.input - 17;
    this.maxLines = Math.floor((this.input - this.lines) / (4 * ENTRY)) - 1; // entry 0 is the start line's
  }

  /**
   * Scans the head at buf[start, end) if it lies whole there and is of the common kind. Returns
   * the offset just past its empty line, with `lines` (but for buf, start, end and scratch)
   * filled in as HeadReader.scan fills them; or -1: HeadReader.scan must read it (it is
   * incomplete, malformed, at a limit, or unusual, such as an empty line before it).
   */
  scan(buf: Buffer, start: number, end: number, limits: HeadLimits, lines: HeadLines): number {
    const length = Math.min(end - start, limits.maxHead, this.capacity);
    const maxFields = Math.min(limits.maxFields, this.maxLines);
    let copied = Math.min(length, FIRST_TRY);
    this.copyIn(buf, start, 0, copied);
    let headLength = this.scanHead(copied, limits.maxStartLine, maxFields);
    if (headLength < 0 && copied < length) {
      this.copyIn(buf, start, copied, length);
      copied = length;
      headLength = this.scanHead(copied, limits.maxStartLine, maxFields);
    }
    if (headLength < 0) return -1;

    // From LINES into the reader's arrays, as offsets into buf.
    const { offsets, nameEnds, fields, kinds } = lines;
    const numbers = this.numbers;
    const count = numbers[this.lineCount >> 2]!;
    let e = this.lines >> 2;
    offsets[0] = start + numbers[e]!;
    offsets[1] = start + numbers[e + 1]!;
    for (let k = 1; k <= count; k++) {
      e += ENTRY;
      const line = start + numbers[e]!;
      const nameEnd = start + numbers[e + 2]!;
      offsets[2 * k] = line;
      offsets[2 * k + 1] = start + numbers[e + 1]!;
      nameEnds[k] = nameEnd;
      const at = FIELD_STRIDE * (k - 1);
      fields[at + F_LINE] = line;
      fields[at + F_NAME_END] = nameEnd;
      fields[at + F_VALUE] = start + numbers[e + 3]!;
      fields[at + F_VALUE_END] = start + numbers[e + 4]!;
      kinds[k - 1] = fieldKind(buf, line, nameEnd);
    }
    lines.count = count + 1;
    return start + headLength;
  }

  /** Copies buf[start + from, start + to) to INPUT + from, and puts the 0 byte after it. */
  private copyIn(buf: Buffer, start: number, from: number, to: number): void {
    const whole = start === 0 && from === 0 && to === buf.length;
    // A view made directly: subarray() would look up a species constructor.
    this.bytes.set(whole ? buf : new Uint8Array(buf.buffer, buf.byteOffset + start + from, to - from), this.input + from);
    this.bytes[this.input + to] = 0;
  }
}

/**
 * The process's one scanner, shared by every reader: a scan copies a head in and its lines
 * out within one call, so readers never see each other's bytes. Null without WebAssembly.
 */
export const headScanner: HeadScanner | null = load();

function load(): HeadScanner | null {
  /* c8 ignore next -- only in a Node without WebAssembly (node --jitless): every head is then read by HeadReader.scan, as the tests do with { wasm: false } */
  if (typeof WebAssembly !== 'object') return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(HEAD_SCAN_WASM));
  return new HeadScanner(instance.exports as HeadScanExports);
}
