// The configuration: its typed shape with every default, the reader that turns lb.yaml into it
// (reporting the first mistake as one line naming the YAML line and column), and the small
// value parsers it needs: durations, sizes, "host:port" and trusted-proxy addresses.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve as resolvePath } from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';

/** One backend server. */
export interface ServerAddress {
  /** Host name or IP address to connect to; an IPv6 address without brackets. */
  host: string;
  /** TCP port, 1..65535. */
  port: number;
  /** "host:port" as written in the config; used in logs and on the status page. */
  name: string;
}

/** A named list of servers that requests are balanced over, round robin. */
export interface Pool {
  /** "www.mango.com" (a host), "/mango" (a path prefix) or "default" (the `servers` pool). */
  name: string;
  /** At least one server, in the order written; never empty. */
  servers: ServerAddress[];
}

/** An address to listen on. */
export interface ListenAddress {
  /** IP address or host name to bind; "" = all interfaces. */
  host: string;
  /** TCP port; 0 = any free port, chosen by the system (the bound one is logged). */
  port: number;
}

/** Where the listener's TLS certificate and key are (PEM files). */
export interface TlsFiles {
  /** `cert`: the certificate chain, PEM; a relative path is relative to the config file. */
  cert: string;
  /** `key`: its private key, PEM. */
  key: string;
}

/** The client-facing listener: an address, and TLS when clients speak HTTPS. */
export interface Listener extends ListenAddress {
  /** `listen.tls`: terminate TLS here (backends still get plain HTTP); null = plain HTTP. */
  tls: TlsFiles | null;
}

/** `healthcheck`: the active check of every server, run in a worker thread. */
export interface Healthcheck {
  /** `path`: requested with GET; a 2xx or 3xx within `timeout` passes. Default "/healthcheck". */
  path: string;
  /** `interval`: ms from one check of a server to the next; more than 0. Default 5s. */
  interval: number;
  /** `timeout`: ms a check may take before it fails; more than 0, may exceed `interval`. Default 1s. */
  timeout: number;
  /** `rise`: passes in a row that bring a down server back; at least 1. Default 2. */
  rise: number;
  /** `fall`: failures in a row that take an up server out; at least 1. Default 2. */
  fall: number;
}

/** `timeouts`, in ms, each more than 0 (none can be switched off). */
export interface Timeouts {
  /** `connect`: opening a backend connection; then the next server is tried. Default 3s. */
  connect: number;
  /** `header`: a client sending one whole request head (slowloris guard); then 408 and close. Default 10s. */
  header: number;
  /** `idle`: a keep-alive client connection with no request in flight; then close. Default 60s. */
  idle: number;
  /** `server`: a backend's response head, once the request is sent; then 504. Default 60s. */
  server: number;
  /** `drain`: on SIGTERM / SIGINT, how long requests in flight may take to finish; then they are cut. Default 30s. */
  drain: number;
}

/** `limits`: bounds on what one client may send or hold. Sizes are in bytes. */
export interface Limits {
  /** `max_request_line`: longest request line, CRLF included; longer gets 414. More than 0. Default 8 KiB. */
  maxRequestLine: number;
  /** `max_head`: largest request head (request line and fields); larger gets 431. More than 0. Default 16 KiB. */
  maxHead: number;
  /** `max_fields`: most header fields in one request head; more gets 431. At least 1. Default 100. */
  maxFields: number;
  /** `max_connections`: most client connections open at once. 0 (the default) = unlimited. */
  maxConnections: number;
}

