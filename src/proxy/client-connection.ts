// One client connection and its loop: read a request head, route it, pick a server round robin,
// send the head and then the body as it arrives, relay the response (backend-connection.ts), and
// take the next request. Every request is routed on its own; pipelined requests wait their turn,
// so responses go out in request order (RFC 9112 9.3.2).
//
// States:
//   READ_HEAD   waiting for (the rest of) a request head; timeouts.header / timeouts.idle apply
//   CONNECTING  head parsed and routed; waiting for a backend connection (bytes that arrive are held)
//   FORWARDING  head sent; body bytes flow to the backend, the response flows back
//   TUNNEL      the backend switched protocols (101): bytes pass through both ways unchanged
//   CLOSING     the connection ends after what is written; incoming bytes are discarded
//   CLOSED      the socket is gone

import type net from 'node:net';
import { HttpError } from '../errors.js';
import { ChunkedScanner } from '../http/chunked.js';
import { buildUpstreamHead, type ClientInfo } from '../http/forward.js';
import { Body, type RequestHead, type RequestParser } from '../http/request-parser.js';
import { errorResponse, type ConnectionField } from '../http/responses.js';
import { BackendConnection, Failure, type FailureKind } from './backend-connection.js';
import type { ProxyBackend, ProxyContext, ProxyPool } from './context.js';
import { now, type Timed } from './deadlines.js';
import { DirectWriter } from './direct-write.js';
import { inReadBuffer, ownBytes, READ_BUFFER, READ_SIZE, readInto } from './read-buffer.js';

const READ_HEAD = 0;
const CONNECTING = 1;
const FORWARDING = 2;
const TUNNEL = 3;
const CLOSING = 4;
const CLOSED = 5;

/** What a client deadline is for. */
const IDLE = 0;
const HEADER = 1;
const LINGER = 2;

/** How long a closing connection may take to be closed by the client before we cut it. */
const LINGER_MS = 2000;

/** One request and its response, from the head being parsed to the response's last byte. */
class Exchange {
  /** Servers that failed this request, so that a retry goes elsewhere (null until a failure). */
  tried: ProxyBackend[] | null = null;
  /** The server the request went to last (for the access log), or null before a pick. */
  lastServer: ProxyBackend | null = null;
  backend: BackendConnection | null = null;
  /** The server the request is with now (counted in its in-flight requests), or null. */
  server: ProxyBackend | null = null;
  /** Request body bytes still to send (Content-Length), and the scanner for a chunked one. */
  remaining: number;
  chunked: ChunkedScanner | null = null;
  /** Whether the whole request (head and body) has been sent to the backend. */
  requestSent = false;
  /** Whether we wait for the backend's drain before reading more of the body. */
  waitingForDrain = false;
  /** Set when the response head goes out. */
  status = 0;
  closeAfter = false;
  /** A stale pooled connection failed: the next try opens a new connection. */
  fresh = false;
  /** A server took the request and failed it: when none is left, that is a 502, not a 503. */
  failedAfterSend = false;
  /** Bytes sent to the client for this exchange, head included. */
  bytes = 0;

  constructor(
    /** When the head was parsed (now()). */
    readonly started: number,
    readonly method: string,
    readonly host: string,
    readonly path: string,
    readonly minor: 0 | 1,
    readonly keepAlive: boolean,
    readonly body: number,
    contentLength: number,
    /** The client asked to switch protocols (WebSocket). */
    readonly upgrade: boolean,
    readonly pool: ProxyPool,
    /** The head as the backend gets it, kept for a retry. */
    readonly upstreamHead: Buffer,
  ) {
    this.remaining = contentLength;
  }

  /** Whether all of the request has been read from the client (it may not be sent yet). */
  get received(): boolean {
    return this.body === Body.NONE || this.requestSent;
  }

  /** RFC 9110 9.2.2: idempotent methods may be retried; we also require no body to replay. */
  get retriable(): boolean {
    return this.body === Body.NONE && (this.method === 'GET' || this.method === 'HEAD' || this.method === 'OPTIONS');
  }
}

