// Character classes of the HTTP grammar as 256-entry lookup tables: one array index per byte
// instead of a chain of comparisons, with the ABNF each table encodes written above it.

/** Builds a table with 1 for every byte for which `member` is true. */
function table(member: (byte: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = member(b) ? 1 : 0;
  return t;
}

const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isAlpha = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

/**
 * RFC 9110 5.6.2:
 *   token = 1*tchar
 *   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 */
export const TCHAR = table((b) => isDigit(b) || isAlpha(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)));

/** The offset of the first byte of buf[i, end) that is not a tchar, or `end`. */
export function skipTokenChars(buf: Buffer, i: number, end: number): number {
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  return i;
}

/**
 * Bytes that may appear inside a head line (RFC 9110 5.5, RFC 9112 4):
 *   field-value chars = VCHAR / SP / HTAB / obs-text
 *   VCHAR = %x21-7E, obs-text = %x80-FF
 * CR, LF, NUL, DEL and the other controls end the scan and are judged by the caller.
 */
export const LINE_CHAR = table((b) => b === 0x09 || (b >= 0x20 && b <= 0x7e) || b >= 0x80);

/**
 * The 32-bit words of the memory under `buf`, for `skipLineChars`: an Int32Array over the
 * whole ArrayBuffer, so byte buf[i] lies in word (buf.byteOffset + i) >> 2. Made once per
 * ArrayBuffer and kept for the next call (one buffer at a time, for the whole process), as a
 * socket's chunks and the reader's scratch buffer are reused for many heads.
 */
export function wordsOf(buf: Buffer): Int32Array {
  const memory = buf.buffer;
  if (memory !== lastMemory) {
    lastMemory = memory;
    lastWords = new Int32Array(memory, 0, memory.byteLength >> 2);
  }
  return lastWords;
}
let lastMemory: ArrayBufferLike = new ArrayBuffer(0);
let lastWords: Int32Array = new Int32Array(0);

/**
 * Whether this machine keeps the lowest byte of a 32-bit word first in memory (x86, ARM, RISC-V:
 * nearly all). Then the first byte of a word in buffer order is its lowest byte, and the first
 * marked byte of a word is found from its lowest set bit (firstMarked). Big-endian machines
 * (s390x) take the byte-by-byte loop instead.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * For k = 0..3 bytes of a word that lie before the scan's start, a mask of those bytes (the low
 * ones, little-endian). A scan's first word is read whole, with those bytes replaced by "A"
 * (0x41, a LINE_CHAR), so that no byte outside the range can stop the scan.
 */
const BEFORE = [0, 0xff, 0xffff, 0xffffff];
const AAAA = 0x41414141;

/**
 * The index (0-3) of the first byte of a word whose bit 7 is set in `marks`: the lowest set bit,
 * `marks & -marks`, is 2^(8k + 7) for byte k, and Math.clz32 counts the zeros above it.
 */
function firstMarked(marks: number): number {
  return (31 - Math.clz32(marks & -marks)) >> 3;
}

/**
 * The offset of the first byte of buf[i, end) that is not a LINE_CHAR, or `end` if all are:
 * the same as `while (i < end && LINE_CHAR[buf[i]] === 1) i++`, but several times as fast on
 * long lines, where a head spends most of its time. `words` is wordsOf(buf), `at` is
 * buf.byteOffset. Four bytes at a time (see lineMarks): the word holding buf[i] (with the bytes
 * before i made harmless), then whole words until one has a marked byte, found from the marks;
 * an HTAB is marked but allowed, so the scan goes on past it. The bytes after the last whole
 * word inside the range, one at a time. Reading the first word whole and finding the stop from
 * the marks, instead of looking at the bytes around the words one by one, matters for the many
 * short lines of a head (": navigate").
 */
export function skipLineChars(buf: Buffer, words: Int32Array, at: number, i: number, end: number): number {
  /* c8 ignore next -- big-endian machines only: no CI runs on one */
  if (!LITTLE_ENDIAN) return skipBytes(buf, i, end);
  const lastWord = (at + end) >> 2; // words before this one lie wholly before `end`
  for (;;) {
    let w = (at + i) >> 2;
    if (w >= lastWord) return skipBytes(buf, i, end);
    const before = BEFORE[(at + i) & 3]!;
    let marks = lineMarks((words[w]! & ~before) | (AAAA & before));
    if (marks === 0) {
      w++;
      // Long lines (a cookie) two words per test: one branch per eight bytes.
      while (w + 1 < lastWord && (lineMarks(words[w]!) | lineMarks(words[w + 1]!)) === 0) w += 2;
      while (w < lastWord && lineMarks(words[w]!) === 0) w++;
      if (w === lastWord) return skipBytes(buf, 4 * w - at, end);
      marks = lineMarks(words[w]!);
    }
    i = 4 * w - at + firstMarked(marks);
    if (buf[i] !== HTAB) return i;
    i++;
  }
}

