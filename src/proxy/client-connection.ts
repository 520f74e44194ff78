// One client connection and its loop: read a request head, route it, hand it to an Exchange
// (exchange.ts) that sends it to a server and relays the response, and take the next request when
// the exchange is done. Every request is routed on its own; pipelined requests wait their turn,
// so responses go out in request order (RFC 9112 9.3.2).
//
// States:
//   READ_HEAD   waiting for (the rest of) a request head; timeouts.header / timeouts.idle apply
//   EXCHANGE    an exchange is in flight: bytes that arrive go to it (a body, a tunnel) or are held
//   CLOSING     the connection ends after what is written; incoming bytes are discarded
//   CLOSED      the socket is gone

import type net from 'node:net';
import { HttpError, statusOf, type ErrorCode } from '../errors.js';
import type { ClientInfo } from '../http/forward.js';
import { EMPTY } from '../http/request-id.js';
import type { RequestHead, RequestParser } from '../http/request-parser.js';
import { ownResponse } from '../http/responses.js';
import { inReadBuffer, ownBytes, SocketIO } from '../io/socket-io.js';
import { proxyHeader } from '../http/proxy-header.js';
import type { ProxyHeader } from '../http/proxy-protocol.js';
import type { Entrance, ProxyContext } from './context.js';
import { now, type Timed } from './deadlines.js';
import { Exchange } from './exchange.js';
import type { ClientSide } from './sides.js';

const READ_HEAD = 0;
const EXCHANGE = 1;
const CLOSING = 2;
const CLOSED = 3;

/** What a client deadline is for. */
const IDLE = 0;
const HEADER = 1;
const LINGER = 2;

/** How long a closing connection may take to be closed by the client before we cut it. */
const LINGER_MS = 2000;

export class ClientConnection implements ClientSide, Timed {
  deadline = 0;
  private deadlineKind = IDLE;
  private state = READ_HEAD;
  private readonly parser: RequestParser;
  /** The limits the parser was made with (a reload may bring others). */
  private readonly limits: ProxyContext['limits'];
  readonly info: ClientInfo;
  private readonly io: SocketIO;
  private exchange: Exchange | null = null;
  /** Bytes received but not processed yet (a body, or pipelined requests), from `heldAt`. */
  private held: Buffer | null = null;
  heldAt = 0;
  /** The client sent FIN: finish the exchange in flight, then close. */
  ended = false;
  /** Whether some bytes of the next head have arrived, and when the first of a head that did not arrive whole did (now()). */
  private headStarted = false;
  private headAt = 0;
  /** True while readHeads runs: an exchange answered at once lets its loop go on. */
  private reading = false;

  /**
   * @param entrance what the listener that accepted it says: its scheme, whether it redirects
   * @param proxied the PROXY header the connection opened with (proxy_protocol), or null: then
   *   the client is the socket's peer, as it is for a header that names no client (LOCAL, UNKNOWN)
   */
  constructor(
    private readonly socket: net.Socket,
    private readonly ctx: ProxyContext,
    private readonly entrance: Entrance,
    readonly proxied: ProxyHeader | null = null,
  ) {
    this.limits = ctx.limits;
    this.parser = ctx.parsers.take(this.limits);
    const address = proxied === null || proxied.local ? clientAddress(socket) : proxied.source;
    // `fixed` is filled in by buildUpstreamHead; declared here so that the object keeps one shape.
    this.info = { address, proto: entrance.proto, trusted: ctx.isTrusted(address), fixed: undefined };
    this.io = new SocketIO(socket, this, this.onDrain);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    // The PROXY header's gate paused the socket with the client's first bytes put back.
    if (proxied !== null) this.io.resume();
    ctx.clients.add(this);
    ctx.deadlines.add(this);
    // A new connection must send its first head within timeouts.header.
    this.setDeadline(HEADER, ctx.timeouts.header, now());
  }

  get address(): string {
    return this.info.address;
  }

  get proto(): string {
    return this.info.proto;
  }

  /** Whether the connection is between requests (shutdown closes those at once). */
  get idle(): boolean {
    return this.state === READ_HEAD && !this.headStarted;
  }

  // --- socket events ---

  /** Whether the next read lands in a buffer of its own (io/read.ts): while a body or a tunnel streams. */
  streaming(): boolean {
    return this.state === EXCHANGE && this.exchange!.streamingRequest();
  }

