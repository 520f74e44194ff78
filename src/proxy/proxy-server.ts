// The balancer as a whole: it turns a Config into a routing snapshot (servers, pools, router),
// listens with a `node:net` server, hands each client connection to a ClientConnection, takes a
// new Config without dropping a request (reload: a new snapshot), follows what DNS discovery
// finds (a new snapshot too), and shuts down cleanly (close).

import net from 'node:net';
import tls from 'node:tls';
import { Fleet, namesOf, type ControlChange, type ControlResult } from '../balancer/fleet.js';
import { startDiscovery, type Discovered, type Discovery } from '../balancer/discovery.js';
import { buildSnapshot, type Snapshot } from '../balancer/snapshot.js';
import { DurationHistogram, ResponseCounts } from '../balancer/stats.js';
import { loadTlsFiles } from '../config/tls-files.js';
import type { Config } from '../config/schema.js';
import { AccessLog } from '../access-log.js';
import { formatAddress, formatListen, isTrustedProxy } from '../config/address.js';
import { AdminServer, reportOn } from '../admin/admin-server.js';
import { bindError } from '../bind-error.js';
import { HealthMonitor, type CreateHealthChecks, type HealthChecks } from '../health/monitor.js';
import { RequestIds } from '../http/request-id.js';
import type { Logger } from '../log.js';
import { reason } from '../reason.js';
import { ClientConnection } from './client-connection.js';
import type { ProxyBackend, ProxyContext, ProxyPool } from './context.js';
import { Deadlines, resolutionFor } from './deadlines.js';
import { ParserPool } from './parser-pool.js';
import type { BackendSide } from './sides.js';

export class ProxyServer {
  private readonly server: net.Server;
  private readonly ctx: ProxyContext;
  /** The servers' state and the snapshot in force: the one writer of both. */
  private readonly fleet: Fleet<BackendSide>;
  /** The health checks of the configuration in force; null until listening. */
  health: HealthChecks | null = null;
  /** The status page, /status and /metrics, when `admin` is configured. */
  admin: AdminServer | null = null;
  private readonly startedAt = Date.now();
  private closing: Promise<void> | null = null;
  /** The lookups of the `discover` entries; null without any, or when `followed` is set. */
  private discovery: Discovery | null = null;
  /** Snapshot changes go one at a time: a reload and what DNS found must not race. */
  private changes: Promise<unknown> = Promise.resolve();

  /**
   * @param createHealth how servers are checked: by default a checker in a worker thread of this
   *   process; in a cluster worker, the primary's one checker (src/cluster/remote-health.ts).
   */
  constructor(
    private config: Config,
    private readonly logger: Logger,
    private readonly createHealth: CreateHealthChecks = (fleet, options, reportChecks) =>
      new HealthMonitor(fleet, options, logger, reportChecks),
    /**
     * null: this process looks up the `discover` entries itself. Else what a cluster's primary
     * found, which this worker follows (follow(), and reload's second argument).
     */
    private followed: Discovered | null = null,
  ) {
    this.fleet = new Fleet(logger);
    // A passive failure restarts the checks' count of passes, even for a server down already.
    this.fleet.onHealth((server, change) => {
      if (change.source === 'passive') this.health?.markDown(server);
    });
    this.ctx = {
      timeouts: config.timeouts,
      limits: config.limits,
      router: this.fleet.snapshot.router,
      deadlines: new Deadlines(resolutionOf(config)),
      logger,
      accessLog: new AccessLog(logger, config.log.format),
      requestIds: requestIdsOf(config.requestId),
      proto: 'http',
      clients: new Set(),
      parsers: new ParserPool(),
      durations: new DurationHistogram(),
      unrouted: new ResponseCounts(),
      closing: false,
      isTrusted: (address) => this.config.trustedProxies.length > 0 && isTrustedProxy(address, this.config.trustedProxies),
      markDown: (backend, reason) => this.fleet.setHealth(backend, false, reason, 'passive'),
    };
    this.server = this.createListener(config);
    if (config.limits.maxConnections > 0) this.server.maxConnections = config.limits.maxConnections;
  }

