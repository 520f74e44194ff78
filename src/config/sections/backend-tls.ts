// `backend_tls`: HTTPS to a pool's servers. `true`, `false`, or `{ca, server_name, verify}` whose
// fields go one by one over the level above's; the `ca` file is read here, as the config loads.
// The settings belong to a server's address, so two pools that list one server must agree.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve as resolvePath } from 'node:path';
import { isMap, isScalar, type Node } from 'yaml';
import { systemReason } from '../error.js';
import { DEFAULTS, poolsOf, type BackendTls, type Config, type PoolServer } from '../schema.js';
import { readFlag } from '../scalars.js';
import { readMap, readText, type Source } from '../yaml.js';

const HINT = 'expected true, false or a mapping {ca, server_name, verify}';
const NAME_HINT = 'expected a DNS name like "api.internal": the name sent in SNI and looked for in the certificate';

/** One PEM certificate block; what lies between blocks (comments, "Bundle" headers) is ignored, as OpenSSL does. */
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/** `backend_tls` at `path`: a flag whole, or a mapping over `base` (the level above's; null = none). */
export function readBackendTls(src: Source, node: Node, path: string, base: BackendTls | null): BackendTls | null {
  if (isScalar(node) && typeof node.value === 'boolean') return node.value ? { ...DEFAULTS.backendTls, caCerts: [] } : null;
  if (!isMap(node)) src.fail(node, path, HINT);
  const fields = readMap(src, node, path, ['ca', 'server_name', 'verify'] as const);
  const from = base ?? DEFAULTS.backendTls;
  let ca = from.ca;
  let caCerts = [...from.caCerts];
  if (fields.ca) {
    ca = resolvePath(dirname(src.file), readText(src, fields.ca, `${path}.ca`, 'expected the path of a PEM file of CA certificates'));
    caCerts = readCaFile(src, fields.ca, `${path}.ca`, ca);
  }
  const serverName = fields.server_name ? readServerName(src, fields.server_name, `${path}.server_name`) : from.serverName;
  return { ca, caCerts, serverName, verify: readFlag(src, fields.verify, `${path}.verify`, from.verify) };
}

/** The certificates of a `ca` file, each parsed: an unreadable file, or one without a good PEM certificate, fails at `node`. */
function readCaFile(src: Source, node: Node, path: string, file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (err) {
    src.fail(node, path, `cannot read ${file}: ${systemReason(err)}`);
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) src.fail(node, path, `${file} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  blocks.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      src.fail(node, path, `certificate ${i + 1} in ${file} cannot be parsed (${(err as Error).message.split('\n', 1)[0]})`);
    }
  });
  return blocks;
}

/**
 * `server_name`: a DNS name, lower case. Not an IP address: RFC 6066 (section 3) allows only host
 * names in SNI, and a server written as an IP address is checked against that address already.
 */
function readServerName(src: Source, node: Node, path: string): string {
  const text = readText(src, node, path, NAME_HINT).toLowerCase();
  if (isIP(text) !== 0) src.fail(node, path, 'an IP address cannot be a TLS server name (RFC 6066); leave server_name out to check the certificate against the server\'s IP address');
  if (!/^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/.test(text)) src.fail(node, path, NAME_HINT);
  return text;
}

/**
 * What tells one server's TLS settings from another's: "" for none. Two settings with the same
 * certificates secure alike, whatever file holds them. A reload replaces a server whose key changed.
 */
export function backendTlsKey(settings: BackendTls | null): string {
  return settings === null ? '' : JSON.stringify([settings.caCerts, settings.serverName, settings.verify]);
}

/**
 * The TLS settings each server was first given, by its name ("host:port"), with where: a pool
 * that lists it again must give the same ones.
 */
export class ServerTlsClaims {
  private readonly claims = new Map<string, { key: string; at: string; line: number }>();

  /** The pool whose server list is at `at` ("hosts[0].servers", "servers") secures `servers` (written at `nodes`) with `settings`. */
  claim(src: Source, at: string, servers: readonly PoolServer[], nodes: readonly Node[], settings: BackendTls | null): void {
    const key = backendTlsKey(settings);
    servers.forEach((server, i) => {
      const node = nodes[i]!;
      const first = this.claims.get(server.name);
      if (first === undefined) this.claims.set(server.name, { key, at, line: src.lineOf(node) });
      else if (first.key !== key) {
        src.fail(node, at, `server "${server.name}" has other backend_tls settings than in ${first.at} (line ${first.line}): TLS settings belong to the server's address, so every pool that lists it must give the same`);
      }
    });
  }
}

/**
 * One warning per pool whose backend_tls does not verify its servers' certificates, naming the
 * pool: `verify: false` is for tests, and a start or reload says so.
 */
export function unverifiedWarnings(config: Config): string[] {
  return poolsOf(config)
    .filter((pool) => pool.balancing.backendTls?.verify === false)
    .map((pool) => `pool ${pool.name}: backend_tls.verify is false: its servers' certificates and names are not checked`);
}
