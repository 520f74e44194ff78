// The chunked-body scanner: finds where a chunked body ends while its bytes pass through
// unchanged (the balancer never de-chunks). Incremental: fed pieces split anywhere. Pure.
//
//   chunked-body   = *chunk last-chunk trailer-section CRLF          (RFC 9112 7.1)
//   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   chunk-size     = 1*HEXDIG
//   last-chunk     = 1*("0") [ chunk-ext ] CRLF
//   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   trailer-section = *( field-line CRLF )
//
// States, in wire order:
//   SIZE          hex digits of chunk-size
//   EXTENSION     after ";" up to CR: bounded, and only field-value characters
//   SIZE_LF       the LF after the size line's CR
//   DATA          chunk-data: skipped by count, never looked at
//   DATA_CR       the CR that must follow chunk-data
//   DATA_LF       and its LF
//   TRAILER_START the start of a trailer line, or the CR of the final empty line
//   TRAILER_NAME  a trailer field name up to ":"
//   TRAILER_VALUE the rest of a trailer line up to CR
//   TRAILER_LF    the LF ending a trailer line
//   END_LF        the LF of the final empty line: the body ends after it

import { HttpError, type ErrorCode } from '../errors.js';
import { COLON, CR, HEX_VALUE, LF, LINE_CHAR, TCHAR, lower } from './chars.js';

const SIZE = 0;
const EXTENSION = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER_START = 6;
const TRAILER_NAME = 7;
const TRAILER_VALUE = 8;
const TRAILER_LF = 9;
const END_LF = 10;

/** Bounds that keep a hostile body from making the scanner do unbounded work per byte. */
export interface ChunkedLimits {
  /** Most bytes of chunk extensions in one size line. */
  maxExtension: number;
  /** Most bytes of the whole trailer section. */
  maxTrailers: number;
}

export const DEFAULT_CHUNKED_LIMITS: ChunkedLimits = { maxExtension: 4096, maxTrailers: 16 * 1024 };

/** Field names that must not be trailers, one bit each, matched as the name's bytes arrive. */
const FRAMING_NAMES = ['content-length', 'transfer-encoding'];
const FRAMING_NAMES_ALL = (1 << FRAMING_NAMES.length) - 1;

/** The framing names whose byte at `index` is `b` (lower case), as bits. */
function framingNamesWith(b: number, index: number): number {
  let bits = 0;
  for (let n = 0; n < FRAMING_NAMES.length; n++) if (FRAMING_NAMES[n]!.charCodeAt(index) === b) bits |= 1 << n;
  return bits;
}

/** Whether a name of `length` bytes that still matches `bits` is one of the framing names. */
function isWholeFramingName(bits: number, length: number): boolean {
  for (let n = 0; n < FRAMING_NAMES.length; n++) if ((bits & (1 << n)) !== 0 && FRAMING_NAMES[n]!.length === length) return true;
  return false;
}

/** 16 hex digits are 64 bits; we also stop at 2^53-1 so the count stays an exact number. */
const MAX_SIZE_DIGITS = 16;

export class ChunkedScanner {
  private state = SIZE;
  /** Digits read of the current chunk-size. */
  private digits = 0;
  /** The chunk size being read, then the data bytes still to skip. */
  private remaining = 0;
  /** Bytes seen in the current extension or the trailer section, against the limits. */
  private extra = 0;
  /** Bytes of the body seen so far: error offsets count from the body's first byte. */
  private seen = 0;
  /** The trailer name being read: its length, and which framing names it still matches (bits). */
  private nameLength = 0;
  private framingName = 0;
  /** Data bytes the chunk sizes so far announced, against `maxData`. */
  private data = 0;

  constructor(
    private readonly limits: ChunkedLimits = DEFAULT_CHUNKED_LIMITS,
    /** Most data bytes of a body (limits.max_body); 0 = no limit. */
    private readonly maxData = 0,
  ) {}

  /** Starts a new body. */
  reset(): void {
    this.state = SIZE;
    this.digits = 0;
    this.remaining = 0;
    this.extra = 0;
    this.seen = 0;
    this.data = 0;
  }