  /** Bytes from the client; in the shared read buffer, valid until this returns. */
  onData(chunk: Buffer): void {
    if (this.state === READ_HEAD) this.readHeads(chunk, 0);
    else if (this.state === EXCHANGE) this.exchange!.onClientData(chunk);
    // CLOSING: discard.
    // Bytes held still in the shared buffer (`hold`) wait beyond this read: copied now.
    const held = this.held;
    if (held !== null && inReadBuffer(held)) this.keep(held, this.heldAt);
  }

  private readonly onEnd = (): void => {
    this.ended = true;
    if (this.state === EXCHANGE) this.exchange!.onClientEnd();
    else this.close();
  };

  private readonly onError = (): void => {
    this.destroy();
  };

  private readonly onClose = (): void => {
    this.destroy();
  };

  private readonly onDrain = (): void => {
    this.exchange?.onClientDrain();
  };

  onTimeout(): void {
    if (this.deadlineKind === HEADER && this.headStarted) {
      // A head that takes longer than timeouts.header: slowloris, or a client gone quiet.
      this.parser.abandon();
      this.reject('HEADER_TIMEOUT', this.headAt);
    } else {
      // An idle keep-alive connection, one that never sent a byte, or a linger that ran out.
      this.destroy();
    }
  }

  // --- reading requests ---

  /**
   * Parses heads from buf[at..] and starts their exchanges, until one has to wait for a backend.
   * Requests answered at once (404, 503) are answered in a loop, not by recursion, however many
   * arrive pipelined in one piece.
   */
  private readHeads(buf: Buffer, at: number): void {
    // Every caller has bytes to give: at < buf.length.
    this.reading = true;
    for (;;) {
      const continued = this.headStarted;
      this.headStarted = true;
      const head = this.parser.execute(buf, at);
      if (head === null) {
        // timeouts.header runs from a head's first bytes; a head that arrived whole needs none.
        if (!continued) {
          this.headAt = now();
          this.setDeadline(HEADER, this.ctx.timeouts.header, this.headAt);
        }
        break;
      }
      if (head instanceof HttpError) {
        // Nothing after bad bytes can be trusted to be framed right: answer and close.
        this.ctx.logger.debug(`client ${this.info.address}: ${head.code} ${head.message} (byte ${head.offset})`);
        this.reject(head.code, continued ? this.headAt : now());
        break;
      }
      at += this.parser.consumed;
      this.headStarted = false;
      this.startExchange(head, buf, at);
      if (this.state !== READ_HEAD) break;
      // Answered at once: go on with what followed the request.
      const held = this.takeHeld();
      if (held === null) break;
      buf = held;
      at = this.heldAt;
    }
    this.reading = false;
    if (this.state === READ_HEAD) this.io.resume();
  }

  /** Routes a parsed head and hands it to a new exchange. */
  private startExchange(head: RequestHead, buf: Buffer, at: number): void {
    // The clock is read once here, for everything this request sets off in this turn.
    const t = now();
    // A redirecting listener routes nothing: the exchange answers 308 (no pool).
    const redirect = this.entrance.redirect;
    const pool = redirect ? null : this.ctx.router.route(head.host, head.path);
    const exchange = new Exchange(this, this.ctx, head, pool, t, redirect);
    this.exchange = exchange;
    this.state = EXCHANGE;
    this.deadline = 0; // the backend's deadlines govern until the response is done
    // Whatever came after the head (body, pipelined requests) waits for the backend; so does
    // anything that arrives meanwhile (the exchange holds it).
    if (at < buf.length) this.hold(buf, at);
    exchange.start(t);
  }

  // --- what the exchange asks (sides.ts, ClientSide) ---

  write(bytes: Buffer): boolean {
    return this.io.write(bytes);
  }

  pause(): void {
    this.io.pause();
  }

  resume(): void {
    this.io.resume();
  }

  /**
   * Keeps buf[at..] for later and stops reading: one exchange at a time. Bytes in the shared read
   * buffer are only looked at here: their exchange may take them back in this same turn (its
   * backend connection comes from the idle pool), and then they need neither a copy nor a pause
   * and resume of the socket. If still held when their read is handled, `onData` copies them
   * and stops reading then (`keep`).
   */
  hold(buf: Buffer, at: number): void {
    /* c8 ignore start -- reading is paused while bytes wait, so none can arrive behind them; this
       only keeps them in order should that ever change */
    if (this.held !== null) {
      buf = Buffer.concat([this.held.subarray(this.heldAt), buf.subarray(at)]);
      at = 0;
    }
    /* c8 ignore stop */
    if (inReadBuffer(buf)) {
      this.held = buf;
      this.heldAt = at;
    } else this.keep(buf, at);
  }

