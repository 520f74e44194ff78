// What the three parts of one request's way through the proxy know of each other: the client
// connection (reads requests, writes responses), the exchange (one request and its response)
// and the backend connection (a socket to a server, pooled between requests). Types only, so
// that none of the three imports another's module but the exchange, which opens backend
// connections: client-connection -> exchange -> backend-connection, and nothing back.

import type { Backend, Pooled } from '../balancer/backend.js';
import type { Pool } from '../balancer/pool.js';
import type { ChunkedScanner } from '../http/chunked.js';
import type { ClientInfo } from '../http/forward.js';
import type { CompiledRoute } from '../http/route-rules.js';
import type { ResponseParser } from '../http/response-parser.js';

/** A server as the proxy sees it: its idle connections are backend connections. */
export type ProxyBackend = Backend<BackendSide>;
export type ProxyPool = Pool<ProxyBackend>;

/** What the exchange asks of the client connection its request came on. */
export interface ClientSide {
  /** The client's address, for log lines. */
  readonly address: string;
  /** "http" or "https": the scheme the client reached us with. */
  readonly proto: string;
  /** The PROXY header (send_proxy `version`) that says who this client is, for a backend connection to open with. */
  proxyHeader(version: 1 | 2): Buffer;
  /** What the head builder needs to know of the client (its address, scheme, trust). */
  readonly info: ClientInfo;
  /** The client sent FIN: the exchange in flight is its last. */
  readonly ended: boolean;
  /** Writes response bytes; false when they wait in a queue (backpressure: the client's drain follows). */
  write(bytes: Buffer): boolean;
  pause(): void;
  resume(): void;
  /**
   * Keeps buf[at..] (body or pipelined requests) until the exchange can take it, and stops
   * reading; bytes in the shared read buffer are copied, and reading stopped, only if still
   * held when their read is handled (they may be taken back in the same turn).
   */
  hold(buf: Buffer, at: number): void;
  /** What `hold` kept, from `heldAt`; null when nothing was. Taking it empties the hold. */
  takeHeld(): Buffer | null;
  readonly heldAt: number;
  /** The backend switched protocols: from now on bytes pass through both ways unchanged. */
  startTunnel(): void;
  /** The backend ended the tunnel: end the client's side too. */
  endTunnel(): void;
  /** The exchange is over (counted and logged): close the connection (`close`) or read the next request. `t`: now(). */
  exchangeDone(close: boolean, t: number): void;
  /** Closes the connection at once: a response cut short, a request cut short. */
  destroy(): void;
}

/** What the exchange asks of the backend connection that carries its request. */
export interface BackendSide extends Pooled {
  /** The server this connection goes to. */
  readonly server: ProxyBackend;
  /** Whether it carried a response before: then a failure without any byte may mean it was stale. */
  readonly reused: boolean;
  /** This connection's response parser, and its chunked-body scanner (made on first use). */
  readonly parser: ResponseParser;
  chunks(): ChunkedScanner;
  /**
   * Sends a request head, and body[bodyAt, bodyEnd) with it in one write unless `body` is null
   * (it may lie in the shared read buffer). False when bytes wait (backpressure). `t`: now().
   */
  send(exchange: ExchangeSide, head: Buffer, requestWasHead: boolean, t: number, body: Buffer | null, bodyAt: number, bodyEnd: number): boolean;
  /** Writes request (or tunnel) bytes; false when the backend's buffer is full (wait for its drain). */
  write(bytes: Buffer): boolean;
  pause(): void;
  resume(): void;
  /** The server switched protocols: no deadline from now on, bytes read into buffers of their own. */
  startTunnel(): void;
  /** The client ended its side of the tunnel: pass the end on. */
  endTunnel(): void;
  /** The response is complete: back to the idle pool (`reusable`), or closed. `t`: now(). */
  release(reusable: boolean, t: number): void;
}

/** Why a backend connection failed, for the exchange to decide what to do. */
export const Failure = {
  /** Could not connect (refused, unreachable, connect timeout): nothing was sent. */
  CONNECT: 0,
  /** The connection failed or closed after the request went out (partly, or whole). */
  LOST: 1,
} as const;
export type FailureKind = (typeof Failure)[keyof typeof Failure];

/** What a backend connection tells the exchange whose request it carries. */
export interface ExchangeSide {
  /** The rules of the request's route: its timeouts.connect and timeouts.server govern the connection. */
  readonly route: CompiledRoute;
  /** Connected (a new connection): send the request. `t`: now(). */
  onBackendReady(backend: BackendSide, t: number): void;
  /** Bytes of the response (or of a tunnel); in the shared read buffer, valid until this returns. `t`: now(). */
  onResponseData(chunk: Buffer, t: number): void;
  /** Whether the next read should land in a buffer of its own (a long body, a tunnel: see io/read.ts). */
  streamingResponse(): boolean;
  /** The backend sent FIN. */
  onBackendEnd(): void;
  /** The connection failed and was destroyed: `kind` says how far it got. */
  onBackendFailed(backend: BackendSide, kind: FailureKind, reason: string): void;
  /** No response (or no more of it) within timeouts.server; the connection was destroyed. */
  onBackendTimeout(): void;
  /** The backend took what was queued for it. */
  onBackendDrain(): void;
}
