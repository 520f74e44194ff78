// The balancer as a whole: it turns a Config into a routing snapshot (servers, pools, router),
// listens with a `node:net` server per listener, hands each client connection to a
// ClientConnection, takes a new Config without dropping a request (reload: a new snapshot),
// follows what DNS discovery finds (a new snapshot too), and shuts down cleanly (close).

import net from 'node:net';
import tls from 'node:tls';
import { Fleet, namesOf, type ControlChange, type ControlResult } from '../balancer/fleet.js';
import { startDiscovery, type Discovered, type Discovery } from '../balancer/discovery.js';
import { buildSnapshot, type Snapshot } from '../balancer/snapshot.js';
import { DurationHistogram, ResponseCounts } from '../balancer/stats.js';
import { describeListener } from '../config/check.js';
import type { Config, Listener } from '../config/schema.js';
import { AccessLog } from '../access-log.js';
import { formatAddress, formatListen, isTrustedProxy } from '../config/address.js';
import { AdminServer, reportOn } from '../admin/admin-server.js';
import { bindError } from '../bind-error.js';
import { HealthMonitor, type CreateHealthChecks, type HealthChecks } from '../health/monitor.js';
import { RequestIds } from '../http/request-id.js';
import type { Logger } from '../log.js';
import { reason } from '../reason.js';
import { ClientConnection, clientAddress } from './client-connection.js';
import type { Entrance, ProxyBackend, ProxyContext, ProxyPool } from './context.js';
import { Deadlines, resolutionFor } from './deadlines.js';
import { ParserPool } from './parser-pool.js';
import { readProxyHeader } from './proxy-header-gate.js';
import { listenerTicketKeys, TlsContexts } from './tls-contexts.js';
import type { BackendSide } from './sides.js';

