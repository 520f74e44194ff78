// One connection to a backend server: opened on demand for an exchange, reused while the backend
// keeps it alive, parked in its server's idle pool between requests. It carries bytes and tells
// the exchange whose request it carries what happened (sides.ts, ExchangeSide); what the bytes
// mean is the exchange's business. Its one deadline: timeouts.connect while connecting,
// timeouts.server while a request is out, the pool's idle time while parked. Over TLS
// (backend_tls) it is connecting until the handshake and the certificate check are done.

import net from 'node:net';
import { ChunkedScanner } from '../http/chunked.js';
import { ResponseParser } from '../http/response-parser.js';
import { SocketIO } from '../io/socket-io.js';
import type { ProxyContext } from './context.js';
import { now, type Timed } from './deadlines.js';
import { Failure, type BackendSide, type ExchangeSide, type ProxyBackend } from './sides.js';

const CONNECTING = 0;
/** Carrying a request for `exchange`. */
const ACTIVE = 1;
/** In its server's idle pool. */
const IDLE = 2;
/** Switched protocols (101): bytes pass through both ways until either side closes. */
const TUNNEL = 3;
const CLOSED = 4;

/** How long an idle pooled connection is kept: below the 5 s keep-alive of Node's http server,
 * the most common backend, so that we close first and never reuse a connection it is closing. */
export const POOL_IDLE_MS = 4000;

export class BackendConnection implements BackendSide, Timed {
  deadline = 0;
  /** Whether this connection already carried a response: then a failure may mean it was stale. */
  reused = false;
  readonly parser = new ResponseParser();
  private chunked: ChunkedScanner | null = null;
  /** The exchange whose request this carries; null while idle or closed. */
  private exchange: ExchangeSide | null;
  private state = CONNECTING;
  private readonly socket: net.Socket;
  private readonly io: SocketIO;
  /** timeouts.server of the route whose request this carries. */
  private serverTimeout = 0;

  /**
   * Opens a connection to `server` for `exchange`, which hears of it when it is ready. `t`: now().
   * `proxyHeader` (send_proxy): bytes sent first, naming the client; such a connection is closed
   * after its response rather than pooled, since it speaks for that one client.
   */
  constructor(
    readonly server: ProxyBackend,
    private readonly ctx: ProxyContext,
    exchange: ExchangeSide,
    t: number,
    private readonly proxyHeader: Buffer | null = null,
  ) {
    this.exchange = exchange;
    // backend_tls: the one branch it costs; a TLS socket is read and written through its stream (io/).
    const secure = server.tls;
    this.socket = secure === null ? net.connect({ host: server.host, port: server.port, noDelay: true }) : secure.connect(server.host, server.port, proxyHeader);
    this.io = new SocketIO(this.socket, this, this.onDrain);
    this.socket.on(secure === null ? 'connect' : 'secureConnect', secure === null ? this.onConnect : this.onSecureConnect);
    this.socket.on('end', this.onEnd);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    this.deadline = t + exchange.route.connect;
    ctx.deadlines.add(this);
  }

  /** A pooled connection can be reused while it is open and idle. */
  get reusable(): boolean {
    return this.state === IDLE && !this.socket.destroyed && this.socket.readyState === 'open';
  }

  chunks(): ChunkedScanner {
    return (this.chunked ??= new ChunkedScanner());
  }

  /**
   * Starts carrying `exchange`'s request: sends the head, and with it, in the same write,
   * body[bodyAt, bodyEnd) unless `body` is null. The body's bytes may lie in the shared read buffer:
   * only what the kernel does not take at once is copied (DirectWriter.writeWith). False when
   * bytes wait in a queue (backpressure: the drain follows).
   */
  send(exchange: ExchangeSide, head: Buffer, requestWasHead: boolean, t: number, body: Buffer | null, bodyAt: number, bodyEnd: number): boolean {
    this.exchange = exchange;
    this.state = ACTIVE;
    this.parser.requestWasHead = requestWasHead;
    this.serverTimeout = exchange.route.server;
    this.deadline = t + this.serverTimeout;
    return body === null ? this.io.write(head) : this.io.writeWith(head, body, bodyAt, bodyEnd);
  }