/** Everything lb.yaml can say, with every default filled in. Durations are in milliseconds. */
export interface Config {
  /**
   * `listen`: where clients connect. Default 127.0.0.1:8080. A bare port, "*:port" or ":port" =
   * all interfaces (host ""). `--host` and `--port` override it. The long form
   * `{address: "host:port", tls: {cert, key}}` adds TLS termination.
   */
  listen: Listener;
  /**
   * `admin`: where the status page, /status and /metrics are served. null (the default, or an empty
   * value) = no admin listener. A bare port binds 127.0.0.1 only, never all interfaces.
   */
  admin: ListenAddress | null;
  /** `healthcheck`: see {@link Healthcheck}; every field has a default. */
  healthcheck: Healthcheck;
  /** `timeouts`: see {@link Timeouts}; every field has a default. */
  timeouts: Timeouts;
  /** `limits`: see {@link Limits}; every field has a default. */
  limits: Limits;
  /**
   * `hosts`: host-based routing, matched first. name = the host, lower-cased, any ":port" removed
   * (an IPv6 literal keeps its brackets: "[::1]"). Order as written; empty (the default) = no host
   * routing.
   */
  hosts: Pool[];
  /**
   * `paths`: path-prefix routing, matched second. name = the prefix: starts with "/", and a trailing
   * "/" other than the root is removed, so "/mango/" and "/mango" are the same. Order as written;
   * empty (the default) = no path routing.
   */
  paths: Pool[];
  /** `servers`: the default pool, named "default", for requests nothing above matched. null (the default) = 404. */
  servers: Pool | null;
  /**
   * `trusted_proxies`: IPv4/IPv6 addresses or CIDRs, as written. A client connecting from one of
   * them has its address appended to the X-Forwarded-* values it sent; from anywhere else those
   * values are replaced. Empty (the default) = trust no one.
   */
  trustedProxies: string[];
  /**
   * `log.format`: the access log, one line per request on stdout: "text" (the default), a
   * combined-style line; or "json", one object per line.
   */
  log: { format: 'text' | 'json' };
}

/** A configuration that cannot be read or is invalid. The message is one line: `file:line:col: where: what`. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const KIB = 1024;
const MIB = 1024 * KIB;

/** The defaults, as documented on {@link Config}. */
const DEFAULTS = {
  listen: { host: '127.0.0.1', port: 8080, tls: null },
  healthcheck: { path: '/healthcheck', interval: 5 * SECOND, timeout: 1 * SECOND, rise: 2, fall: 2 },
  timeouts: { connect: 3 * SECOND, header: 10 * SECOND, idle: 60 * SECOND, server: 60 * SECOND, drain: 30 * SECOND },
  limits: { maxRequestLine: 8 * KIB, maxHead: 16 * KIB, maxFields: 100, maxConnections: 0 },
} as const;

/** The keys each mapping may hold, in the order the contract lists them. */
const TOP_KEYS = [
  'listen',
  'admin',
  'healthcheck',
  'timeouts',
  'limits',
  'hosts',
  'paths',
  'servers',
  'trusted_proxies',
  'log',
] as const;
const HEALTHCHECK_KEYS = ['path', 'interval', 'timeout', 'rise', 'fall'] as const;
const TIMEOUT_KEYS = ['connect', 'header', 'idle', 'server', 'drain'] as const;
const LIMIT_KEYS = ['max_request_line', 'max_head', 'max_fields', 'max_connections'] as const;
const HOST_ENTRY_KEYS = ['host', 'servers'] as const;
const PATH_ENTRY_KEYS = ['path', 'servers'] as const;

const DURATION_HINT = 'expected a duration like "250ms", "2s", "1m" or a number of milliseconds';
const SIZE_HINT = 'expected a size like "8KiB", "1MiB" or a number of bytes';

