// A routing snapshot: the servers, pools and router of one configuration, built whole and never
// edited once in force. A reload builds the next one, carrying over by identity the servers that
// remain, and swaps it in (fleet.ts); requests in flight finish with the one they started with.

import { performance } from 'node:perf_hooks';
import { backendTlsKey } from '../config/sections/backend-tls.js';
import { DEFAULTS, hasOwnPool, type BackendTls, type Config, type Healthcheck, type Pool as PoolConfig, type PoolServer } from '../config/schema.js';
import { compileRoute } from '../http/route-rules.js';
import type { Logger } from '../log.js';
import { BackendTlsClient } from '../proxy/backend-tls.js';
import { Router, type HostRoutes } from '../router.js';
import { Backend, type Pooled } from './backend.js';
import { label, type Discovered } from './discovery.js';
import { Pool } from './pool.js';
import { resolveHost } from './resolve.js';

export class Snapshot<C extends Pooled = Pooled> {
  /** Every server of the pools, once each, in the order the pools first list them. */
  readonly servers: readonly Backend<C>[];
  /** Each server by its label ("host:port" as the config wrote it). */
  readonly byLabel: ReadonlyMap<string, Backend<C>>;
  /** The names of the pools that list each server, in routing order, for log lines and status. */
  private readonly poolNames = new Map<Backend<C>, readonly string[]>();

  constructor(
    /** The pools, in routing order: hosts, paths, then the default pool. */
    readonly pools: readonly Pool<Backend<C>>[],
    readonly router: Router<Pool<Backend<C>>> = new Router<Pool<Backend<C>>>([], [], null),
    /** How each server is checked: as the first pool that lists it says. Absent: the checker's defaults. */
    private readonly checks: ReadonlyMap<Backend<C>, Healthcheck> = new Map(),
  ) {
    const names = this.poolNames as Map<Backend<C>, string[]>;
    for (const pool of pools) {
      for (const server of pool.servers) {
        const of = names.get(server);
        if (of === undefined) names.set(server, [pool.name]);
        else if (!of.includes(pool.name)) of.push(pool.name);
      }
    }
    this.servers = [...names.keys()];
    this.byLabel = new Map(this.servers.map((s) => [s.label, s]));
  }

  /** The names of the pools that list `server` here; empty if this snapshot does not have it. */
  poolsOf(server: Backend<C>): readonly string[] {
    return this.poolNames.get(server) ?? [];
  }

  /** How `server` is checked; null: as the top-level healthcheck says. */
  checkOf(server: Backend<C>): Healthcheck | null {
    return this.checks.get(server) ?? null;
  }

  /** Whether `server` (this very object) is one of this snapshot's. */
  has(server: Backend<C>): boolean {
    return this.poolNames.has(server);
  }
}

/**
 * The snapshot of `config`, with the servers its `discover` entries found. A server of `previous`
 * that the config still lists (by its label) is the same object here, with its state: up or down,
 * idle connections, counters. Host names are resolved once here, so no request waits for DNS. A
 * name that does not resolve: at start (no `previous`) the server is made down and unresolved,
 * and the health checker looks it up again until it resolves (lb logs it, with its place in
 * lb.yaml); on a reload it rejects, and nothing has changed.
 */
