// What a start checks before it listens, and `lb --check` with it, so that both report a problem
// in the same one line: each listener's TLS certificate and key, read and matched as the TLS listener
// will load them (tls-files.ts), and every server's host name, looked up. A problem names its
// place in lb.yaml. `--check` also asks the `discover` names once (a start logs their lookups).

import dns from 'node:dns/promises';
import net from 'node:net';
import { discoverEntries, dnsLookups, lookUp, type DnsLookups } from '../balancer/discovery.js';
import { lineOf, type Places } from './places.js';
import { poolsOf, type Config } from './schema.js';
import { loadListenerTls } from './tls-files.js';

/** Looks a host name up; rejects with a system error (code ENOTFOUND, EAI_AGAIN, ...) when it does not resolve. */
export type Lookup = (host: string) => Promise<unknown>;

const systemLookup: Lookup = (host) => dns.lookup(host, { all: true });

/**
 * Everything a start checks before it listens. Throws a ConfigError at the first problem with
 * a listener's TLS files; resolves with a warning for each server whose name does not resolve (a
 * start logs them and keeps the server down until its name resolves; --check prints them: the
 * name may resolve where it runs).
 */
export async function preflight(config: Config, places: Places, lookup: Lookup = systemLookup): Promise<string[]> {
  config.listen.forEach((l, i) => {
    if (l.tls !== null) loadListenerTls(l.tls, places.tls[i]);
  });
  return unresolvedServers(config, places, lookup);
}

/**
 * Looks up every server's host name, each name once (an IP address needs no lookup). Resolves
 * with one warning per server whose name does not resolve, in the order the file lists them:
 * `lb.yaml:7: nosuch.invalid:8081 does not resolve (ENOTFOUND)`.
 */
export async function unresolvedServers(config: Config, places: Places, lookup: Lookup): Promise<string[]> {
  const servers = new Map(poolsOf(config).flatMap((pool) => pool.servers).map((s) => [s.name, s.host]));
  const lookups = new Map<string, Promise<string | null>>();
  for (const host of servers.values()) {
    if (net.isIP(host) === 0 && !lookups.has(host)) {
      lookups.set(host, lookup(host).then(() => null, (err: NodeJS.ErrnoException) => err.code ?? err.message));
    }
  }
  const warnings: string[] = [];
  for (const [name, host] of servers) {
    const failed = await (lookups.get(host) ?? null);
    // Every server the reader accepted has its place noted.
    if (failed !== null) warnings.push(`${lineOf(places.servers.get(name)!)}: ${name} does not resolve (${failed})`);
  }
  return warnings;
}

/**
 * Asks every `discover` name once, on `config.resolvers`. Resolves with one warning per entry
 * whose lookup fails or finds nothing (`lb.yaml:9: discover api.internal:8080: lookup failed
 * (ECONNREFUSED)`): the names may answer where the balancer runs.
 */
export async function discoverWarnings(config: Config, places: Places, lookups: DnsLookups = dnsLookups(config.resolvers)): Promise<string[]> {
  const entries = discoverEntries(config);
  const outcomes = await Promise.all(entries.map((e) => lookUp(lookups, e)));
  const warnings: string[] = [];
  entries.forEach((e, i) => {
    const outcome = outcomes[i]!;
    const problem = 'failed' in outcome ? `lookup failed (${outcome.failed})` : outcome.found.length === 0 ? 'no records: no servers yet' : null;
    // Every entry the reader accepted has its place noted.
    if (problem !== null) warnings.push(`${lineOf(places.servers.get(e.name)!)}: discover ${e.name}: ${problem}`);
  });
  return warnings;
}
