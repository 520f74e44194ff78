// One connection to a backend server: opened on demand, reused while the backend keeps it alive,
// parked in its server's idle pool between requests. It reads the response to the request that
// a client connection sent on it, and streams it back to that client while tracking where the
// response ends (RFC 9112 6.3), so the connection can carry the next request.

import net from 'node:net';
import { HttpError } from '../errors.js';
import type { Backend } from '../balancer/backend.js';
import { ChunkedScanner } from '../http/chunked.js';
import { buildClientHead } from '../http/forward.js';
import { ResponseBody, ResponseParser, type ResponseHead } from '../http/response-parser.js';
import type { ConnectionField } from '../http/responses.js';
import { now, type Timed } from './deadlines.js';
import type { ClientConnection } from './client-connection.js';
import type { ProxyContext } from './context.js';
import { DirectWriter } from './direct-write.js';
import { ownBytes, READ_BUFFER, READ_SIZE, readInto } from './read-buffer.js';

const CONNECTING = 0;
/** Carrying a request for `client`. */
const ACTIVE = 1;
/** In its server's idle pool. */
const IDLE = 2;
/** Switched protocols (101): bytes pass through both ways until either side closes. */
const TUNNEL = 3;
const CLOSED = 4;

/** How long an idle pooled connection is kept: below the 5 s keep-alive of Node's http server,
 * the most common backend, so that we close first and never reuse a connection it is closing. */
export const POOL_IDLE_MS = 4000;

/** Why a backend connection failed, for the client connection to decide what to do. */
export const Failure = {
  /** Could not connect (refused, unreachable, connect timeout): nothing was sent. */
  CONNECT: 0,
  /** The request was (partly) sent and not one byte of response came back. */
  NO_RESPONSE: 1,
} as const;
export type FailureKind = (typeof Failure)[keyof typeof Failure];

// Backend sockets read into the shared READ_BUFFER (`readInto`; see read-buffer.ts).
// While a long body streams through (or a tunnel), a connection reads into buffers of its own
// instead, one per read, which are handed to the client's write as they are: copying every byte
// of a large response would cost more than the allocation it saves.

export class BackendConnection implements Timed {
  deadline = 0;
  /** The client connection whose request this carries, while ACTIVE. */
  client: ClientConnection | null = null;
  /** Whether this connection already carried a response: then a failure may mean it was stale. */
  reused = false;

  private state = CONNECTING;
  private readonly socket: net.Socket;
  /** Request bytes go out through this: straight to the socket's handle when nothing is queued. */
  private readonly writer: DirectWriter;
  private readonly parser = new ResponseParser();
  private chunked: ChunkedScanner | null = null;
  /** For the current exchange: whether any byte of response came, and whether its head went out. */
  private gotBytes = false;
  private headSent = false;
  private bodyKind: number = ResponseBody.NONE;
  private remaining = 0;
  private keepAlive = false;
  /** In a tunnel: the backend ended its side, and the end was passed on to the client. */
  private tunnelEnded = false;
  /** The final response head and what its Connection field says, until they go out with the first body bytes. */
  private headOut: ResponseHead | null = null;
  private connectionOut: ConnectionField = null;
  /** Whether the socket reads: true from our resume() until our pause() (ClientConnection's resume()). */
  private flowing = false;

  constructor(
    readonly backend: Backend<BackendConnection>,
    private readonly ctx: ProxyContext,
    client: ClientConnection,
    /** now(), read by the caller. */
    t: number,
  ) {
    this.client = client;
    this.socket = net.connect({ host: backend.host, port: backend.port, noDelay: true });
    /* c8 ignore next -- backend sockets are plain TCP: readInto declines only on another Node */
    if (!readInto(this.socket, this)) this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('connect', this.onConnect);
    this.socket.on('end', this.onEnd);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    this.socket.on('drain', this.onDrain);
    this.writer = new DirectWriter(this.socket, this.onDrain);
    this.deadline = t + ctx.timeouts.connect;
    ctx.deadlines.add(this);
  }

  /** A pooled connection can be reused while it is open and idle. */
  get reusable(): boolean {
    return this.state === IDLE && !this.socket.destroyed && this.socket.readyState === 'open';
  }

  /**
   * Starts carrying `client`'s request: sends the head. Body bytes written right after it, in
   * the same turn, leave with it in one write (the socket is corked until the next tick).
   */
  send(client: ClientConnection, head: Buffer, requestWasHead: boolean, bodyFollows: boolean, t: number): void {
    this.client = client;
    this.state = ACTIVE;
    this.gotBytes = false;
    this.headSent = false;
    this.headOut = null;
    this.parser.requestWasHead = requestWasHead;
    this.deadline = t + this.ctx.timeouts.server;
    if (bodyFollows) {
      this.socket.cork();
      process.nextTick(uncork, this.socket);
    }
    this.writer.write(head);
  }