export class ClientConnection implements Timed {
  deadline = 0;
  private deadlineKind = IDLE;
  private state = READ_HEAD;
  private readonly parser: RequestParser;
  /** The limits the parser was made with (a reload may bring others). */
  private readonly limits: ProxyContext['limits'];
  private readonly info: ClientInfo;
  /** Response bytes go out through this: straight to the socket's handle when nothing is queued. */
  private readonly writer: DirectWriter;
  private exchange: Exchange | null = null;
  /** Bytes received but not processed yet (a body, or pipelined requests), from `pendingAt`. */
  private pending: Buffer | null = null;
  private pendingAt = 0;
  /** The client sent FIN: finish the exchange in flight, then close. */
  private ended = false;
  /** Whether some bytes of the next head have arrived. */
  private headStarted = false;
  /** True while readHeads runs: an exchange answered at once lets its loop go on. */
  private reading = false;
  /** Whether the socket reads: true from our resume() until our pause() (see `resume`). */
  private flowing = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly ctx: ProxyContext,
  ) {
    this.limits = ctx.limits;
    this.parser = ctx.parsers.take(this.limits);
    const address = clientAddress(socket);
    // `fixed` is filled in by buildUpstreamHead; declared here so that the object keeps one shape.
    this.info = { address, proto: ctx.proto, trusted: ctx.isTrusted(address), fixed: undefined };
    if (!readInto(socket, this)) {
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      skipReadMoreTicks(socket);
    }
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    this.writer = new DirectWriter(socket, this.onDrain);
    ctx.clients.add(this);
    ctx.deadlines.add(this);
    // A new connection must send its first head within timeouts.header.
    this.setDeadline(HEADER, ctx.timeouts.header, now());
  }

  /** Whether the connection is between requests (shutdown closes those at once). */
  get idle(): boolean {
    return this.state === READ_HEAD && !this.headStarted;
  }

  // --- socket events ---

  /**
   * Where the next read lands: READ_BUFFER for heads, a buffer of its own while a request body
   * or a tunnel streams (those bytes are written on as they are; copying them would cost more).
   */
  readBuffer(): Buffer {
    const streaming = this.state === TUNNEL || (this.state === FORWARDING && !this.exchange!.requestSent);
    return streaming ? Buffer.allocUnsafe(READ_SIZE) : READ_BUFFER;
  }

  /** Bytes from the client; in READ_BUFFER (see read-buffer.ts), valid until this returns. */
  onData(chunk: Buffer): void {
    switch (this.state) {
      case READ_HEAD:
        this.readHeads(chunk, 0);
        break;
      case FORWARDING:
        if (!this.exchange!.requestSent) this.forwardBody(chunk, 0);
        else this.hold(chunk, 0);
        break;
      case CONNECTING:
        this.hold(chunk, 0);
        break;
      case TUNNEL: {
        const written = this.exchange!.backend!.write(ownBytes(chunk, 0, chunk.length));
        // Backpressure: the backend's drain resumes us.
        if (!written) {
          this.pause();
        }
        break;
      }
      // CLOSING: discard.
    }
  }

  private readonly onEnd = (): void => {
    this.ended = true;
    // Half-close: a request in flight still gets its response; otherwise we are done.
    if (this.state === TUNNEL) this.exchange!.backend!.endTunnel();
    else if (this.state === READ_HEAD || this.state === CLOSING) this.close();
    else if (this.exchange!.received) this.exchange!.closeAfter = true;
    else this.abort(); // the request was cut short
  };

  private readonly onError = (): void => {
    this.abort();
  };

  private readonly onClose = (): void => {
    this.abort();
  };

  private readonly onDrain = (): void => {
    this.exchange?.backend?.resume();
  };

  onTimeout(): void {
    if (this.deadlineKind === HEADER && this.headStarted) {
      // A head that takes longer than timeouts.header: slowloris, or a client gone quiet.
      this.respondAndClose(408);
    } else {
      // An idle keep-alive connection, one that never sent a byte, or a linger that ran out.
      this.abort();
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
        if (!continued) this.setDeadline(HEADER, this.ctx.timeouts.header, now());
        break;
      }
      if (head instanceof HttpError) {
        // Nothing after bad bytes can be trusted to be framed right: answer and close.
        this.ctx.logger.debug(`client ${this.info.address}: ${head.code} ${head.message} (byte ${head.offset})`);
        this.respondAndClose(head.status);
        break;
      }
      at += this.parser.consumed;
      this.headStarted = false;
      this.startExchange(head, buf, at);
      if (this.state !== READ_HEAD) break;
      // Answered at once: go on with what followed the request.
      const pending = this.takePending();
      if (pending === null) break;
      buf = pending;
      at = this.pendingAt;
    }
    this.reading = false;
    if (this.state === READ_HEAD) this.resume();
  }

  /** Routes a parsed head and sets off to a backend; or answers at once (404). */
  private startExchange(head: RequestHead, buf: Buffer, at: number): void {
    // The clock is read once here, for everything this request sets off in this turn.
    const t = now();
    const pool = this.ctx.router.route(head.host, head.path);
    if (pool === null) {
      if (at < buf.length) this.hold(buf, at);
      this.answerLocally(head, 404, t);
      return;
    }
    this.exchange = new Exchange(
      t,
      head.method,
      head.host,
      head.path,
      head.minor,
      head.keepAlive && !this.ended,
      head.body,
      head.contentLength,
      head.upgrade,
      pool,
      buildUpstreamHead(head, this.info),
    );
    if (head.body === Body.CHUNKED) this.exchange.chunked = new ChunkedScanner();
    pool.stats.requests++;
    pool.stats.inFlight++;
    this.state = CONNECTING;
    this.deadline = 0; // the backend's deadlines govern until the response is done
    // Whatever came after the head (body, pipelined requests) waits for the backend; so does
    // anything that arrives meanwhile (onData holds it).
    if (at < buf.length) this.hold(buf, at);
    this.connect(t);
  }

  /** Sends the exchange's request to the next server of its pool, or answers 503 / 502. `t`: now(). */
  private connect(t: number): void {
    const ex = this.exchange!;
    const server = ex.pool.pick(ex.tried);
    if (server === null) {
      // Every server is down or was tried: 503 if none took the connection, 502 if one took
      // the request and failed it (interface.md, "Responses the balancer makes itself").
      this.respondFromProxy(ex.failedAfterSend ? 502 : 503);
      return;
    }
    ex.lastServer = server;
    server.stats.requests++;
    server.stats.inFlight++;
    ex.server = server;
    const pooled = ex.fresh ? null : server.takeIdle();
    if (pooled !== null) this.onBackendReady(pooled, t);
    else ex.backend = new BackendConnection(server, this.ctx, this, t);
  }

  /** A backend connection is ready (new or from the pool): send the request. `t`: now(). */
  onBackendReady(backend: BackendConnection, t: number): void {
    const ex = this.exchange!;
    ex.backend = backend;
    this.state = FORWARDING;
    const pending = this.takePending();
    backend.send(this, ex.upstreamHead, ex.method === 'HEAD', pending !== null && ex.body !== Body.NONE, t);
    if (ex.body === Body.NONE) ex.requestSent = true;
    if (pending !== null) this.forwardBody(pending, this.pendingAt);
    else if (!ex.requestSent) this.resume();
  }

  /** Sends request body bytes from buf[at..] to the backend; keeps what follows the body. */
  private forwardBody(buf: Buffer, at: number): void {
    const ex = this.exchange!;
    if (ex.requestSent) {
      this.hold(buf, at);
      return;
    }
    const length = buf.length;
    let end = length;
    if (ex.chunked === null) {
      if (length - at >= ex.remaining) {
        end = at + ex.remaining;
        ex.requestSent = true;
      }
      ex.remaining -= end - at;
    } else {
      const found = ex.chunked.scan(buf, at, length);
      if (found instanceof HttpError) {
        // The head went out already; the backend must not see a body we cannot frame.
        this.ctx.logger.debug(`client ${this.info.address}: ${found.code} in chunked body`);
        this.respondAndClose(found.status);
        return;
      }
      if (found >= 0) {
        end = found;
        ex.requestSent = true;
      }
    }
    if (end > at && !ex.backend!.write(ownBytes(buf, at, end))) {
      ex.waitingForDrain = true;
      this.pause();
    }
    if (ex.requestSent) {
      if (end < length) this.hold(buf, end);
    } else if (!ex.waitingForDrain) {
      this.resume();
    }
  }

  /** The backend took the body bytes it had buffered: read more of the body. */
  onBackendDrain(): void {
    const ex = this.exchange;
    if (this.state === TUNNEL) this.resume();
    else if (ex !== null && ex.waitingForDrain) {
      ex.waitingForDrain = false;
      if (!ex.requestSent && this.state === FORWARDING) this.resume();
    }
  }

  /** Whether the request in flight asked to switch protocols. */
  get upgradeRequested(): boolean {
    return this.exchange!.upgrade;
  }

  /**
   * The backend answered 101 and its head went out: from now on this connection is a tunnel.
   * Bytes the client sent after its request (held meanwhile) go first.
   */
  startTunnel(): void {
    this.state = TUNNEL;
    this.deadline = 0; // a tunnel may be quiet for long; TCP keep-alive finds dead peers
    this.socket.setKeepAlive(true, 60_000);
    const pending = this.takePending();
    if (pending !== null) this.exchange!.backend!.write(pending.subarray(this.pendingAt));
    this.resume();
  }

  /** The backend ended the tunnel: end ours too, and close if the client does not soon. */
  endTunnel(): void {
    this.socket.end();
    this.setDeadline(LINGER, LINGER_MS, now());
  }

  // --- the response ---

  /**
   * The response head is about to go out. Returns what the Connection field must say to the
   * client: close when this connection ends after the response, keep-alive for a persistent
   * HTTP/1.0 client, nothing otherwise.
   */
  responseStarts(status: number, untilClose: boolean): ConnectionField {
    const ex = this.exchange!;
    ex.status = status;
    ex.closeAfter ||= !ex.keepAlive || untilClose || !ex.received || this.ctx.closing;
    return connectionField(ex.closeAfter, ex.minor);
  }

  /** Whether the client may be sent interim (1xx) responses: not an HTTP/1.0 one (RFC 9110 15.2). */
  get takesInterimResponses(): boolean {
    return this.exchange!.minor === 1;
  }

  /** Response bytes for the client, counted for the access log. */
  write(bytes: Buffer): boolean {
    this.exchange!.bytes += bytes.length;
    return this.writer.write(bytes);
  }

  /**
   * The response is complete: release the backend connection and take the next request. `t`:
   * now(), read by the backend connection for the bytes that completed it.
   */
  onResponseDone(backend: BackendConnection, reusable: boolean, t: number): void {
    const ex = this.exchange!;
    backend.release(reusable && ex.requestSent, t);
    this.finishExchange(ex, ex.status, t);
    if (ex.closeAfter || !ex.received || this.ended) {
      this.close();
      return;
    }
    this.nextRequest(t);
  }

  /** A backend connection failed before sending any response byte: retry or answer. */
  onBackendFailed(backend: BackendConnection, kind: FailureKind, reason: string): void {
    const ex = this.exchange!;
    ex.backend = null;
    ex.server = null;
    backend.backend.stats.inFlight--;
    backend.backend.stats.failures++;
    if (kind === Failure.CONNECT) {
      // Passive health: a server that refuses connections is out at once (interface.md).
      this.ctx.markDown(backend.backend, `connect ${reason}`);
      (ex.tried ??= []).push(backend.backend);
      this.connect(now());
    } else if (backend.reused && ex.retriable) {
      // Most likely a pooled connection the backend had closed: try again on a new connection;
      // the server is not counted as tried (the connection failed, not the server).
      ex.fresh = true;
      ex.failedAfterSend = true;
      this.connect(now());
    } else if (ex.retriable) {
      this.ctx.logger.warn(`server ${backend.backend.name}: ${reason} before any response, retrying ${ex.method} ${ex.path}`);
      (ex.tried ??= []).push(backend.backend);
      ex.failedAfterSend = true;
      this.connect(now());
    } else {
      this.ctx.logger.warn(`server ${backend.backend.name}: ${reason} before any response to ${ex.method} ${ex.path}`);
      this.respondFromProxy(502);
    }
  }

  /**
   * Answers the exchange in flight with a response of our own (502, 503, 504) and closes the
   * connection unless the request was complete and persistent.
   */
  respondFromProxy(status: number): void {
    const ex = this.exchange!;
    if (ex.backend !== null) ex.backend.destroy();
    const close = !ex.keepAlive || !ex.received || this.ended || this.ctx.closing || status === 504;
    const response = errorResponse(status, connectionField(close, ex.minor), ex.method === 'HEAD');
    ex.bytes += response.length;
    const t = now();
    this.finishExchange(ex, status, t);
    this.socket.write(response);
    if (close) this.close();
    else this.nextRequest(t);
  }

  /** The response was cut short after its head went out: nothing to do but close. */
  abort(): void {
    if (this.state === CLOSED) return;
    const tunnel = this.state === TUNNEL;
    this.state = CLOSED;
    const ex = this.exchange;
    if (ex !== null) {
      if (ex.backend !== null) ex.backend.destroy();
      // A tunnel ends by closing; any other exchange still open here was cut short (0).
      this.finishExchange(ex, tunnel ? 101 : 0, now());
    }
    this.pending = null;
    // Nothing reads with the parser once CLOSED: a new connection may have it.
    this.ctx.parsers.give(this.parser, this.limits);
    this.ctx.clients.delete(this);
    this.ctx.deadlines.delete(this);
    this.socket.destroy();
  }

  // --- helpers ---

  /** A request we answer ourselves (404): keep-alive when it had no body to skip. */
  private answerLocally(head: RequestHead, status: number, t: number): void {
    const close = !head.keepAlive || head.body !== Body.NONE || this.ended || this.ctx.closing;
    const response = errorResponse(status, connectionField(close, head.minor), head.method === 'HEAD');
    this.socket.write(response);
    const log = this.ctx.accessLog;
    if (log.enabled) {
      const { method, host, path, minor } = head;
      log.write({ client: this.info.address, method, host, path, minor, status, server: '-', bytes: response.length, ms: 0 });
    }
    if (close) this.close();
    else this.setDeadline(IDLE, this.ctx.timeouts.idle, t);
  }

  /** A malformed request, a bad chunk, a head too slow: answer once, drop any backend, close. */
  private respondAndClose(status: number): void {
    const ex = this.exchange;
    const response = errorResponse(status, 'close');
    if (ex !== null) {
      if (ex.backend !== null) ex.backend.destroy();
      ex.bytes += response.length;
      this.finishExchange(ex, status, now());
    }
    this.socket.write(response);
    this.close();
  }

  /** Back to reading heads: first whatever was received meanwhile, then the socket. `t`: now(). */
  private nextRequest(t: number): void {
    this.state = READ_HEAD;
    this.setDeadline(IDLE, this.ctx.timeouts.idle, t);
    if (this.reading) return; // readHeads' loop goes on with the pending bytes
    const pending = this.takePending();
    if (pending !== null) this.readHeads(pending, this.pendingAt);
    if (this.state === READ_HEAD) this.resume();
  }

  /** Ends the connection after what was written; bytes that still come are discarded. */
  private close(): void {
    if (this.state >= CLOSING) return;
    this.state = CLOSING;
    this.pending = null;
    this.socket.end();
    this.resume();
    this.setDeadline(LINGER, LINGER_MS, now());
  }

  /** Keeps buf[at..] for later and stops reading: one exchange at a time. */
  private hold(buf: Buffer, at: number): void {
    /* c8 ignore start -- reading is paused while bytes wait, so none can arrive behind them; this
       only keeps them in order should that ever change */
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending.subarray(this.pendingAt), buf.subarray(at)]);
      at = 0;
    }
    /* c8 ignore stop */
    if (inReadBuffer(buf)) {
      buf = ownBytes(buf, at, buf.length);
      at = 0;
    }
    this.pending = buf;
    this.pendingAt = at;
    this.pause();
  }

  /** Stops reading the socket (pause() stops the handle's reads at once: see readInto). */
  private pause(): void {
    this.flowing = false;
    this.socket.pause();
  }

  /**
   * Reads the socket again, if it was paused. Every pause() and resume() of the socket goes
   * through `pause` and `resume`, and resume() is called only when a pause() came since the last
   * one (or there was none yet): it is called at least once a request on each side, and on a
   * socket that reads already it did nothing but load stream state (megamorphic loads, 3% of
   * the instructions per keep-alive request).
   *
   * Why skipping it is safe (Node 20, lib/net.js and internal/streams/readable.js): after
   * socket.resume() the stream is flowing and not paused, and, for a socket that reads through
   * readInto (kBuffer set), the handle reads unless the socket was still connecting, in which
   * case afterConnect starts the reads of a socket that is not paused. Until the next pause()
   * nothing else stops it: Node stops a handle's reads only in pause() and in onStreamRead when
   * the stream refuses bytes (push() or the kBuffer callback returning false; with readInto the
   * reads with bytes never reach onStreamRead), and clears `flowing` only in pause(), in unpipe()
   * and for a 'readable' listener (neither used here); net.Server pauses a new socket only with
   * pauseOnConnect (not set). So a resume() with no pause() since the last one changes nothing.
   * A socket read through 'data' events (TLS) has no kBuffer: there resume() only sets `flowing`,
   * and Node's own flow control (push() returning false) restarts itself when read.
   */
  private resume(): void {
    if (!this.flowing) {
      this.flowing = true;
      this.socket.resume();
    }
  }

  private takePending(): Buffer | null {
    const pending = this.pending;
    this.pending = null;
    return pending;
  }

  /** The next deadline: `ms` from `t` (now(), passed in by callers that have read it already). */
  private setDeadline(kind: number, ms: number, t: number): void {
    this.deadlineKind = kind;
    this.deadline = t + ms;
  }

  /** The exchange is over, with `status` (0: cut short), at `t` (now()): count it, log it, forget it. */
  private finishExchange(ex: Exchange, status: number, t: number): void {
    this.exchange = null;
    const ms = t - ex.started;
    ex.pool.stats.finished(status);
    if (ex.server !== null) ex.server.stats.finished(status);
    this.ctx.durations.observe(ms / 1000);
    const log = this.ctx.accessLog;
    if (!log.enabled) return;
    const server = ex.lastServer === null ? '-' : ex.lastServer.name;
    const { method, host, path, minor, bytes } = ex;
    log.write({ client: this.info.address, method, host, path, minor, status, server, bytes, ms });
  }
}

