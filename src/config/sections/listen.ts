// The `listen` and `admin` sections: where clients connect (one listener or several, each with
// TLS, an https redirect or the PROXY protocol as it says) and where the status page and the
// admin API are served, with the API's token.

import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { isMap, isSeq, type Node } from 'yaml';
import { formatListen } from '../address.js';
import type { Place } from '../places.js';
import { DEFAULTS, type AdminListener, type Listener, type ListenerTls, type TlsFiles } from '../schema.js';
import { addressSlip, parseListen } from '../values.js';
import { readFlag } from '../scalars.js';
import { readMap, readSeq, readText, type Source } from '../yaml.js';

/**
 * `listen`: one listener or a list of them; the default when absent. Each is "host:port", a bare
 * port, or the long form `{address, tls: {cert, key} or {certs: [...], min_version}, redirect: https,
 * proxy_protocol: true}`.
 */
export function readListen(src: Source, node: Node | undefined, path: string): Listener[] {
  if (node === undefined) return [{ ...DEFAULTS.listen }];
  if (!isSeq(node)) return [readListener(src, node, path, 0)];
  const items = readSeq(src, node, path, 'listeners');
  if (items.length === 0) src.fail(node, path, 'the list is empty: at least one listener is needed, e.g. "127.0.0.1:8080"');
  const listeners = items.map((item, i) => readListener(src, item, `${path}[${i}]`, i));
  // Two listeners on one address could not both bind: say so here, with the line, not at start.
  listeners.forEach((l, i) => {
    const first = listeners.findIndex((o) => o.host === l.host && o.port === l.port);
    if (first !== i && l.port !== 0) src.fail(items[i]!, `${path}[${i}]`, `${formatListen(l)} is listen[${first}] already`);
  });
  return listeners;
}

/** One listener, the `index`th of `listen` (its TLS files' places are kept under that index). */
function readListener(src: Source, node: Node, path: string, index: number): Listener {
  let address: Node | undefined = node;
  let tls: ListenerTls | null = null;
  let redirect = false;
  let proxyProtocol = false;
  if (isMap(node)) {
    // The long form: { address: "host:port", tls: { cert, key }, redirect: https, proxy_protocol: true }.
    const fields = readMap(src, node, path, ['address', 'tls', 'redirect', 'proxy_protocol'] as const);
    address = fields.address;
    if (fields.tls !== undefined) tls = readTls(src, fields.tls, `${path}.tls`, index);
    if (fields.redirect !== undefined) {
      const hint = 'expected https (answer every request with a redirect to https://)';
      if (readText(src, fields.redirect, `${path}.redirect`, hint) !== 'https') src.fail(fields.redirect, `${path}.redirect`, hint);
      redirect = true;
    }
    proxyProtocol = readFlag(src, fields.proxy_protocol, `${path}.proxy_protocol`, false);
    if (address === undefined) return { ...DEFAULTS.listen, tls, redirect, proxyProtocol };
  }
  const hint = 'expected "host:port" or a port, e.g. "127.0.0.1:8080" or 8080';
  const text = readText(src, address, path, hint);
  const listen = parseListen(text, '');
  if (listen === null) src.fail(address, path, addressSlip(text, 0) ?? hint);
  return { ...listen, tls, redirect, proxyProtocol };
}

/**
 * `tls`: `{cert, key}` (one pair) or `{certs: [{cert, key}, ...]}`, and `min_version`. A relative
 * path is relative to the config file. The files are read later (preflight.ts), at the places
 * noted here.
 */
function readTls(src: Source, node: Node, path: string, index: number): ListenerTls {
  const fields = readMap(src, node, path, ['cert', 'key', 'certs', 'min_version'] as const);
  let certs: TlsFiles[];
  const places: { cert: Place; key: Place }[] = [];
  if (fields.certs !== undefined) {
    const stray = fields.cert ?? fields.key;
    if (stray !== undefined) src.fail(stray, path, 'cert and key go in certs when certs is set: one {cert, key} per certificate');
    const items = readSeq(src, fields.certs, `${path}.certs`, '{cert, key} pairs');
    if (items.length === 0) src.fail(fields.certs, `${path}.certs`, 'the list is empty: at least one {cert, key} pair is needed');
    certs = items.map((item, i) => readPair(src, item, `${path}.certs[${i}]`, places));
  } else {
    certs = [readPair(src, node, path, places, fields)];
  }
  src.places.tls[index] = places;
  const versions = ['TLSv1.2', 'TLSv1.3'] as const;
  let minVersion: ListenerTls['minVersion'] = 'TLSv1.2';
  if (fields.min_version !== undefined) {
    const hint = `expected ${versions.join(' or ')}`;
    const text = readText(src, fields.min_version, `${path}.min_version`, hint);
    if (!(versions as readonly string[]).includes(text)) src.fail(fields.min_version, `${path}.min_version`, hint);
    minVersion = text as ListenerTls['minVersion'];
  }
  return { certs, minVersion };
}

/** One `{cert, key}` pair at `path` (its fields read already when given); their places are added to `places`. */
function readPair(src: Source, node: Node, path: string, places: { cert: Place; key: Place }[], given?: Partial<Record<'cert' | 'key', Node>>): TlsFiles {
  const files = given ?? readMap(src, node, path, ['cert', 'key'] as const);
  const file = (key: 'cert' | 'key'): [string, Place] => {
    const value = files[key];
    if (value === undefined) src.fail(node, path, `${key} is required: the path of a PEM file`);
    const text = readText(src, value, `${path}.${key}`, 'expected the path of a PEM file');
    return [resolvePath(dirname(src.file), text), src.placeOf(value, `${path}.${key}`)];
  };
  const [cert, certAt] = file('cert');
  const [key, keyAt] = file('key');
  places.push({ cert: certAt, key: keyAt });
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
