// The `listen` and `admin` sections: where clients connect (with TLS when they speak HTTPS) and
// where the status page and the admin API are served, with the API's token.

import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { isMap, type Node } from 'yaml';
import type { Place } from '../places.js';
import { DEFAULTS, type AdminListener, type Listener, type TlsFiles } from '../schema.js';
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

/**
 * `admin`: "host:port" or a bare port (then 127.0.0.1 only), a read-only API; or the long form
 * `{address, token_file}`, whose file's first line is the token POSTs must carry. null when absent.
 */
export function readAdmin(src: Source, node: Node | undefined): AdminListener | null {
  if (node === undefined) return null;
  let address: Node | undefined = node;
  let token: string | null = null;
  if (isMap(node)) {
    const fields = readMap(src, node, 'admin', ['address', 'token_file'] as const);
    if (fields.address === undefined) src.fail(node, 'admin', 'address is required, e.g. "127.0.0.1:9000"');
    address = fields.address;
    if (fields.token_file !== undefined) token = readToken(src, fields.token_file);
  }
  const hint = 'expected "host:port" or a port, e.g. "127.0.0.1:9000" or 9000';
  const text = readText(src, address, 'admin', hint);
  const admin = parseListen(text, DEFAULTS.adminHost);
  if (admin === null) src.fail(address, 'admin', addressSlip(text, 0) ?? hint);
  return { ...admin, token };
}

/** The token in `token_file` (relative to the config file): its first line, at least DEFAULTS.minTokenLength characters. */
function readToken(src: Source, node: Node): string {
  const path = 'admin.token_file';
  const file = resolvePath(dirname(src.file), readText(src, node, path, 'expected the path of a file holding the token'));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    src.fail(node, path, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const token = text.split(/\r?\n/, 1)[0]!.trim();
  if (token.length < DEFAULTS.minTokenLength) {
    src.fail(node, path, `the token in ${file} has ${token.length} characters; at least ${DEFAULTS.minTokenLength} are needed (e.g. openssl rand -hex 32)`);
  }
  return token;
}
