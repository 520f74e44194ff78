// The admin listener (config `admin:`): GET / the status page, GET /status the same as JSON,
// GET /metrics for Prometheus. A plain node:http server: it is not on the proxy's hot path, and
// it only reads counters the proxy keeps anyway.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bindError } from '../bind-error.js';
import type { Logger } from '../log.js';
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
}

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
  ['/status', (status) => ({ type: 'application/json; charset=utf-8', body: `${JSON.stringify(status, null, 2)}\n` })],
  ['/metrics', (status) => ({ type: METRICS_CONTENT_TYPE, body: metricsOf(status) })],
]);

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
    // A server's request always has a url; the query, if any, changes nothing.
    const path = req.url!.split('?', 1)[0]!;
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