/** skipLineChars one byte at a time: for the few bytes after the last whole word. */
function skipBytes(buf: Buffer, i: number, end: number): number {
  while (i < end && LINE_CHAR[buf[i]!] === 1) i++;
  return i;
}

/**
 * Bit 7 of every byte of the 32-bit word x that is a control (below 0x20) or DEL (0x7F): the
 * bytes that are not LINE_CHARs, plus HTAB. This is "SWAR", SIMD within a register: four byte
 * tests done by one arithmetic expression on a whole word. Think of one byte b of the word and
 * of bit 7, its top bit, in each result:
 *
 *   b - 0x20          has bit 7 set when b < 0x20 (it wrapped below zero), or when b >= 0xA0;
 *   ~b                has bit 7 set when b < 0x80, which rules out the second case, so
 *   (b - 0x20) & ~b   has bit 7 set exactly when b < 0x20.
 *   (b ^ 0x7F) - 1    is the same test for "b ^ 0x7F is below 1", that is b is 0x7F (DEL);
 *                     ^ 0x7F leaves bit 7 alone, so ~b rules out b >= 0x80 here as well.
 *
 * Subtracting 0x20202020 from the whole word subtracts 0x20 from every byte at once, except
 * that a byte that wraps borrows 1 from the byte above it, which may make that one wrap too:
 * bits above the first marked byte can be wrong. But a borrow only starts at a byte that really
 * is marked, and goes up, so the lowest mark is always right, and that is the one we use.
 * (In JavaScript `x - 0x20202020` may leave the int32 range; `|` and `&` take it modulo 2^32,
 * which is the wrapping subtraction we want.)
 */
function lineMarks(x: number): number {
  return ((x - 0x20202020) | ((x ^ 0x7f7f7f7f) - 0x01010101)) & ~x & 0x80808080;
}

/**
 * request-target characters (RFC 9112 3.2, RFC 3986 appendix A): printable ASCII, no space.
 * We are strict: controls, SP, DEL and bytes >= 0x80 are rejected, as HAProxy does, and so is
 * "#": a fragment is never part of a request-target (RFC 9112 3.2).
 */
export const TARGET_CHAR = table((b) => b >= 0x21 && b <= 0x7e && b !== 0x23);

/**
 * Host field value (RFC 9110 7.2, RFC 3986 3.2.2):
 *   Host = uri-host [ ":" port ]
 *   reg-name = *( unreserved / pct-encoded / sub-delims )
 *   unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
 *   sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
 * plus "%" for pct-encoded, and "[" "]" ":" for IP-literals and the port.
 */
export const HOST_CHAR = table(
  (b) => isDigit(b) || isAlpha(b) || "-._~!$&'()*+,;=%[]:".includes(String.fromCharCode(b)),
);

/** HEXDIG = DIGIT / "A"-"F" / "a"-"f" (RFC 5234 B.1), mapped to its value; 255 for non-hex. */
export const HEX_VALUE = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let d = 0; d < 10; d++) t[0x30 + d] = d;
  for (let d = 0; d < 6; d++) {
    t[0x41 + d] = 10 + d;
    t[0x61 + d] = 10 + d;
  }
  return t;
})();

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const COMMA = 0x2c;

/** OWS = *( SP / HTAB ) (RFC 9110 5.6.3) */
export function isOws(b: number): boolean {
  return b === SP || b === HTAB;
}

/** ASCII lower-casing of one byte, for case-insensitive comparisons without strings. */
export function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/**
 * Whether buf[start, end) equals `lowerAscii` (already lower case, ASCII), ignoring ASCII case.
 * Used to recognise field names and tokens without decoding them to strings.
 */
export function equalsIgnoreCase(buf: Buffer, start: number, end: number, lowerAscii: string): boolean {
  if (end - start !== lowerAscii.length) return false;
  for (let i = 0; i < lowerAscii.length; i++) {
    if (lower(buf[start + i]!) !== lowerAscii.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The latin1 text of buf[start, end): used only for the parts routing and logging need.
 * `latin1Slice` is what `buf.toString('latin1', start, end)` ends up calling, without its
 * argument checks and encoding lookup, which cost more than the copy for short strings; the
 * parser's offsets are always within `buf`. Node has it on every Buffer (undocumented).
 */
export function text(buf: Buffer, start: number, end: number): string {
  return (buf as BufferWithSlices).latin1Slice(start, end);
}
interface BufferWithSlices extends Buffer {
  latin1Slice(start: number, end: number): string;
}
