// The incremental half of head parsing, shared by requests and responses: it finds the lines of
// a message head in bytes that arrive in pieces of any size, and enforces the line-level rules
// and the size limits. What the lines mean is read by the subclasses, once the head is complete.
//
// A head (RFC 9112 section 2.1) is a start line and field lines, each ended by CRLF, then an
// empty line:
//
//     GET /apple HTTP/1.1␍␊          <- start line
//     Host: www.mango.com␍␊          <- field line
//     ␍␊                              <- empty line: the head ends here, the body (if any) follows
//
// The reader is a small state machine. Its states, in the order they occur on the wire:
//
//   EMPTY_LINES  before the start line; a server SHOULD ignore at least one empty line (CRLF)
//                received there (RFC 9112 2.2). Requests only.
//   START_LINE   the bytes of the start line, up to its CR.
//   FIELD_NAME   the first bytes of a field line, as long as they are tchars: its name, when
//                the line is well-formed. Where they end is kept for the field parser, which
//                then does not read the name again. An empty line stops here at once.
//   FIELD_LINE   the rest of the field line, up to its CR; an empty line ends the head. At
//                the CR the line is split into name and value, and its name is recognised
//                (fields.ts), so that the parsers read only the few fields they act on.
//
// Inside every state, a CR must be followed by LF; that one-byte wait ("sawCR") may straddle
// two pieces. Every byte of a line must be a LINE_CHAR (chars.ts); anything else (NUL, a bare
// LF, other controls) is rejected where it is found.
//
// Checking every byte is where a head's time goes, since most of a head is long lines of
// ordinary bytes. So the check runs four bytes at a time (skipLineChars in chars.ts: word
// arithmetic, explained there), and a field's name is read once, here (FIELD_NAME), where the
// field parser would otherwise read it a second time.
//
// A fast path: when a new head lies whole in the piece just read, as nearly every head does,
// head-scan.ts finds its lines with WebAssembly that tests 16 bytes at once, the same lines
// this scan finds. Anything it is not sure of (a head cut short, a forbidden byte, a limit) it
// leaves to this scan, so every error and limit is decided here, in this file.
//
// No copy is kept in the common case: while a head arrives whole inside one piece, its lines
// are offsets into that piece (the fast path copies the head into WebAssembly memory to scan
// it, but the offsets it returns are into the piece). Only when a piece ends in the middle of a head are the bytes seen so
// far copied into a scratch buffer owned by the reader (allocated once, at most `maxHead` bytes),
// and later pieces are appended there until the head is complete. Scanning resumes where it
// stopped; no byte is looked at twice by this scan.

import { HttpError, type ErrorCode } from '../errors.js';
import { COLON, CR, HTAB, LF, LINE_CHAR, SP, skipLineChars, skipTokenChars, wordsOf } from './chars.js';
import { FIELD_STRIDE, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, Field, NOT_SPLIT, fieldKind } from './fields.js';
import { newHeadLines, type HeadLimits, type HeadLines } from './head-lines.js';
import { type HeadScanner, headScanner } from './head-scan.js';

/** How a reader reads. */
export interface ReaderOptions {
  /**
   * Whether a head that arrives whole is scanned by the WebAssembly fast path (head-scan.ts);
   * default true. With false, HeadReader.scan reads every head (the tests compare the two).
   */
  wasm?: boolean;
}

const EMPTY_LINES = 0;
const START_LINE = 1;
const FIELD_NAME = 2;
const FIELD_LINE = 3;

/**
 * What `scan` returns when it did not reach the end of the head. A number rather than the
 * HttpError itself keeps the hot path's result one type (a small integer) for the JIT; the
 * error waits in `failure`.
 */
const NEED_MORE = -1;
const FAILED = -2;

export abstract class HeadReader<Head> {
  private readonly limits: HeadLimits;
  /**
   * The lines of the last complete head. After a head is refused or given up on, `buf`, `start`
   * and `end` bound the bytes read of it that were valid (refused: up to the error), for a log
   * line to show what it can of it (refusedStartLine).
   */
  protected readonly lines: HeadLines;
  private readonly tooLong: ErrorCode;
  private readonly tooLarge: ErrorCode;
  private readonly malformed: ErrorCode | null;
  /** The fast path for heads that arrive whole (head-scan.ts), or null. */
  private readonly scanner: HeadScanner | null;

