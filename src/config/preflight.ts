// What a start checks before it listens, and `lb --check` with it, so that both report a problem
// in the same one line: listen.tls's certificate and key, read and matched as the TLS listener
// will load them, and every server's host name, looked up. A problem names its place in lb.yaml.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import dns from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { ConfigError, systemReason } from './error.js';
import { errorAt, lineOf, type Places } from './places.js';
import type { Config, TlsFiles } from './schema.js';

/** Looks a host name up; rejects with a system error (code ENOTFOUND, EAI_AGAIN, ...) when it does not resolve. */
export type Lookup = (host: string) => Promise<unknown>;

const systemLookup: Lookup = (host) => dns.lookup(host, { all: true });

/**
 * Everything a start checks before it listens. Throws a ConfigError at the first problem with
 * listen.tls's files; resolves with a warning for each server whose name does not resolve (a
 * start fails on the first of them, --check only warns: the name may resolve where it runs).
 */
export async function preflight(config: Config, places: Places, lookup: Lookup = systemLookup): Promise<string[]> {
  if (config.listen.tls !== null) loadTlsFiles(config.listen.tls, places.tls);
  return unresolvedServers(config, places, lookup);
}

/**
 * listen.tls's certificate and key, checked as the TLS listener needs them: readable, a PEM
 * certificate, an unencrypted PEM private key, the key of that certificate, and accepted by
 * OpenSSL as a pair. A problem throws a ConfigError at the cert's or the key's place in lb.yaml;
 * without `places` (a cluster worker, given the configuration alone) it names the setting only.
 */
export function loadTlsFiles(files: TlsFiles, places: Places['tls']): { cert: Buffer; key: Buffer } {
  const fail = (which: 'cert' | 'key', message: string): never => {
    throw places === null ? new ConfigError(`listen.tls.${which}: ${message}`) : errorAt(places[which], message);
  };
  const read = (which: 'cert' | 'key'): Buffer => {
    try {
      return readFileSync(files[which]);
    } catch (err) {
      return fail(which, `cannot read ${files[which]}: ${systemReason(err)}`);
    }
  };
  const cert = read('cert');
  const key = read('key');

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    return fail('cert', `${files.cert} is not a PEM certificate (${opensslReason(err)})`);
  }
  // OpenSSL would ask for the passphrase on the terminal, or fail with a reason that does not say why.
  if (/^-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m.test(key.toString('latin1'))) {
    fail('key', `${files.key} is encrypted: the balancer needs the key without a passphrase`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return fail('key', `${files.key} is not a PEM private key (${opensslReason(err)})`);
  }
  if (!certificate.checkPrivateKey(privateKey)) fail('key', `${files.key} is not the key of the certificate in ${files.cert}`);
  // What the listener does with them: this also refuses what the checks above let through, such
  // as a key too small for OpenSSL's security level or a broken certificate further down the chain.
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    fail('cert', `${files.cert} cannot be used with its key (${opensslReason(err)})`);
  }
  return { cert, key };
}

/**
 * Looks up every server's host name, each name once (an IP address needs no lookup). Resolves
 * with one warning per server whose name does not resolve, in the order the file lists them:
 * `lb.yaml:7: nosuch.invalid:8081 does not resolve (ENOTFOUND)`.
 */
export async function unresolvedServers(config: Config, places: Places, lookup: Lookup): Promise<string[]> {
  const pools = [...config.hosts, ...config.paths, ...(config.servers === null ? [] : [config.servers])];
  const servers = new Map(pools.flatMap((pool) => pool.servers).map((s) => [s.name, s.host]));
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

/** "no start line" of OpenSSL's "error:0480006C:PEM routines::no start line"; another message's first line. */
function opensslReason(err: unknown): string {
  return (err as Error).message.split('\n', 1)[0]!.replace(/^error:[0-9A-F]+:[^:]*::?/, '');
}
