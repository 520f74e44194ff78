// The response half of an exchange: reads the backend's response heads (relaying 1xx, switching
// to a tunnel on an asked-for 101), rewrites the final head for the client and streams the body
// behind it, tracking where the response ends (RFC 9112 6.3) so that both connections can be
// reused. Exchange (exchange.ts) extends it with the request half and the decisions.

import { HttpError, type ErrorCode } from '../errors.js';
import { buildClientHead } from '../http/forward.js';
import { EMPTY, type RequestIdSlot } from '../http/request-id.js';
import type { CompiledRoute } from '../http/route-rules.js';
import { ResponseBody, type ResponseBodyKind, type ResponseHead } from '../http/response-parser.js';
import type { ConnectionField } from '../http/responses.js';
import { ownBytes } from '../io/socket-io.js';
import type { ProxyContext } from './context.js';
import { now } from './deadlines.js';
import { Failure, type BackendSide, type ClientSide, type FailureKind } from './sides.js';

/** Below this, body bytes are copied behind the head so that both go out in one write (one syscall). */
const JOIN_LIMIT = 16 * 1024;

export abstract class ResponseRelay implements RequestIdSlot {
  /** The backend connection carrying the request, or null (none yet, or no longer). */
  protected backend: BackendSide | null = null;
  /** Whether any byte of response came, and whether the final response's head was parsed. */
  protected gotBytes = false;
  protected headSent = false;
  /** The final response head and what its Connection field says, until they go out with the first body bytes. */
  private headOut: ResponseHead | null = null;
  private connectionOut: ConnectionField = null;
  private bodyKind: ResponseBodyKind = ResponseBody.NONE;
  /** Body bytes still to come (Content-Length). */
  private bodyRemaining = 0;
  /** Whether the backend keeps its connection open after this response. */
  private backendKeepAlive = false;
  /**
   * Whether the head being read began to arrive before the whole request was sent. For the final
   * response, the backend answered without reading all of the body: what it makes of the rest is
   * unknown (it may read it as its next request: the early-response and 0.CL desyncs), so its
   * connection is not reused, even when the rest went out before the response ended. An interim
   * response before the body is expected (100 Continue) and clears it.
   */
  private early = false;
  /** Switched protocols (101): bytes pass through both ways unchanged until either side closes. */
  protected tunnel = false;
  /** In a tunnel: the backend ended its side, and the end was passed on to the client. */
  protected tunnelEnded = false;
  /** The status the client got (set when the response head goes out); 0 before. */
  protected status = 0;
  /** The client connection closes after this response. */
  protected closeAfter = false;
  /** Bytes sent to the client, head included. */
  protected bytes = 0;
  /** Field lines the final head gets besides the backend's (a sticky cookie), or null. */
  protected addLines: Buffer | null = null;
  /** The request's id (request-id.ts), which the final head gets when ids are on. */
  idLine = EMPTY;

  constructor(
    protected readonly client: ClientSide,
    protected readonly ctx: ProxyContext,
    /** The request's minor version: 0 for HTTP/1.0. */
    readonly minor: 0 | 1,
    /** Whether the client's connection may persist after this exchange. */
    protected readonly keepAlive: boolean,
    /** The request was HEAD: no body follows, whatever the response head says (RFC 9110 9.3.2). */
    protected readonly headOnly: boolean,
    /** The rules of the request's route (its response_headers apply to the final head). */
    readonly route: CompiledRoute,
  ) {}

  /** Whether the request asked to switch protocols. */
  abstract readonly upgrade: boolean;
  /**
   * Whether all of the request has been read from the client; while a response comes, all that
   * was read has gone to the backend, so this says whether the backend has the whole request.
   */
  abstract readonly received: boolean;
  /** Answers with a response of the balancer's own for `code` and ends the exchange. */
  abstract respond(code: ErrorCode): void;
  /** The response is out whole. `t`: now(). */
  protected abstract responseDone(reusable: boolean, t: number): void;
  /** The final head goes out with `status`: what the client's Connection field says. */
  protected abstract responseStarts(status: number, untilClose: boolean): ConnectionField;
  /** The backend's final head (or 101) came with `status`. `t`: now(). */
  protected abstract answered(status: number, t: number): void;
  abstract onBackendFailed(backend: BackendSide, kind: FailureKind, reason: string): void;

  /** Whether bytes of the final response went to the client: then no response of our own can follow. */
  protected get responseStarted(): boolean {
    return this.headSent && this.headOut === null;
  }

  /** Whether the backend's next read should land in a buffer of its own: a tunnel, or a body longer than JOIN_LIMIT. */
  streamingResponse(): boolean {
    if (this.tunnel) return true;
    if (!this.headSent) return false;
    return this.bodyKind !== ResponseBody.LENGTH || this.bodyRemaining > JOIN_LIMIT;
  }

  /** Response bytes (or a tunnel's), in the shared read buffer, valid until this returns. `t`: now(). */
  onResponseData(chunk: Buffer, t: number): void {
    if (this.tunnel) {
      // Backpressure: the client's drain resumes the backend.
      if (!this.send(ownBytes(chunk, 0, chunk.length))) this.backend!.pause();
      return;
    }
    this.gotBytes = true;
    let at = 0;
    if (!this.headSent) {
      at = this.readHead(chunk, t);
      if (at < 0) return;
    }
    this.relayBody(chunk, at, t);
  }

