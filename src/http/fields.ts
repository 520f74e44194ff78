// Field lines (RFC 9112 section 5): splitting one line into name and value, recognising the
// fields the balancer acts on without decoding their names, and reading comma-separated lists.
// Shared by the request and the response parser.

import { HttpError } from '../errors.js';
import { COLON, COMMA, TCHAR, equalsIgnoreCase, isOws, lower } from './chars.js';

/**
 * The fields the balancer reads or rewrites. Everything else is OTHER and passes through.
 * Numbered so that a field's kind fits in one byte of a Uint8Array.
 */
export const Field = {
  OTHER: 0,
  HOST: 1,
  CONTENT_LENGTH: 2,
  TRANSFER_ENCODING: 3,
  CONNECTION: 4,
  KEEP_ALIVE: 5,
  PROXY_CONNECTION: 6,
  TE: 7,
  UPGRADE: 8,
  EXPECT: 9,
  X_FORWARDED_FOR: 10,
  X_FORWARDED_HOST: 11,
  X_FORWARDED_PROTO: 12,
  /** A field that the message's Connection field names: hop-by-hop too (RFC 9110 7.6.1). */
  LISTED_IN_CONNECTION: 13,
  /** Read for the access log only, and passed through like OTHER. */
  REFERER: 14,
  USER_AGENT: 15,
} as const;
export type FieldKind = (typeof Field)[keyof typeof Field];

/**
 * Where a parsed head keeps its field lines: FIELD_STRIDE numbers per field, in an Int32Array,
 * offsets into the head's buffer. The name runs from F_LINE to F_NAME_END, the value (OWS
 * trimmed) from F_VALUE to F_VALUE_END; the line itself ends in CRLF before the next F_LINE.
 */
export const FIELD_STRIDE = 4;
export const F_LINE = 0;
export const F_NAME_END = 1;
export const F_VALUE = 2;
export const F_VALUE_END = 3;

/** The name of each known field, lower case, by kind. */
const FIELD_NAMES: readonly (readonly [string, FieldKind])[] = [
  ['host', Field.HOST],
  ['content-length', Field.CONTENT_LENGTH],
  ['transfer-encoding', Field.TRANSFER_ENCODING],
  ['connection', Field.CONNECTION],
  ['keep-alive', Field.KEEP_ALIVE],
  ['proxy-connection', Field.PROXY_CONNECTION],
  ['te', Field.TE],
  ['upgrade', Field.UPGRADE],
  ['expect', Field.EXPECT],
  ['x-forwarded-for', Field.X_FORWARDED_FOR],
  ['x-forwarded-host', Field.X_FORWARDED_HOST],
  ['x-forwarded-proto', Field.X_FORWARDED_PROTO],
  ['referer', Field.REFERER],
  ['user-agent', Field.USER_AGENT],
];
const LONGEST_NAME = 17;

/**
 * The one known field a name can be, found from its length and its first letter: no two known
 * names share both, so one table lookup rules out nearly every other name ("Accept" is as long as
 * "expect", but starts differently). Index: length * 256 + the lower-cased first byte.
 */
const CANDIDATE = (() => {
  const t = new Uint8Array((LONGEST_NAME + 1) * 256);
  for (const [name, kind] of FIELD_NAMES) t[name.length * 256 + name.charCodeAt(0)] = kind;
  return t;
})();
const NAME_OF: string[] = [];
for (const [name, kind] of FIELD_NAMES) NAME_OF[kind] = name;

/** The known names, lower case (fields.test.ts checks CANDIDATE's premise against them). */
export const KNOWN_FIELD_NAMES: readonly string[] = FIELD_NAMES.map(([name]) => name);

/**
 * Which known field buf[start, end), a run of tchars, names, compared case-insensitively
 * (RFC 9110 5.1) on the bytes themselves: the candidate for its length and first letter, then
 * the whole name. The known names are lower-case letters and "-", and for them `b | 0x20` is
 * all the case folding needed: it turns an upper-case letter into its lower-case one
 * and no other tchar into a letter or "-" (the only other byte that becomes "-" is CR). In the
 * CANDIDATE lookup it may fold one tchar onto another ("^" onto "~"): no known name starts with
 * either, and the comparison decides. (Kept this short: the head reader calls it for every field line, and V8 must inline it.)
 */
