// One request and its response, from the parsed head to the response's last byte. The exchange
// builds the head the backend gets (with its route's rules and the request's id), picks a server
// (and another when one fails before answering), sends the head and streams the body to a
// backend connection, relays the response as response-relay.ts frames it, answers itself when it
// must (an error of errors.ts: the one path from a code to a response; a route's redirect;
// a body over limits.max_body), and counts and logs itself when it is over. The client connection reads, the backend connection
// carries bytes; every decision about the request is made here.

import { formatDuration } from '../config/values.js';
import { statusOf, HttpError, type ErrorCode } from '../errors.js';
import { ChunkedScanner, DEFAULT_CHUNKED_LIMITS } from '../http/chunked.js';
import { buildUpstreamHead } from '../http/forward.js';
import { noRules, redirectLocation } from '../http/route-rules.js';
import { text } from '../http/chars.js';
import { FIELD_STRIDE, F_VALUE, F_VALUE_END, Field } from '../http/fields.js';
import { Body, type BodyKind, type RequestHead } from '../http/request-parser.js';
import { cookieValue, hashKeyOf } from '../http/request-key.js';
import { ownResponse, redirectResponse, type ConnectionField } from '../http/responses.js';
import { ownBytes } from '../io/socket-io.js';
import { BackendConnection } from './backend-connection.js';
import type { ProxyContext } from './context.js';
import { now } from './deadlines.js';
import { ResponseRelay } from './response-relay.js';
import type { Waiter } from '../balancer/pool.js';
import { Failure, type BackendSide, type ClientSide, type ExchangeSide, type FailureKind, type ProxyBackend, type ProxyPool } from './sides.js';

export class Exchange extends ResponseRelay implements ExchangeSide, Waiter<ProxyBackend> {
  /** Servers that failed this request, so that a retry goes elsewhere (null until a failure). */
  private failed: ProxyBackend[] | null = null;
  /** The server the request went to last (for the access log), or null before a pick. */
  private lastServer: ProxyBackend | null = null;
  /** The server the request is with now (counted in its in-flight requests), or null; its position in the pool. */
  private server: ProxyBackend | null = null;
  private position = -1;
  /** The request's hash key (balance: hash), or null. */
  readonly key: string | null = null;
  /** The position the request's sticky cookie names, or -1. */
  private stickyAt = -1;
  /** When the request went to its server (now()): the latency least_latency measures starts there. */
  private sentAt = 0;
  /** Whether the request waits in the pool's queue, and since when (the pool sets it). */
  private queued = false;
  queuedAt = 0;
  /** Request body bytes still to send (Content-Length), and the scanner for a chunked one. */
  private remaining: number;
  private readonly chunked: ChunkedScanner | null;
  /** Whether the backend connection is ready and has the head: body bytes go to it as they come. */
  private forwarding = false;
  /** Whether the whole request (head and body) has been sent to the backend. */
  private requestSent = false;
  /** Whether we wait for the backend's drain before reading more of the body. */
  private waitingForDrain = false;
  /** A stale pooled connection failed: the next try opens a new connection. */
  private fresh = false;
  /** A server took the request and failed it: when none is left, that is a 502, not a 503. */
  private failedAfterSend = false;

  readonly method: string;
  readonly host: string;
  readonly path: string;
  /** The request's Referer and User-Agent for the access log, copied (the head's bytes are reused); null when it has none, or nothing is logged. */
  private referer: string | null = null;
  private userAgent: string | null = null;
  private readonly body: BodyKind;
  /** The client asked to switch protocols (WebSocket). */
  readonly upgrade: boolean;
  /** The head as the backend gets it, kept for a retry; null when the request goes to no server (no route, a redirect). */
  private readonly upstreamHead: Buffer | null = null;