  /** Writes request body bytes; false when the backend's buffer is full (wait for drain). */
  write(bytes: Buffer): boolean {
    if (this.state === ACTIVE) this.deadline = now() + this.ctx.timeouts.server;
    return this.writer.write(bytes);
  }

  /** A tunnel's client half-closed: pass the end on. */
  endTunnel(): void {
    this.socket.end();
  }

  /** Reads the socket again, if it was paused (the client drained what we wrote): see ClientConnection's resume(). */
  resume(): void {
    if (!this.flowing) {
      this.flowing = true;
      this.socket.resume();
    }
  }

  /** Stops reading the socket (pause() stops the handle's reads at once: see readInto). */
  private pause(): void {
    this.flowing = false;
    this.socket.pause();
  }

  /** Back into the server's idle pool, or closed when it cannot carry another request. `t`: now(). */
  release(reusable: boolean, t: number): void {
    this.client = null;
    if (!reusable || this.state !== ACTIVE || this.ctx.closing) {
      this.destroy();
      return;
    }
    this.state = IDLE;
    this.reused = true;
    this.resume();
    this.deadline = t + POOL_IDLE_MS;
    this.backend.idle.push(this);
  }

  destroy(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.client = null;
    this.deadline = 0;
    this.ctx.deadlines.delete(this);
    this.backend.forget(this);
    this.socket.destroy();
  }

  onTimeout(): void {
    const client = this.client;
    if (this.state === CONNECTING) {
      this.fail(Failure.CONNECT, 'timeout');
    } else if (this.state === ACTIVE && client !== null) {
      // timeouts.server: no response head in time, or the response stalled.
      this.destroy();
      if (this.headSent) client.abort();
      else client.respondFromProxy(504);
    } else {
      this.destroy(); // idle too long in the pool
    }
  }

  private readonly onConnect = (): void => {
    this.state = ACTIVE;
    this.client!.onBackendReady(this, now());
  };

  /** Where the next read lands (called by Node after each read): see READ_BUFFER. */
  readBuffer(): Buffer {
    return this.streaming() ? Buffer.allocUnsafe(READ_SIZE) : READ_BUFFER;
  }

  /** Whether more than JOIN_LIMIT bytes of body, or a tunnel, are likely to come next. */
  private streaming(): boolean {
    if (this.state === TUNNEL) return true;
    if (this.state !== ACTIVE || !this.headSent) return false;
    return this.bodyKind !== ResponseBody.LENGTH || this.remaining > JOIN_LIMIT;
  }

  /**
   * Bytes from the backend; in READ_BUFFER, valid until this returns. Backpressure pauses the
   * socket (pause() stops reading at once: see readInto).
   */
  onData(chunk: Buffer): void {
    const client = this.client;
    if (this.state === TUNNEL) {
      const written = client!.write(ownBytes(chunk, 0, chunk.length));
      // Backpressure: the client's drain resumes us.
      if (!written) {
        this.pause();
      }
      return;
    }
    if (this.state !== ACTIVE || client === null) {
      // Bytes while idle: nothing was asked, so the connection is out of step. Drop it.
      this.destroy();
      return;
    }
    this.gotBytes = true;
    // The clock is read once per read, for the deadline and for whatever the bytes complete.
    const t = now();
    this.deadline = t + this.ctx.timeouts.server;
    let at = 0;
    if (!this.headSent) {
      at = this.readHead(client, chunk);
      if (at < 0) return;
    }
    this.forwardBody(client, chunk, at, t);
  }

  /**
   * Parses response heads from `chunk`: interim 1xx responses are relayed as they come (RFC 9112
   * 6.3: they precede the final response); the final one is rewritten and sent. Returns where
   * the body starts in `chunk`, or -1 when the chunk was used up or the exchange ended.
   */
  private readHead(client: ClientConnection, chunk: Buffer): number {
    let at = 0;
    for (;;) {
      const head = this.parser.execute(chunk, at);
      if (head === null) return -1;
      if (head instanceof HttpError) {
        this.ctx.logger.warn(`server ${this.backend.name}: ${head.message}, answering 502`);
        this.destroy();
        client.respondFromProxy(502);
        return -1;
      }
      at += this.parser.consumed;
      if (head.status < 200) {
        if (head.status === 101) {
          if (!client.upgradeRequested) {
            // A switch of protocols nobody asked for: the connection is out of step.
            this.ctx.logger.warn(`server ${this.backend.name}: unexpected 101, answering 502`);
            this.destroy();
            client.respondFromProxy(502);
            return -1;
          }
          // RFC 9110 15.2.2: after the 101's empty line, the connection speaks the new protocol;
          // we pass its bytes through both ways, unchanged, until either side closes.
          this.state = TUNNEL;
          this.deadline = 0;
          this.headSent = true;
          client.responseStarts(101, true);
          client.write(buildClientHead(head, 'upgrade', chunk, at, chunk.length));
          client.startTunnel();
          return -1;
        }
        // RFC 9110 15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client."
        if (client.takesInterimResponses) client.write(buildClientHead(head, null));
        continue;
      }
      this.headSent = true;
      this.bodyKind = head.body;
      this.remaining = head.contentLength;
      this.keepAlive = head.keepAlive;
      // Held until the body bytes of this piece are known: head and body leave in one write.
      this.headOut = head;
      this.connectionOut = client.responseStarts(head.status, head.body === ResponseBody.UNTIL_CLOSE);
      if (head.body === ResponseBody.CHUNKED) (this.chunked ??= new ChunkedScanner()).reset();
      return at;
    }
  }