export function fieldKind(buf: Buffer, start: number, end: number): FieldKind {
  const length = end - start;
  if (length === 0 || length > LONGEST_NAME) return Field.OTHER;
  const kind = CANDIDATE[length * 256 + (buf[start]! | 0x20)]! as FieldKind;
  if (kind === Field.OTHER) return Field.OTHER;
  // The candidate's name, b | 0x20 against its lower-case bytes.
  const name = NAME_OF[kind]!;
  for (let i = start; i < end; i++) if ((buf[i]! | 0x20) !== name.charCodeAt(i - start)) return Field.OTHER;
  return kind;
}

/**
 * The value's bounds of a field line that has no name followed by a colon: the head reader
 * splits every line as its CR arrives (head-reader.ts), and marks such a line so; the parser
 * asks fieldLineError why once it reaches that line, so errors still come in line order.
 */
export const NOT_SPLIT = -1;

/** Why the field line buf[start, end), whose tchars end at nameEnd, has no name and colon. */
export function fieldLineError(buf: Buffer, start: number, nameEnd: number, end: number, base: number): HttpError {
  // RFC 9112 5.2: obs-fold (a line starting with SP or HTAB, continuing the previous value) is
  // obsolete; a server MUST reject it or replace it; we reject, as does llhttp in strict mode.
  if (isOws(buf[start]!)) return new HttpError('OBS_FOLD', start - base);
  if (nameEnd === end) return new HttpError('MISSING_COLON', start - base);
  if (buf[nameEnd] !== COLON) {
    // RFC 9112 5.1: "No whitespace is allowed between the field name and colon ... A server
    // MUST reject, with a response status code of 400 (Bad Request), any received request
    // message that contains whitespace between a header field name and colon."
    for (let j = nameEnd; j < end; j++) {
      if (buf[j] === COLON) return new HttpError('BAD_FIELD_NAME', nameEnd - base);
    }
    return new HttpError('MISSING_COLON', start - base);
  }
  return new HttpError('EMPTY_FIELD_NAME', start - base);
}

/**
 * Finds the next non-empty element of the comma-separated list in buf[i, end) (RFC 9110 5.6.1:
 * `#element`; empty elements and OWS around commas are allowed). Writes its bounds into
 * element[0], element[1] and returns where to continue, or -1 when no element is left.
 * Use: `for (let i = start; (i = nextListElement(buf, i, end, el)) >= 0; ) { ... }`
 */
export function nextListElement(buf: Buffer, i: number, end: number, element: Int32Array): number {
  while (i < end && (isOws(buf[i]!) || buf[i] === COMMA)) i++;
  if (i === end) return -1;
  let j = i;
  while (j < end && buf[j] !== COMMA) j++;
  let e = j;
  while (isOws(buf[e - 1]!)) e--;
  element[0] = i;
  element[1] = e;
  return j;
}

/** Whether buf[start, end) is a token (RFC 9110 5.6.2). */
export function isToken(buf: Buffer, start: number, end: number): boolean {
  if (start === end) return false;
  for (let i = start; i < end; i++) if (TCHAR[buf[i]!] !== 1) return false;
  return true;
}

/**
 * The value of a Content-Length field, RFC 9110 8.6: `Content-Length = 1*DIGIT`. Returns -1 for
 * anything else: signs, spaces, hex, lists ("5, 5"), or a value past 2^53-1 that a
 * JavaScript number cannot count exactly.
 */
export function parseContentLength(buf: Buffer, start: number, end: number): number {
  if (start === end || end - start > 16) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : -1;
}

/**
 * Marks the fields whose names `options` lists (lower case, from a Connection field) as
 * LISTED_IN_CONNECTION: the sender says they belong to this connection only (RFC 9110 7.6.1).
 * Referer and User-Agent are end-to-end fields like any OTHER, known only for the access log:
 * listed, they go too.
 */
export function markConnectionOptions(buf: Buffer, fields: Int32Array, kinds: Uint8Array, count: number, options: readonly string[]): void {
  for (let k = 0; k < count; k++) {
    const kind = kinds[k];
    if (kind !== Field.OTHER && kind !== Field.REFERER && kind !== Field.USER_AGENT) continue;
    const at = FIELD_STRIDE * k;
    for (const name of options) {
      if (equalsIgnoreCase(buf, fields[at + F_LINE]!, fields[at + F_NAME_END]!, name)) kinds[k] = Field.LISTED_IN_CONNECTION;
    }
  }
}

/** Lower-cased latin1 text of buf[start, end), for the rare names that must become strings. */
export function lowerText(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(lower(buf[i]!));
  return s;
}
