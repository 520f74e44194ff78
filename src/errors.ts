// Every error the balancer can answer a client with, in one place: a stable code, the status the
// client gets and a one-line reason. Parsers return HttpErrors (with the offset of the bad byte);
// the proxy's own failures (no route, no server, a backend that fails) are codes of the same
// catalogue. Either way, `ERRORS[code].status` is what the client gets, and the code is what
// the access log and the metrics show.

/** An error found in bytes we received, with a stable code, the status to answer and where it was. */
export class HttpError extends Error {
  /** Byte offset from the start of the message (or body) where the problem was found, or -1. */
  offset: number;

  constructor(
    readonly code: ErrorCode,
    offset = -1,
  ) {
    super(ERRORS[code].reason);
    this.name = 'HttpError';
    this.offset = offset;
  }

  /** The status the client gets for this error (see the contract's table). */
  get status(): number {
    return statusOf(this.code);
  }
}

/**
 * The catalogue. Client-side (request) errors answer 4xx/5xx and close the connection;
 * backend-side (response) errors answer 502 when no byte was sent yet to the client.
 */
export const ERRORS = {
  // --- request line (RFC 9112 section 3) ---
  BAD_METHOD: { status: 400, reason: 'method is not a token' },
  METHOD_CASE: { status: 400, reason: 'a standard method in another case (methods are case-sensitive)' },
  BAD_TARGET: { status: 400, reason: 'invalid character in request-target' },
  BAD_TARGET_FORM: { status: 400, reason: 'request-target form not allowed for this method' },
  BAD_REQUEST_LINE: { status: 400, reason: 'request line is not "method SP target SP version"' },
  MISSING_VERSION: { status: 400, reason: 'request line has no HTTP version (HTTP/0.9 is not supported)' },
  BAD_VERSION: { status: 400, reason: 'HTTP version is not HTTP/DIGIT.DIGIT' },
  UNSUPPORTED_VERSION: { status: 505, reason: 'HTTP major version is not 1' },
  REQUEST_LINE_TOO_LONG: { status: 414, reason: 'request line exceeds the limit' },
  // --- bytes and lines (RFC 9112 section 2.2) ---
  BARE_LF: { status: 400, reason: 'line ends in LF without CR' },
  BARE_CR: { status: 400, reason: 'CR not followed by LF' },
  BAD_CHARACTER: { status: 400, reason: 'control character in head' },
  // --- field lines (RFC 9112 section 5, RFC 9110 section 5) ---
  OBS_FOLD: { status: 400, reason: 'line folding (obs-fold) is not allowed' },
  MISSING_COLON: { status: 400, reason: 'field line has no colon' },
  EMPTY_FIELD_NAME: { status: 400, reason: 'field line has an empty name' },
  BAD_FIELD_NAME: { status: 400, reason: 'field name is not a token (whitespace before the colon?)' },
  HEAD_TOO_LARGE: { status: 431, reason: 'request head exceeds the size limit' },
  TOO_MANY_FIELDS: { status: 431, reason: 'request head has too many field lines' },
  // --- Host (RFC 9112 section 3.2) ---
  MISSING_HOST: { status: 400, reason: 'HTTP/1.1 request without Host' },
  DUPLICATE_HOST: { status: 400, reason: 'more than one Host field' },
  BAD_HOST: { status: 400, reason: 'Host is not a valid uri-host[:port]' },
  // --- framing (RFC 9112 section 6.3) ---
  TE_WITH_CL: { status: 400, reason: 'both Transfer-Encoding and Content-Length' },
  BAD_CONTENT_LENGTH: { status: 400, reason: 'Content-Length is not 1*DIGIT' },
  DUPLICATE_CONTENT_LENGTH: { status: 400, reason: 'more than one Content-Length' },
  TE_NOT_CHUNKED: { status: 400, reason: 'Transfer-Encoding does not end in a single chunked' },
  BAD_TRANSFER_ENCODING: { status: 400, reason: 'Transfer-Encoding is not a clean list of codings' },
  UNKNOWN_TRANSFER_CODING: { status: 501, reason: 'unknown transfer coding' },
  TE_ON_HTTP10: { status: 400, reason: 'Transfer-Encoding on an HTTP/1.0 message' },
  // --- chunked bodies (RFC 9112 section 7.1) ---
  BAD_CHUNK_SIZE: { status: 400, reason: 'chunk size is not hex digits' },
  CHUNK_SIZE_TOO_LARGE: { status: 400, reason: 'chunk size overflows' },
  BAD_CHUNK_EXTENSION: { status: 400, reason: 'invalid or too long chunk extension' },
  BAD_CHUNK_DATA_END: { status: 400, reason: 'chunk data not followed by CRLF' },
  BAD_TRAILER: { status: 400, reason: 'invalid or too large trailer section' },
  // --- methods the gateway does not implement ---
  METHOD_NOT_IMPLEMENTED: { status: 501, reason: 'method not implemented by this gateway' },
  // --- backend responses (RFC 9112 section 4, 6.3) ---
  BAD_STATUS_LINE: { status: 502, reason: 'backend sent an invalid status line' },
  BAD_RESPONSE: { status: 502, reason: 'backend sent an invalid response head' },
  RESPONSE_HEAD_TOO_LARGE: { status: 502, reason: 'backend response head exceeds the limit' },
  BAD_RESPONSE_BODY: { status: 502, reason: 'backend sent an invalid chunked body' },
  UNEXPECTED_SWITCH: { status: 502, reason: 'backend switched protocols (101) unasked' },
  // --- the client, too slow (RFC 9110 15.5.9) ---
  HEADER_TIMEOUT: { status: 408, reason: 'request head not received within timeouts.header' },
  // --- routing and balancing (interface.md, "Responses the balancer makes itself") ---
  NO_ROUTE: { status: 404, reason: 'no route matches the request' },
  NO_SERVER: { status: 503, reason: 'no server of the pool is up' },
  QUEUE_FULL: { status: 503, reason: 'every server is at max_connections and the queue is full' },
  QUEUE_TIMEOUT: { status: 503, reason: 'waited longer than queue.timeout for a server' },
  BODY_TOO_LARGE: { status: 413, reason: 'request body exceeds limits.max_body' },
  // --- a route's redirect (interface.md, "Route rules"): answered, not an error, but counted alike ---
  REDIRECT_301: { status: 301, reason: "the route's redirect (code 301)" },
  REDIRECT_302: { status: 302, reason: "the route's redirect (code 302)" },
  REDIRECT_303: { status: 303, reason: "the route's redirect (code 303)" },
  REDIRECT_307: { status: 307, reason: "the route's redirect (code 307)" },
  REDIRECT_308: { status: 308, reason: "the route's redirect (code 308)" },
  // --- upstream failures ---
  UPSTREAM_CONNECT: { status: 503, reason: 'every server tried refused the connection or did not accept it in time' },
  UPSTREAM_RESET: { status: 502, reason: 'the server closed or reset the connection before a complete response head' },
  UPSTREAM_TIMEOUT: { status: 504, reason: 'no response from the server within timeouts.server' },
  RETRY_BUDGET: { status: 502, reason: "a retry was due but the pool's retry_budget is spent" },
  // --- not an error: an answer the configuration asks for, logged and counted like the others ---
  HTTPS_REDIRECT: { status: 308, reason: 'a `redirect: https` listener sends every request to https://' },
} as const satisfies Record<string, { status: number; reason: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The status a client gets for `code`. */
export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}