/**
 * What a response's Connection field must say (RFC 9112 9.3, 9.6): "close" when the connection
 * ends after it; "keep-alive" to an HTTP/1.0 client whose connection persists, since HTTP/1.0
 * closes by default; nothing to an HTTP/1.1 client, for which persistence is the default.
 */
function connectionField(close: boolean, minor: 0 | 1): ConnectionField {
  if (close) return 'close';
  return minor === 0 ? 'keep-alive' : null;
}

/**
 * A Readable schedules a nextTick after each chunk it is given ("maybeReadMore") to go on reading
 * up to its highWaterMark. A socket does that by itself: libuv reads while the handle is started,
 * push() returning false stops it and resume() starts it again; so for a socket read in flowing
 * mode the tick only costs (about 4% of the CPU per keep-alive request). Marking it as scheduled
 * already skips it, as Node's own http server does for its requests (IncomingMessage sets the
 * same flag); nothing else reads the flag.
 */
function skipReadMoreTicks(socket: net.Socket): void {
  const state = (socket as unknown as { _readableState?: { readingMore: boolean } })._readableState;
  /* c8 ignore next -- every Readable of Node 20 and later has a _readableState */
  if (state === undefined) return;
  state.readingMore = true;
}

/** The client's address, with the IPv4-mapped prefix of a dual-stack socket removed. */
function clientAddress(socket: net.Socket): string {
  /* c8 ignore start -- undefined only for a socket that closed before it was handed to us */
  const address = socket.remoteAddress ?? '';
  /* c8 ignore stop */
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