  private state = EMPTY_LINES;
  private sawCR = false;
  /** True while a head has begun but is not complete. */
  private inHead = false;
  /** Offsets in the buffer being scanned: where this message and the current line start. */
  private headStart = 0;
  private lineStart = 0;

  /** Holds a head that arrived in more than one piece; `filled` bytes of it are valid. */
  private scratch: Buffer | null = null;
  private filled = 0;
  private inScratch = false;

  /**
   * @param errors the codes for a start line over its limit and a head over its limits, and,
   *   when set, one code for every malformed line (responses: the client gets 502 whatever the
   *   backend did wrong).
   */
  constructor(limits: HeadLimits, errors: { tooLong: ErrorCode; tooLarge: ErrorCode; malformed?: ErrorCode }, options: ReaderOptions = {}) {
    this.limits = limits;
    this.scanner = options.wasm === false ? null : headScanner;
    this.tooLong = errors.tooLong;
    this.tooLarge = errors.tooLarge;
    this.malformed = errors.malformed ?? null;
    this.lines = newHeadLines(limits);
  }

  /** Requests may be preceded by empty lines; responses may not. */
  protected abstract readonly skipsEmptyLines: boolean;

  /** Reads the meaning of a complete head's lines: a parsed head, or the first error found. */
  protected abstract parse(lines: HeadLines): Head | HttpError;

  /**
   * Feeds the bytes chunk[start..]. Returns
   *   - null: every byte was taken into a head that is not complete yet; feed the next piece;
   *   - a parsed head: complete; `consumed` bytes of `chunk` (from `start`) belonged to it;
   *   - an HttpError: the head is malformed; stop reading this connection.
   * After a head or an error the reader is ready for the next message.
   */
  execute(chunk: Buffer, start: number): Head | HttpError | null {
    let buf: Buffer;
    let from: number;
    let end: number;
    let copied = 0;
    if (this.inScratch) {
      // The head began in an earlier piece: append what fits to the scratch buffer.
      const scratch = this.scratch!;
      copied = Math.min(scratch.length - this.filled, chunk.length - start);
      chunk.copy(scratch, this.filled, start, start + copied);
      buf = scratch;
      from = this.filled;
      end = this.filled += copied;
    } else {
      buf = chunk;
      from = start;
      end = chunk.length;
      if (!this.inHead) {
        // A new head: if it lies whole in this piece, the fast path finds its lines.
        if (this.scanner !== null) {
          const at = this.scanner.scan(chunk, start, end, this.limits, this.lines);
          if (at >= 0) return this.complete(chunk, start, at, at - start);
        }
        this.begin(start);
      }
    }

    const at = this.scan(buf, from, end);
    if (at === FAILED) return this.fail(buf, this.failure!);
    // Complete. How much of *this* chunk did the head take?
    if (at >= 0) return this.complete(buf, this.headStart, at, this.inScratch ? at - from : at - start);
    // Incomplete. If scanning stopped at the head limit while more bytes were there, the head
    // is too large; if the bytes simply ran out, wait for more.
    if (this.position === this.headStart + this.limits.maxHead) {
      const more = this.inScratch ? copied < chunk.length - start : this.position < end;
      if (more) return this.fail(buf, new HttpError(this.tooLarge, this.limits.maxHead));
    }
    if (!this.inScratch) this.moveToScratch(buf, end);
    return null;
  }

  /** The lines of a complete head, buf[start, end), are found: read what they mean. */
  private complete(buf: Buffer, start: number, end: number, consumed: number): Head | HttpError {
    this.consumed = consumed;
    this.lines.buf = buf;
    this.lines.scratch = this.inScratch;
    this.lines.start = start;
    this.lines.end = end;
    this.inHead = false;
    this.inScratch = false;
    return this.parse(this.lines);
  }

  /** Whether heads that arrive whole go through the WebAssembly scan (ReaderOptions.wasm). */
  get wasm(): boolean {
    return this.scanner !== null;
  }

  /** Bytes of the last chunk fed to `execute` that belonged to the head it returned. */
  consumed = 0;

  /** Forgets any partial head (e.g. the connection is reused for something else). */
  reset(): void {
    this.inHead = false;
    this.inScratch = false;
  }

