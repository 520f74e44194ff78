// The request head parser: from raw bytes to what the balancer needs to route and forward a
// request: method, target, version, Host, the body's framing, keep-alive, and the field lines
// (as offsets into the bytes, never copied). Pure: no sockets, no timers.
//
// Parsing happens in two stages (see head-reader.ts for the first):
//   1. HeadReader finds the head's lines in bytes that arrive in pieces, byte by byte rules.
//   2. `parse` below reads the complete lines, in this order:
//        parseRequestLine   method SP request-target SP HTTP-version      (RFC 9112 3)
//        (split by the head reader: field-name ":" OWS field-value OWS, RFC 9112 5)
//        the known fields   Host, Content-Length, Transfer-Encoding, Connection, Expect
//        decideFraming      how long the body is                          (RFC 9112 6.3)
// Every rejection carries the contract's status (errors.ts).
//
// A request is returned as a RequestHead, valid until the parser's next `execute`.

import { DEFAULTS } from '../config/schema.js';
import { HttpError } from '../errors.js';
import { HOST_CHAR, SP, TARGET_CHAR, TCHAR, equalsIgnoreCase, isOws, lower, text } from './chars.js';
import { FIELD_STRIDE, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END, Field, NOT_SPLIT, fieldLineError, isToken, lowerText, markConnectionOptions, nextListElement, parseContentLength } from './fields.js';
import type { HeadLimits, HeadLines } from './head-lines.js';
import { HeadReader, type ReaderOptions } from './head-reader.js';

/** How the length of a request body is known (RFC 9112 6.3). */
export const Body = {
  /** No body: neither Content-Length nor Transfer-Encoding. */
  NONE: 0,
  /** Exactly `contentLength` bytes follow the head. */
  LENGTH: 1,
  /** A chunked body follows; ChunkedScanner finds its end. */
  CHUNKED: 2,
} as const;
export type BodyKind = (typeof Body)[keyof typeof Body];

/** The four forms of request-target (RFC 9112 3.2). */
export const TargetForm = {
  /** `/path?query`, the usual one. */
  ORIGIN: 0,
  /** `http://host:port/path`: what clients send to proxies; we route by its authority. */
  ABSOLUTE: 1,
  /** `*`, for a server-wide OPTIONS. */
  ASTERISK: 2,
} as const;
export type TargetFormKind = (typeof TargetForm)[keyof typeof TargetForm];

export { FIELD_STRIDE, F_LINE, F_NAME_END, F_VALUE, F_VALUE_END } from './fields.js';

export interface RequestHead {
  /** The method as sent (case-sensitive, RFC 9110 9.1). Common methods are shared constants. */
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  targetForm: TargetFormKind;
  /** The target in origin form (`/path?query`): what routing matches and what the backend gets. */
  path: string;
  /** The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1 and any higher 1.x (RFC 9110 2.5). */
  minor: 0 | 1;
  /** Host for routing: lower case, without port. Empty when the request carried no Host (HTTP/1.0). */
  host: string;
  /** host[:port] as the client sent it (from an absolute-form target if there was one), or ''. */
  authority: string;
  body: BodyKind;
  /** The body's length when `body` is Body.LENGTH, else 0. */
  contentLength: number;
  /** Whether the connection persists after this exchange (RFC 9112 9.3). */
  keepAlive: boolean;
  /** `Expect: 100-continue` (RFC 9110 10.1.1). */
  expectContinue: boolean;
  /** The client asks to switch protocols (`Connection: upgrade` and `Upgrade`, RFC 9110 7.8), e.g. WebSocket. */
  upgrade: boolean;
  /** Field names listed in Connection other than close / keep-alive (lower case), or null. */
  connectionOptions: string[] | null;

  /** The bytes: the head runs from buf[start] (the request line) to buf[end] (after the empty line). */
  buf: Buffer;
  start: number;
  end: number;
  /** Offset of the request line's CR. */
  requestLineEnd: number;
  /** FIELD_STRIDE offsets per field line, `fieldCount` of them; `kinds[k]` says which field it is. */
  fields: Int32Array;
  kinds: Uint8Array;
  fieldCount: number;
}