/** Reads and parses a config file. A missing or unreadable file is a ConfigError too. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${systemReason(err)}`);
  }
  return parseConfig(text, file);
}

/** Parses the text of a config; `file` only names it in messages. Throws ConfigError on the first mistake. */
export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const src = new Source(file, doc, lines);
  const syntax = doc.errors[0];
  if (syntax) src.failAt(syntax.pos[0], firstLine(syntax.message));

  const root = src.resolve(doc.contents);
  if (root === null || (isScalar(root) && root.value === null)) {
    throw new ConfigError(`${file}: the file is empty; at least one of hosts, paths or servers is required`);
  }
  const top = readMap(src, root, '', TOP_KEYS);

  const config: Config = {
    listen: readListen(src, top.listen, 'listen'),
    admin: readAdmin(src, top.admin),
    healthcheck: readHealthcheck(src, top.healthcheck),
    timeouts: readTimeouts(src, top.timeouts),
    limits: readLimits(src, top.limits),
    hosts: readHosts(src, top.hosts),
    paths: readPaths(src, top.paths),
    servers: top.servers ? { name: 'default', servers: readServers(src, top.servers, 'servers') } : null,
    trustedProxies: readTrustedProxies(src, top.trusted_proxies),
    log: readLog(src, top.log),
  };
  if (config.hosts.length === 0 && config.paths.length === 0 && config.servers === null) {
    throw new ConfigError(`${file}: at least one of hosts, paths or servers is required`);
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Walking the YAML tree. Every reader takes the node (null when the key is absent) and the dotted
// path of the value, and fails at the node's own line and column.

/** The document being read, able to name a position as `file:line:col`. */
class Source {
  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** The node itself, or what an alias (`*name`) points at; null for no node. */
  resolve(node: unknown): Node | null {
    if (!isAlias(node)) return (node as Node | null | undefined) ?? null;
    const target = node.resolve(this.doc);
    if (target === undefined) this.fail(node, '', `alias "*${node.source}" has no anchor "&${node.source}" before it`);
    return this.resolve(target);
  }

  failAt(offset: number, message: string): never {
    const { line, col } = this.lines.linePos(offset);
    throw new ConfigError(`${this.file}:${line}:${col}: ${message}`);
  }

  /** Throws `file:line:col: path: message` for the node. */
  fail(node: Node, path: string, message: string): never {
    this.failAt(node.range![0], path === '' ? message : `${path}: ${message}`);
  }

  /** The 1-based line a node starts on. */
  lineOf(node: Node): number {
    return this.lines.linePos(node.range![0]).line;
  }
}

/** A mapping's values by key (absent keys are undefined); unknown keys fail with a "did you mean". */
function readMap<K extends string>(
  src: Source,
  node: Node,
  path: string,
  keys: readonly K[],
): Partial<Record<K, Node>> {
  if (!isMap(node)) src.fail(node, path, path === '' ? 'expected a mapping of settings' : 'expected a mapping');
  const out: Partial<Record<K, Node>> = {};
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    if (!(keys as readonly string[]).includes(key)) {
      const near = suggest(key, keys);
      const hint = near === undefined ? `; expected one of ${keys.join(', ')}` : ` (did you mean "${near}"?)`;
      src.fail(keyNode, path, `unknown key "${key}"${hint}`);
    }
    // `key:` with nothing after it reads as a null scalar: treated like an absent key.
    const value = src.resolve(pair.value);
    if (value !== null && !(isScalar(value) && value.value === null)) out[key as K] = value;
  }
  return out;
}

/** The closest known key, if it is close enough to be what was meant (case, "-" and "_" ignored). */
function suggest(key: string, known: readonly string[]): string | undefined {
  const fold = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(fold(key), fold(candidate));
    if (d < bestDistance && d <= Math.min(2, Math.ceil(candidate.length / 3))) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance: the fewest single-character edits that turn a into b. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, substitute));
    }
    previous = row;
  }
  return previous[b.length]!;
}

function readSeq(src: Source, node: Node, path: string, what: string): Node[] {
  if (!isSeq(node)) src.fail(node, path, `expected a list of ${what}`);
  return node.items.map((item) => src.resolve(item) as Node);
}

/** A scalar's value as text: strings as they are, numbers as written; anything else fails. */
function readText(src: Source, node: Node, path: string, hint: string): string {
  if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
    src.fail(node, path, hint);
  }
  return typeof node.value === 'string' ? node.value.trim() : String(node.value);
}

function readListen(src: Source, node: Node | undefined, path: string): Listener {
  if (node === undefined) return { ...DEFAULTS.listen };
  let address: Node | undefined = node;
  let tls: TlsFiles | null = null;
  if (isMap(node)) {
    // The long form: { address: "host:port", tls: { cert, key } }.
    const fields = readMap(src, node, path, ['address', 'tls'] as const);
    address = fields.address;
    if (fields.tls !== undefined) {
      const files = readMap(src, fields.tls, `${path}.tls`, ['cert', 'key'] as const);
      const file = (key: 'cert' | 'key'): string => {
        const value = files[key];
        if (value === undefined) src.fail(fields.tls!, `${path}.tls`, `${key} is required: the path of a PEM file`);
        return resolvePath(dirname(src.file), readText(src, value, `${path}.tls.${key}`, 'expected the path of a PEM file'));
      };
      tls = { cert: file('cert'), key: file('key') };
    }
    if (address === undefined) return { ...DEFAULTS.listen, tls };
  }
  const hint = 'expected "host:port" or a port, e.g. "127.0.0.1:8080" or 8080';
  const listen = parseListen(readText(src, address, path, hint), '');
  if (listen === null) src.fail(address, path, hint);
  return { ...listen, tls };
}

