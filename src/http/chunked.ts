// The chunked-body scanner: finds where a chunked body ends while its bytes pass through
// unchanged (the balancer never de-chunks). Incremental: fed pieces split anywhere. Pure.
//
//   chunked-body   = *chunk last-chunk trailer-section CRLF          (RFC 9112 7.1)
//   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   chunk-size     = 1*HEXDIG
//   last-chunk     = 1*("0") [ chunk-ext ] CRLF
//   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )   (7.1.1)
//   chunk-ext-name = token
//   chunk-ext-val  = token / quoted-string
//   trailer-section = *( field-line CRLF )
//
// States, in wire order:
//   SIZE          hex digits of chunk-size
//   EXT_BWS       BWS after the size or after an extension's value: only ";" may follow
//   EXT_NAME_BWS  BWS after ";", up to the extension's name
//   EXT_NAME      chunk-ext-name, a token
//   EXT_NAME_END  BWS after the name: "=" or ";" must follow
//   EXT_VALUE_BWS BWS after "=", up to the value
//   EXT_TOKEN     a value that is a token
//   EXT_QUOTED    a value that is a quoted-string, after its opening DQUOTE
//   EXT_ESCAPE    the byte after a backslash in a quoted-string (quoted-pair)
//   EXT_QUOTE_END just after the closing DQUOTE: ";", BWS or the line's CR
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
import { COLON, CR, HEX_VALUE, LF, LINE_CHAR, TCHAR, isOws, lower } from './chars.js';

const SIZE = 0;
const EXT_BWS = 1;
const EXT_NAME_BWS = 2;
const EXT_NAME = 3;
const EXT_NAME_END = 4;
const EXT_VALUE_BWS = 5;
const EXT_TOKEN = 6;
const EXT_QUOTED = 7;
const EXT_ESCAPE = 8;
const EXT_QUOTE_END = 9;
const SIZE_LF = 10;
const DATA = 11;
const DATA_CR = 12;
const DATA_LF = 13;
const TRAILER_START = 14;
const TRAILER_NAME = 15;
const TRAILER_VALUE = 16;
const TRAILER_LF = 17;
const END_LF = 18;

/** What nextExtensionState returns for a byte the grammar does not allow there. */
const REJECT = -1;

/** Bounds that keep a hostile body from making the scanner do unbounded work per byte. */
export interface ChunkedLimits {
  /** Most bytes of chunk-ext in one size line: all of them between the chunk-size and the CR. */
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

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The state after byte `b` of a chunk-ext read in `state` (one of the EXT_ states), SIZE_LF for
 * the CR that ends the size line where the grammar lets it, or REJECT:
 *   chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )  (RFC 9112 7.1.1)
 *   chunk-ext-val = token / quoted-string
 *   quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE                      (RFC 9110 5.6.4)
 *   qdtext        = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
 *   quoted-pair   = "\" ( HTAB / SP / VCHAR / obs-text )
 * BWS comes only around ";" and "=": a size line cannot end in whitespace, and ";" must
 * be followed by a name.
 */
function nextExtensionState(state: number, b: number): number {
  switch (state) {
    case EXT_BWS:
      if (isOws(b)) return EXT_BWS;
      return b === SEMICOLON ? EXT_NAME_BWS : REJECT;
    case EXT_NAME_BWS:
      if (isOws(b)) return EXT_NAME_BWS;
      return TCHAR[b] === 1 ? EXT_NAME : REJECT;
    case EXT_NAME:
      if (TCHAR[b] === 1) return EXT_NAME;
      if (b === EQUALS) return EXT_VALUE_BWS;
      if (isOws(b)) return EXT_NAME_END;
      return endOfElement(b);
    case EXT_NAME_END:
      if (isOws(b)) return EXT_NAME_END;
      if (b === EQUALS) return EXT_VALUE_BWS;
      return b === SEMICOLON ? EXT_NAME_BWS : REJECT;
    case EXT_VALUE_BWS:
      if (isOws(b)) return EXT_VALUE_BWS;
      if (b === DQUOTE) return EXT_QUOTED;
      return TCHAR[b] === 1 ? EXT_TOKEN : REJECT;
    case EXT_TOKEN:
      if (TCHAR[b] === 1) return EXT_TOKEN;
      return isOws(b) ? EXT_BWS : endOfElement(b);
    case EXT_QUOTED:
      if (b === DQUOTE) return EXT_QUOTE_END;
      if (b === BACKSLASH) return EXT_ESCAPE;
      // qdtext is every LINE_CHAR but DQUOTE and backslash, both taken above.
      return LINE_CHAR[b] === 1 ? EXT_QUOTED : REJECT;
    case EXT_ESCAPE:
      return LINE_CHAR[b] === 1 ? EXT_QUOTED : REJECT;
    default: // EXT_QUOTE_END
      return isOws(b) ? EXT_BWS : endOfElement(b);
  }
}

/** After a whole extension (a name, or a name and its value): the next one, or the line's end. */
function endOfElement(b: number): number {
  if (b === SEMICOLON) return EXT_NAME_BWS;
  return b === CR ? SIZE_LF : REJECT;
}

export class ChunkedScanner {
  private state = SIZE;
  /** Digits read of the current chunk-size. */
  private digits = 0;
  /** The chunk size being read, then the data bytes still to skip. */
  private remaining = 0;
  /** Bytes seen of the current chunk-ext or of the trailer section, against the limits. */
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
          // chunk-size = 1*HEXDIG: no sign, no space, no "0x". Then the line's CR, or a chunk-ext,
          // which begins with ";" or with the BWS before it (RFC 9110 5.6.3: BWS is optional
          // whitespace that a recipient MUST parse and may remove; we pass it on as it came).
          if (this.digits === 0) return this.error('BAD_CHUNK_SIZE', start, i);
          if (b === CR) this.state = SIZE_LF;
          else if (b === SEMICOLON || isOws(b)) {
            this.state = b === SEMICOLON ? EXT_NAME_BWS : EXT_BWS;
            this.extra = 1; // bytes of chunk-ext so far
          } else return this.error('BAD_CHUNK_SIZE', start, i);
          i++;
          break;
        }
        case EXT_BWS:
        case EXT_NAME_BWS:
        case EXT_NAME:
        case EXT_NAME_END:
        case EXT_VALUE_BWS:
        case EXT_TOKEN:
        case EXT_QUOTED:
        case EXT_ESCAPE:
        case EXT_QUOTE_END: {
          // The extension is checked against its grammar, byte by byte, and passed on unchanged.
          // A bare LF or CR inside is a 400 (RFC 9112 2.2): a hop that took one for the line's
          // end would read the chunk data from another byte than we do (the "funky chunks"
          // desyncs). Bounded, as RFC 9112 7.1.1 asks of a server.
          const next = nextExtensionState(this.state, buf[i]!);
          if (next === REJECT) return this.error('BAD_CHUNK_EXTENSION', start, i);
          if (next !== SIZE_LF && ++this.extra > this.limits.maxExtension) return this.error('BAD_CHUNK_EXTENSION', start, i);
          this.state = next;
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
