// Loopback harness for the proxy's integration tests: stub backends (servers/app.js) and raw
// `net` backends that misbehave on purpose, the proxy itself started in-process from a YAML
// config, a log that writes into an array, and a raw-socket client with its own small HTTP/1.1
// response reader (independent of src/http, so a parser bug cannot hide itself).
//
// Everything listens on 127.0.0.1 port 0. Nothing sleeps for a fixed time: waits are for events
// or for a condition, each bounded in time.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once, type EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Test } from 'tap';
import { startApp, type App } from '../../servers/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Logger, type LogLevel } from '../../src/log.js';
import type { ProxyBackend } from '../../src/proxy/context.js';
import { ProxyServer } from '../../src/proxy/proxy-server.js';

export const HOST = '127.0.0.1';

/** The longest any single wait may take before the test fails with a message. */
export const WAIT_MS = 5000;

// ---------------------------------------------------------------------------------------------
// Waiting, bounded.

/** Resolves once `cond()` holds, checking every few ms; rejects after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; !cond(); i++) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${i} checks)`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Resolves once `sample()` has not changed over `samples` checks in a row (10 ms apart) while
 * `holds()` is true: a flow of bytes that came to a stop. Rejects after `timeoutMs`.
 */
export async function waitStalled(what: string, sample: () => number, holds: () => boolean, samples = 4, timeoutMs = WAIT_MS): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = sample();
  let same = 0;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last sample ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const value = sample();
    same = value === last && holds() ? same + 1 : 0;
    last = value;
    if (same >= samples) return value;
  }
}

/** The first `event` from `emitter`, or a rejection after `timeoutMs`. */
export function waitEvent<T = unknown>(emitter: EventEmitter, event: string, what: string, timeoutMs = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const listener = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    emitter.once(event, listener);
  });
}

/** `promise`, or a rejection naming `what` after `timeoutMs`. */
export function within<T>(promise: Promise<T>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when one of `apps` receives a request for /slow (not a health check). */
export function slowRequestArrived(...apps: App[]): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const onRequest = (req: IncomingMessage) => {
        if (!req.url!.startsWith('/slow')) return;
        for (const app of apps) app.server.off('request', onRequest);
        resolve();
      };
      for (const app of apps) app.server.on('request', onRequest);
    }),
    'the slow request to reach a backend',
  );
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A port that refuses connections for the whole test: one below 1024, where nothing here listens
 * and the kernel never hands out ports to `listen(0)` or outgoing connections. (A port freed a
 * moment ago, as `freePort` gives, can be taken by a test file running beside this one: a server
 * meant to be down then passes its checks.)
 */
export async function refusedPort(): Promise<number> {
  for (let port = 1; port < 1024; port++) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, HOST);
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  /* c8 ignore next -- only on a machine where every port below 1024 on 127.0.0.1 answers */
  throw new Error(`no port below 1024 on ${HOST} refuses connections`);
}

/** A port free a moment ago, for a server the test starts on it later. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A connected pair of sockets on 127.0.0.1, destroyed (and its server closed) in teardown:
 * `near` is the side the server accepted, handed to `onConnection` in the turn it was accepted
 * (before its first read), `far` the client's side.
 */
export async function socketPair(
  t: Test,
  serverOptions: net.ServerOpts = {},
  onConnection: (near: net.Socket) => void = () => {},
): Promise<{ near: net.Socket; far: net.Socket }> {
  const server = net.createServer(serverOptions, onConnection);
  server.listen(0, HOST);
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const far = net.connect((server.address() as net.AddressInfo).port, HOST);
  const [near] = await accepted;
  await once(far, 'connect');
  t.teardown(() => {
    near.destroy();
    far.destroy();
    server.close();
  });
  return { near, far };
}

// ---------------------------------------------------------------------------------------------
// The log.

/** A Logger whose lines (every level, access lines included) land in an array. */
export class LogCapture {
  private readonly collected: string[] = [];
  readonly logger: Logger;

  constructor(level: LogLevel = 'debug') {
    const sink = { write: (text: string) => this.collected.push(...text.split('\n').filter((l) => l !== '')) };
    this.logger = new Logger(level, sink, sink);
  }