function readAdmin(src: Source, node: Node | undefined): ListenAddress | null {
  if (node === undefined) return null;
  const hint = 'expected "host:port" or a port, e.g. "127.0.0.1:9000" or 9000';
  const admin = parseListen(readText(src, node, 'admin', hint), '127.0.0.1');
  if (admin === null) src.fail(node, 'admin', hint);
  return admin;
}

function readHealthcheck(src: Source, node: Node | undefined): Healthcheck {
  const fields = node === undefined ? {} : readMap(src, node, 'healthcheck', HEALTHCHECK_KEYS);
  const d = DEFAULTS.healthcheck;
  let path: string = d.path;
  if (fields.path) {
    path = readText(src, fields.path, 'healthcheck.path', 'expected a path starting with "/"');
    if (!/^\/[\x21-\x7e]*$/.test(path)) src.fail(fields.path, 'healthcheck.path', 'expected a path starting with "/"');
  }
  return {
    path,
    interval: readDuration(src, fields.interval, 'healthcheck.interval', d.interval),
    timeout: readDuration(src, fields.timeout, 'healthcheck.timeout', d.timeout),
    rise: readCount(src, fields.rise, 'healthcheck.rise', d.rise, 1),
    fall: readCount(src, fields.fall, 'healthcheck.fall', d.fall, 1),
  };
}

function readTimeouts(src: Source, node: Node | undefined): Timeouts {
  const fields = node === undefined ? {} : readMap(src, node, 'timeouts', TIMEOUT_KEYS);
  const d = DEFAULTS.timeouts;
  return {
    connect: readDuration(src, fields.connect, 'timeouts.connect', d.connect),
    header: readDuration(src, fields.header, 'timeouts.header', d.header),
    idle: readDuration(src, fields.idle, 'timeouts.idle', d.idle),
    server: readDuration(src, fields.server, 'timeouts.server', d.server),
    drain: readDuration(src, fields.drain, 'timeouts.drain', d.drain),
  };
}

function readLimits(src: Source, node: Node | undefined): Limits {
  const fields = node === undefined ? {} : readMap(src, node, 'limits', LIMIT_KEYS);
  const d = DEFAULTS.limits;
  return {
    maxRequestLine: readSize(src, fields.max_request_line, 'limits.max_request_line', d.maxRequestLine),
    maxHead: readSize(src, fields.max_head, 'limits.max_head', d.maxHead),
    maxFields: readCount(src, fields.max_fields, 'limits.max_fields', d.maxFields, 1),
    maxConnections: readCount(src, fields.max_connections, 'limits.max_connections', d.maxConnections, 0),
  };
}

/** A positive duration in ms; `fallback` when absent. */
function readDuration(src: Source, node: Node | undefined, path: string, fallback: number): number {
  if (node === undefined) return fallback;
  const ms = isScalar(node) ? parseDuration(node.value) : null;
  if (ms === null) src.fail(node, path, DURATION_HINT);
  if (ms === 0) src.fail(node, path, 'expected a duration greater than 0');
  return ms;
}

/** A positive number of bytes; `fallback` when absent. */
function readSize(src: Source, node: Node | undefined, path: string, fallback: number): number {
  if (node === undefined) return fallback;
  const bytes = isScalar(node) ? parseSize(node.value) : null;
  if (bytes === null) src.fail(node, path, SIZE_HINT);
  if (bytes === 0) src.fail(node, path, 'expected a size greater than 0');
  return bytes;
}

/** An integer >= min; `fallback` when absent. */
function readCount(src: Source, node: Node | undefined, path: string, fallback: number, min: number): number {
  if (node === undefined) return fallback;
  if (!isScalar(node) || !Number.isSafeInteger(node.value) || (node.value as number) < min) {
    src.fail(node, path, `expected a whole number of at least ${min}`);
  }
  return node.value as number;
}

