// The responses the balancer makes itself (interface.md, "Responses the balancer makes itself"),
// built once as bytes so that answering one costs a single write.

const REASONS: Record<number, string> = {
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

/**
 * A redirect to `location` (RFC 9110 15.4.9: 308 keeps the method and body, unlike 301), with an
 * empty body (so a HEAD gets the same bytes). Not cached: the location is the request's. `location` holds only bytes the request
 * parser accepted in a Host and a target, so no CR or LF.
 */
export function redirectResponse(status: number, location: string, connection: ConnectionField): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nLocation: ${location}\r\nContent-Length: 0\r\n` +
      (connection === null ? '' : `Connection: ${connection}\r\n`) +
      '\r\n',
    'latin1',
  );
}