  /** Every line so far (pending access lines flushed first). */
  get lines(): string[] {
    this.logger.flush();
    return [...this.collected];
  }

  /** The lines that contain `text`. */
  matching(text: string): string[] {
    return this.lines.filter((l) => l.includes(text));
  }

  /** Waits until a line containing `text` was written. */
  waitFor(text: string, timeoutMs = WAIT_MS): Promise<void> {
    return waitFor(`a log line with ${JSON.stringify(text)}`, () => this.matching(text).length > 0, timeoutMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Backends.

/** A stub app that also counts the TCP connections it accepted and keeps their sockets. */
export interface Backend extends App {
  /** "127.0.0.1:port", as a config lists it and the proxy logs it. */
  address: string;
  /** TCP connections accepted so far (health probes included). */
  connections: number;
  /** Server-side sockets of the connections that carried a request other than a health check. */
  sockets: net.Socket[];
  /** The server-side requests and responses of those requests, in arrival order. */
  exchanges: { req: IncomingMessage; res: ServerResponse }[];
}

/** A raw `net` backend: the test decides what each connection gets. */
export interface RawBackend {
  port: number;
  address: string;
  server: net.Server;
  /** Server-side sockets of the proxy's connections (not health probes), in the order accepted. */
  sockets: net.Socket[];
  /** Health probes answered. */
  probes: number;
  /** Every byte received from the proxy, over all connections, in arrival order. */
  received: Buffer[];
  /** The received bytes as latin1 text. */
  text(): string;
}

/**
 * Answers every complete request head received on `socket` (requests without a body) with
 * `respond(target)`, given the target of its request line.
 */
export function answerEveryHead(socket: net.Socket, respond: string | ((target: string) => string)): void {
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
      const target = text.slice(0, end).split(' ')[1] ?? '';
      text = text.slice(end + 4);
      if (!socket.destroyed) socket.write(typeof respond === 'string' ? respond : respond(target));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The proxy.

export interface Proxy {
  server: ProxyServer;
  /** The first listener's port; `ports`: every listener's, in `listen`'s order. */
  port: number;
  ports: number[];
  config: Config;
  log: LogCapture;
}

export interface ProxyOptions {
  /** Changes to the parsed config (every listener is already on 127.0.0.1:0). */
  configure?: (config: Config) => void;
  /** The log level; default debug, so that every branch that logs runs. */
  level?: LogLevel;
  /** A cluster's secret for the session ticket keys, as a worker is given (ProxyServer's). */
  ticketSecret?: Buffer;
}

/** `"127.0.0.1:port"` with quotes, for YAML lists. */
export function q(b: { address: string } | number): string {
  return typeof b === 'number' ? `"${HOST}:${b}"` : `"${b.address}"`;
}

// ---------------------------------------------------------------------------------------------
// The client: a raw socket and an independent response reader.

export interface Response {
  /** "HTTP/1.1" */
  version: string;
  status: number;
  reason: string;
  /** Field lines in order, names as sent. */
  headers: [string, string][];
  body: Buffer;
  /** How the body's end was found. */
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** The value of the first field named `name` (case-insensitive), or undefined. */
  header(name: string): string | undefined;
  /** Lower-cased field names, in order. */
  names(): string[];
  text(): string;
  json<T = Record<string, unknown>>(): T;
}

function makeResponse(version: string, status: number, reason: string, headers: [string, string][]): Response {
  return {
    version,
    status,
    reason,
    headers,
    body: Buffer.alloc(0),
    framing: 'none',
    header(name) {
      const lower = name.toLowerCase();
      return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
    },
    names() {
      return headers.map(([n]) => n.toLowerCase());
    },
    text() {
      return this.body.toString('latin1');
    },
    json<T>() {
      return JSON.parse(this.body.toString('utf8')) as T;
    },
  };
}

/** The bytes of a request. Host is sent unless `host` is null; a body gets a Content-Length unless the headers frame it. */
export function request(
  method: string,
  target: string,
  options: { host?: string | null; headers?: [string, string][]; body?: Buffer | string; version?: string } = {},
): Buffer {
  const { host = 'test.local', headers = [], body, version = 'HTTP/1.1' } = options;
  const lines = [`${method} ${target} ${version}`];
  if (host !== null) lines.push(`Host: ${host}`);
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  const bodyBytes = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const framed = headers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
  if (body !== undefined && !framed) lines.push(`Content-Length: ${bodyBytes.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), bodyBytes]);
}

/** `data` as a chunked body, in chunks of `size` bytes (the last one shorter). */
export function chunked(data: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) {
    const piece = data.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/**
 * A client on one TCP connection: write any bytes, read responses one at a time in order. The
 * reader consumes what arrived lazily, when a response is asked for, so that a test can say
 * whether a response answers HEAD (then it has no body).
 */
export class RawClient {
  /** Unread bytes, oldest first. */
  private chunks: Buffer[] = [];
  /** The peer ended its side (FIN) or the socket closed. */
  ended = false;
  closed = false;
  error: Error | null = null;
  bytesReceived = 0;
  private wake: (() => void) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      this.chunks.push(chunk);
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (err) => {
      this.error = err;
      this.notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.closed = true;
      this.notify();
    });
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ host: HOST, port });
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      `a connection to ${HOST}:${port}`,
    );
    return new RawClient(socket);
  }

  /** Writes bytes; resolves once the socket took them. */
  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Writes `data` in pieces of the given sizes, cycling through them, each after the previous one was taken. */
  async writeInPieces(data: Buffer, sizes: number[]): Promise<void> {
    let k = 0;
    for (let at = 0; at < data.length; k++) {
      const size = sizes[k % sizes.length]!;
      await this.write(data.subarray(at, at + size));
      at += size;
    }
  }

  /** One request on this connection and its response. */
  async send(requestBytes: Buffer, options: { head?: boolean; timeoutMs?: number } = {}): Promise<Response> {
    await this.write(requestBytes);
    return this.read(options);
  }

  /** Shorthand: `GET target` with Host `host` (and extra headers), its response. */
  get(target: string, host = 'test.local', headers: [string, string][] = []): Promise<Response> {
    return this.send(request('GET', target, { host, headers }));
  }

  /**
   * The next response on the connection, interim (1xx) ones included. `head` says it answers a
   * HEAD request: no body then, whatever the fields say (RFC 9112 6.3 rule 1).
   */
  async read(options: { head?: boolean; timeoutMs?: number } = {}): Promise<Response> {
    const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS);
    // The head.
    const headBytes = await this.until(deadline, 'a response head', () => this.takeThrough(HEAD_END));
    if (headBytes === null) throw new Error(`the connection closed before a response head (${this.pendingText()})`);
    const lines = headBytes.toString('latin1').slice(0, -4).split('\r\n');
    const match = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (match === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers: [string, string][] = lines.slice(1).map((line) => {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`not a field line: ${JSON.stringify(line)}`);
      return [line.slice(0, colon), line.slice(colon + 1).trim()];
    });
    const res = makeResponse(match[1]!, Number(match[2]), match[3]!, headers);
    // The body (RFC 9112 6.3, in its order).
    const te = res.header('transfer-encoding');
    const cl = res.header('content-length');
    if (options.head === true || res.status < 200 || res.status === 204 || res.status === 304) {
      res.framing = 'none';
    } else if (te !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(te)) throw new Error(`unexpected Transfer-Encoding ${te}`);
      res.framing = 'chunked';
      res.body = await this.readChunked(deadline);
    } else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new Error(`bad Content-Length ${cl}`);
      res.framing = 'length';
      res.body = await this.readLength(Number(cl), deadline);
    } else {
      res.framing = 'close';
      await this.until(deadline, 'the close that ends the body', () => (this.ended ? true : undefined));
      res.body = Buffer.concat(this.chunks);
      this.chunks = [];
    }
    return res;
  }

  /** Reads responses until a final (>= 200) one; returns the interim ones and the final one. */
  async readFinal(options: { head?: boolean } = {}): Promise<{ interim: Response[]; final: Response }> {
    const interim: Response[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await this.read(options);
      if (res.status >= 200) return { interim, final: res };
      interim.push(res);
    }
    throw new Error('more than 10 interim responses');
  }

  /** Resolves once the peer has ended the connection; returns the bytes that came before the end and were not read. */
  async waitEnd(timeoutMs = WAIT_MS): Promise<Buffer> {
    await this.until(Date.now() + timeoutMs, 'the proxy to end the connection', () => (this.ended ? true : undefined));
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    return rest;
  }

  /** Resolves once at least `n` bytes have arrived in total. */
  async waitBytes(n: number, timeoutMs = WAIT_MS): Promise<void> {
    const got = await this.until(Date.now() + timeoutMs, `${n} bytes`, () => (this.bytesReceived >= n ? true : undefined));
    if (got === null) throw new Error(`the connection ended after ${this.bytesReceived} of ${n} bytes`);
  }

  /** Takes every byte received and not read yet (a tunnel's bytes, say). */
  takeAll(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    return all;
  }

  /** Bytes received and not read yet. */
  get unread(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Half-close: send FIN, keep reading. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  // --- reading ---

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /**
   * Calls `step` until it returns something other than undefined, waiting for the next socket
   * event in between. Returns null if the connection ended while `step` still wanted bytes;
   * throws at `deadline`.
   */
  private async until<T>(deadline: number, what: string, step: () => T | undefined): Promise<T | null> {
    for (;;) {
      const result = step();
      if (result !== undefined) return result;
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (${this.bytesReceived} bytes received; unread: ${this.pendingText()})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Removes and returns the bytes up to and including `delimiter`, or undefined if it has not arrived. */
  private takeThrough(delimiter: Buffer): Buffer | undefined {
    // Merge the front chunks only as far as needed to find the delimiter.
    for (let merged = 1; ; merged++) {
      const front = this.chunks[0];
      if (front === undefined) return undefined;
      const at = front.indexOf(delimiter);
      if (at >= 0) {
        const out = front.subarray(0, at + delimiter.length);
        if (at + delimiter.length === front.length) this.chunks.shift();
        else this.chunks[0] = front.subarray(at + delimiter.length);
        return out;
      }
      if (this.chunks.length < 2) return undefined;
      this.chunks.splice(0, 2, Buffer.concat([front, this.chunks[1]!]));
      if (merged > 1_000_000) throw new Error('runaway merge');
    }
  }

  /** Removes and returns up to `n` bytes from the front. */
  private takeUpTo(n: number): Buffer[] {
    const out: Buffer[] = [];
    while (n > 0 && this.chunks.length > 0) {
      const front = this.chunks[0]!;
      if (front.length <= n) {
        out.push(front);
        this.chunks.shift();
        n -= front.length;
      } else {
        out.push(front.subarray(0, n));
        this.chunks[0] = front.subarray(n);
        n = 0;
      }
    }
    return out;
  }

  private async readLength(n: number, deadline: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let left = n;
    const done = await this.until(deadline, `a body of ${n} bytes`, () => {
      for (const part of this.takeUpTo(left)) {
        parts.push(part);
        left -= part.length;
      }
      return left === 0 ? true : undefined;
    });
    if (done === null) throw new Error(`the connection closed ${left} bytes before the end of a ${n}-byte body`);
    return Buffer.concat(parts);
  }

  private async readChunked(deadline: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let chunks = 0; ; chunks++) {
      if (chunks > 10_000_000) throw new Error('runaway chunked body');
      const line = await this.until(deadline, 'a chunk-size line', () => this.takeThrough(CRLF));
      if (line === null) throw new Error('the connection closed inside a chunked body');
      const size = /^([0-9a-fA-F]{1,15})(;[^\r\n]*)?\r\n$/.exec(line.toString('latin1'));
      if (size === null) throw new Error(`bad chunk-size line ${JSON.stringify(line.toString('latin1'))}`);
      const n = parseInt(size[1]!, 16);
      if (n === 0) break;
      parts.push(await this.readLength(n, deadline));
      const end = await this.readLength(2, deadline);
      if (!end.equals(CRLF)) throw new Error('chunk data not followed by CRLF');
    }
    // Trailer fields, then the empty line.
    for (let i = 0; i < 100; i++) {
      const line = await this.until(deadline, 'a trailer line', () => this.takeThrough(CRLF));
      if (line === null) throw new Error('the connection closed inside the trailers');
      if (line.length === 2) return Buffer.concat(parts);
    }
    throw new Error('more than 100 trailer lines');
  }

  private pendingText(): string {
    const text = Buffer.concat(this.chunks).subarray(0, 200).toString('latin1');
    return JSON.stringify(text);
  }
}

// ---------------------------------------------------------------------------------------------
// A harness per test: it starts things and stops them all in teardown, in the right order
// (clients, then the proxy, then the backends).

export class Harness {
  private readonly clients: RawClient[] = [];
  /** Proxies started, the first one is checked at the end of a proxyTest. */
  readonly proxies: Proxy[] = [];
  private readonly apps: App[] = [];
  private readonly raws: RawBackend[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly holders: net.Socket[] = [];

  constructor(private readonly t: Test) {
    t.teardown(() => this.close());
  }

  /** Stub backends named `names`, each counting its TCP connections. */
  async backends(...names: string[]): Promise<Backend[]> {
    const out: Backend[] = [];
    for (const name of names) out.push(await this.backend(name));
    return out;
  }

  /**
   * A stub backend (servers/app.js) on 127.0.0.1 (port 0 unless given), counting its connections
   * and requests. `keepAliveTimeout`: how long it keeps an idle connection (app.js default 5 s).
   */
  async backend(name: string, options: { port?: number; keepAliveTimeout?: number } = {}): Promise<Backend> {
    const app = await startApp({ name, port: options.port ?? 0, ...(options.keepAliveTimeout === undefined ? {} : { keepAliveTimeout: options.keepAliveTimeout }) });
    this.apps.push(app);
    const backend = app as Backend;
    backend.address = `${HOST}:${app.port}`;
    backend.connections = 0;
    backend.sockets = [];
    backend.exchanges = [];
    app.server.on('connection', () => backend.connections++);
    app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/healthcheck') return;
      backend.exchanges.push({ req, res });
      if (!backend.sockets.includes(req.socket)) backend.sockets.push(req.socket);
    });
    return backend;
  }

  /**
   * A raw backend; `onConnection` decides what each connection gets, from its first bytes on.
   * Health probes (GET /healthcheck, from the proxy's checker thread) are answered 200 here and
   * never reach `onConnection` or `received`: the server stays up whatever the test does with
   * the requests the proxy sends.
   */
  async rawBackend(onConnection: (socket: net.Socket, backend: RawBackend) => void = () => {}): Promise<RawBackend> {
    const backend: RawBackend = {
      port: 0,
      address: '',
      server: net.createServer(),
      sockets: [],
      received: [],
      probes: 0,
      text: () => Buffer.concat(backend.received).toString('latin1'),
    };
    backend.server.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.once('data', (first: Buffer) => {
        if (first.toString('latin1', 0, 17) === 'GET /healthcheck ') {
          backend.probes++;
          socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK');
          return;
        }
        backend.sockets.push(socket);
        socket.on('data', (chunk: Buffer) => backend.received.push(chunk));
        onConnection(socket, backend);
        socket.emit('data', first);
      });
    });
    await new Promise<void>((resolve) => backend.server.listen(0, HOST, resolve));
    backend.port = (backend.server.address() as net.AddressInfo).port;
    backend.address = `${HOST}:${backend.port}`;
    this.raws.push(backend);
    return backend;
  }

  /**
   * A server that never completes a TCP handshake: a child process listens with a backlog of
   * one and never accepts (its event loop is blocked); two connections fill the queue, so the
   * kernel drops later SYNs and a connect hangs until it times out.
   */
  async blackhole(): Promise<number> {
    const script =
      "const s=require('net').createServer();" +
      "s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');" +
      'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,30000);process.exit(0)});';
    // A clean environment: none of the test runner's loaders or signal handlers in the child.
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '' } });
    this.children.push(child);
    const port = Number(String(await waitEvent<Buffer>(child.stdout!, 'data', 'the blackhole to listen')).trim());
    for (let i = 0; i < 2; i++) {
      const holder = net.connect({ host: HOST, port });
      holder.on('error', () => {});
      this.holders.push(holder);
      await waitEvent(holder, 'connect', 'a connection that fills the blackhole backlog');
    }
    return port;
  }

  /** The proxy, from a YAML config (every listener moved to 127.0.0.1:0). */
  async proxy(yaml: string, options: ProxyOptions = {}): Promise<Proxy> {
    const config = parseConfig(yaml, 'test.yaml');
    // Every listener on 127.0.0.1:0, with its options.
    config.listen = config.listen.map((l) => ({ ...l, host: HOST, port: 0 }));
    options.configure?.(config);
    const log = new LogCapture(options.level ?? 'debug');
    const server = new ProxyServer(config, log.logger, undefined, null, options.ticketSecret ?? null);
    const addresses = await server.listen();
    const proxy = { server, port: addresses[0]!.port, ports: addresses.map((a) => a.port), config, log };
    this.proxies.push(proxy);
    return proxy;
  }

  /** A new raw client connection to `proxy` (or a port), destroyed in teardown. */
  async client(proxy: Proxy | number): Promise<RawClient> {
    const client = await RawClient.connect(typeof proxy === 'number' ? proxy : proxy.port);
    this.clients.push(client);
    return client;
  }

  /**
   * The proxy still accepts a new connection and answers a request completely (any status:
   * the test's routes decide which). Every test ends with this.
   */
  async expectServing(proxy: Proxy, target = '/', host = 'alive.test'): Promise<Response> {
    const client = await this.client(proxy);
    const res = await client.send(request('GET', target, { host, headers: [['Connection', 'close']] }));
    this.t.ok(res.status >= 200 && res.status <= 599, `the proxy still serves: ${res.status} for GET ${target}`);
    await client.waitEnd();
    return res;
  }

  private async close(): Promise<void> {
    for (const client of this.clients) client.destroy();
    for (const proxy of this.proxies) await within(proxy.server.close(), 'proxy.close()');
    for (const app of this.apps) await within(app.close(), `app ${app.name} to close`);
    for (const raw of this.raws) {
      for (const socket of raw.sockets) socket.destroy();
      await within(new Promise((resolve) => raw.server.close(resolve)), 'a raw backend to close');
    }
    for (const holder of this.holders) holder.destroy();
    for (const child of this.children) child.kill('SIGKILL'); // blocked in Atomics.wait: only SIGKILL ends it at once
  }
}

/** The proxy's view of `backend` (its Backend object), found by port. */
export function serverOf(proxy: Proxy, backend: { port: number }): ProxyBackend {
  const server = proxy.server.servers.find((s) => s.port === backend.port);
  if (server === undefined) throw new Error(`no server on port ${backend.port} in the proxy's config`);
  return server;
}

export interface ProxyTestOptions {
  /** The proxy to check at the end, when the test did not start its own (a file's shared one). */
  proxy?: Proxy;
  /** What to request at the end (default GET / with Host alive.test); false: the test stopped the proxy. */
  alive?: { target?: string; host?: string } | false;
}

/**
 * A subtest with its own harness (its clients and anything it starts are closed when it ends).
 * It ends by checking that the proxy (the test's own, else `options.proxy`) still accepts a new
 * connection and answers a request.
 */
export function proxyTest(t: Test, name: string, fn: (t: Test, h: Harness) => Promise<void>, options: ProxyTestOptions = {}): Promise<unknown> {
  return t.test(name, async (t) => {
    const h = new Harness(t);
    await fn(t, h);
    const proxy = h.proxies[0] ?? options.proxy;
    if (proxy !== undefined && options.alive !== false) await h.expectServing(proxy, options.alive?.target, options.alive?.host);
  });
}
