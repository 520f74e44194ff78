// The admin listener (config `admin:`): GET / the status page, GET /status the same as JSON,
// GET /metrics for Prometheus, and the admin API (control.ts): GET /servers, POST
// /servers/NAME/state and /weight. A plain node:http server: it is not on the proxy's hot path,
// and it only reads counters the proxy keeps anyway.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ControlChange } from '../balancer/fleet.js';
import { bindError } from '../bind-error.js';
import type { Logger } from '../log.js';
import { authorized, parseChange, parseControlPath, serverEntries } from './control.js';
import { METRICS_CONTENT_TYPE, metricsOf } from './metrics.js';
import { PAGE_CSP, renderPage } from './page.js';
import { statusOf, type Status, type StatusSource } from './status.js';

export interface AdminOptions {
  /** Address to bind: the config's `admin` host (127.0.0.1 unless configured otherwise). */
  host: string;
  /** Port to bind; 0 = any free port (listen() says which). */
  port: number;
  /** Where errors go: a failed report, a listener error. */
  logger: Logger;
  /** When the balancer started, in ms since the epoch, for the uptime. Default: when this object was made. */
  startedAt?: number;
  /** The clock, in ms since the epoch (tests pass a fixed one). Default Date.now. */
  now?: () => number;
  /** The bearer token a POST must carry; null (the default): the API is read-only. */
  token?: string | null;
  /** Applies a change (the fleet's, or a cluster's primary's); absent: the API is read-only. */
  control?: Control;
}

/**
 * Applies `change` to server `name` in every pool that lists it, or in pool `pool` only; `by`
 * names who asked, for the log. Resolves once every process has it: the servers changed, by pool
 * and name as the config writes it, or what was unknown.
 */
export type Control = (
  name: string,
  pool: string | null,
  change: ControlChange,
  by: string,
) => Promise<{ changed: { pool: string; label: string }[] } | { unknown: 'pool' | 'server' }>;

/** The most a POST body may be: a state or a weight is a few bytes. */
const MAX_BODY = 1024;

/** A response body with its content type. */
interface Resource {
  type: string;
  body: string;
  headers?: Record<string, string>;
}

/**
 * Makes the report at `now` (ms since the epoch) of a balancer started at `startedAt`: at once in
 * one process, or after asking every worker of a cluster for its counters.
 */
export type Report = (startedAt: number, now: number) => Status | Promise<Status>;

/** The report of one process on `source`, asked afresh each time (a reload swaps servers and pools). */
export function reportOn(source: () => StatusSource): Report {
  return (startedAt, now) => statusOf(source(), startedAt, now);
}

/** The paths served, each rendering a report. */
const ROUTES = new Map<string, (status: Status) => Resource>([
  [
    '/',
    (status) => ({
      type: 'text/html; charset=utf-8',
      body: renderPage(status),
      headers: { 'content-security-policy': PAGE_CSP },
    }),
  ],
  ['/status', (status) => json(status)],
  ['/metrics', (status) => ({ type: METRICS_CONTENT_TYPE, body: metricsOf(status) })],
  ['/servers', (status) => json({ servers: serverEntries(status) })],
]);

function json(value: unknown): Resource {
  return { type: 'application/json; charset=utf-8', body: `${JSON.stringify(value, null, 2)}\n` };
}

function text(body: string, headers?: Record<string, string>): Resource {
  return { type: 'text/plain; charset=utf-8', body: `${body}\n`, ...(headers === undefined ? {} : { headers }) };
}

const ALLOW = 'GET, HEAD';

export class AdminServer {
  /** When the balancer started (ms since the epoch). */
  readonly startedAt: number;
  private readonly server: http.Server;
  private readonly now: () => number;

  /** @param report makes the report every request is answered from. */
  constructor(
    private readonly report: Report,
    private readonly options: AdminOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.startedAt = options.startedAt ?? this.now();
    this.server = http.createServer((req, res) => void this.onRequest(req, res));
  }

