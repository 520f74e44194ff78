// DNS discovery in the config: a `discover` item of a pool's server list (a name whose A/AAAA
// records, or SRV records, are servers of the pool) and the top-level `resolvers` it is looked up on.

import { isIP } from 'node:net';
import type { Node } from 'yaml';
import { DEFAULTS, type Discover } from '../schema.js';
import { readCount, readDuration, readFlag } from '../scalars.js';
import { addressSlip, parseHostPort } from '../values.js';
import { readMap, readSeq, readText, type Source } from '../yaml.js';

/** A `discover` item's keys: the name, how often it is looked up, and the long server form's settings. */
export const DISCOVER_KEYS = ['discover', 'refresh', 'weight', 'max_connections', 'backup', 'slow_start'] as const;

/** An SRV name: `_service._proto.name` (RFC 2782). */
const SRV_NAME = /^_[A-Za-z0-9-]+\._(?:tcp|udp|sctp)\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$/i;

/** The `discover` item `node` (a mapping with a `discover` key) at `path` ("servers[1]"). */
export function readDiscover(src: Source, node: Node, path: string): Discover {
  const fields = readMap(src, node, path, DISCOVER_KEYS);
  const at = `${path}.discover`;
  const hint = 'expected "name:port" (its A and AAAA records) or "_service._tcp.name" (its SRV records)';
  if (!fields.discover) src.fail(node, at, hint);
  const name = readText(src, fields.discover, at, hint);
  let kind: Discover['kind'];
  let host: string;
  let port = 0;
  if (SRV_NAME.test(name)) {
    kind = 'srv';
    host = name;
  } else {
    const address = parseHostPort(name);
    if (address === null || address.port === 0) src.fail(fields.discover, at, addressSlip(name, 1) ?? hint);
    // An address has no records to follow: it is a server, written as one.
    if (isIP(address.host) !== 0) src.fail(fields.discover, at, `${address.host} is an address, not a DNS name: list "${name}" as a server`);
    kind = 'address';
    host = address.host;
    port = address.port;
  }
  // Its place is noted: --check looks the name up (preflight.ts).
  src.places.addServer(name, src.placeOf(fields.discover, at));
  const d = DEFAULTS.server;
  return {
    name,
    kind,
    host,
    port,
    refresh: readDuration(src, fields.refresh, `${path}.refresh`, DEFAULTS.discoverRefresh),
    weight: fields.weight === undefined ? null : readCount(src, fields.weight, `${path}.weight`, d.weight, 0, DEFAULTS.maxWeight),
    maxConnections: readCount(src, fields.max_connections, `${path}.max_connections`, d.maxConnections, 0),
    backup: readFlag(src, fields.backup, `${path}.backup`, d.backup),
    slowStart: readDuration(src, fields.slow_start, `${path}.slow_start`, d.slowStart, 'allowed'),
  };
}

/** `resolvers`: "host:port" strings as node:dns's setServers takes them; a bare address gets port 53. */
export function readResolvers(src: Source, node: Node | undefined): string[] {
  if (node === undefined) return [];
  return readSeq(src, node, 'resolvers', 'DNS server addresses').map((item, i) => {
    const at = `resolvers[${i}]`;
    const hint = 'expected a DNS server\'s IP address, e.g. "127.0.0.1" or "127.0.0.1:5353"';
    const text = readText(src, item, at, hint);
    const bare = isIP(text.replace(/^\[(.*)\]$/, '$1'));
    if (bare === 4) return `${text}:53`;
    if (bare === 6) return `[${text.replace(/^\[(.*)\]$/, '$1')}]:53`;
    const address = parseHostPort(text);
    // node:dns asks addresses only: a resolver named by a host name would need a resolver itself.
    if (address === null || address.port === 0 || isIP(address.host) === 0) src.fail(item, at, addressSlip(text, 1) ?? hint);
    return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : text;
  });
}