/** A request line as sent, for the log line of a request refused before it was parsed. */
export interface RequestLine {
  method: string;
  target: string;
  /** "HTTP/1.1", or another version as sent ("HTTP/2.0" for a 505). */
  version: string;
}

/** The `limits:` config section's defaults, taken from its one copy (a module of plain data). */
export const DEFAULT_REQUEST_LIMITS: HeadLimits = {
  maxStartLine: DEFAULTS.limits.maxRequestLine,
  maxHead: DEFAULTS.limits.maxHead,
  maxFields: DEFAULTS.limits.maxFields,
};

/**
 * The methods of RFC 9110 9.3 and PATCH (RFC 5789): recognised without decoding (their names are
 * shared string constants), and refused when spelled in another case.
 */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT'];
const LOWER_METHODS = METHODS.map((m) => m.toLowerCase());

/** The transfer codings registered with IANA that a request may apply before chunked. */
const KNOWN_CODINGS = ['compress', 'deflate', 'gzip', 'x-compress', 'x-gzip'];

export class RequestParser extends HeadReader<RequestHead> {
  protected readonly skipsEmptyLines = true;
  private readonly element = new Int32Array(2);
  private readonly lastHost = new HostCache();

  constructor(limits: HeadLimits = DEFAULT_REQUEST_LIMITS, options?: ReaderOptions) {
    super(limits, { tooLong: 'REQUEST_LINE_TOO_LONG', tooLarge: 'HEAD_TOO_LARGE' }, options);
  }

  /**
   * The request line of the head `execute` just refused (or `abandon` gave up on), when it
   * arrived whole and has the shape of one: method SP request-target SP HTTP/DIGIT.DIGIT
   * (RFC 9112 3), whatever was wrong with it or after it (a 505's version, CONNECT, a missing
   * Host). null when it did not arrive whole (a 414, a head cut short), or is no request line
   * (a garbled one): the log shows "-" for it then. Only for the error path: it makes strings.
   */
  refusedRequestLine(): RequestLine | null {
    const line = this.refusedStartLine();
    if (line === null) return null;
    const buf = this.lines.buf;
    const [start, end] = line;
    let i = start;
    while (i < end && TCHAR[buf[i]!] === 1) i++;
    const methodEnd = i;
    if (methodEnd === start || buf[i] !== SP) return null;
    // The target: any visible bytes; the log escapes what it must.
    for (i++; i < end && buf[i]! > SP && buf[i] !== 0x7f; i++);
    const targetEnd = i;
    if (targetEnd === methodEnd + 1 || end - targetEnd !== 9 || buf[targetEnd] !== SP) return null;
    const v = targetEnd + 1;
    if (!equalsBytes(buf, v, v + 5, 'HTTP/') || !isDigit(buf[v + 5]!) || buf[v + 6] !== 0x2e || !isDigit(buf[v + 7]!)) return null;
    return { method: text(buf, start, methodEnd), target: text(buf, methodEnd + 1, targetEnd), version: text(buf, v, end) };
  }