  /**
   * Gives up on the head in progress (it took too long): forgotten as by reset(), its bytes so
   * far are what refusedStartLine reads.
   */
  abandon(): void {
    // A head in progress is in the scratch buffer (execute moves it there before it returns null).
    if (this.inScratch) this.bound(this.scratch!, 0, this.filled);
    else this.bound(this.lines.buf, 0, 0);
    this.reset();
  }

  /**
   * The start line of the head just refused (or abandoned), as [start, end) offsets into
   * `lines.buf`, when it arrived whole (its CRLF among the valid bytes); null when it did not.
   * Empty lines before it are skipped, as the scan skips them.
   */
  protected refusedStartLine(): [number, number] | null {
    const { buf, end } = this.lines;
    let i = this.lines.start;
    while (i + 1 < end && buf[i] === CR && buf[i + 1] === LF) i += 2;
    // A CR with a byte after it among the valid bytes is a CRLF: the scan refuses a bare CR where it is.
    for (let j = i; j + 1 < end; j++) if (buf[j] === CR) return [i, j];
    return null;
  }

  /** What refusedStartLine looks at: buf[start, end). */
  private bound(buf: Buffer, start: number, end: number): void {
    this.lines.buf = buf;
    this.lines.start = start;
    this.lines.end = end;
  }

  /** Where scanning stopped, in the buffer being scanned. */
  private position = 0;
  /** The error `scan` found, when it returned FAILED. */
  private failure: HttpError | null = null;

  private begin(start: number): void {
    this.inHead = true;
    this.state = this.skipsEmptyLines ? EMPTY_LINES : START_LINE;
    this.sawCR = false;
    this.headStart = this.lineStart = start;
    this.lines.count = 0;
  }

  /** The head in `buf` is refused for `err`: its bytes up to the error stay for refusedStartLine. */
  private fail(buf: Buffer, err: HttpError): HttpError {
    this.bound(buf, this.headStart, this.headStart + err.offset);
    this.inHead = false;
    this.inScratch = false;
    return err;
  }

