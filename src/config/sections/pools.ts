// The pools: `hosts` (exact or wildcard, each with its own `paths` if it likes) and `paths`
// (routing by host, then by path prefix), the default pool `servers`, and the server list every
// pool has, in the short form or the long one. How a pool spreads its requests is read in
// balancing.ts.

import { isMap, isScalar, type Node } from 'yaml';
import { DEFAULTS, type Discover, type Pool, type PoolServer, type ServerAddress } from '../schema.js';
import { readCount, readDuration, readFlag } from '../scalars.js';
import { addressSlip, parseHostName, parseHostPort } from '../values.js';
import { readMap, readSeq, readText, type Source } from '../yaml.js';
import { BALANCING_KEYS, readPoolBalancing, type PoolDefaults } from './balancing.js';
import { readDiscover } from './discover.js';
import { readHealthcheck } from './healthcheck.js';
import { ROUTE_RULE_KEYS, readRouteRules, type RouteRuleNodes } from './route-rules.js';

const HOST_KEYS = ['host', 'servers', 'paths', 'healthcheck', ...BALANCING_KEYS, ...ROUTE_RULE_KEYS] as const;
const PATH_KEYS = ['path', 'servers', 'healthcheck', ...BALANCING_KEYS, ...ROUTE_RULE_KEYS] as const;

/** What an entry inherits: the pool options and healthcheck of the level above, and the request_id field (lower case, "" when off), which rules may not name. */
export interface EntryDefaults extends PoolDefaults {
  requestId: string;
}
/** The long server form's keys. */
const SERVER_KEYS = ['address', 'weight', 'max_connections', 'backup', 'slow_start'] as const;

/** `hosts`; `defaults` are the top level's pool options and healthcheck, which an entry's own override. */
export function readHosts(src: Source, node: Node | undefined, defaults: EntryDefaults): Pool[] {
  if (node === undefined) return [];
  const seen = new Map<string, Node>();
  return readSeq(src, node, 'hosts', '{host, servers} entries').map((entry, i) => {
    const path = `hosts[${i}]`;
    const { host, servers, paths, healthcheck, ...options } = readMap(src, entry, path, HOST_KEYS);
    if (!host) src.fail(entry, path, 'missing "host"');
    const hint = 'expected a host name like "www.mango.com", or a wildcard like "*.mango.com"';
    const text = readText(src, host, `${path}.host`, hint);
    // "*.mango.com": any name that ends in ".mango.com", one label or more before it.
    const wildcard = text.startsWith('*.');
    const parsed = parseHostName(wildcard ? text.slice(2) : text);
    if (parsed === null || (wildcard && parsed.startsWith('['))) src.fail(host, `${path}.host`, hint);
    const name = wildcard ? `*.${parsed}` : parsed;
    return readEntry(src, { entry, path, key: 'host', name, nameNode: host, seen, servers, paths, healthcheck, options, defaults });
  });
}

/**
 * `paths` (at `at`: the top level's, or "hosts[0].paths" under a host, whose pools are named
 * `host` + prefix); `defaults` are the options of the level above, which an entry's own override.
 */
