// A configuration turned into run-time objects: one Backend per distinct server address, shared
// by the pools that list it, the pools in routing order, and the router over them. Used by the
// proxy (src/proxy/proxy-server.ts) and, for health and status only, by the cluster's primary.

import dns from 'node:dns/promises';
import net from 'node:net';
import { Backend } from '../balancer/backend.js';
import { Pool } from '../balancer/pool.js';
import type { Config, Pool as PoolConfig } from '../config/schema.js';
import { Router } from '../router.js';
import type { BackendConnection } from './backend-connection.js';
import type { ProxyBackend, ProxyPool } from './context.js';

export interface Routes {
  /** Every server of the configuration, once each. */
  backends: ProxyBackend[];
  /** The pools, in routing order: hosts, paths, then the default pool. */
  pools: ProxyPool[];
  router: Router<ProxyPool>;
}

/**
 * Builds the routes of `config`. A server already in `existing` (by its label, "host:port" as
 * the config wrote it) is reused with its state: up or down, idle connections, counters. Host
 * names are resolved once here, so no request waits for DNS; a name that does not resolve
 * rejects, and nothing has changed.
 */
export async function buildRoutes(config: Config, existing: ReadonlyMap<string, ProxyBackend> = new Map()): Promise<Routes> {
  const byLabel = new Map<string, ProxyBackend>();
  const makePool = async (pool: PoolConfig): Promise<ProxyPool> => {
    const servers: ProxyBackend[] = [];
    for (const s of pool.servers) {
      let backend = byLabel.get(s.name);
      if (backend === undefined) {
        backend = existing.get(s.name) ?? new Backend<BackendConnection>(await resolve(s.host), s.port, s.name);
        backend.pools.length = 0;
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
  return {
    backends: [...byLabel.values()],
    pools: [...hosts.map(([, pool]) => pool), ...paths.map((p) => p.pool), ...(fallback === null ? [] : [fallback])],
    router: new Router(hosts, paths, fallback),
  };
}

/** An IP address for `host`: itself if it is one, else the first IPv4 address DNS gives. */
async function resolve(host: string): Promise<string> {
  if (net.isIP(host) !== 0) return host;
  const addresses = await dns.lookup(host, { all: true });
  const v4 = addresses.find((a) => a.family === 4);
  /* c8 ignore next -- a name with IPv6 addresses only; this machine's hosts file has none */
  return (v4 ?? addresses[0]!).address;
}