  /** Streams body bytes to the client, up to the end of the response. `t`: now(). */
  private forwardBody(client: ClientConnection, chunk: Buffer, at: number, t: number): void {
    const length = chunk.length;
    let end = length;
    let ended = false;
    switch (this.bodyKind) {
      case ResponseBody.NONE:
        end = at;
        ended = true;
        break;
      case ResponseBody.LENGTH:
        if (length - at >= this.remaining) {
          end = at + this.remaining;
          ended = true;
        }
        this.remaining -= end - at;
        break;
      case ResponseBody.CHUNKED: {
        const found = this.chunked!.scan(chunk, at, length);
        if (found instanceof HttpError) {
          this.ctx.logger.warn(`server ${this.backend.name}: bad chunked body (${found.message})`);
          this.destroy();
          if (this.headOut !== null) client.respondFromProxy(502);
          else client.abort(); // the status line is out: all we can do is cut the response
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
      ok = client.write(buildClientHead(head, this.connectionOut, chunk, at, end));
    } else if (end > at) {
      if (head !== null) {
        this.headOut = null;
        client.write(buildClientHead(head, this.connectionOut));
      }
      ok = client.write(ownBytes(chunk, at, end));
    }
    if (!ok) this.pause(); // backpressure: the client's drain resumes us
    // Bytes after the end of a response we asked for one at a time mean the backend is out of
    // step: such a connection is not reused.
    if (ended) this.finish(client, this.keepAlive && end === length, t);
  }

  private finish(client: ClientConnection, reusable: boolean, t: number): void {
    this.deadline = 0;
    this.headSent = false;
    client.onResponseDone(this, reusable, t);
  }

  private readonly onEnd = (): void => {
    const client = this.client;
    if (this.state === TUNNEL) {
      // The backend is done sending: pass the end on; the client's close ends the tunnel.
      this.tunnelEnded = true;
      client!.endTunnel();
      return;
    }
    if (this.state === ACTIVE && client !== null && this.headSent && this.bodyKind === ResponseBody.UNTIL_CLOSE) {
      // RFC 9112 6.3 rule 8: the backend closing is the end of this response.
      this.finish(client, false, now());
      this.destroy();
      return;
    }
    this.onError(null);
  };

  private readonly onError = (err: Error | null): void => {
    const client = this.client;
    const state = this.state;
    if (client === null || state === IDLE) {
      this.destroy(); // closed while pooled (or closed already): just forget it
      return;
    }
    if (state === TUNNEL) {
      this.destroy();
      // After the backend's own end, the client's side closes by itself (or at its linger time).
      if (!this.tunnelEnded) {
        client.abort();
      }
      return;
    }
    const reason = err === null ? 'connection closed' : describe(err);
    if (state === CONNECTING) this.fail(Failure.CONNECT, reason);
    else if (!this.gotBytes) this.fail(Failure.NO_RESPONSE, reason);
    else {
      this.destroy();
      if (this.headSent) client.abort(); // the status is out: cut the response
      else client.respondFromProxy(502);
    }
  };

  /** Closed without an error or an end seen first: handled as a close (a no-op once destroyed). */
  private readonly onClose = (): void => {
    this.onError(null);
  };

  private readonly onDrain = (): void => {
    this.client?.onBackendDrain();
  };

  private fail(kind: FailureKind, reason: string): void {
    const client = this.client!;
    this.destroy();
    client.onBackendFailed(this, kind, reason);
  }
}

function uncork(socket: net.Socket): void {
  socket.uncork();
}

/** Below this, body bytes are copied behind the head so that both go out in one write (one syscall). */
const JOIN_LIMIT = 16 * 1024;

/** "ECONNRESET": socket errors carry a code; the message is only a fallback. */
function describe(err: Error): string {
  /* c8 ignore next -- every error a net.Socket emits has a code */
  return (err as NodeJS.ErrnoException).code ?? err.message;
}