  protected parse(lines: HeadLines): RequestHead | HttpError {
    const { buf, offsets } = lines;
    const base = lines.start;
    const head: RequestHead = {
      method: '',
      target: '',
      targetForm: TargetForm.ORIGIN,
      path: '',
      minor: 1,
      host: '',
      authority: '',
      body: Body.NONE,
      contentLength: 0,
      keepAlive: true,
      expectContinue: false,
      upgrade: false,
      connectionOptions: null,
      buf,
      start: offsets[0]!,
      end: lines.end,
      requestLineEnd: offsets[1]!,
      fields: lines.fields,
      kinds: lines.kinds,
      fieldCount: lines.count - 1,
    };
    const lineError = parseRequestLine(buf, offsets[0]!, offsets[1]!, head, base);
    if (lineError) return lineError;

    // State gathered over the field lines for the checks at the end.
    let hostCount = 0;
    let lengthCount = 0;
    let teCount = 0;
    let teChunkedLast = false;
    let teChunkedCount = 0;
    let teUnknown = false;
    let teMalformed = false;
    let connection = 0; // Connection options, as Option bits
    let hasUpgrade = false;

    // The head reader split every field line and recognised its name; only the fields the
    // balancer acts on need reading here, and a line that was not split is an error once
    // reached (so that errors still come in line order).
    const { fields, kinds } = lines;
    const el = this.element;
    for (let k = 1; k < lines.count; k++) {
      const at = FIELD_STRIDE * (k - 1);
      const kind = kinds[k - 1]!;
      if (kind === Field.OTHER) {
        if (fields[at + F_VALUE] === NOT_SPLIT) return fieldLineError(buf, fields[at + F_LINE]!, fields[at + F_NAME_END]!, offsets[2 * k + 1]!, base);
        continue;
      }
      const lineStart = fields[at + F_LINE]!;
      const vs = fields[at + F_VALUE]!;
      const ve = fields[at + F_VALUE_END]!;
      // The framing fields must end where their value ends: trailing whitespace is valid OWS
      // (RFC 9112 5.1), but llhttp rejects it there, and framing is no place for two readings.
      const trailingSpace = ve !== offsets[2 * k + 1]!;
      switch (kind) {
        case Field.HOST:
          // RFC 9112 3.2: "A server MUST respond with a 400 (Bad Request) status code to any
          // HTTP/1.1 request message that lacks a Host header field and to any request message
          // that contains more than one Host header field line or a Host header field with an
          // invalid field value."
          if (++hostCount > 1) return new HttpError('DUPLICATE_HOST', lineStart - base);
          // The value kept from the last request was valid; any other is checked, then kept.
          if (!this.lastHost.holds(buf, vs, ve)) {
            if (!isValidHost(buf, vs, ve)) return new HttpError('BAD_HOST', vs - base);
            this.lastHost.keep(buf, vs, ve);
          }
          if (head.targetForm !== TargetForm.ABSOLUTE) {
            head.authority = this.lastHost.authority;
            head.host = this.lastHost.host;
          }
          break;
        case Field.CONTENT_LENGTH: {
          // RFC 9110 8.6 allows a list of identical values to be collapsed; we refuse any
          // repetition instead, as llhttp does, so no hop can count the body differently.
          if (++lengthCount > 1) return new HttpError('DUPLICATE_CONTENT_LENGTH', lineStart - base);
          const n = parseContentLength(buf, vs, ve);
          if (n < 0 || trailingSpace) return new HttpError('BAD_CONTENT_LENGTH', vs - base);
          head.contentLength = n;
          break;
        }
        case Field.TRANSFER_ENCODING: {
          // RFC 9112 6.1: Transfer-Encoding = #transfer-coding, and several field lines form one
          // list, in order. transfer-coding = token *( OWS ";" OWS transfer-parameter )
          teCount++;
          let elements = 0;
          for (let i = vs; (i = nextListElement(buf, i, ve, el)) >= 0; elements++) {
            const coding = readTransferCoding(buf, el[0]!, el[1]!);
            if (coding === Coding.MALFORMED) teMalformed = true;
            else if (coding === Coding.UNKNOWN) teUnknown = true;
            else if (coding === Coding.CHUNKED) teChunkedCount++;
            teChunkedLast = coding === Coding.CHUNKED;
          }
          if (elements === 0 || trailingSpace || hasEmptyElement(buf, vs, ve)) teMalformed = true;
          break;
        }
        case Field.CONNECTION:
          connection |= readConnection(buf, vs, ve, head, el);
          break;
        case Field.UPGRADE:
          hasUpgrade = true;
          break;
        case Field.EXPECT:
          // RFC 9110 10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
          // request MUST ignore that expectation."
          if (head.minor === 1 && equalsIgnoreCase(buf, vs, ve, '100-continue')) head.expectContinue = true;
          break;
      }
    }

    if (head.connectionOptions !== null) markConnectionOptions(buf, fields, kinds, head.fieldCount, head.connectionOptions);

    // RFC 9112 3.2 (quoted above): Host is required in HTTP/1.1.
    if (hostCount === 0 && head.minor === 1) return new HttpError('MISSING_HOST', head.start - base);

    // RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    head.keepAlive = (connection & Option.CLOSE) === 0 && (head.minor === 1 || (connection & Option.KEEP_ALIVE) !== 0);
    // RFC 9110 7.8: Upgrade counts only when Connection names it, and a server MUST ignore it in
    // an HTTP/1.0 request.
    head.upgrade = (connection & Option.UPGRADE) !== 0 && hasUpgrade && head.minor === 1;

    const chunkedOnceAndLast = teChunkedLast && teChunkedCount === 1;
    return decideFraming(head, lengthCount > 0, teCount > 0, chunkedOnceAndLast, teUnknown, teMalformed, base);
  }
}