  write(bytes: Buffer): boolean {
    if (this.state === ACTIVE) this.deadline = now() + this.serverTimeout;
    return this.io.write(bytes);
  }

  pause(): void {
    this.io.pause();
  }

  resume(): void {
    this.io.resume();
  }

  startTunnel(): void {
    this.state = TUNNEL;
    this.deadline = 0; // a tunnel may be quiet for long; TCP keep-alive finds dead peers
  }

  endTunnel(): void {
    this.socket.end();
  }

  release(reusable: boolean, t: number): void {
    this.exchange = null;
    if (!reusable || this.state !== ACTIVE || this.ctx.closing || this.server.retired || this.proxyHeader !== null) {
      this.destroy();
      return;
    }
    this.state = IDLE;
    this.reused = true;
    this.io.resume();
    this.deadline = t + POOL_IDLE_MS;
    this.server.idle.push(this);
  }

  /** Closes the connection and forgets it: no event reaches an exchange after this. */
  destroy(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.exchange = null;
    this.deadline = 0;
    this.ctx.deadlines.delete(this);
    this.server.forget(this);
    this.socket.destroy();
  }

  // --- socket events ---

  /** Whether the next read lands in a buffer of its own (io/read.ts): the exchange knows. */
  streaming(): boolean {
    const exchange = this.exchange;
    return exchange !== null && exchange.streamingResponse();
  }

  /** Bytes from the backend; in the shared read buffer, valid until this returns. */
  onData(chunk: Buffer): void {
    const exchange = this.exchange;
    if (exchange === null || this.state === IDLE) {
      // Bytes while idle: nothing was asked, so the connection is out of step. Drop it.
      this.destroy();
      return;
    }
    // The clock is read once per read, for the deadline and for whatever the bytes complete.
    const t = now();
    if (this.state === ACTIVE) this.deadline = t + this.serverTimeout;
    exchange.onResponseData(chunk, t);
  }

  onTimeout(): void {
    const exchange = this.exchange;
    const state = this.state;
    this.destroy();
    if (exchange === null) return; // idle too long in the pool
    if (state === CONNECTING) exchange.onBackendFailed(this, Failure.CONNECT, 'timeout');
    else exchange.onBackendTimeout();
  }

  private readonly onConnect = (): void => {
    this.state = ACTIVE;
    // The PROXY header goes before anything else; the request head follows in this same turn.
    if (this.proxyHeader !== null) this.io.write(this.proxyHeader);
    this.exchange!.onBackendReady(this, now());
  };

  /** Connected over TLS, the certificate checked (a failed check is an error while connecting: refused). */
  private readonly onSecureConnect = (): void => {
    this.state = ACTIVE;
    // The PROXY header, if any, went before the handshake (backend-tls.ts).
    this.exchange!.onBackendReady(this, now());
  };

  private readonly onEnd = (): void => {
    const exchange = this.exchange;
    if (exchange === null) this.destroy(); // closed while pooled
    else exchange.onBackendEnd();
  };

  private readonly onError = (err: Error | null): void => {
    const exchange = this.exchange;
    const connecting = this.state === CONNECTING;
    this.destroy();
    if (exchange === null) return; // closed while pooled, or closed already
    // A TLS error (a certificate check, a handshake cut short) carries no system call, as a socket's own do.
    const tlsFailed = err !== null && connecting && this.server.tls !== null && (err as NodeJS.ErrnoException).syscall === undefined;
    const reason = err === null ? 'connection closed' : tlsFailed ? `TLS ${describe(err)}` : describe(err);
    exchange.onBackendFailed(this, connecting ? Failure.CONNECT : Failure.LOST, reason);
  };

  /** Closed without an error or an end seen first: handled as a close (a no-op once destroyed). */
  private readonly onClose = (): void => {
    this.onError(null);
  };

  private readonly onDrain = (): void => {
    this.exchange?.onBackendDrain();
  };
}

/** "ECONNRESET", "UNABLE_TO_VERIFY_LEAF_SIGNATURE": socket and TLS errors carry a code; the message is only a fallback. */
function describe(err: Error): string {
  /* c8 ignore next -- every error a net.Socket or a TLSSocket emits has a code */
  return (err as NodeJS.ErrnoException).code ?? err.message;
}