export class ProxyServer {
  /** One server per listener of `listen`, in its order. */
  private readonly listeners: net.Server[];
  /** Each listener's certificates, by its position; null for a plain one. */
  private readonly tlsContexts: (TlsContexts | null)[] = [];
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
    /**
     * null: each TLS listener seals its session tickets with random keys, new at each reload. Else
     * a cluster's secret, given to every worker (and a new one with each reload): the keys are
     * made from it, the same in every worker (listenerTicketKeys).
     */
    private ticketSecret: Buffer | null = null,
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
      clients: new Set(),
      parsers: new ParserPool(),
      durations: new DurationHistogram(),
      unrouted: new ResponseCounts(),
      closing: false,
      isTrusted: (address) => this.config.trustedProxies.length > 0 && isTrustedProxy(address, this.config.trustedProxies),
      markDown: (backend, reason) => this.fleet.setHealth(backend, false, reason, 'passive'),
    };
    this.listeners = config.listen.map((listener, i) => this.createListener(listener, i, config.listen.length === 1 ? 'listen' : `listen[${i}]`));
    this.setMaxConnections(config.limits.maxConnections);
  }

  /**
   * A client-facing listener: plain TCP, or TLS when its `tls` is set (then clients speak HTTPS to
   * us, backends still get plain HTTP, with X-Forwarded-Proto: https). With `proxy_protocol` a
   * plain TCP server takes every connection, reads its PROXY header (proxy-header-gate.ts) and only
   * then speaks HTTP, or TLS, on it. `index`: its place in `listen`; `path` names it in a message
   * about its TLS files.
   */
  private createListener(listener: Listener, index: number, path: string): net.Server {
    const entrance: Entrance = { proto: listener.tls === null ? 'http' : 'https', redirect: listener.redirect };
    // Checked as `lb` checked them before starting: a cluster worker reads them again, later.
    const contexts = listener.tls === null ? null : new TlsContexts(listener.tls, `${path}.tls`, undefined, this.ticketKeysOf(index));
    this.tlsContexts.push(contexts);
    if (listener.proxyProtocol) {
      // Half-open only without TLS, as below.
      return net.createServer({ allowHalfOpen: contexts === null, noDelay: true }, (socket) => this.acceptProxied(socket, entrance, contexts));
    }
    if (contexts === null) return net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => new ClientConnection(socket, this.ctx, entrance));
    // Without allowHalfOpen: a TLS client that gives up during the handshake (a certificate it
    // rejects) would otherwise leave its half of the connection open for good.
    const server = tls.createServer(contexts.serverOptions(), (socket) => {
      socket.setNoDelay(true);
      new ClientConnection(socket, this.ctx, entrance);
    });
    contexts.renewTicketsOf(server);
    // A failed handshake concerns one client only.
    server.on('tlsClientError', (err) => this.logger.debug(`TLS handshake: ${err.message}`));
    return server;
  }

  /**
   * A connection to a `proxy_protocol` listener: from a peer in trusted_proxies only (when that
   * list is set), and through its PROXY header; then HTTP on it, or first the TLS handshake.
   */
  private acceptProxied(socket: net.Socket, entrance: Entrance, contexts: TlsContexts | null): void {
    const peer = clientAddress(socket);
    if (!this.mayProxy(peer)) {
      this.logger.debug(`PROXY listener: ${peer} is not in trusted_proxies, closed`);
      socket.destroy();
      return;
    }
    readProxyHeader(
      socket,
      this.ctx.timeouts.header,
      (header) => {
        if (contexts === null) {
          new ClientConnection(socket, this.ctx, entrance, header);
          return;
        }
        // The certificates in force now (a SIGHUP may have read new ones since the listener began).
        const secured = new tls.TLSSocket(socket, contexts.socketOptions());
        // A failed handshake concerns one client only; the connection's own 'error' closes it.
        secured.on('error', (err) => this.logger.debug(`TLS handshake: ${err.message}`));
        new ClientConnection(secured, this.ctx, entrance, header);
      },
      (why) => this.logger.debug(`client ${peer}: ${why}, closed`),
    );
  }

  /** Whether `peer` may open a connection to a proxy_protocol listener: anyone, unless trusted_proxies is set. */
  private mayProxy(peer: string): boolean {
    const trusted = this.config.trustedProxies;
    return trusted.length === 0 || isTrustedProxy(peer, trusted);
  }

  /**
   * limits.max_connections, on each listener: Node's own count of a server's connections closes
   * one more at once; 0 = none.
   */
  private setMaxConnections(max: number): void {
    for (const server of this.listeners) server.maxConnections = max > 0 ? max : Infinity;
  }

  /**
   * Resolves the servers' host names, builds the routes and starts listening; resolves with each
   * listener's address. `reusePort`: in a cluster worker whose primary chose the SO_REUSEPORT way
   * (cluster/accept-mode.ts), this worker binds sockets of its own beside the other workers'.
   */
  async listen(reusePort = false): Promise<net.AddressInfo[]> {
    this.discovery = await this.discover(this.config);
    this.use(await buildSnapshot(this.config, null, this.ctx.logger, this.found()));
    // One after the other, in `listen`'s order: in a cluster on node:cluster's way, the workers' n-th listen() on port 0 shares one port.
    for (const [i, server] of this.listeners.entries()) {
      const listener = this.config.listen[i]!;
      const { host, port } = listener;
      // @types/node of the oldest line we support does not know reusePort yet.
      const options: net.ListenOptions & { reusePort?: boolean } = host === '' ? { port } : { host, port };
      // exclusive: a handle of this worker's own, not the primary's shared one (Node implies it
      // with reusePort; said here so that no line routes the listen through the primary).
      if (reusePort) {
        options.reusePort = true;
        options.exclusive = true;
      }
      try {
        await new Promise<void>((resolve, reject) => {
          const failed = (err: Error): void => reject(bindError('listen', listener, err));
          server.once('error', failed);
          server.listen(options, () => {
            server.off('error', failed);
            resolve();
          });
        });
      } catch (err) {
        // Those bound already are let go: a balancer that cannot listen on all of them does not start.
        for (const bound of this.listeners.slice(0, i)) bound.close();
        throw err;
      }
      server.on('error', (err) => this.logger.error(`listener: ${err.message}`));
    }
    // Checks start once the listeners are bound: a balancer that cannot listen checks nothing.
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
    return this.listeners.map((server) => server.address() as net.AddressInfo);
  }

  /**
   * A new configuration, for requests that arrive from now on: routes, pools, timeouts, limits,
   * health checks. Exchanges in flight finish with what they started with; servers that remain
   * keep their state (up or down, idle connections, counters). Nothing changes if it fails (a
   * host name that does not resolve). The listeners need a restart to change.
   * `discovered`: in a cluster worker, what the primary's discovery found for this configuration.
   */
  /** `ticketSecret`: a cluster's new secret for the session tickets (the constructor's). */
  reload(config: Config, discovered?: Discovered, ticketSecret?: Buffer): Promise<void> {
    return this.serially(() => this.reloadNow(config, discovered, ticketSecret));
  }

  /** The session ticket keys of the listener at `index`: from the cluster's secret, else random. */
  private ticketKeysOf(index: number): Buffer | undefined {
    return this.ticketSecret === null ? undefined : listenerTicketKeys(this.ticketSecret, index);
  }

  private async reloadNow(config: Config, discovered: Discovered | undefined, ticketSecret: Buffer | undefined): Promise<void> {
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
    this.setMaxConnections(config.limits.maxConnections);
    if (ticketSecret !== undefined) this.ticketSecret = ticketSecret;
    this.readCertificates();
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

  /**
   * A reload reads every listener's certificate files again (renewed ones take effect without a
   * restart): new connections get them, open ones keep theirs. A file that is wrong now keeps
   * that listener's certificates in force, with the reason logged.
   */
  private readCertificates(): void {
    this.tlsContexts.forEach((contexts, i) => {
      if (contexts === null) return;
      try {
        contexts.read(this.ticketKeysOf(i));
        const server = this.listeners[i]!;
        if (server instanceof tls.Server) {
          server.setSecureContext(contexts.defaultOptions());
          contexts.renewTicketsOf(server);
        }
      } catch (err) {
        this.logger.error(`reload: ${reason(err)}; keeping the certificates in force`);
      }
    });
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
    const closed = Promise.all(this.listeners.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
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
 * with a warning if it asked for others (other addresses, or the same with other options).
 */
export function keepListeners(running: Config, next: Config, logger: Logger): void {
  const addresses = (c: Config): string => c.listen.map((l) => formatListen(l)).join(', ');
  if (addresses(next) !== addresses(running)) {
    logger.warn(`reload: listen stays ${addresses(running)}; a new address needs a restart`);
  } else if (JSON.stringify(next.listen) !== JSON.stringify(running.listen)) {
    logger.warn(`reload: the listeners stay as they were (${running.listen.map(describeListener).join('; ')}); tls, redirect and proxy_protocol changes need a restart`);
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