  /**
   * @param pool where the request goes; null when no route matched (answered 404 by `start`)
   * @param started when the head was parsed (now())
   * @param redirect the request came to a `redirect: https` listener: answered 308 (`pool` is null)
   */
  constructor(
    client: ClientSide,
    ctx: ProxyContext,
    head: RequestHead,
    private readonly pool: ProxyPool | null,
    readonly started: number,
    private readonly redirect = false,
  ) {
    super(client, ctx, head.minor, head.keepAlive && !client.ended, head.method === 'HEAD', pool === null ? NO_ROUTE : pool.route);
    this.method = head.method;
    this.host = head.host;
    this.path = head.path;
    this.body = head.body;
    this.upgrade = head.upgrade;
    this.remaining = head.contentLength;
    const maxBody = ctx.limits.maxBody;
    this.chunked = head.body === Body.CHUNKED ? new ChunkedScanner(DEFAULT_CHUNKED_LIMITS, maxBody) : null;
    const ids = ctx.requestIds;
    if (pool !== null && pool.route.redirect === null) this.upstreamHead = buildUpstreamHead(head, client.info, pool.route, ids, this);
    else if (ids !== null) ids.of(head, this);
    if (ctx.accessLog.enabled) this.readLogFields(head);
    // What the pool's options read of the request; nothing for a pool without them.
    if (pool !== null) {
      if (pool.hashKey !== null) this.key = hashKeyOf(pool.hashKey, head, client.address);
      const sticky = pool.sticky;
      if (sticky !== null) {
        const id = cookieValue(head, sticky.settings.cookie);
        if (id !== null) this.stickyAt = sticky.positionOf(id);
      }
    }
  }

  /** Copies the Referer and User-Agent values (the first of each) for the access line. */
  private readLogFields(head: RequestHead): void {
    const { buf, fields, kinds, fieldCount } = head;
    for (let k = 0; k < fieldCount; k++) {
      const kind = kinds[k];
      if (kind !== Field.REFERER && kind !== Field.USER_AGENT) continue;
      const at = FIELD_STRIDE * k;
      const value = text(buf, fields[at + F_VALUE]!, fields[at + F_VALUE_END]!);
      if (kind === Field.REFERER) this.referer ??= value;
      else this.userAgent ??= value;
    }
  }

  /** The servers that failed this request (the queue picks for it). */
  get tried(): readonly ProxyBackend[] | null {
    return this.failed;
  }

  /** Whether all of the request has been read from the client (it may not be sent yet). */
  get received(): boolean {
    return this.body === Body.NONE || this.requestSent;
  }

  /** RFC 9110 9.2.2: idempotent methods may be retried; we also require no body to replay. */
  private get retriable(): boolean {
    return this.body === Body.NONE && (this.method === 'GET' || this.method === 'HEAD' || this.method === 'OPTIONS');
  }

  /**
   * Sets off to a server of the pool; or answers 404 when no route matched (308 on a redirecting
   * listener), the route's redirect, or 413 when the body's Content-Length is over
   * limits.max_body (nothing goes to a server, and the connection closes: the body is not read).
   * `t`: now().
   */
  start(t: number): void {
    const pool = this.pool;
    if (pool === null) {
      // An HTTP/1.0 request may come without Host: then there is no name to redirect to.
      this.respond(!this.redirect ? 'NO_ROUTE' : this.host === '' ? 'MISSING_HOST' : 'HTTPS_REDIRECT');
      return;
    }
    pool.stats.requests++;
    pool.stats.inFlight++;
    const redirect = this.route.redirect;
    if (redirect !== null) {
      this.answer(REDIRECT_CODES[redirect.code], false, redirectLocation(redirect.parts, this.host, this.path, this.client.proto));
      return;
    }
    const maxBody = this.ctx.limits.maxBody;
    if (maxBody > 0 && this.remaining > maxBody) {
      this.respond('BODY_TOO_LARGE', true);
      return;
    }
    pool.budget.request(t);
    this.connect(t, false);
  }

  /**
   * Sends the request to the next server of the pool; puts it in the queue when every server that
   * could take it is at its max_connections; or answers 503 / 502. `retry`: a server failed it
   * before (the retry budget decides). `t`: now().
   */
  private connect(t: number, retry: boolean): void {
    const pool = this.pool!;
    const i = pool.pick(this.failed, this.key, t, this.stickyAt);
    if (i < 0) {
      if (pool.atLimit(this.failed)) {
        if (pool.enqueue(this, t)) this.queued = true;
        else this.respond('QUEUE_FULL');
        return;
      }
      // Every server is down or was tried: 503 if none took the connection, 502 if one took
      // the request and failed it (interface.md, "Responses the balancer makes itself").
      this.respond(this.failedAfterSend ? 'UPSTREAM_RESET' : this.failed === null ? 'NO_SERVER' : 'UPSTREAM_CONNECT');
      return;
    }
    if (retry && !pool.budget.tryRetry(t)) {
      pool.retriesDenied++;
      this.respond('RETRY_BUDGET');
      return;
    }
    this.sendTo(i, t);
  }

  /** The pool's queue has a slot for this request on position `i` (pool.ts, Waiter). */
  admit(i: number, t: number): void {
    this.queued = false;
    this.sendTo(i, t);
  }