/** The Connection options the request parser acts on, one bit each. */
const Option = { CLOSE: 1, KEEP_ALIVE: 2, UPGRADE: 4 } as const;

/**
 * Connection = #connection-option   (RFC 9110 7.6.1)
 * Returns which of close, keep-alive and upgrade buf[start, end) lists, as Option bits. Any other
 * option names a field the client made hop-by-hop: it goes to head.connectionOptions, lower case.
 */
function readConnection(buf: Buffer, start: number, end: number, head: RequestHead, el: Int32Array): number {
  // Nearly always the whole value is one of the two: no list to walk then.
  if (equalsIgnoreCase(buf, start, end, 'keep-alive')) return Option.KEEP_ALIVE;
  if (equalsIgnoreCase(buf, start, end, 'close')) return Option.CLOSE;
  let options = 0;
  for (let i = start; (i = nextListElement(buf, i, end, el)) >= 0; ) {
    const s = el[0]!;
    const e = el[1]!;
    if (equalsIgnoreCase(buf, s, e, 'close')) options |= Option.CLOSE;
    else if (equalsIgnoreCase(buf, s, e, 'keep-alive')) options |= Option.KEEP_ALIVE;
    else if (equalsIgnoreCase(buf, s, e, 'upgrade')) options |= Option.UPGRADE;
    else if (isToken(buf, s, e)) (head.connectionOptions ??= []).push(lowerText(buf, s, e));
  }
  return options;
}

/**
 * RFC 9112 6.3, how the length of a request's body is determined, in the RFC's order.
 */
function decideFraming(
  head: RequestHead,
  hasLength: boolean,
  hasTransferEncoding: boolean,
  chunkedOnceAndLast: boolean,
  unknownCoding: boolean,
  malformedCoding: boolean,
  base: number,
): RequestHead | HttpError {
  const at = head.start - base;
  if (hasTransferEncoding) {
    if (malformedCoding) return new HttpError('BAD_TRANSFER_ENCODING', at);
    // RFC 9112 6.1: "A server that receives a request message with a transfer coding it does
    // not understand SHOULD respond with 501 (Not Implemented)."
    if (unknownCoding) return new HttpError('UNKNOWN_TRANSFER_CODING', at);
    // RFC 9112 6.3 (3): "If a message is received with both a Transfer-Encoding and a
    // Content-Length header field, the Transfer-Encoding overrides the Content-Length. Such a
    // message might indicate an attempt to perform request smuggling ... or response splitting
    // ... and ought to be handled as an error." We answer 400 and close.
    if (hasLength) return new HttpError('TE_WITH_CL', at);
    // RFC 9112 6.1: "A server or client that receives an HTTP/1.0 message containing a
    // Transfer-Encoding header field MUST treat the message as if the framing is faulty."
    if (head.minor === 0) return new HttpError('TE_ON_HTTP10', at);
    // RFC 9112 6.3 (4): "If a Transfer-Encoding header field is present in a request and the
    // chunked transfer coding is not the final encoding, the message body length cannot be
    // determined reliably; the server MUST respond with the 400 (Bad Request) status code and
    // then close the connection."
    if (!chunkedOnceAndLast) return new HttpError('TE_NOT_CHUNKED', at);
    head.body = Body.CHUNKED;
    head.contentLength = 0;
  } else if (hasLength) {
    // RFC 9112 6.3 (6): the body is exactly Content-Length octets (zero means none).
    head.body = head.contentLength > 0 ? Body.LENGTH : Body.NONE;
  }
  // RFC 9112 6.3 (7): a request with neither has no body.
  return head;
}

