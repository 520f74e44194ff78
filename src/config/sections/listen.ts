// The `listen` and `admin` sections: where clients connect (with TLS when they speak HTTPS) and
// where the status page is served.

import { dirname, resolve as resolvePath } from 'node:path';
import { isMap, type Node } from 'yaml';
import type { Place } from '../places.js';
import { DEFAULTS, type ListenAddress, type Listener, type TlsFiles } from '../schema.js';
import { addressSlip, parseListen } from '../values.js';
import { readMap, readText, type Source } from '../yaml.js';

/** `listen`: "host:port", a bare port, or the long form `{address, tls: {cert, key}}`; the default when absent. */
export function readListen(src: Source, node: Node | undefined, path: string): Listener {
  if (node === undefined) return { ...DEFAULTS.listen };
  let address: Node | undefined = node;
  let tls: TlsFiles | null = null;
  if (isMap(node)) {
    // The long form: { address: "host:port", tls: { cert, key } }.
    const fields = readMap(src, node, path, ['address', 'tls'] as const);
    address = fields.address;
    if (fields.tls !== undefined) tls = readTls(src, fields.tls, `${path}.tls`);
    if (address === undefined) return { ...DEFAULTS.listen, tls };
  }
  const hint = 'expected "host:port" or a port, e.g. "127.0.0.1:8080" or 8080';
  const text = readText(src, address, path, hint);
  const listen = parseListen(text, '');
  if (listen === null) src.fail(address, path, addressSlip(text, 0) ?? hint);
  return { ...listen, tls };
}

/**
 * `tls: {cert, key}`: both required; a relative path is relative to the config file. The files
 * are read later (preflight.ts), at the places noted here.
 */
function readTls(src: Source, node: Node, path: string): TlsFiles {
  const files = readMap(src, node, path, ['cert', 'key'] as const);
  const file = (key: 'cert' | 'key'): [string, Place] => {
    const value = files[key];
    if (value === undefined) src.fail(node, path, `${key} is required: the path of a PEM file`);
    const text = readText(src, value, `${path}.${key}`, 'expected the path of a PEM file');
    return [resolvePath(dirname(src.file), text), src.placeOf(value, `${path}.${key}`)];
  };
  const [cert, certAt] = file('cert');
  const [key, keyAt] = file('key');
  src.places.tls = { cert: certAt, key: keyAt };
  return { cert, key };
}

/** `admin`: "host:port" or a bare port (then 127.0.0.1 only); null when absent. */
export function readAdmin(src: Source, node: Node | undefined): ListenAddress | null {
  if (node === undefined) return null;
  const hint = 'expected "host:port" or a port, e.g. "127.0.0.1:9000" or 9000';
  const text = readText(src, node, 'admin', hint);
  const admin = parseListen(text, DEFAULTS.adminHost);
  if (admin === null) src.fail(node, 'admin', addressSlip(text, 0) ?? hint);
  return admin;
}