  /** Holds buf[at..] beyond this read (copied out of the shared buffer) and stops reading. */
  private keep(buf: Buffer, at: number): void {
    if (inReadBuffer(buf)) {
      buf = ownBytes(buf, at, buf.length);
      at = 0;
    }
    this.held = buf;
    this.heldAt = at;
    this.io.pause();
  }

  takeHeld(): Buffer | null {
    const held = this.held;
    this.held = null;
    return held;
  }

  startTunnel(): void {
    this.deadline = 0; // a tunnel may be quiet for long; TCP keep-alive finds dead peers
    this.socket.setKeepAlive(true, 60_000);
  }

  /** The backend ended the tunnel: end ours too, and close if the client does not soon. */
  endTunnel(): void {
    this.socket.end();
    this.setDeadline(LINGER, LINGER_MS, now());
  }

  exchangeDone(close: boolean, t: number): void {
    this.exchange = null;
    if (close || this.ended) {
      this.close();
      return;
    }
    // Back to reading heads: first whatever was received meanwhile, then the socket.
    this.state = READ_HEAD;
    this.setDeadline(IDLE, this.ctx.timeouts.idle, t);
    if (this.reading) return; // readHeads' loop goes on with the held bytes
    const held = this.takeHeld();
    if (held !== null) this.readHeads(held, this.heldAt);
    if (this.state === READ_HEAD) this.io.resume();
  }

  /** Closes the connection at once; an exchange in flight is cut short. */
  destroy(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    const exchange = this.exchange;
    if (exchange !== null) {
      this.exchange = null;
      exchange.cancel(now());
    }
    this.held = null;
    // Nothing reads with the parser once CLOSED: a new connection may have it.
    this.ctx.parsers.give(this.parser, this.limits);
    this.ctx.clients.delete(this);
    this.ctx.deadlines.delete(this);
    this.socket.destroy();
  }

  /**
   * The PROXY header (send_proxy) that names this client to a backend: the addresses its own
   * PROXY header gave, else its socket's (a header without addresses names none: LOCAL, UNKNOWN).
   */
  proxyHeader(version: 1 | 2): Buffer {
    const p = this.proxied;
    if (p !== null && !p.local) return proxyHeader(version, p.source, p.sourcePort, p.destination, p.destinationPort);
    const s = this.socket;
    /* c8 ignore start -- the ports are undefined only for a socket that closed, and it is not read then */
    return proxyHeader(version, this.info.address, s.remotePort ?? 0, unmapped(s.localAddress ?? ''), s.localPort ?? 0);
    /* c8 ignore stop */
  }

  // --- helpers ---

  /**
   * A malformed request or a head too slow (no exchange yet): answer once, count and log it as
   * every response is (pool "": it was not routed), and close. `startedAt`: when its first bytes
   * came (now()).
   */
  private reject(code: ErrorCode, startedAt: number): void {
    const status = statusOf(code);
    // Its fields are not read: a new id.
    const ids = this.ctx.requestIds;
    const id = { idLine: EMPTY };
    ids?.fresh(id);
    const response = ownResponse(status, 'close', false, ids, id);
    this.io.write(response);
    this.ctx.unrouted.balancer(code);
    const log = this.ctx.accessLog;
    if (log.enabled) {
      // What the request line said, when it arrived whole; the head's fields are not read.
      const line = this.parser.refusedRequestLine();
      log.write({
        client: this.info.address,
        method: line === null ? '' : line.method,
        path: line === null ? '' : line.target,
        protocol: line === null ? '' : line.version,
        host: '',
        status,
        server: '-',
        bytes: response.length,
        ms: now() - startedAt,
        code,
        referer: null,
        userAgent: null,
        requestId: ids === null ? null : ids.idOf(id),
      });
    }
    this.close();
  }

  /** Ends the connection after what was written; bytes that still come are discarded. */
  private close(): void {
    if (this.state >= CLOSING) return;
    this.state = CLOSING;
    this.held = null;
    this.socket.end();
    this.io.resume();
    this.setDeadline(LINGER, LINGER_MS, now());
  }

  /** The next deadline: `ms` from `t` (now(), passed in by callers that have read it already). */
  private setDeadline(kind: number, ms: number, t: number): void {
    this.deadlineKind = kind;
    this.deadline = t + ms;
  }
}

/** The client's address, with the IPv4-mapped prefix of a dual-stack socket removed. */
export function clientAddress(socket: net.Socket): string {
  /* c8 ignore start -- undefined only for a socket that closed before it was handed to us */
  const address = socket.remoteAddress ?? '';
  /* c8 ignore stop */
  return unmapped(address);
}

/** "::ffff:10.0.0.1" (an IPv4 peer of a dual-stack socket) as "10.0.0.1"; any other address as it is. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
