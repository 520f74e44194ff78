// The responses the balancer makes itself (interface.md, "Responses the balancer makes itself"),
// built once as bytes so that answering one costs a single write; with a request id or a
// redirect's Location, those lines are put in a copy.

import type { RequestIdSlot, RequestIds } from './request-id.js';

const REASONS: Record<number, string> = {
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** Bodies differ from the reason phrase only for 503. */
const BODIES: Record<number, string> = {
  503: 'No backend servers available.',
};

/**
 * Fields beside the framing ones: a 503 of ours says when to try again (RFC 9110 10.2.3), as
 * interface.md asks, so that clients and caches that honour Retry-After back off for a second.
 */
const EXTRA_FIELDS: Record<number, string> = {
  503: 'Retry-After: 1\r\n',
};

const cache = new Map<number, Buffer>();

/** What the Connection field of a response says about the client connection, if anything. */
export type ConnectionField = 'close' | 'keep-alive' | 'upgrade' | null;

/**
 * The complete response for `status`. `connection` is written as the Connection field: "close"
 * when the connection ends after it, "keep-alive" for an HTTP/1.0 client whose connection
 * persists; `headOnly` leaves the body out, as a response to HEAD must (RFC 9110 9.3.2).
 */
export function errorResponse(status: number, connection: ConnectionField, headOnly = false): Buffer {
  const key = status * 8 + (connection === 'close' ? 4 : connection === 'keep-alive' ? 2 : 0) + (headOnly ? 1 : 0);
  let bytes = cache.get(key);
  if (bytes === undefined) {
    const reason = REASONS[status] ?? 'Error';
    const body = BODIES[status] ?? reason;
    bytes = Buffer.from(
      `HTTP/1.1 ${status} ${reason}\r\n` +
        'Content-Type: text/plain\r\n' +
        `Content-Length: ${body.length}\r\n` +
        (EXTRA_FIELDS[status] ?? '') +
        (connection === null ? '' : `Connection: ${connection}\r\n`) +
        '\r\n' +
        (headOnly ? '' : body),
      'latin1',
    );
    cache.set(key, bytes);
  }
  return bytes;
}

/** errorResponse(status, connection, headOnly) with the request's id field (`ids` and `id`) when `ids` is set. */
export function ownResponse(status: number, connection: ConnectionField, headOnly: boolean, ids: RequestIds | null, id: RequestIdSlot): Buffer {
  const plain = errorResponse(status, connection, headOnly);
  if (ids === null) return plain;
  // The id line (CRLF before and after) goes last among the fields, over the CRLF that ends the
  // last one.
  const at = plain.indexOf('\r\n\r\n');
  return Buffer.concat([plain.subarray(0, at), id.idLine, plain.subarray(at + 2)]);
}

/** A redirect to `location` with `status` (301, 302, 303, 307, 308), no body, the request's id when `ids` is set. */
export function redirectResponse(status: number, connection: ConnectionField, location: string, ids: RequestIds | null, id: RequestIdSlot): Buffer {
  return Buffer.concat([
    Buffer.from(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\nLocation: ${location}\r\nContent-Length: 0` + (connection === null ? '' : `\r\nConnection: ${connection}`),
      'latin1',
    ),
    // The id line brings the CRLFs around it; without it, the last field's CRLF.
    ids === null ? CRLF : id.idLine,
    CRLF,
  ]);
}

const CRLF = Buffer.from('\r\n', 'latin1');