export function readPaths(src: Source, node: Node | undefined, defaults: EntryDefaults, at = 'paths', host = ''): Pool[] {
  if (node === undefined) return [];
  const seen = new Map<string, Node>();
  return readSeq(src, node, at, '{path, servers} entries').map((entry, i) => {
    const path = `${at}[${i}]`;
    const { path: prefixNode, servers, healthcheck, ...options } = readMap(src, entry, path, PATH_KEYS);
    if (!prefixNode) src.fail(entry, path, 'missing "path"');
    const hint = 'expected a path prefix starting with "/", e.g. "/mango"';
    const prefix = readText(src, prefixNode, `${path}.path`, hint);
    if (!/^\/[\x21-\x7e]*$/.test(prefix)) src.fail(prefixNode, `${path}.path`, hint);
    if (/[?#]/.test(prefix)) {
      src.fail(prefixNode, `${path}.path`, 'a path prefix cannot hold a query ("?") or fragment ("#")');
    }
    const name = host + (prefix.replace(/\/+$/, '') || '/');
    return readEntry(src, { entry, path, key: 'path', name, nameNode: prefixNode, seen, servers, paths: undefined, healthcheck, options, defaults });
  });
}

/** What a hosts or paths entry has once its name is read. */
interface Entry {
  entry: Node;
  /** "hosts[0]", "paths[2]" */
  path: string;
  key: 'host' | 'path';
  name: string;
  nameNode: Node;
  /** The names of the entries before it, for duplicates. */
  seen: Map<string, Node>;
  servers: Node | undefined;
  /** A hosts entry's own `paths`. */
  paths: Node | undefined;
  healthcheck: Node | undefined;
  /** The entry's pool options (balancing.ts reads them) and route rules (route-rules.ts). */
  options: Parameters<typeof readPoolBalancing>[1] & RouteRuleNodes;
  defaults: EntryDefaults;
}

/**
 * The rest of a hosts or paths entry, alike for both: no duplicate name, its servers, its options
 * over the level above's; a host's own paths, whose options default to the host's.
 */
function readEntry(src: Source, e: Entry): Pool {
  const first = e.seen.get(e.name);
  const { name } = e;
  if (first) src.fail(e.nameNode, `${e.path}.${e.key}`, `duplicate ${e.key} "${name}" (first at line ${src.lineOf(first)})`);
  e.seen.set(name, e.nameNode);
  // A host with paths needs no servers of its own: a request matching none of them goes on as if
  // the host had not matched. A redirect answers every request itself.
  if (!e.servers && !e.paths && !e.options.redirect) {
    src.fail(e.entry, e.path, e.key === 'host' ? 'missing "servers" (or "paths", or "redirect")' : 'missing "servers" (or "redirect")');
  }
  const { nodes, ...own } = e.servers ? readServers(src, e.servers, `${e.path}.servers`) : { servers: [], discover: [], nodes: [] };
  const balancing = readPoolBalancing(src, e.options, e.path, e.defaults);
  e.defaults.tlsClaims.claim(src, `${e.path}.servers`, own.servers, nodes, balancing.backendTls);
  const healthcheck = readHealthcheck(src, e.healthcheck, `${e.path}.healthcheck`, e.defaults.healthcheck);
  const rules = readRouteRules(src, e.options, e.path, e.key === 'path', e.defaults.requestId);
  const nested = { ...e.defaults, balancing, healthcheck, balanceNode: e.options.balance ?? e.defaults.balanceNode };
  const paths = readPaths(src, e.paths, nested, `${e.path}.paths`, name);
  return { name, ...own, paths, balancing, healthcheck, rules };
}

/** `servers`: the default pool, named "default", with the top level's options; null when absent. */
export function readDefaultPool(src: Source, node: Node | undefined, defaults: PoolDefaults): Pool | null {
  if (node === undefined) return null;
  const balancing = readPoolBalancing(src, {}, '', defaults);
  const { nodes, ...own } = readServers(src, node, 'servers');
  defaults.tlsClaims.claim(src, 'servers', own.servers, nodes, balancing.backendTls);
  return { name: 'default', ...own, paths: [], balancing, healthcheck: defaults.healthcheck, rules: DEFAULTS.rules };
}

/**
 * A pool's server list: at least one item, no address or discover name twice, not every one a
 * backup (a pool of backups alone would have nothing to stand in for). An item is "host:port"
 * (the defaults), a mapping `{address, weight, max_connections, backup, slow_start}`, or a
 * `discover` mapping (discover.ts). `nodes`: where each server's address is written.
 */
function readServers(src: Source, node: Node, path: string): { servers: PoolServer[]; discover: Discover[]; nodes: Node[] } {
  const items = readSeq(src, node, path, '"host:port" servers');
  if (items.length === 0) src.fail(node, path, 'expected at least one "host:port" server');
  const seen = new Set<string>();
  const servers: PoolServer[] = [];
  const discover: Discover[] = [];
  const nodes: Node[] = [];
  items.forEach((item, i) => {
    const at = `${path}[${i}]`;
    if (isMap(item) && item.has('discover')) {
      if (item.has('address')) {
        const key = item.items.find((pair) => isScalar(pair.key) && pair.key.value === 'discover')!.key as Node;
        src.fail(key, at, '"address" and "discover" cannot both be set: an item is a server, or a name to discover servers by');
      }
      const entry = readDiscover(src, item, at);
      if (seen.has(entry.name)) src.fail(item.get('discover', true) as Node, `${at}.discover`, `duplicate discover "${entry.name}"`);
      seen.add(entry.name);
      discover.push(entry);
      return;
    }
    const fields = isMap(item) ? readMap(src, item, at, SERVER_KEYS) : { address: item };
    if (!fields.address) src.fail(item, at, 'missing "address"');
    const addressAt = isMap(item) ? `${at}.address` : at;
    const address = readAddress(src, fields.address, addressAt);
    if (seen.has(address.name)) src.fail(fields.address, addressAt, `duplicate server "${address.name}"`);
    seen.add(address.name);
    nodes.push(fields.address);
    const d = DEFAULTS.server;
    servers.push({
      ...address,
      weight: readCount(src, fields.weight, `${at}.weight`, d.weight, 0, DEFAULTS.maxWeight),
      maxConnections: readCount(src, fields.max_connections, `${at}.max_connections`, d.maxConnections, 0),
      backup: readFlag(src, fields.backup, `${at}.backup`, d.backup),
      slowStart: readDuration(src, fields.slow_start, `${at}.slow_start`, d.slowStart, 'allowed'),
    });
  });
  if (servers.every((s) => s.backup) && discover.every((e) => e.backup)) {
    src.fail(node, path, 'every server is a backup: at least one must not be');
  }
  return { servers, discover, nodes };
}

/**
 * A server's "host:port"; a port alone, a URL and a port out of range get words of their own, as
 * the likeliest slips. Its place is noted: the name is looked up in DNS later (preflight.ts).
 */
function readAddress(src: Source, node: Node, path: string): ServerAddress {
  const hint = 'expected "host:port", e.g. "localhost:8081"';
  if (isScalar(node) && typeof node.value === 'number') {
    src.fail(node, path, `expected "host:port", not only a port, e.g. "localhost:${node.value}"`);
  }
  const name = readText(src, node, path, hint);
  const address = parseHostPort(name);
  if (address === null || address.port === 0) src.fail(node, path, addressSlip(name, 1) ?? hint);
  src.places.addServer(name, src.placeOf(node, path));
  return { ...address, name };
}