  /** The backend sent FIN. */
  onBackendEnd(): void {
    const backend = this.backend!;
    if (this.tunnel) {
      // The backend is done sending: pass the end on; the client's close ends the tunnel.
      this.tunnelEnded = true;
      this.client.endTunnel();
      return;
    }
    if (this.headSent && this.bodyKind === ResponseBody.UNTIL_CLOSE) {
      // RFC 9112 6.3 rule 8: the backend closing is the end of this response.
      this.responseDone(false, now());
      return;
    }
    backend.destroy();
    this.onBackendFailed(backend, Failure.LOST, 'connection closed');
  }

  /** Response bytes for the client, counted for the access log. */
  private send(bytes: Buffer): boolean {
    this.bytes += bytes.length;
    return this.client.write(bytes);
  }

  /**
   * Parses response heads from `chunk`: interim 1xx responses are relayed as they come (RFC 9112
   * 6.3: they precede the final response); the final one is kept to go out with the first body
   * bytes. Returns where the body starts in `chunk`, or -1 when the chunk was used up or the
   * exchange ended.
   */
  private readHead(chunk: Buffer, t: number): number {
    const backend = this.backend!;
    const parser = backend.parser;
    let at = 0;
    for (;;) {
      if (at < chunk.length && !this.received) this.early = true;
      const head = parser.execute(chunk, at);
      if (head === null) return -1;
      if (head instanceof HttpError) {
        this.ctx.logger.warn(`server ${backend.server.name}: ${head.message}, answering 502`);
        this.respond(head.code);
        return -1;
      }
      at += parser.consumed;
      if (head.status < 200) {
        if (head.status === 101) {
          if (!this.upgrade) {
            // A switch of protocols nobody asked for: the connection is out of step.
            this.ctx.logger.warn(`server ${backend.server.name}: unexpected 101, answering 502`);
            this.respond('UNEXPECTED_SWITCH');
            return -1;
          }
          // RFC 9110 15.2.2: after the 101's empty line, the connection speaks the new protocol;
          // we pass its bytes through both ways, unchanged, until either side closes.
          this.tunnel = true;
          this.headSent = true;
          this.answered(101, t);
          backend.startTunnel();
          this.responseStarts(101, true);
          this.send(buildClientHead(head, 'upgrade', this.addLines, this.route.response, this.ctx.requestIds, this, chunk, at, chunk.length));
          this.startTunnel();
          return -1;
        }
        // RFC 9110 15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client."
        if (this.minor === 1) this.send(buildClientHead(head, null, null, null, null, this));
        this.early = false;
        continue;
      }
      this.headSent = true;
      this.answered(head.status, t);
      this.bodyKind = head.body;
      this.bodyRemaining = head.contentLength;
      this.backendKeepAlive = head.keepAlive && !this.early;
      // Held until the body bytes of this piece are known: head and body leave in one write.
      this.headOut = head;
      this.connectionOut = this.responseStarts(head.status, head.body === ResponseBody.UNTIL_CLOSE);
      if (head.body === ResponseBody.CHUNKED) backend.chunks().reset();
      return at;
    }
  }

  /**
   * The client's side of the switch: bytes the client sent after its request (held meanwhile)
   * go to the backend first, then the client is read again.
   */
  private startTunnel(): void {
    const client = this.client;
    client.startTunnel();
    const held = client.takeHeld();
    if (held !== null) this.backend!.write(held.subarray(client.heldAt));
    client.resume();
  }

  /** Streams body bytes to the client, up to the end of the response. `t`: now(). */
  private relayBody(chunk: Buffer, at: number, t: number): void {
    const length = chunk.length;
    let end = length;
    let ended = false;
    switch (this.bodyKind) {
      case ResponseBody.NONE:
        end = at;
        ended = true;
        break;
      case ResponseBody.LENGTH:
        if (length - at >= this.bodyRemaining) {
          end = at + this.bodyRemaining;
          ended = true;
        }
        this.bodyRemaining -= end - at;
        break;
      case ResponseBody.CHUNKED: {
        const found = this.backend!.chunks().scan(chunk, at, length);
        if (found instanceof HttpError) {
          this.ctx.logger.warn(`server ${this.backend!.server.name}: bad chunked body (${found.message})`);
          if (this.headOut !== null) this.respond('BAD_RESPONSE_BODY');
          else this.client.destroy(); // the status line is out: all we can do is cut the response
          return;
        }
        if (found >= 0) {
          end = found;
          ended = true;
        }
        break;
      }
      // UNTIL_CLOSE: everything, until the backend closes.
    }
    const head = this.headOut;
    let ok = true;
    if (head !== null && end - at <= JOIN_LIMIT) {
      this.headOut = null;
      ok = this.send(buildClientHead(head, this.connectionOut, this.addLines, this.route.response, this.ctx.requestIds, this, chunk, at, end));
    } else if (end > at) {
      if (head !== null) {
        this.headOut = null;
        this.send(buildClientHead(head, this.connectionOut, this.addLines, this.route.response, this.ctx.requestIds, this));
      }
      ok = this.send(ownBytes(chunk, at, end));
    }
    if (!ok) this.backend!.pause(); // backpressure: the client's drain resumes the backend
    // Bytes after the end of a response we asked for one at a time mean the backend is out of
    // step: such a connection is not reused.
    if (ended) this.responseDone(this.backendKeepAlive && end === length, t);
  }
}