function readHosts(src: Source, node: Node | undefined): Pool[] {
  if (node === undefined) return [];
  const seen = new Map<string, Node>();
  return readSeq(src, node, 'hosts', '{host, servers} entries').map((entry, i) => {
    const path = `hosts[${i}]`;
    const fields = readMap(src, entry, path, HOST_ENTRY_KEYS);
    if (!fields.host) src.fail(entry, path, 'missing "host"');
    const hint = 'expected a host name like "www.mango.com"';
    const name = parseHostName(readText(src, fields.host, `${path}.host`, hint));
    if (name === null) src.fail(fields.host, `${path}.host`, hint);
    const first = seen.get(name);
    if (first) src.fail(fields.host, `${path}.host`, `duplicate host "${name}" (first at line ${src.lineOf(first)})`);
    seen.set(name, fields.host);
    if (!fields.servers) src.fail(entry, path, 'missing "servers"');
    return { name, servers: readServers(src, fields.servers, `${path}.servers`) };
  });
}

function readPaths(src: Source, node: Node | undefined): Pool[] {
  if (node === undefined) return [];
  const seen = new Map<string, Node>();
  return readSeq(src, node, 'paths', '{path, servers} entries').map((entry, i) => {
    const path = `paths[${i}]`;
    const fields = readMap(src, entry, path, PATH_ENTRY_KEYS);
    if (!fields.path) src.fail(entry, path, 'missing "path"');
    const hint = 'expected a path prefix starting with "/", e.g. "/mango"';
    const prefix = readText(src, fields.path, `${path}.path`, hint);
    if (!/^\/[\x21-\x7e]*$/.test(prefix)) src.fail(fields.path, `${path}.path`, hint);
    if (/[?#]/.test(prefix)) {
      src.fail(fields.path, `${path}.path`, 'a path prefix cannot hold a query ("?") or fragment ("#")');
    }
    const name = prefix.replace(/\/+$/, '') || '/';
    const first = seen.get(name);
    if (first) src.fail(fields.path, `${path}.path`, `duplicate path "${name}" (first at line ${src.lineOf(first)})`);
    seen.set(name, fields.path);
    if (!fields.servers) src.fail(entry, path, 'missing "servers"');
    return { name, servers: readServers(src, fields.servers, `${path}.servers`) };
  });
}

/** A pool's server list: at least one "host:port", no duplicates. */
function readServers(src: Source, node: Node, path: string): ServerAddress[] {
  const items = readSeq(src, node, path, '"host:port" servers');
  if (items.length === 0) src.fail(node, path, 'expected at least one "host:port" server');
  const seen = new Set<string>();
  return items.map((item, i) => {
    const at = `${path}[${i}]`;
    const hint = 'expected "host:port", e.g. "localhost:8081"';
    if (isScalar(item) && typeof item.value === 'number') {
      src.fail(item, at, `expected "host:port", not only a port, e.g. "localhost:${item.value}"`);
    }
    const name = readText(src, item, at, hint);
    const address = parseHostPort(name);
    if (address === null || address.port === 0) src.fail(item, at, hint);
    if (seen.has(name)) src.fail(item, at, `duplicate server "${name}"`);
    seen.add(name);
    return { ...address, name };
  });
}

function readLog(src: Source, node: Node | undefined): Config['log'] {
  if (node === undefined) return { format: 'text' };
  const fields = readMap(src, node, 'log', ['format'] as const);
  if (fields.format === undefined) return { format: 'text' };
  const format = readText(src, fields.format, 'log.format', 'expected "text" or "json"');
  if (format !== 'text' && format !== 'json') src.fail(fields.format, 'log.format', 'expected "text" or "json"');
  return { format };
}

function readTrustedProxies(src: Source, node: Node | undefined): string[] {
  if (node === undefined) return [];
  return readSeq(src, node, 'trusted_proxies', 'addresses or CIDRs').map((item, i) => {
    const hint = 'expected an IP address or CIDR, e.g. "10.0.0.0/8" or "::1"';
    const text = readText(src, item, `trusted_proxies[${i}]`, hint);
    if (parseCidr(text) === null) src.fail(item, `trusted_proxies[${i}]`, hint);
    return text;
  });
}

// ---------------------------------------------------------------------------------------------
// Value parsers.

/**
 * A duration in milliseconds, rounded to a whole one: "250ms", "2s", "1.5s", "1m", "1h", or a
 * number (or numeric string) of milliseconds. null for anything else, including negative values.
 */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : null;
  if (typeof v !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(v.trim());
  if (m === null) return null;
  const unit = { ms: 1, s: SECOND, m: MINUTE, h: 60 * MINUTE }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

/** A size in bytes: a whole number, or one followed by "B", "KiB" or "MiB". null for anything else. */
function parseSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^(\d+)(B|KiB|MiB)?$/.exec(v.trim());
  if (m === null) return null;
  return Number(m[1]) * { B: 1, KiB: KIB, MiB: MIB }[(m[2] ?? 'B') as 'B' | 'KiB' | 'MiB'];
}

/** A host name: letters, digits, "-" and "_" in dot-separated labels (IPv4 addresses are such names too). */
const HOST_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** "host:port" (an IPv6 address in brackets: "[::1]:8081") with a port 0..65535; null if malformed. */
function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? { host: m[1], port } : null;
  return HOST_NAME.test(m[2]!) ? { host: m[2]!, port } : null;
}

