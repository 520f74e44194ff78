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

/**
 * Bytes that may appear inside a head line (RFC 9110 5.5, RFC 9112 4):
 *   field-value chars = VCHAR / SP / HTAB / obs-text
 *   VCHAR = %x21-7E, obs-text = %x80-FF
 * CR, LF, NUL, DEL and the other controls end the scan and are judged by the caller.
 */
export const LINE_CHAR = table((b) => b === 0x09 || (b >= 0x20 && b <= 0x7e) || b >= 0x80);

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

/** The latin1 text of buf[start, end): used only for the parts routing and logging need. */
export function text(buf: Buffer, start: number, end: number): string {
  return buf.toString('latin1', start, end);
}