/**
 * request-line = method SP request-target SP HTTP-version   (RFC 9112 3)
 * Fills method, target, targetForm, path, minor and, for an absolute-form target, host and
 * authority. `start` is the line's first byte, `end` its CR.
 */
function parseRequestLine(buf: Buffer, start: number, end: number, head: RequestHead, base: number): HttpError | undefined {
  // method = token (RFC 9110 9.1), case-sensitive.
  let i = start;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === start || i === end) return new HttpError('BAD_REQUEST_LINE', start - base);
  if (buf[i] !== SP) return new HttpError('BAD_METHOD', i - base);
  const method = methodName(buf, start, i);
  // RFC 9110 9.1: "The method token is case-sensitive". `head` is not HEAD but an unknown
  // method, whose response we would read as having a body; a next hop that folds case answers it
  // as a HEAD, without one, and the response after it would be read as that body. So a standard
  // method in another case is refused (http-rules.md).
  if (method === null) return new HttpError('METHOD_CASE', start - base);
  head.method = method;

  // request-target: no whitespace inside (RFC 9112 3.2); exactly one SP before and after.
  const targetStart = ++i;
  while (i < end && TARGET_CHAR[buf[i]!] === 1) i++;
  if (i === targetStart) return new HttpError('BAD_REQUEST_LINE', i - base);
  // RFC 9112 3 and 2.3: a request line without an HTTP-version is HTTP/0.9, which we refuse.
  if (i === end) return new HttpError('MISSING_VERSION', i - base);
  if (buf[i] !== SP) return new HttpError('BAD_TARGET', i - base);
  const targetEnd = i++;

  const versionError = parseHttpVersion(buf, i, end, head, base);
  if (versionError) return versionError;
  return parseRequestTarget(buf, targetStart, targetEnd, head, base);
}

/**
 * HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name = %s"HTTP"   (RFC 9112 2.3)
 * Case-sensitive. A major version other than 1 gets 505; 1.x with x > 1 is read as 1.1.
 */
function parseHttpVersion(buf: Buffer, i: number, end: number, head: RequestHead, base: number): HttpError | undefined {
  for (let j = i; j < end; j++) {
    if (buf[j] === SP) return new HttpError('BAD_REQUEST_LINE', j - base);
  }
  if (
    end - i !== 8 ||
    buf[i] !== 0x48 || // H
    buf[i + 1] !== 0x54 || // T
    buf[i + 2] !== 0x54 || // T
    buf[i + 3] !== 0x50 || // P
    buf[i + 4] !== 0x2f || // /
    !isDigit(buf[i + 5]!) ||
    buf[i + 6] !== 0x2e || // .
    !isDigit(buf[i + 7]!)
  ) {
    return new HttpError('BAD_VERSION', i - base);
  }
  if (buf[i + 5] !== 0x31) return new HttpError('UNSUPPORTED_VERSION', i - base);
  head.minor = buf[i + 7] === 0x30 ? 0 : 1;
  return undefined;
}

/**
 * request-target = origin-form / absolute-form / authority-form / asterisk-form (RFC 9112 3.2)
 */
