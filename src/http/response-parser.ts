// The response head parser, for what backends send back: the status, how the body is framed
// (RFC 9112 6.3) and whether the backend connection can be reused. Same two stages as requests:
// HeadReader finds the lines, `parse` reads them. Pure: no sockets, no timers.

import { HttpError } from '../errors.js';
import { SP, equalsIgnoreCase } from './chars.js';
import { FIELD_STRIDE, F_NAME_END, F_LINE, F_VALUE, F_VALUE_END, Field, NOT_SPLIT, fieldLineError, isToken, lowerText, markConnectionOptions, nextListElement, parseContentLength } from './fields.js';
import type { HeadLimits, HeadLines } from './head-lines.js';
import { HeadReader, type ReaderOptions } from './head-reader.js';

/** How the end of a response body is found (RFC 9112 6.3). */
export const ResponseBody = {
  /** No body: a response to HEAD, a 1xx, 204 or 304 (RFC 9112 6.3 rule 1). */
  NONE: 0,
  /** Exactly `contentLength` bytes. */
  LENGTH: 1,
  /** Chunked; ChunkedScanner finds the end. */
  CHUNKED: 2,
  /** Neither length nor chunked: the body ends when the backend closes (rule 8). */
  UNTIL_CLOSE: 3,
} as const;
export type ResponseBodyKind = (typeof ResponseBody)[keyof typeof ResponseBody];

export interface ResponseHead {
  status: number;
  /** 0 for HTTP/1.0, 1 for 1.1 and later 1.x. */
  minor: 0 | 1;
  body: ResponseBodyKind;
  contentLength: number;
  /** Whether the backend keeps the connection open after this response (RFC 9112 9.3). */
  keepAlive: boolean;
  /** The head's bytes: buf[start, end); offsets of every field line and which field it is. */
  buf: Buffer;
  /** Whether `buf` is the parser's scratch buffer (the head came in pieces): copy to keep. */
  scratch: boolean;
  start: number;
  end: number;
  /** Offset of the status line's CR. */
  statusLineEnd: number;
  /** FIELD_STRIDE offsets per field line (fields.ts), `fieldCount` of them; `kinds[k]` says which field it is. */
  fields: Int32Array;
  kinds: Uint8Array;
  fieldCount: number;
}

/** Backends may send larger heads than we accept from clients (big Set-Cookie lists). */
export const DEFAULT_RESPONSE_LIMITS: HeadLimits = {
  maxStartLine: 8 * 1024,
  maxHead: 64 * 1024,
  maxFields: 256,
};

export class ResponseParser extends HeadReader<ResponseHead> {
  protected readonly skipsEmptyLines = false;
  private readonly element = new Int32Array(2);
  /** Whether the request being answered was HEAD: then no body follows, whatever the head says. */
  requestWasHead = false;

  constructor(limits: HeadLimits = DEFAULT_RESPONSE_LIMITS, options?: ReaderOptions) {
    super(limits, { tooLong: 'RESPONSE_HEAD_TOO_LARGE', tooLarge: 'RESPONSE_HEAD_TOO_LARGE', malformed: 'BAD_RESPONSE' }, options);
  }

  protected parse(lines: HeadLines): ResponseHead | HttpError {
    const { buf, offsets } = lines;
    const base = lines.start;
    const lineStart = offsets[0]!;
    const lineEnd = offsets[1]!;
    const head: ResponseHead = {
      status: 0,
      minor: 1,
      body: ResponseBody.UNTIL_CLOSE,
      contentLength: 0,
      keepAlive: true,
      buf,
      scratch: lines.scratch,
      start: lineStart,
      end: lines.end,
      statusLineEnd: lineEnd,
      fields: lines.fields,
      kinds: lines.kinds,
      fieldCount: lines.count - 1,
    };
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]   (RFC 9112 4)
    // status-code = 3DIGIT. A missing SP after the code is tolerated, as most clients do.
    const i = lineStart;
    if (
      lineEnd - i < 12 ||
      buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f ||
      buf[i + 5] !== 0x31 || buf[i + 6] !== 0x2e || !isDigit(buf[i + 7]!) ||
      buf[i + 8] !== SP || !isDigit(buf[i + 9]!) || !isDigit(buf[i + 10]!) || !isDigit(buf[i + 11]!) ||
      (lineEnd > i + 12 && buf[i + 12] !== SP)
    ) {
      return new HttpError('BAD_STATUS_LINE', 0);
    }
    head.minor = buf[i + 7] === 0x30 ? 0 : 1;
    head.status = (buf[i + 9]! - 0x30) * 100 + (buf[i + 10]! - 0x30) * 10 + (buf[i + 11]! - 0x30);
    if (head.status < 100) return new HttpError('BAD_STATUS_LINE', 9);