  /**
   * Scans buf[start, end). Returns the offset just past the body's last byte if the body ends
   * in this piece, -1 if every byte belongs to the body and more are to come, or an HttpError.
   */
  scan(buf: Buffer, start: number, end: number): number | HttpError {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case SIZE: {
          const b = buf[i]!;
          const v = HEX_VALUE[b]!;
          if (v !== 255) {
            if (++this.digits > MAX_SIZE_DIGITS || this.remaining > (Number.MAX_SAFE_INTEGER - v) / 16) {
              return this.error('CHUNK_SIZE_TOO_LARGE', start, i);
            }
            this.remaining = this.remaining * 16 + v;
            i++;
            break;
          }
          // chunk-size = 1*HEXDIG: no sign, no space, no "0x".
          if (this.digits === 0) return this.error('BAD_CHUNK_SIZE', start, i);
          if (b === CR) this.state = SIZE_LF;
          else if (b === 0x3b /* ; */) {
            this.state = EXTENSION;
            this.extra = 0;
          } else return this.error('BAD_CHUNK_SIZE', start, i);
          i++;
          break;
        }
        case EXTENSION: {
          // The extension is passed through, never interpreted: we only bound it and keep
          // controls (and so bare CR / LF) out of it. Its first byte follows ";".
          const j = this.scanLine(buf, i, end, this.limits.maxExtension);
          if (j < 0) return this.error('BAD_CHUNK_EXTENSION', start, i + this.limits.maxExtension - this.extra);
          this.extra += j - i;
          i = j;
          if (i === end) break;
          if (buf[i] !== CR) return this.error('BAD_CHUNK_EXTENSION', start, i);
          this.state = SIZE_LF;
          i++;
          break;
        }
        case SIZE_LF:
          if (buf[i] !== LF) return this.error('BAD_CHUNK_SIZE', start, i);
          i++;
          this.digits = 0;
          // A chunk whose data would pass maxData is refused at its size line, before any of
          // its data: whoever stops forwarding here has sent at most maxData bytes of data.
          if (this.maxData > 0 && (this.data += this.remaining) > this.maxData) return this.error('BODY_TOO_LARGE', start, i);
          if (this.remaining === 0) {
            // last-chunk: a trailer section follows.
            this.state = TRAILER_START;
            this.extra = 0;
          } else this.state = DATA;
          break;
        case DATA: {
          // Skip the data by count: the only state that does not look at its bytes.
          const n = Math.min(this.remaining, end - i);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = DATA_CR;
          break;
        }
        case DATA_CR:
          // RFC 9112 7.1: chunk-data is followed by CRLF, exactly; anything else means the size
          // lied, and the rest cannot be framed.
          if (buf[i] !== CR) return this.error('BAD_CHUNK_DATA_END', start, i);
          this.state = DATA_LF;
          i++;
          break;
        case DATA_LF:
          if (buf[i] !== LF) return this.error('BAD_CHUNK_DATA_END', start, i);
          this.state = SIZE;
          i++;
          break;
        case TRAILER_START:
          if (buf[i] === CR) {
            this.state = END_LF;
            i++;
            break;
          }
          this.state = TRAILER_NAME;
          this.nameLength = 0;
          this.framingName = FRAMING_NAMES_ALL;
          // The name must not be empty.
          if (TCHAR[buf[i]!] !== 1) return this.error('BAD_TRAILER', start, i);
          break;
        case TRAILER_NAME: {
          const b = buf[i]!;
          if (TCHAR[b] === 1) {
            this.framingName &= framingNamesWith(lower(b), this.nameLength++);
            i++;
            if (++this.extra > this.limits.maxTrailers) return this.error('BAD_TRAILER', start, i - 1);
            break;
          }
          // field-name ":" with no whitespace before the colon (RFC 9112 5.1).
          if (b !== COLON) return this.error('BAD_TRAILER', start, i);
          // RFC 9110 6.5.1: a field may be a trailer only if its definition allows it; the framing
          // fields never may. Whoever reads them there reads the body's length a second way.
          if (isWholeFramingName(this.framingName, this.nameLength)) return this.error('BAD_TRAILER', start, i);
          this.state = TRAILER_VALUE;
          i++;
          break;
        }
        case TRAILER_VALUE: {
          const j = this.scanLine(buf, i, end, this.limits.maxTrailers);
          if (j < 0) return this.error('BAD_TRAILER', start, i + this.limits.maxTrailers - this.extra);
          this.extra += j - i;
          i = j;
          if (i === end) break;
          if (buf[i] !== CR) return this.error('BAD_TRAILER', start, i);
          this.state = TRAILER_LF;
          i++;
          break;
        }
        case TRAILER_LF:
          if (buf[i] !== LF) return this.error('BAD_TRAILER', start, i);
          this.state = TRAILER_START;
          i++;
          break;
        default: // END_LF
          if (buf[i] !== LF) return this.error('BAD_TRAILER', start, i);
          this.reset();
          return i + 1;
      }
    }
    this.seen += end - start;
    return -1;
  }

  /**
   * Skips LINE_CHARs from i; returns where they stop, or -1 if they run past `limit` bytes
   * counted in `extra` (the limit is crossed at the same byte however the input was split).
   */
  private scanLine(buf: Buffer, i: number, end: number, limit: number): number {
    const stop = Math.min(end, i + limit - this.extra + 1);
    let j = i;
    while (j < stop && LINE_CHAR[buf[j]!] === 1) j++;
    return this.extra + (j - i) > limit ? -1 : j;
  }

  private error(code: ErrorCode, start: number, at: number): HttpError {
    return new HttpError(code, this.seen + at - start);
  }
}