function parseRequestTarget(buf: Buffer, start: number, end: number, head: RequestHead, base: number): HttpError | undefined {
  if (head.method === 'CONNECT') {
    // CONNECT (with its authority-form target) asks for a tunnel: a gateway in front of web
    // servers has no business opening tunnels to arbitrary places (RFC 9110 9.3.6).
    return new HttpError('METHOD_NOT_IMPLEMENTED', start - base);
  }
  const target = text(buf, start, end);
  head.target = target;
  const first = buf[start];
  if (first === 0x2f /* / */) {
    // origin-form = absolute-path [ "?" query ]
    head.path = target;
    return undefined;
  }
  if (first === 0x2a /* * */ && end - start === 1) {
    // asterisk-form: only for a server-wide OPTIONS (RFC 9112 3.2.4).
    if (head.method !== 'OPTIONS') return new HttpError('BAD_TARGET_FORM', start - base);
    head.targetForm = TargetForm.ASTERISK;
    head.path = target;
    return undefined;
  }
  // absolute-form = absolute-URI (RFC 9112 3.2.2); a server MUST accept it. We take the http and
  // https schemes, case-insensitively (RFC 3986 3.1).
  const schemeEnd = schemeLength(buf, start, end);
  if (schemeEnd < 0) return new HttpError('BAD_TARGET_FORM', start - base);
  const authorityStart = schemeEnd;
  let i = authorityStart;
  while (i < end && buf[i] !== 0x2f && buf[i] !== 0x3f /* ? */ && buf[i] !== 0x23 /* # */) i++;
  // RFC 9110 4.2.1: an http URI with an empty host is invalid; userinfo ("user@") is deprecated
  // and a recipient SHOULD treat it as an error (RFC 9110 4.2.4). HOST_CHAR excludes "@".
  if (i === authorityStart || !isValidHost(buf, authorityStart, i)) return new HttpError('BAD_TARGET', authorityStart - base);
  head.targetForm = TargetForm.ABSOLUTE;
  // RFC 9112 3.2.2: "the server MUST ignore the received Host header field (if any) and
  // instead use the host information of the request-target."
  head.authority = text(buf, authorityStart, i);
  head.host = routingHost(head.authority);
  head.path = i === end ? '/' : buf[i] === 0x2f ? text(buf, i, end) : '/' + text(buf, i, end);
  return undefined;
}

/** Length up to the end of "http://" or "https://" at buf[start], or -1. */
function schemeLength(buf: Buffer, start: number, end: number): number {
  const n = end - start;
  if (n >= 7 && lower(buf[start]!) === 0x68 && equalsIgnoreCase(buf, start, start + 7, 'http://')) return start + 7;
  if (n >= 8 && equalsIgnoreCase(buf, start, start + 8, 'https://')) return start + 8;
  return -1;
}

/**
 * Host = uri-host [ ":" port ]   (RFC 9110 7.2)
 * uri-host is an IP-literal in brackets or a reg-name / IPv4 address; port = *DIGIT.
 * An empty value is valid (RFC 9110 7.2: for a target without authority).
 */
function isValidHost(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  if (i < end && buf[i] === 0x5b /* [ */) {
    i++;
    while (i < end && buf[i] !== 0x5d /* ] */) {
      const b = buf[i]!;
      if (HOST_CHAR[b] !== 1 || b === 0x5b) return false;
      i++;
    }
    if (i === end) return false;
    i++;
  } else {
    while (i < end && buf[i] !== 0x3a /* : */) {
      const b = buf[i]!;
      if (HOST_CHAR[b] !== 1 || b === 0x5b || b === 0x5d) return false;
      i++;
    }
  }
  if (i === end) return true;
  if (buf[i] !== 0x3a) return false;
  for (i++; i < end; i++) if (!isDigit(buf[i]!)) return false;
  return true;
}