/** A listen address: a bare port binds `bareHost`; "*:port" and ":port" bind all interfaces (""). */
function parseListen(text: string, bareHost: string): ListenAddress | null {
  const m = /^(\*?:)?(\d{1,5})$/.exec(text);
  if (m === null) return parseHostPort(text);
  const port = Number(m[2]);
  if (port > 65535) return null;
  return { host: m[1] === undefined ? bareHost : '', port };
}

/** A `hosts` entry's host as the router compares it: lower-cased, ":port" removed; null if malformed. */
function parseHostName(text: string): string | null {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::\d{1,5})?$/.exec(text.toLowerCase());
  if (m === null) return null;
  if (m[1]!.startsWith('[') && isIP(m[1]!.slice(1, -1)) !== 6) return null;
  return m[1]!;
}

// ---------------------------------------------------------------------------------------------
// Addresses. Every address is a 128-bit number; an IPv4 address a.b.c.d is the IPv4-mapped IPv6
// address ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2), so that a client reaching a dual-stack
// listener as "::ffff:10.0.0.1" matches "10.0.0.0/8" and "10.0.0.1" alike.

const ALL_ONES = (1n << 128n) - 1n;
const V4_MAPPED = 0xffffn << 32n;

/** An address as a 128-bit number, IPv4 mapped; null if it is not an IP address. A zone ("%eth0") is ignored. */
function parseIp(text: string): bigint | null {
  const zone = text.indexOf('%');
  const s = zone === -1 ? text : text.slice(0, zone);
  const family = isIP(s);
  if (family === 4) return V4_MAPPED | ipv4Bits(s);
  if (family === 6) return ipv6Bits(s);
  return null;
}

function ipv4Bits(s: string): bigint {
  return s.split('.').reduce((bits, octet) => (bits << 8n) | BigInt(octet), 0n);
}

/** The bits of a valid IPv6 address: "::" stands for the missing zero groups; the last 32 bits may be a.b.c.d. */
function ipv6Bits(s: string): bigint {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const groups = (part: string | undefined): bigint[] => {
    if (!part) return [];
    return part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [BigInt(`0x${g}`)];
      const v4 = ipv4Bits(g);
      return [v4 >> 16n, v4 & 0xffffn];
    });
  };
  const front = groups(head);
  const back = groups(tail);
  const all = [...front, ...new Array<bigint>(8 - front.length - back.length).fill(0n), ...back];
  return all.reduce((bits, g) => (bits << 16n) | g, 0n);
}

