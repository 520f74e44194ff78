// The corpus of malformed or ambiguous responses a backend may send, with what the balancer does
// about each: what the client gets, and whether the backend connection may carry another
// request. The parser test (response-parser.test.ts) feeds every case to the response parser
// and the chunked scanner; response-hardening.test.ts sends every case from a raw backend
// through the real proxy, whole, split at every offset and byte by byte.
//
// How the decisions are made. RFC 9112 decides where it speaks (6.3 rule 5: a proxy that cannot
// frame a response MUST close the server connection and send 502); where it leaves a choice, we
// take the stricter one when the response's framing could be read two ways, since a client (or a
// cache behind us) that reads it the other way is how response splitting and desyncs happen.
// nginx is the yardstick for what a proxy usually does; where we are stricter the comment says
// so. Two rules hold throughout:
//   - a clean 502 is possible only while no byte of the final response went to the client; once
//     its head is out, cutting the client connection is the only honest way to say "broken";
//   - after anything ambiguous the backend connection is closed, never pooled: whatever the
//     backend sends next on it could be taken for the answer to someone else's request.

import type { ErrorCode } from '../../src/errors.js';

/** What the client gets: a 502 of the balancer's own, or the backend's response as the balancer frames it. */
export type ClientGets = 502 | { status: number; body: string };

export interface BadResponse {
  name: string;
  /**
   * The request that draws the response. POST: the client sends the head with
   * `Content-Length: 5` and sends its body only once the balancer has read the first piece of
   * the response (so the backend answers before it has the body).
   */
  request: 'GET' | 'HEAD' | 'POST';
  /** The bytes the backend sends, as latin1. */
  response: string;
  /** What the response parser reads, head after head: each head's status, or the code of the error that stops it. */
  heads: (number | ErrorCode)[];
  /** For a chunked body after the last head: the chunked scanner's error code, or 'end' when the body ends well. */
  chunked?: ErrorCode | 'end';
  /**
   * What the client gets. For a chunked body that turns out bad, 502 is what it gets while the
   * head is still held back with the body bytes of the same read; when the head went out in an
   * earlier read, its connection is cut instead (the test works out which from where the pieces
   * fall). For the POST, the response carries `Connection: close` and the client connection
   * ends when the head came before the body was sent (the test works that out too).
   */
  client: ClientGets;
  /** Interim (1xx) responses relayed to the client before it. */
  interim?: number[];
  /**
   * Whether the backend connection may carry another request afterwards. For the POST, only when
   * the final response began after the body was sent (the test works out when).
   */
  reuse: boolean;
}

const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

