// The balancer as a whole: it turns a Config into servers, pools and routes, listens with a
// `node:net` server, hands each client connection to a ClientConnection, and shuts down cleanly.

import dns from 'node:dns/promises';
import net from 'node:net';
import { Backend } from '../balancer/backend.js';
import { Pool } from '../balancer/pool.js';
import { DurationHistogram } from '../balancer/stats.js';
import { isTrustedProxy, type Config, type Pool as PoolConfig } from '../config.js';
import { HealthMonitor } from '../health/monitor.js';
import type { Logger } from '../log.js';
import { Router } from '../router.js';
import type { BackendConnection } from './backend-connection.js';
import { ClientConnection } from './client-connection.js';
import type { ProxyBackend, ProxyContext, ProxyPool } from './context.js';
import { Deadlines, resolutionFor } from './deadlines.js';

export class ProxyServer {
  private readonly server: net.Server;
  private readonly ctx: ProxyContext;
  /** Every server of the configuration, one Backend per distinct address. */
  private backends: ProxyBackend[] = [];
  private poolList: ProxyPool[] = [];
  /** The health checker's main-thread side; null until listening. */
  health: HealthMonitor | null = null;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    const t = config.timeouts;
    this.ctx = {
      timeouts: t,
      limits: config.limits,
      router: new Router<ProxyPool>([], [], null),
      deadlines: new Deadlines(resolutionFor(Math.min(t.connect, t.header, t.idle, t.server))),
      logger,
      proto: 'http',
      clients: new Set(),
      durations: new DurationHistogram(),
      closing: false,
      isTrusted: (address) => config.trustedProxies.length > 0 && isTrustedProxy(address, config.trustedProxies),
      markDown: (backend, reason) => this.markDown(backend, reason),
    };
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => new ClientConnection(socket, this.ctx));
    if (config.limits.maxConnections > 0) this.server.maxConnections = config.limits.maxConnections;
  }

  /** Resolves the servers' host names, builds the routes and starts listening. */
  async listen(): Promise<net.AddressInfo> {
    await this.buildRoutes(this.config);
    const { host, port } = this.config.listen;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(host === '' ? { port } : { host, port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (err) => this.logger.error(`listener: ${err.message}`));
    // Checks start once the listener is bound: a balancer that cannot listen checks nothing.
    this.health = new HealthMonitor(this.backends, this.config.healthcheck, this.logger, this.config.admin !== null);
    await this.health.start();
    return this.server.address() as net.AddressInfo;
  }

  /** Stops accepting, closes idle connections, and lets exchanges in flight finish. */
  async close(): Promise<void> {
    this.ctx.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const client of this.ctx.clients) if (client.idle) client.abort();
    for (const backend of this.backends) backend.closeIdle();
    await Promise.all([closed, this.health?.stop()]);
    this.ctx.deadlines.stop();
  }

  /** The servers, for status reports and tests. */
  get servers(): readonly ProxyBackend[] {
    return this.backends;
  }

  /** The pools, in routing order: hosts, paths, then the default pool. */
  get pools(): readonly ProxyPool[] {
    return this.poolList;
  }

  /** How long requests took, over the process's life. */
  get durations(): DurationHistogram {
    return this.ctx.durations;
  }

  /** Client connections open now. */
  get connections(): number {
    return this.ctx.clients.size;
  }

  /**
   * Builds Backend objects (one per distinct address, shared by the pools that list it), pools
   * and the router. Host names are resolved once here, so no request waits for DNS.
   */
  private async buildRoutes(config: Config): Promise<void> {
    const byLabel = new Map<string, ProxyBackend>();
    const makePool = async (pool: PoolConfig): Promise<ProxyPool> => {
      const servers: ProxyBackend[] = [];
      for (const s of pool.servers) {
        let backend = byLabel.get(s.name);
        if (backend === undefined) {
          backend = new Backend<BackendConnection>(await resolve(s.host), s.port, s.name);
          byLabel.set(s.name, backend);
        }
        if (!backend.pools.includes(pool.name)) backend.pools.push(pool.name);
        if (!servers.includes(backend)) servers.push(backend);
      }
      return new Pool(pool.name, servers);
    };
    const hosts: [string, ProxyPool][] = [];
    for (const h of config.hosts) hosts.push([h.name, await makePool(h)]);
    const paths = [];
    for (const p of config.paths) paths.push({ prefix: p.name, pool: await makePool(p) });
    const fallback = config.servers === null ? null : await makePool(config.servers);
    this.backends = [...byLabel.values()];
    this.poolList = [...hosts.map(([, pool]) => pool), ...paths.map((p) => p.pool), ...(fallback === null ? [] : [fallback])];
    this.ctx.router = new Router(hosts, paths, fallback);
  }

  /** Passive health: a server that refused a connection is out at once, until `rise` passes. */
  private markDown(backend: ProxyBackend, reason: string): void {
    this.health?.markDown(backend);
    if (!backend.up) return;
    backend.up = false;
    backend.closeIdle();
    this.logger.warn(`server ${backend.name} (pool ${backend.pools.join(', ')}) DOWN: ${reason}`);
  }
}

/** An IP address for `host`: itself if it is one, else the first IPv4 address DNS gives. */
async function resolve(host: string): Promise<string> {
  if (net.isIP(host) !== 0) return host;
  const addresses = await dns.lookup(host, { all: true });
  const v4 = addresses.find((a) => a.family === 4);
  /* c8 ignore next -- a name with IPv6 addresses only; this machine's hosts file has none */
  return (v4 ?? addresses[0]!).address;
}