  /**
   * The state machine. Scans buf[i, end) and returns the offset just past the head's final
   * CRLF, NEED_MORE if more bytes are needed, or FAILED with the error in `this.failure`.
   * Never reads past the head limit.
   *
   * The state lives in fields between calls but in local variables during one: a field read is
   * a memory load the JIT cannot keep in a register across the loop, a local is not.
   */
  private scan(buf: Buffer, i: number, end: number): number {
    const limits = this.limits;
    const headLimit = this.headStart + limits.maxHead;
    const stop = end < headLimit ? end : headLimit;
    const offsets = this.lines.offsets;
    const nameEnds = this.lines.nameEnds;
    const fields = this.lines.fields;
    const kinds = this.lines.kinds;
    const words = wordsOf(buf);
    const at = buf.byteOffset;
    let state = this.state;
    let sawCR = this.sawCR;
    let lineStart = this.lineStart;
    let count = this.lines.count;

    while (i < stop) {
      if (sawCR) {
        // RFC 9112 2.2: a CR not followed by LF is invalid (a "bare CR").
        if (buf[i] !== LF) return this.error('BARE_CR', i);
        sawCR = false;
        const lineEnd = i - 1; // the CR
        i++;
        if (state === START_LINE) {
          offsets[0] = lineStart;
          offsets[1] = lineEnd;
          count = 1;
          state = FIELD_NAME;
        } else if (state === FIELD_LINE) {
          if (lineEnd === lineStart) {
            this.lines.count = count;
            return i; // the empty line: end of the head (RFC 9112 2.1)
          }
          if (count > limits.maxFields) return this.error(this.tooLarge === 'HEAD_TOO_LARGE' ? 'TOO_MANY_FIELDS' : this.tooLarge, lineStart);
          offsets[2 * count] = lineStart;
          offsets[2 * count + 1] = lineEnd;
          // Split the line: field-line = field-name ":" OWS field-value OWS (RFC 9112 5), the
          // value without the OWS around it (RFC 9112 5.1). Written out here rather than called:
          // V8 inlines only so much bytecode into one function (scan is at its limit), and a
          // call per line, or a comparison left out of line in fieldKind, costs ~5% of a head.
          const nameEnd = nameEnds[count]!;
          const at = FIELD_STRIDE * (count - 1);
          fields[at + F_LINE] = lineStart;
          fields[at + F_NAME_END] = nameEnd;
          if (nameEnd !== lineStart && nameEnd !== lineEnd && buf[nameEnd] === COLON) {
            // OWS = *( SP / HTAB ), compared here without isOws (chars.ts) for the same reason.
            let valueStart = nameEnd + 1;
            while (valueStart < lineEnd && (buf[valueStart] === SP || buf[valueStart] === HTAB)) valueStart++;
            let valueEnd = lineEnd;
            while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
            fields[at + F_VALUE] = valueStart;
            fields[at + F_VALUE_END] = valueEnd;
            kinds[count - 1] = fieldKind(buf, lineStart, nameEnd);
          } else {
            // No name, or no colon after it: fieldLineError says which, when the parser gets here.
            fields[at + F_VALUE] = NOT_SPLIT;
            fields[at + F_VALUE_END] = NOT_SPLIT;
            kinds[count - 1] = Field.OTHER;
          }
          count++;
          state = FIELD_NAME;
        }
        // else EMPTY_LINES: an empty line before the start line is ignored (RFC 9112 2.2).
        lineStart = i;
        continue;
      }

      if (state === EMPTY_LINES) {
        if (buf[i] === CR) {
          sawCR = true;
          i++;
          continue;
        }
        state = START_LINE;
        lineStart = i;
      } else if (state === FIELD_NAME) {
        i = skipTokenChars(buf, i, stop);
        if (i === stop) break;
        nameEnds[count] = i;
        state = FIELD_LINE;
      }

      // The bytes of one line, as far as they go: where a head spends its time.
      let lineLimit = stop;
      if (state === START_LINE) {
        const startLineLimit = lineStart + limits.maxStartLine;
        if (startLineLimit < lineLimit) lineLimit = startLineLimit;
      }
      i = skipLineChars(buf, words, at, i, lineLimit);
      if (i === stop) break;

      const b = buf[i]!;
      if (b === CR) {
        sawCR = true;
        i++;
      } else if (LINE_CHAR[b] === 1) {
        // The scan stopped on a valid byte, so it stopped at the start line's limit.
        return this.error(this.tooLong, i);
      } else if (b === LF) {
        // RFC 9112 2.2: a recipient MAY accept a bare LF as a line terminator; we do not, since
        // the next hop may not, and a head read two ways is how request smuggling begins.
        return this.error('BARE_LF', i);
      } else {
        // NUL, DEL or another control (RFC 9110 5.5: such a value is invalid).
        return this.error('BAD_CHARACTER', i);
      }
    }
    this.state = state;
    this.sawCR = sawCR;
    this.lineStart = lineStart;
    this.lines.count = count;
    this.position = i;
    return NEED_MORE;
  }

  /** Keeps the error found at buf[at] for `execute` to return; returns FAILED. */
  private error(code: ErrorCode, at: number): number {
    const limit = code === this.tooLong || code === this.tooLarge;
    this.failure = new HttpError(this.malformed !== null && !limit ? this.malformed : code, at - this.headStart);
    return FAILED;
  }

  /** The piece ends inside a head: keep its bytes so far, with every offset moved to match. */
  private moveToScratch(buf: Buffer, end: number): void {
    const delta = this.headStart;
    if (this.scratch === null) this.scratch = Buffer.allocUnsafe(this.limits.maxHead);
    buf.copy(this.scratch, 0, delta, end);
    this.filled = end - delta;
    const { offsets, nameEnds, fields, count } = this.lines;
    for (let k = 0; k < 2 * count; k++) offsets[k]! -= delta;
    // The field lines split so far (count - 1 of them); NOT_SPLIT stays as it is.
    for (let k = 0; k < FIELD_STRIDE * (count - 1); k++) if (fields[k] !== NOT_SPLIT) fields[k]! -= delta;
    // Up to and including the line being read, whose name may have ended already.
    for (let k = 1; k <= count; k++) nameEnds[k]! -= delta;
    this.lineStart -= delta;
    this.position -= delta;
    this.headStart = 0;
    this.inScratch = true;
  }
}