  queueTimedOut(): void {
    this.queued = false;
    this.respond('QUEUE_TIMEOUT');
  }

  /** Sends the request to the server at position `i` of the pool: a pooled connection, or a new one. */
  private sendTo(i: number, t: number): void {
    const pool = this.pool!;
    const server = pool.servers[i]!;
    this.lastServer = server;
    server.stats.requests++;
    server.stats.inFlight++;
    this.server = server;
    this.position = i;
    this.sentAt = t;
    // A response from a server other than the one the client's cookie names tells it this one.
    const sticky = pool.sticky;
    if (sticky !== null) this.addLines = i === this.stickyAt ? null : sticky.line(i, this.client.proto === 'https');
    // send_proxy: a connection that opened with one client's address is that client's alone, so
    // it is neither taken from the server's idle pool nor put back in it (backend-connection.ts).
    const sendProxy = pool.sendProxy;
    const pooled = this.fresh || sendProxy !== 0 ? null : server.takeIdle();
    if (pooled !== null) this.onBackendReady(pooled, t);
    else this.backend = new BackendConnection(server, this.ctx, this, t, sendProxy === 0 ? null : this.client.proxyHeader(sendProxy));
  }

  // --- the request ---

  onBackendReady(backend: BackendSide, t: number): void {
    this.backend = backend;
    this.forwarding = true;
    const client = this.client;
    const held = client.takeHeld();
    if (held === null || this.body === Body.NONE) {
      backend.send(this, this.upstreamHead!, this.headOnly, t, null, 0, 0);
      if (this.body === Body.NONE) this.requestSent = true;
      if (held !== null) client.hold(held, client.heldAt); // what came after a request without a body
      else if (!this.requestSent) client.resume();
      return;
    }
    // The body's first bytes leave with the head, in one write. From a connection of the idle
    // pool they are still in the shared read buffer (the read that brought them is being
    // handled): send() copies only what the kernel does not take.
    const at = client.heldAt;
    const end = this.bodyEnd(held, at);
    if (end < 0) return;
    this.bodySent(held, end, backend.send(this, this.upstreamHead!, this.headOnly, t, held, at, end));
  }

  /** Bytes from the client while this exchange is in flight; in the shared read buffer, valid until this returns. */
  onClientData(chunk: Buffer): void {
    if (this.tunnel) {
      // Backpressure: the backend's drain resumes the client.
      if (!this.backend!.write(ownBytes(chunk, 0, chunk.length))) this.client.pause();
    } else if (this.forwarding && !this.requestSent) {
      this.forwardBody(chunk, 0);
    } else {
      this.client.hold(chunk, 0);
    }
  }

  /** Whether the client's next read should land in a buffer of its own: a body streams, or a tunnel. */
  streamingRequest(): boolean {
    return this.tunnel || (this.forwarding && !this.requestSent);
  }

  /** Sends request body bytes from buf[at..] to the backend; hands what follows the body back to the client. */
  private forwardBody(buf: Buffer, at: number): void {
    const end = this.bodyEnd(buf, at);
    if (end < 0) return;
    this.bodySent(buf, end, end === at || this.backend!.write(ownBytes(buf, at, end)));
  }

  /**
   * Where the body ends in buf[at..] (buf.length: it goes on past this piece), counting the piece
   * off; -1 when the piece cannot be sent (a bad chunked body): answered or cut already.
   */
  private bodyEnd(buf: Buffer, at: number): number {
    const length = buf.length;
    if (this.chunked === null) {
      if (length - at < this.remaining) {
        this.remaining -= length - at;
        return length;
      }
      const end = at + this.remaining;
      this.remaining = 0;
      this.requestSent = true;
      return end;
    }
    const found = this.chunked.scan(buf, at, length);
    if (found instanceof HttpError) {
      // The backend must not see a body we cannot frame, nor more than max_body bytes of one
      // (the scanner stops at the size line of the chunk that would pass it, so none of this
      // piece is sent). Its connection goes.
      const client = this.client;
      this.ctx.logger.debug(`client ${client.address}: ${found.code} in chunked body`);
      if (this.responseStarted) {
        // A status is out already: all that is left is to cut the response.
        const backend = this.backend!;
        this.backend = null;
        backend.destroy();
        client.destroy();
      } else this.respond(found.code, true);
      return -1;
    }
    if (found < 0) return length;
    this.requestSent = true;
    return found;
  }