  /**
   * The client-facing listener: plain TCP, or TLS when `listen.tls` is set (then clients speak
   * HTTPS to us, backends still get plain HTTP, with X-Forwarded-Proto: https).
   */
  private createListener(config: Config): net.Server {
    const tlsFiles = config.listen.tls;
    if (tlsFiles === null) return net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => new ClientConnection(socket, this.ctx));
    this.ctx.proto = 'https';
    // Without allowHalfOpen: a TLS client that gives up during the handshake (a certificate it
    // rejects) would otherwise leave its half of the connection open for good.
    // Checked as `lb` checked them before starting: a cluster worker reads them again, later.
    const server = tls.createServer(loadTlsFiles(tlsFiles, null), (socket) => {
      socket.setNoDelay(true);
      new ClientConnection(socket, this.ctx);
    });
    // A failed handshake concerns one client only.
    server.on('tlsClientError', (err) => this.logger.debug(`TLS handshake: ${err.message}`));
    return server;
  }

  /** Resolves the servers' host names, builds the routes and starts listening. */
  async listen(): Promise<net.AddressInfo> {
    this.discovery = await this.discover(this.config);
    this.use(await buildSnapshot(this.config, null, this.ctx.logger, this.found()));
    const { host, port } = this.config.listen;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void => reject(bindError('listen', this.config.listen, err));
      this.server.once('error', failed);
      this.server.listen(host === '' ? { port } : { host, port }, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
    this.server.on('error', (err) => this.logger.error(`listener: ${err.message}`));
    // Checks start once the listener is bound: a balancer that cannot listen checks nothing.
    await this.restartHealth();
    if (this.config.admin !== null) {
      this.admin = new AdminServer(reportOn(() => this), {
        ...this.config.admin,
        logger: this.logger,
        startedAt: this.startedAt,
        control: async (name, pool, change, by) => namesOf(this.control(name, pool, change, by)),
      });
      const at = await this.admin.listen();
      this.logger.info(`status page on http://${formatAddress(at)}/`);
    }
    return this.server.address() as net.AddressInfo;
  }

  /**
   * A new configuration, for requests that arrive from now on: routes, pools, timeouts, limits,
   * health checks. Exchanges in flight finish with what they started with; servers that remain
   * keep their state (up or down, idle connections, counters). Nothing changes if it fails (a
   * host name that does not resolve). The listening address needs a restart to change.
   * `discovered`: in a cluster worker, what the primary's discovery found for this configuration.
   */
  reload(config: Config, discovered?: Discovered): Promise<void> {
    return this.serially(() => this.reloadNow(config, discovered));
  }

  private async reloadNow(config: Config, discovered: Discovered | undefined): Promise<void> {
    const discovery = await this.discover(config);
    let next: Snapshot<BackendSide>;
    try {
      if (discovered !== undefined) this.followed = discovered;
      next = await buildSnapshot(config, this.fleet.snapshot, this.ctx.logger, discovery?.discovered ?? this.found());
    } catch (err) {
      discovery?.stop();
      throw err;
    }
    this.discovery?.stop();
    this.discovery = discovery;
    keepListeners(this.config, config, this.logger);
    this.config = config;
    this.ctx.timeouts = config.timeouts;
    this.ctx.limits = config.limits;
    if (config.log.format !== this.ctx.accessLog.format) this.ctx.accessLog = new AccessLog(this.logger, config.log.format);
    if (config.requestId !== (this.ctx.requestIds?.field ?? '')) this.ctx.requestIds = requestIdsOf(config.requestId);
    this.ctx.deadlines.setResolution(resolutionOf(config));
    this.server.maxConnections = config.limits.maxConnections > 0 ? config.limits.maxConnections : Infinity;
    this.use(next);
    await this.restartHealth();
  }

  /**
   * In a cluster worker: the servers the primary's discovery found now. The same configuration,
   * with them; a server that went finishes its requests in flight (Fleet.use retires it).
   */
  follow(discovered: Discovered): Promise<void> {
    this.followed = discovered;
    return this.serially(() => this.rediscovered(discovered));
  }

  /** `config`'s discover entries looked up once (null when it has none, or this process follows a primary). */
  private async discover(config: Config): Promise<Discovery | null> {
    if (this.followed !== null) return null;
    return startDiscovery(config, this.logger, this.discovery, (found, from) => {
      // A reload may have replaced the discovery that saw it: then its news is old.
      this.serially(async () => {
        if (from === this.discovery) await this.rediscovered(found);
        /* c8 ignore next -- new servers here are addresses, the others carried over: nothing to resolve, so nothing to fail */
      }).catch((err: unknown) => this.logger.error(`discover: ${reason(err)}; keeping the servers in force`));
    });
  }

  /** What discovery found, by entry: this process's lookups, or the primary's. */
  private found(): Discovered {
    return this.discovery?.discovered ?? this.followed ?? {};
  }

  /** The servers DNS names changed: the running configuration, with them. */
  private async rediscovered(found: Discovered): Promise<void> {
    if (this.closing !== null) return;
    this.use(await buildSnapshot(this.config, this.fleet.snapshot, this.ctx.logger, found));
    await this.restartHealth();
  }

  /** New checks for the servers in force (each starts from the state it has), in place of the running ones. */
  private async restartHealth(): Promise<void> {
    const previous = this.health;
    // In force before it runs: a close() meanwhile must stop this one, not only the previous.
    this.health = this.createHealth(this.fleet, this.config.healthcheck, this.config.admin !== null);
    await Promise.all([previous?.stop(), this.health.start()]);
  }

  /** Runs `change` once the changes before it are done, failed or not. */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changes.then(change, change);
    this.changes = run.catch(() => {});
    return run;
  }

  /**
   * Stops accepting, closes idle connections, lets exchanges in flight finish (each connection
   * closes after its response) for at most `timeouts.drain`, then cuts what is left, and stops
   * the health checker. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.ctx.closing = true;
    this.discovery?.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const client of this.ctx.clients) if (client.idle) client.destroy();
    this.fleet.closeIdle();
    const cut = setTimeout(() => {
      this.logger.warn(`drain: ${this.ctx.clients.size} connection(s) still busy after ${this.ctx.timeouts.drain} ms, closing them`);
      for (const client of this.ctx.clients) client.destroy();
    }, this.ctx.timeouts.drain);
    await Promise.all([closed, this.health?.stop(), this.admin?.close()]);
    clearTimeout(cut);
    this.ctx.deadlines.stop();
  }

  /** The servers, pools and router in force. */
  get snapshot(): Snapshot<BackendSide> {
    return this.fleet.snapshot;
  }

  /** The servers, for status reports and tests. */
  get servers(): readonly ProxyBackend[] {
    return this.fleet.servers;
  }

  /** The pools, in routing order: hosts, paths, then the default pool. */
  get pools(): readonly ProxyPool[] {
    return this.fleet.snapshot.pools;
  }

  /** How long requests took, over the process's life. */
  /** An admin change (fleet.ts, control): through the admin API, or a cluster's primary (`by` null: not logged here). */
  control(name: string, pool: string | null, change: ControlChange, by: string | null): ControlResult<BackendSide> {
    return this.fleet.control(name, pool, change, by);
  }

  get durations(): DurationHistogram {
    return this.ctx.durations;
  }

  /** Responses made before a pool was chosen, over the process's life. */
  get unrouted(): ResponseCounts {
    return this.ctx.unrouted;
  }

  /** Client connections open now. */
  get connections(): number {
    return this.ctx.clients.size;
  }

  /** Puts `snapshot` in force: for the servers' owner, and for requests routed from now on. */
  private use(snapshot: Snapshot<BackendSide>): void {
    this.fleet.use(snapshot);
    this.ctx.router = snapshot.router;
  }
}

/**
 * A reload keeps the listeners bound at start: `next` takes the running `listen` and `admin`,
 * with a warning if it asked for others.
 */
export function keepListeners(running: Config, next: Config, logger: Logger): void {
  const { host, port } = running.listen;
  if (next.listen.host !== host || next.listen.port !== port) {
    logger.warn(`reload: listen stays ${formatListen(running.listen)}; a new address needs a restart`);
  }
  if (JSON.stringify(next.admin) !== JSON.stringify(running.admin)) {
    logger.warn('reload: the admin listener stays as it was; a new one needs a restart');
  }
  next.listen = running.listen;
  next.admin = running.admin;
}

/** A timer resolution fine enough for the configuration's shortest timeout. */
function resolutionOf(config: Config): number {
  const t = config.timeouts;
  return resolutionFor(Math.min(t.connect, t.header, t.idle, t.server));
}

/** The ids of `field` (request_id); null when it is "" (off). */
function requestIdsOf(field: string): RequestIds | null {
  return field === '' ? null : new RequestIds(field);
}