/** A network as bits and mask: an address alone is a /32 (IPv4) or /128 (IPv6). null if malformed. */
function parseCidr(text: string): { bits: bigint; mask: bigint } | null {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const bits = parseIp(address);
  if (bits === null) return null;
  const width = isIP(address) === 4 ? 32 : 128;
  let prefix = width;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > width) return null;
    prefix = Number(p);
  }
  const hostBits = BigInt(width - prefix);
  const mask = ALL_ONES ^ ((1n << hostBits) - 1n);
  return { bits: bits & mask, mask };
}

/** Parsed `trusted` lists, by identity: the config's list is parsed once, not once per request. */
const parsedLists = new WeakMap<readonly string[], { bits: bigint; mask: bigint }[]>();

/**
 * Whether `address` (as a socket reports it: "10.0.0.1", "::1", "::ffff:10.0.0.1") is one of the
 * `trusted` addresses or inside one of its CIDRs. IPv4 and IPv4-mapped IPv6 match each other.
 * Malformed entries never match.
 */
export function isTrustedProxy(address: string, trusted: string[]): boolean {
  if (trusted.length === 0) return false;
  let networks = parsedLists.get(trusted);
  if (networks === undefined) {
    networks = trusted.flatMap((entry) => parseCidr(entry) ?? []);
    parsedLists.set(trusted, networks);
  }
  const bits = parseIp(address);
  if (bits === null) return false;
  return networks.some((n) => (bits & n.mask) === n.bits);
}

// ---------------------------------------------------------------------------------------------
// The summary printed by `lb --check`.

/** A multi-line, human summary of a config: listen, admin, each pool and its servers, health, timeouts, limits. */
export function describeConfig(c: Config): string {
  const t = c.timeouts;
  const h = c.healthcheck;
  const l = c.limits;
  const tls = c.listen.tls === null ? '' : `, TLS with ${c.listen.tls.cert}`;
  const lines = [`listen       ${formatListen(c.listen)}${tls}`, `admin        ${c.admin ? formatListen(c.admin) : 'off'}`];
  const pool = (kind: string, p: Pool) => {
    lines.push(`${kind.padEnd(12)} ${p.name}`);
    for (const s of p.servers) lines.push(`  ${s.name}`);
  };
  for (const p of c.hosts) pool('host', p);
  for (const p of c.paths) pool('path', p);
  if (c.servers) pool('default', { ...c.servers, name: '(requests not matched above)' });
  lines.push(
    `healthcheck  GET ${h.path} every ${formatDuration(h.interval)}, timeout ${formatDuration(h.timeout)}, ` +
      `rise ${h.rise}, fall ${h.fall}`,
    `timeouts     connect ${formatDuration(t.connect)}, header ${formatDuration(t.header)}, ` +
      `idle ${formatDuration(t.idle)}, server ${formatDuration(t.server)}, drain ${formatDuration(t.drain)}`,
    `limits       request line ${formatSize(l.maxRequestLine)}, head ${formatSize(l.maxHead)}, ` +
      `${l.maxFields} fields, ${l.maxConnections === 0 ? 'unlimited' : l.maxConnections} connections`,
    `trusted      ${c.trustedProxies.length === 0 ? 'none' : c.trustedProxies.join(', ')}`,
  );
  return lines.join('\n') + '\n';
}

/** A listen address as --check and the logs write it: "127.0.0.1:8080", "[::1]:8080", "*:8080 (all interfaces)". */
export function formatListen({ host, port }: ListenAddress): string {
  if (host === '') return `*:${port} (all interfaces)`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function formatDuration(ms: number): string {
  if (ms % MINUTE === 0) return `${ms / MINUTE}m`;
  if (ms % SECOND === 0) return `${ms / SECOND}s`;
  return `${ms}ms`;
}

function formatSize(bytes: number): string {
  if (bytes % MIB === 0) return `${bytes / MIB}MiB`;
  if (bytes % KIB === 0) return `${bytes / KIB}KiB`;
  return `${bytes}B`;
}

// ---------------------------------------------------------------------------------------------

function firstLine(message: string): string {
  return message.split('\n', 1)[0]!;
}

/** "ENOENT: no such file or directory" from a Node system error, without the ", open 'path'" tail. */
function systemReason(err: unknown): string {
  const message = (err as Error).message;
  return /^(E[A-Z]+: [^,]+)/.exec(message)?.[1] ?? message;
}