  /**
   * The body's bytes up to `end` of `buf` went to the backend (`whole`: none wait in a queue):
   * wait for its drain, or read on; what follows the body in `buf` waits for the next request.
   */
  private bodySent(buf: Buffer, end: number, whole: boolean): void {
    const client = this.client;
    if (!whole) {
      this.waitingForDrain = true;
      client.pause();
    }
    if (this.requestSent) {
      if (end < buf.length) client.hold(buf, end);
    } else if (!this.waitingForDrain) {
      client.resume();
    }
  }

  onBackendDrain(): void {
    if (this.tunnel) this.client.resume();
    else if (this.waitingForDrain) {
      this.waitingForDrain = false;
      if (!this.requestSent) this.client.resume();
    }
  }

  /** The client wrote out what was queued: read more of the response. */
  onClientDrain(): void {
    this.backend?.resume();
  }

  /** The client sent FIN while this exchange is in flight. */
  onClientEnd(): void {
    // Half-close: a request in flight still gets its response; a tunnel passes the end on, or,
    // when the backend's side is closed already, the tunnel is over.
    if (this.tunnel) {
      if (this.backend !== null) this.backend.endTunnel();
      else this.client.destroy();
    }
    else if (this.received) this.closeAfter = true;
    else this.client.destroy(); // the request was cut short
  }

  // --- failures ---

  onBackendFailed(backend: BackendSide, kind: FailureKind, reason: string): void {
    this.backend = null;
    if (this.tunnel) {
      // After the backend's own end, the client's side closes by itself (or at its linger time).
      if (!this.tunnelEnded) this.client.destroy();
      return;
    }
    const t = now();
    const stale = kind === Failure.LOST && !this.gotBytes && backend.reused && this.retriable;
    // A stale pooled connection says nothing of the server; any other failure counts against it.
    if (!stale && this.pool!.observes) this.pool!.failed(this.position, kind === Failure.CONNECT ? `connect ${reason}` : reason, t);
    if (kind === Failure.LOST && this.gotBytes) {
      // The response had begun: with its status out all we can do is cut it, else 502.
      const name = backend.server.name;
      if (this.headSent) {
        this.ctx.logger.warn(`server ${name}: ${reason} in the middle of the response to ${this.method} ${this.path}, cutting it`);
        this.client.destroy();
      } else {
        this.ctx.logger.warn(`server ${name}: ${reason} inside the response head, answering 502 to ${this.method} ${this.path}`);
        this.respond('UPSTREAM_RESET');
      }
      return;
    }
    const server = backend.server;
    this.server = null;
    server.stats.inFlight--;
    server.stats.failures++;
    if (kind === Failure.CONNECT) {
      // Passive health: a server that refuses connections is out at once (interface.md).
      this.ctx.markDown(server, `connect ${reason}`);
      (this.failed ??= []).push(server);
      this.connect(t, true);
    } else if (stale) {
      // Most likely a pooled connection the backend had closed: try again on a new connection;
      // the server is not counted as tried (the connection failed, not the server), nor is it
      // a retry the budget counts.
      this.fresh = true;
      this.failedAfterSend = true;
      this.connect(t, false);
    } else if (this.retriable) {
      this.ctx.logger.warn(`server ${server.name}: ${reason} before any response, retrying ${this.method} ${this.path}`);
      (this.failed ??= []).push(server);
      this.failedAfterSend = true;
      this.connect(t, true);
    } else {
      this.ctx.logger.warn(`server ${server.name}: ${reason} before any response to ${this.method} ${this.path}`);
      this.respond('UPSTREAM_RESET');
    }
    // The slot this request held is free for a request waiting in a queue.
    if (server.limited) server.slotFreed(t);
  }

  onBackendTimeout(): void {
    // timeouts.server: no response head in time (504), or the response stalled (cut).
    this.backend = null;
    if (this.pool!.observes) this.pool!.failed(this.position, 'timeout', now());
    const server = this.lastServer!.name;
    const limit = `timeouts.server (${formatDuration(this.route.server)})`;
    if (this.headSent) {
      this.ctx.logger.warn(`server ${server}: the response to ${this.method} ${this.path} stalled past ${limit}, cutting it`);
      this.client.destroy();
    } else {
      this.ctx.logger.warn(`server ${server}: no response within ${limit}, answering 504 to ${this.method} ${this.path}`);
      this.respond('UPSTREAM_TIMEOUT');
    }
  }

  // --- the end ---