  /** Starts listening; resolves with the bound address, rejects if it cannot bind. */
  listen(): Promise<AddressInfo> {
    const { host, port } = this.options;
    return new Promise((resolve, reject) => {
      const failed = (err: Error): void => reject(bindError('admin', { host, port }, err));
      this.server.once('error', failed);
      this.server.listen({ host, port }, () => {
        this.server.off('error', failed);
        this.server.on('error', (err) => this.options.logger.error(`admin listener: ${err.message}`));
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and closes every connection, idle keep-alive ones (a polling page) included. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    return closed;
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // A server's request always has a url; the query, if any, changes nothing but a POST's ?pool=.
    const url = new URL(req.url!, 'http://admin');
    const path = url.pathname;
    const target = parseControlPath(path);
    if (target !== null) {
      if (req.method !== 'POST') return send(res, 405, text('Method Not Allowed', { allow: 'POST' }));
      return send(res, ...(await this.onPost(req, target.name, target.what, url.searchParams.get('pool'))));
    }
    const route = ROUTES.get(path);
    if (route === undefined) return send(res, 404, { type: 'text/plain; charset=utf-8', body: 'Not Found\n' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, { type: 'text/plain; charset=utf-8', body: 'Method Not Allowed\n', headers: { allow: ALLOW } });
    }
    let resource: Resource;
    try {
      resource = route(await this.report(this.startedAt, this.now()));
    } catch (err) {
      this.options.logger.error(`admin ${path}: ${(err as Error).message}`);
      return send(res, 500, { type: 'text/plain; charset=utf-8', body: 'Internal Server Error\n' });
    }
    send(res, 200, resource);
  }

  /** A change: refused (read-only, a browser's, no or a wrong token, a bad body), or applied. */
  private async onPost(req: http.IncomingMessage, name: string, what: 'state' | 'weight', pool: string | null): Promise<[number, Resource]> {
    // A connected socket's; only a socket already gone has none, and this one carried the request.
    const client = req.socket.remoteAddress!;
    const token = this.options.token ?? null;
    const control = this.options.control;
    if (token === null || control === undefined) return [403, text('Forbidden: the admin API is read-only; set admin.token_file to allow changes')];
    if (req.headers.origin !== undefined) {
      this.options.logger.warn(`admin API: refused a POST from ${client} with an Origin header (${req.headers.origin})`);
      return [403, text('Forbidden: no change from a browser page (the request has an Origin header)')];
    }
    if (!authorized(req.headers.authorization, token)) {
      this.options.logger.warn(`admin API: refused a POST from ${client}: ${req.headers.authorization === undefined ? 'no' : 'a wrong'} bearer token`);
      return [401, text('Unauthorized: a bearer token is required', { 'www-authenticate': 'Bearer' })];
    }
    const body = await readBody(req);
    if (body === null) return [413, text(`Payload Too Large: at most ${MAX_BODY} bytes`)];
    const change = parseChange(what, body);
    if (typeof change === 'string') return [400, text(`Bad Request: ${change}`)];
    const result = await control(name, pool, change, `the admin API (${client})`);
    if ('unknown' in result) {
      return [404, text(result.unknown === 'pool' ? `Not Found: no pool ${JSON.stringify(pool)}` : `Not Found: no server ${JSON.stringify(name)}${pool === null ? '' : ` in pool ${JSON.stringify(pool)}`}`)];
    }
    const changed = new Set(result.changed.map((c) => `${c.pool}\n${c.label}`));
    const status = await this.report(this.startedAt, this.now());
    return [200, json({ servers: serverEntries(status, (p, label) => changed.has(`${p}\n${label}`)) })];
  }
}

/** A request's body as text, or null when it is longer than MAX_BODY (the rest is read and dropped). */
function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString('utf8')));
    // A client gone before its body ended: nothing to apply (a no-op after 'end').
    req.on('close', () => resolve(null));
  });
}

/** Sends a whole response; node:http leaves the body out for HEAD and keeps Content-Length. */
function send(res: http.ServerResponse, status: number, resource: Resource): void {
  res.writeHead(status, {
    'content-type': resource.type,
    'content-length': Buffer.byteLength(resource.body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...resource.headers,
  });
  res.end(resource.body);
}
