// Loading lb.yaml: read the file, parse the YAML, and build the whole Config one section at a
// time, each section read by its own reader in sections/. The first mistake throws ConfigError.
// Beside the Config comes where the file wrote what is checked after parsing (places.ts).

import { readFileSync } from 'node:fs';
import { ConfigError, systemReason } from './error.js';
import type { Places } from './places.js';
import type { Config } from './schema.js';
import { BALANCING_KEYS, readPoolDefaults } from './sections/balancing.js';
import { readHealthcheck } from './sections/healthcheck.js';
import { readLimits } from './sections/limits.js';
import { readAdmin, readListen } from './sections/listen.js';
import { readLog } from './sections/log.js';
import { readResolvers } from './sections/discover.js';
import { readDefaultPool, readHosts, readPaths } from './sections/pools.js';
import { readRequestId } from './sections/request-id.js';
import { readTimeouts } from './sections/timeouts.js';
import { readTrustedProxies } from './sections/trusted-proxies.js';
import { readDocument, readMap } from './yaml.js';

/** The top-level keys, in the order the contract lists them; a new section adds its key here. */
const TOP_KEYS = [
  'listen',
  'admin',
  'healthcheck',
  'timeouts',
  'limits',
  'hosts',
  'paths',
  'servers',
  // balance, hash_key, sticky, queue, outlier, retry_budget, send_proxy, backend_tls: every pool's defaults.
  ...BALANCING_KEYS,
  'trusted_proxies',
  'resolvers',
  'log',
  'request_id',
] as const;

/** A configuration, and where its file wrote the values that are checked after parsing. */
export interface LoadedConfig {
  config: Config;
  places: Places;
}

/** Reads and parses a config file. A missing or unreadable file is a ConfigError too. */
export function loadConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${systemReason(err)}`);
  }
  return parseConfigWithPlaces(text, file);
}

/** Parses the text of a config; `file` only names it in messages. Throws ConfigError on the first mistake. */
export function parseConfig(text: string, file: string): Config {
  return parseConfigWithPlaces(text, file).config;
}

/** parseConfig, with the places of what is checked after parsing. */
export function parseConfigWithPlaces(text: string, file: string): LoadedConfig {
  const { src, root } = readDocument(text, file);
  if (root === null) {
    throw new ConfigError(`${file}: the file is empty; at least one of hosts, paths or servers is required`);
  }
  const top = readMap(src, root, '', TOP_KEYS);

  // Sections are read in this order, so that of two mistakes the same one is always reported.
  // The pool options and healthcheck come before the pools, whose defaults they are.
  const listen = readListen(src, top.listen, 'listen');
  const admin = readAdmin(src, top.admin);
  const healthcheck = readHealthcheck(src, top.healthcheck);
  // Before the pools: their rules may not name the request_id field.
  const requestId = readRequestId(src, top.request_id);
  const pools = { ...readPoolDefaults(src, top, healthcheck), requestId: requestId.toLowerCase() };
  const config: Config = {
    listen,
    admin,
    healthcheck,
    timeouts: readTimeouts(src, top.timeouts),
    limits: readLimits(src, top.limits),
    hosts: readHosts(src, top.hosts, pools),
    paths: readPaths(src, top.paths, pools),
    servers: readDefaultPool(src, top.servers, pools),
    requestId,
    trustedProxies: readTrustedProxies(src, top.trusted_proxies),
    resolvers: readResolvers(src, top.resolvers),
    log: readLog(src, top.log),
  };
  if (config.hosts.length === 0 && config.paths.length === 0 && config.servers === null) {
    throw new ConfigError(`${file}: at least one of hosts, paths or servers is required`);
  }
  return { config, places: src.places };
}