export const BAD_RESPONSES: BadResponse[] = [
  // ---------------------------------------------------------------------------------------------
  // Framing: how long is the body (RFC 9112 6.3)

  // Rule 3: with both, Transfer-Encoding wins, but the message "ought to be handled as an error"
  // (response splitting), and a proxy that forwards it must drop Content-Length first. nginx
  // refuses it with a 502 ("upstream sent Content-Length and Transfer-Encoding headers at the
  // same time"); so do we, and the connection, whose next bytes no one can place, is closed.
  {
    name: 'Transfer-Encoding with Content-Length',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // The same whatever the coding: gzip alone would mean "until close", the length says 5 bytes.
  {
    name: 'Content-Length with a Transfer-Encoding that is not chunked',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\nhello',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // A 304 has no body whatever its fields say (rule 1), so framing is not in doubt for us; but the
  // head would go on to the client with both fields, and a next hop that frames it by them (or
  // does not know it answers a conditional request) is split. So the pair is checked before the
  // status: a backend that sends both is broken, whatever the status.
  {
    name: 'Transfer-Encoding with Content-Length on a 304',
    request: 'GET',
    response: 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // The same for the response to HEAD: the client knows it sent HEAD, a cache in between may not
  // frame it that way.
  {
    name: 'Transfer-Encoding with Content-Length answering HEAD',
    request: 'HEAD',
    response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // Rule 5: an invalid Content-Length (differing values are one) is an unrecoverable error; "If it
  // is a response message received by a proxy, the proxy MUST close the connection to the server,
  // discard the received response, and send a 502".
  {
    name: 'two different Content-Lengths',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // RFC 9110 8.6 lets a recipient collapse "5, 5"; differing members are rule 5 again.
  {
    name: 'a Content-Length list of two values',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // Still invalid on a status without a body: the field is checked before the status is.
  {
    name: 'two different Content-Lengths on a 204',
    request: 'GET',
    response: 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // Valid: identical lines are one length (RFC 9110 8.6). Forwarded unchanged (every reader that
  // accepts them agrees on 5), and the connection is fine to reuse.
  {
    name: 'two identical Content-Lengths',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
    heads: [200],
    client: { status: 200, body: 'hello' },
    reuse: true,
  },

  // ---------------------------------------------------------------------------------------------
  // Lines and bytes (RFC 9112 2.2, 5; RFC 9110 5.5). A head the parser refuses is never
  // forwarded, so each is a 502 however it arrives.

  // 2.2: a bare LF is only a MAY. nginx accepts one from a server; we do not, since the head goes
  // on to a client whose parser may not, and a head read two ways is a desync.
  {
    name: 'bare LF ending the status line',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  {
    name: 'bare LF ending a field line',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\nX-A: 1\r\n\r\nok',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // The empty line that ends the head, as a bare LF: where the head ends is the point in doubt.
  {
    name: 'bare LF as the empty line',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // 5.2: a proxy that receives obs-fold in a response MUST either answer 502 or replace each fold
  // with SP. We do not rewrite a head we cannot be sure we read as the backend meant it: 502.
  {
    name: 'obs-fold (a continuation line starting with SP)',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // The same with HTAB, on the first field line: whitespace between the start line and the first
  // field (2.2) is a fold with nothing to continue.
  {
    name: 'obs-fold with HTAB on the first field line',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\n\tX-A: 1\r\nContent-Length: 2\r\n\r\nok',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // RFC 9110 5.5: a value with CR, LF or NUL is invalid and dangerous; a recipient MUST reject it
  // or replace each with SP. We reject, as nginx does a NUL from a server ("invalid header").
  {
    name: 'NUL in a field value',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // A CR that is not part of CRLF (2.2: a bare CR is invalid): some parsers end the line there.
  {
    name: 'CR in a field value',
    request: 'GET',
    response: 'HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 9\r\nContent-Length: 2\r\n\r\nok',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // The reason phrase is forwarded as it came: a NUL in it is the same danger as in a value.
  {
    name: 'NUL in the reason phrase',
    request: 'GET',
    response: 'HTTP/1.1 200 O\0K\r\nContent-Length: 2\r\n\r\nok',
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },

  // ---------------------------------------------------------------------------------------------
  // Interim responses (RFC 9110 15.2; RFC 9112 6.3 rule 1: a 1xx has no body, whatever it says)

  // A 1xx ends at its empty line, so the "body" is read as the next head, which it is not: 502.
  // The 100 went to the client as it came (relayed at once, as every proxy does); a final 502
  // after it is still a clean answer, and the client connection goes on.
  {
    name: 'a 1xx with a body (Content-Length)',
    request: 'GET',
    response: 'HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhello' + OK,
    heads: [100, 'BAD_STATUS_LINE'],
    interim: [100],
    client: 502,
    reuse: false,
  },
  {
    name: 'a 1xx with a chunked body',
    request: 'GET',
    response: 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' + OK,
    heads: [103, 'BAD_STATUS_LINE'],
    interim: [103],
    client: 502,
    reuse: false,
  },
  // Both framing fields on a 1xx: refused as on any status (see the 304 above), before anything of
  // it is relayed.
  {
    name: 'a 1xx with Transfer-Encoding and Content-Length',
    request: 'GET',
    response: 'HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n' + OK,
    heads: ['BAD_RESPONSE'],
    client: 502,
    reuse: false,
  },
  // Valid: a 1xx, then the final response. The connection stays reusable.
  {
    name: 'a 100, then the final response',
    request: 'GET',
    response: 'HTTP/1.1 100 Continue\r\n\r\n' + OK,
    heads: [100, 200],
    interim: [100],
    client: { status: 200, body: 'ok' },
    reuse: true,
  },

  // ---------------------------------------------------------------------------------------------
  // Responses that have no body (RFC 9112 6.3 rule 1: HEAD, 1xx, 204, 304)

  // The status decides, not the fields: the response ends at its empty line, and the client gets
  // exactly that. The bytes behind it belong to nothing we asked for, so the connection is
  // closed, whether they came with the head or later, while it sat in the pool (nginx drops a
  // pooled connection that becomes readable, too).
  {
    name: 'a 204 with a body',
    request: 'GET',
    response: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello',
    heads: [204],
    client: { status: 204, body: '' },
    reuse: false,
  },
  // Content-Length on a 304 is the length the 200 would have had (RFC 9110 8.6): kept, no body.
  {
    name: 'a 304 with a body',
    request: 'GET',
    response: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello',
    heads: [304],
    client: { status: 304, body: '' },
    reuse: false,
  },
  {
    name: 'a body after the response to HEAD',
    request: 'HEAD',
    response: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
    heads: [200],
    client: { status: 200, body: '' },
    reuse: false,
  },
  {
    name: 'a chunked body after the response to HEAD',
    request: 'HEAD',
    response: CHUNKED_HEAD + '5\r\nhello\r\n0\r\n\r\n',
    heads: [200],
    client: { status: 200, body: '' },
    reuse: false,
  },
  // Valid: the response to HEAD says how long the body would be, and sends none.
  {
    name: 'the response to HEAD with Content-Length and no body',
    request: 'HEAD',
    response: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n',
    heads: [200],
    client: { status: 200, body: '' },
    reuse: true,
  },

  // ---------------------------------------------------------------------------------------------
  // Switching protocols

  // RFC 9110 15.2.2: a server MUST NOT switch to a protocol the request did not ask for in its
  // Upgrade field. A GET without one got a 101: the backend is answering some other request, or
  // is about to speak something that is not HTTP. 502, the connection closed.
  {
    name: 'a 101 without an upgrade request',
    request: 'GET',
    response: 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hi',
    heads: [101],
    client: 502,
    reuse: false,
  },

  // ---------------------------------------------------------------------------------------------
  // Chunked bodies (RFC 9112 7.1)
  //
  // The head goes out with the first body bytes of the read it came in (never held longer: a
  // stream whose first chunk comes late, server-sent events say, must get its head at once). A
  // bad chunk in that same read: the head is still ours to replace, 502. A bad chunk in a later
  // read: the status is out, and cutting the client connection mid-body is all that is left, as
  // nginx does ("upstream sent invalid chunked response"); the client sees a body that does not
  // end, never a wrong one. Either way the backend connection is closed.

  // chunk-size = 1*HEXDIG: nothing else, no sign, no "0x", no bare LF.
  {
    name: 'a chunk size that is not hex',
    request: 'GET',
    response: CHUNKED_HEAD + 'zz\r\nhello\r\n0\r\n\r\n',
    heads: [200],
    chunked: 'BAD_CHUNK_SIZE',
    client: 502,
    reuse: false,
  },
  {
    name: 'a negative chunk size',
    request: 'GET',
    response: CHUNKED_HEAD + '-5\r\nhello\r\n0\r\n\r\n',
    heads: [200],
    chunked: 'BAD_CHUNK_SIZE',
    client: 502,
    reuse: false,
  },
  {
    name: 'a chunk size written 0x5',
    request: 'GET',
    response: CHUNKED_HEAD + '0x5\r\nhello\r\n0\r\n\r\n',
    heads: [200],
    chunked: 'BAD_CHUNK_SIZE',
    client: 502,
    reuse: false,
  },
  // Past 2^53-1 a size is no longer an exact count: some reader would wrap or round it.
  {
    name: 'a chunk size of 2^53',
    request: 'GET',
    response: CHUNKED_HEAD + '20000000000000\r\nhello\r\n0\r\n\r\n',
    heads: [200],
    chunked: 'CHUNK_SIZE_TOO_LARGE',
    client: 502,
    reuse: false,
  },
  {
    name: 'a bare LF after a chunk size',
    request: 'GET',
    response: CHUNKED_HEAD + '5\nhello\r\n0\r\n\r\n',
    heads: [200],
    chunked: 'BAD_CHUNK_SIZE',
    client: 502,
    reuse: false,
  },
  // After a good chunk: the first chunk may well have gone to the client already.
  {
    name: 'a bad chunk size after a good chunk',
    request: 'GET',
    response: CHUNKED_HEAD + '5\r\nhello\r\nzz\r\n0\r\n\r\n',
    heads: [200],
    chunked: 'BAD_CHUNK_SIZE',
    client: 502,
    reuse: false,
  },
  // A size that lies: the data does not end where the size says (7.1: chunk-data CRLF, exactly).
  {
    name: 'a chunk longer than its size',
    request: 'GET',
    response: CHUNKED_HEAD + '5\r\nhello!\r\n0\r\n\r\n',
    heads: [200],
    chunked: 'BAD_CHUNK_DATA_END',
    client: 502,
    reuse: false,
  },

  // ---------------------------------------------------------------------------------------------
  // A response before the request body was sent

  // A server may answer before it has read the body: an early 413, a redirect (RFC 9112 9.5 has
  // the client watch for such a response while it sends). The response itself is valid:
  // forwarded. But:
  //   - the backend connection is never reused, also when the body did get there before the
  //     response ended: a server that answered without reading the body may read it as its next
  //     request (the "early response" and 0.CL desyncs), and its answer to that would be taken for
  //     the answer to the next request on the connection. Any byte of the final response that
  //     arrives before the whole request was sent makes it so.
  //   - when the head goes to the client before it sent its whole body, the client connection
  //     closes after the response (Connection: close): we cannot know whether the client will
  //     still send the rest (it may have sent Expect: 100-continue and now never will), and
  //     guessing wrong either hangs or reads its body as a request. A head that came after the
  //     body leaves the client connection as it was.
  {
    name: 'a response before the request body was sent',
    request: 'POST',
    response: OK,
    heads: [200],
    client: { status: 200, body: 'ok' },
    reuse: false,
  },
  // Valid: the backend asks for the body with a 100 (an interim response is no answer), then
  // answers once it has it: reusable, and the client connection goes on. When the final head has
  // begun to arrive in the same read as the 100, before the body went, it is an early answer as
  // above.
  {
    name: 'a 100 before the request body, then the response',
    request: 'POST',
    response: 'HTTP/1.1 100 Continue\r\n\r\n' + OK,
    heads: [100, 200],
    interim: [100],
    client: { status: 200, body: 'ok' },
    reuse: true,
  },

  // ---------------------------------------------------------------------------------------------
  // Bytes after a complete response

  // We asked one question, got one answer, and there is more: the backend is out of step. The
  // client gets the response (which is complete and valid), the rest is dropped with the
  // connection, whether it came in the same read or later, while the connection sat in the pool
  // (nginx: "upstream sent more data than specified", and no keep-alive).
  {
    name: 'extra bytes after a complete response',
    request: 'GET',
    response: OK + 'EXTRA',
    heads: [200],
    client: { status: 200, body: 'ok' },
    reuse: false,
  },
  // Response splitting: the extra bytes are a whole response, which must reach no one.
  {
    name: 'a second response behind the first',
    request: 'GET',
    response: OK + 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil',
    heads: [200],
    client: { status: 200, body: 'ok' },
    reuse: false,
  },
  {
    name: 'extra bytes after the end of a chunked body',
    request: 'GET',
    response: CHUNKED_HEAD + '5\r\nhello\r\n0\r\n\r\nX',
    heads: [200],
    chunked: 'end',
    client: { status: 200, body: 'hello' },
    reuse: false,
  },
];