/**
 * The last valid Host value a parser read, with the strings made from it. The requests on one
 * keep-alive connection nearly always carry the same Host, and comparing its few bytes costs a
 * fraction of checking it and making the two strings again (a call into Node's C++ for each).
 */
class HostCache {
  /** The value's bytes; values longer than this are not kept. */
  private readonly bytes = new Uint8Array(64);
  private length = -1;
  authority = '';
  host = '';

  /** Whether buf[start, end) is the value kept. */
  holds(buf: Buffer, start: number, end: number): boolean {
    if (end - start !== this.length) return false;
    const bytes = this.bytes;
    for (let i = start; i < end; i++) if (buf[i] !== bytes[i - start]) return false;
    return true;
  }

  /** Makes the strings of the value buf[start, end), and keeps them with its bytes if it fits. */
  keep(buf: Buffer, start: number, end: number): void {
    this.authority = text(buf, start, end);
    this.host = routingHost(this.authority);
    const fits = end - start <= this.bytes.length;
    this.length = fits ? end - start : -1;
    if (fits) this.bytes.set(buf.subarray(start, end));
  }
}

/** The routing key of an authority: lower case, port removed ("WWW.Mango.com:8080" -> "www.mango.com"). */
export function routingHost(authority: string): string {
  let end = authority.length;
  const colon = authority.lastIndexOf(':');
  if (colon >= 0 && authority.indexOf(']', colon) < 0) end = colon;
  const host = end === authority.length ? authority : authority.slice(0, end);
  return host.toLowerCase();
}

/**
 * The method's name: one of the shared METHODS strings when it is one, else a new string; null
 * when it is one of METHODS in another case (`get`, `Head`).
 */
function methodName(buf: Buffer, start: number, end: number): string | null {
  for (let m = 0; m < METHODS.length; m++) {
    if (equalsBytes(buf, start, end, METHODS[m]!)) return METHODS[m]!;
  }
  for (let m = 0; m < METHODS.length; m++) {
    if (equalsIgnoreCase(buf, start, end, LOWER_METHODS[m]!)) return null;
  }
  return text(buf, start, end);
}

/** Whether buf[start, end) is exactly `ascii` (case-sensitive). */
function equalsBytes(buf: Buffer, start: number, end: number, ascii: string): boolean {
  if (end - start !== ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (buf[start + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/** Whether the list in buf[start, end) has an empty element ("chunked ,", ", gzip"). */
function hasEmptyElement(buf: Buffer, start: number, end: number): boolean {
  let sawElement = false;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0x2c /* , */) {
      if (!sawElement) return true;
      sawElement = false;
    } else if (!isOws(b)) sawElement = true;
  }
  return !sawElement;
}

const Coding = { CHUNKED: 0, OTHER_KNOWN: 1, UNKNOWN: 2, MALFORMED: 3 } as const;

/**
 * Classifies one transfer-coding list element buf[start, end):
 *   transfer-coding = token *( OWS ";" OWS transfer-parameter )   (RFC 9112 6.1, RFC 9110 10.1.4)
 * chunked takes no parameters: "chunked;x=1" is malformed, not chunked.
 */
function readTransferCoding(buf: Buffer, start: number, end: number): (typeof Coding)[keyof typeof Coding] {
  let nameEnd = start;
  while (nameEnd < end && TCHAR[buf[nameEnd]!] === 1) nameEnd++;
  if (nameEnd === start) return Coding.MALFORMED;
  if (equalsIgnoreCase(buf, start, nameEnd, 'chunked')) return nameEnd === end ? Coding.CHUNKED : Coding.MALFORMED;
  if (nameEnd !== end) {
    let i = nameEnd;
    while (i < end && isOws(buf[i]!)) i++;
    if (buf[i] !== 0x3b /* ; */) return Coding.MALFORMED;
  }
  for (const coding of KNOWN_CODINGS) if (equalsIgnoreCase(buf, start, nameEnd, coding)) return Coding.OTHER_KNOWN;
  return Coding.UNKNOWN;
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}