export async function buildSnapshot<C extends Pooled>(
  config: Config,
  previous: Snapshot<C> | null = null,
  /** Where pools log their servers' ejections; null: nowhere (the cluster's primary, which routes nothing). */
  logger: Logger | null = null,
  /** The servers each `discover` entry found now (discovery.ts); an entry absent here has none. */
  discovered: Discovered = {},
): Promise<Snapshot<C>> {
  const byLabel = new Map<string, Backend<C>>();
  const checks = new Map<Backend<C>, Healthcheck>();
  // The new pools listen for their servers' free slots; the old ones only while requests wait in them.
  if (previous !== null) for (const server of previous.servers) server.keepWaitingListeners();
  /** `prefix`: the route's path prefix, which strip_prefix and rewrite_prefix replace ("/" for a host). */
  const makePool = async (pool: PoolConfig, prefix: string): Promise<Pool<Backend<C>>> => {
    const servers: Backend<C>[] = [];
    const members = withDiscovered(pool, discovered);
    for (const s of members) {
      let server = byLabel.get(s.name);
      if (server === undefined) {
        // A server whose TLS settings (ca contents included) changed is a new one: its pooled
        // connections and session were made with the old settings.
        const tls = pool.balancing.backendTls;
        const before = previous?.byLabel.get(s.name);
        const same = before !== undefined && (before.tls?.key ?? '') === backendTlsKey(tls);
        server = same ? before : await makeBackend<C>(s.host, s.port, s.name, previous === null, tls);
        byLabel.set(s.name, server);
        // Checked once, as the first pool that lists it says (README, "Health checks").
        // A pool that sends PROXY headers has its servers' checks send one too.
        const sendProxy = pool.balancing.sendProxy;
        checks.set(server, sendProxy === 0 ? pool.healthcheck : { ...pool.healthcheck, sendProxy });
      }
      // The config lists a server once per pool (a duplicate is an error there).
      servers.push(server);
    }
    const route = compileRoute(pool.rules, prefix, config.timeouts);
    const made = new Pool(pool.name, servers, members, pool.balancing, route.server, logger, route);
    // Runtime states and weights survive a reload for the servers that remain (interface.md).
    const before = previous?.pools.find((p) => p.name === pool.name);
    if (before !== undefined) made.carryOver(before, performance.now());
    return made;
  };
  // In routing order (poolsOf): a host's paths, then the host; the paths; the default pool.
  const pools: Pool<Backend<C>>[] = [];
  const made = async (p: PoolConfig, prefix: string): Promise<Pool<Backend<C>>> => {
    const pool = await makePool(p, prefix);
    pools.push(pool);
    return pool;
  };
  const hosts: [string, HostRoutes<Pool<Backend<C>>>][] = [];
  for (const h of config.hosts) {
    const paths = [];
    // A path under a host is named host + prefix; its prefix is what follows the host's name.
    for (const p of h.paths) {
      const prefix = p.name.slice(h.name.length);
      paths.push({ prefix, pool: await made(p, prefix) });
    }
    const own = hasOwnPool(h) ? await made(h, '/') : null;
    hosts.push([h.name, { paths, pool: own }]);
  }
  const paths = [];
  for (const p of config.paths) paths.push({ prefix: p.name, pool: await made(p, p.name) });
  const fallback = config.servers === null ? null : await made(config.servers, '/');
  return new Snapshot(pools, new Router(hosts, paths, fallback), checks);
}

/**
 * A new server, its name resolved; `tolerant`: one that does not resolve is made down and
 * unresolved. `tls`: its backend_tls, whose default name is `host` as written, not the address.
 */
async function makeBackend<C extends Pooled>(host: string, port: number, label: string, tolerant: boolean, tls: BackendTls | null): Promise<Backend<C>> {
  const secure = tls === null ? null : new BackendTlsClient(tls, host);
  try {
    return new Backend<C>(await resolveHost(host), port, label, true, secure);
  } catch (err) {
    if (!tolerant) throw err;
    return new Backend<C>(host, port, label, false, secure);
  }
}

/**
 * A pool's servers: those the config writes, then those its `discover` entries found, each with
 * its entry's settings (an SRV record's weight and priority where the entry sets none). A server
 * written or found twice is the first one.
 */
function withDiscovered(pool: PoolConfig, discovered: Discovered): PoolServer[] {
  if (pool.discover.length === 0) return pool.servers;
  const members = [...pool.servers];
  const names = new Set(members.map((s) => s.name));
  for (const entry of pool.discover) {
    for (const found of discovered[entry.name] ?? []) {
      const name = label(found);
      if (names.has(name)) continue;
      names.add(name);
      members.push({
        host: found.host,
        port: found.port,
        name,
        weight: entry.weight ?? found.weight ?? DEFAULTS.server.weight,
        maxConnections: entry.maxConnections,
        backup: entry.backup || found.backup,
        slowStart: entry.slowStart,
      });
    }
  }
  return members;
}