    let lengthCount = 0;
    let chunked = false;
    let hasTransferEncoding = false;
    let close = false;
    let keepAlive = false;
    let options: string[] | null = null;
    const { fields, kinds } = lines;
    const el = this.element;
    for (let k = 1; k < lines.count; k++) {
      const at = FIELD_STRIDE * (k - 1);
      const kind = kinds[k - 1]!;
      if (fields[at + F_VALUE] === NOT_SPLIT) {
        return new HttpError('BAD_RESPONSE', fieldLineError(buf, fields[at + F_LINE]!, fields[at + F_NAME_END]!, offsets[2 * k + 1]!, base).offset);
      }
      const vs = fields[at + F_VALUE]!;
      const ve = fields[at + F_VALUE_END]!;
      if (kind === Field.CONTENT_LENGTH) {
        const n = parseContentLength(buf, vs, ve);
        // Differing or malformed lengths: we cannot know where the body ends (RFC 9112 6.3 rule 5).
        if (n < 0 || (lengthCount++ > 0 && n !== head.contentLength)) return new HttpError('BAD_RESPONSE', vs - base);
        head.contentLength = n;
      } else if (kind === Field.TRANSFER_ENCODING) {
        hasTransferEncoding = true;
        // Only the final coding matters for framing (RFC 9112 6.3 rule 4).
        for (let j = vs; (j = nextListElement(buf, j, ve, el)) >= 0; ) chunked = equalsIgnoreCase(buf, el[0]!, el[1]!, 'chunked');
      } else if (kind === Field.CONNECTION) {
        for (let j = vs; (j = nextListElement(buf, j, ve, el)) >= 0; ) {
          if (equalsIgnoreCase(buf, el[0]!, el[1]!, 'close')) close = true;
          else if (equalsIgnoreCase(buf, el[0]!, el[1]!, 'keep-alive')) keepAlive = true;
          else if (isToken(buf, el[0]!, el[1]!)) (options ??= []).push(lowerText(buf, el[0]!, el[1]!));
        }
      }
    }
    if (options !== null) markConnectionOptions(buf, fields, kinds, head.fieldCount, options);
    head.keepAlive = !close && (head.minor === 1 || keepAlive);

    // Rule 3: Transfer-Encoding with Content-Length is how response splitting works; we refuse
    // to guess. RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is
    // faulty. Refused before the status is looked at: a response without a body (rule 1) is
    // framed by its status for us, but its head goes on to the client with both fields, and
    // a next hop that frames it by them would be split.
    if (hasTransferEncoding && (lengthCount > 0 || head.minor === 0)) return new HttpError('BAD_RESPONSE', 0);

    // RFC 9112 6.3, in order.
    const status = head.status;
    if (this.requestWasHead || status < 200 || status === 204 || status === 304) {
      // Rule 1: no body, whatever the fields say.
      head.body = ResponseBody.NONE;
    } else if (hasTransferEncoding) {
      // Rule 4: chunked last means chunked; anything else is read until close.
      head.body = chunked ? ResponseBody.CHUNKED : ResponseBody.UNTIL_CLOSE;
      if (!chunked) head.keepAlive = false;
    } else if (lengthCount > 0) {
      // Rule 6.
      head.body = ResponseBody.LENGTH;
    } else {
      // Rule 8: read until the backend closes; the connection cannot be reused.
      head.body = ResponseBody.UNTIL_CLOSE;
      head.keepAlive = false;
    }
    return head;
  }
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}