  /**
   * Answers with a response of our own for `code` (404, 502, 503, 504; a 400 for a bad chunked
   * body; a listener's 308 to https) and ends the exchange: the client connection closes unless the request was complete
   * and persistent (`close` forces it: the request's framing can no longer be trusted).
   */
  respond(code: ErrorCode, close = false): void {
    this.answer(code, close, null);
  }

  /** respond(), or with a Location: the route's redirect (`code` is one of REDIRECT_CODES). */
  private answer(code: ErrorCode, close: boolean, location: string | null): void {
    const status = statusOf(code);
    const backend = this.backend;
    if (backend !== null) {
      this.backend = null;
      backend.destroy();
    }
    const client = this.client;
    close ||= !this.keepAlive || !this.received || client.ended || this.ctx.closing || status === 504;
    const connection = close ? 'close' : connectionField(false, this.minor);
    const ids = this.ctx.requestIds;
    // A redirecting listener's 308 goes to the same host and target over https.
    const to = code === 'HTTPS_REDIRECT' ? `https://${this.host}${this.path}` : location;
    const response = to === null ? ownResponse(status, connection, this.headOnly, ids, this) : redirectResponse(status, connection, to, ids, this);
    this.bytes += response.length;
    const t = now();
    this.finish(status, code, t);
    client.write(response);
    client.exchangeDone(close, t);
  }

  /** The response went out whole: the backend connection goes back to its pool. `t`: now(). */
  protected responseDone(reusable: boolean, t: number): void {
    const backend = this.backend!;
    this.backend = null;
    backend.release(reusable && this.requestSent, t);
    this.finish(this.status, null, t);
    this.client.exchangeDone(this.closeAfter || !this.received, t);
  }

  /** The backend's final response head came (status >= 200, or 101): least_latency and outlier hear of it. */
  protected answered(status: number, t: number): void {
    const pool = this.pool!;
    if (pool.observes) pool.answered(this.position, status, t - this.sentAt, t);
  }

  /** Whether the response's head is out to the client with what its Connection field says. */
  protected responseStarts(status: number, untilClose: boolean): ConnectionField {
    this.status = status;
    this.closeAfter ||= !this.keepAlive || untilClose || !this.received || this.ctx.closing;
    return connectionField(this.closeAfter, this.minor);
  }

  /** The client connection closed with this exchange in flight: drop the backend, count it cut short. */
  cancel(t: number): void {
    if (this.queued) {
      this.queued = false;
      this.pool!.leave(this);
    }
    const backend = this.backend;
    if (backend !== null) {
      this.backend = null;
      backend.destroy();
    }
    // A tunnel ends by closing; any other exchange still open here was cut short (0).
    this.finish(this.tunnel ? 101 : 0, null, t);
  }

  /**
   * Counts and logs the exchange: `status` (0: cut short), `code` when the balancer answered.
   * Called once: after it the client connection forgets the exchange (exchangeDone), and the
   * paths that end without it (a cut) reach it through the client's destroy() and `cancel`.
   */
  private finish(status: number, code: ErrorCode | null, t: number): void {
    const ms = t - this.started;
    const pool = this.pool;
    if (pool !== null) {
      pool.stats.finished(status);
      this.ctx.durations.observe(ms / 1000);
    }
    // lb_responses_total: ours by code (a 404 has no pool), a server's by status; a cut is no response.
    if (code !== null) (pool === null ? this.ctx.unrouted : pool.responses).balancer(code);
    else if (status !== 0) pool!.responses.fromServer[status]!++;
    const log = this.ctx.accessLog;
    if (log.enabled) {
      // The server that answered: none when the balancer did, even after one failed the request.
      const server = code !== null || this.lastServer === null ? '-' : this.lastServer.name;
      const { method, host, path, bytes, referer, userAgent } = this;
      const protocol = this.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0';
      const ids = this.ctx.requestIds;
      const requestId = ids === null ? null : ids.idOf(this);
      log.write({ client: this.client.address, method, path, protocol, host, status, server, bytes, ms, code, referer, userAgent, requestId });
    }
    const server = this.server;
    if (server !== null) {
      server.stats.finished(status);
      // The slot this request held is free for a request waiting in a queue.
      if (server.limited) server.slotFreed(t);
    }
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

/** The rules of no route (a request answered 404): none, and no timeouts, as it goes to no server. */
const NO_ROUTE = noRules({ connect: 0, server: 0 });

/** The code a redirect of each status is counted and logged under. */
const REDIRECT_CODES = { 301: 'REDIRECT_301', 302: 'REDIRECT_302', 303: 'REDIRECT_303', 307: 'REDIRECT_307', 308: 'REDIRECT_308' } as const;
