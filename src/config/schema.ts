// The configuration's typed shape, the units durations and sizes are counted in, and every
// default: the one copy the reader and the request parser both use. Plain data, no imports, so
// any module (src/http included) can take a default from here without an import cycle.

/** One backend server. */
export interface ServerAddress {
  /** Host name or IP address to connect to; an IPv6 address without brackets. */
  host: string;
  /** TCP port, 1..65535. */
  port: number;
  /** "host:port" as written in the config; used in logs and on the status page. */
  name: string;
}

/** A server of one pool: its address, and the long form's settings (the short form's defaults). */
export interface PoolServer extends ServerAddress {
  /** `weight`: its share of the pool's requests, 0..256; 0 = no new requests. Default 1. */
  weight: number;
  /** `max_connections`: requests in flight to it at once (this process); 0 (the default) = no limit. */
  maxConnections: number;
  /** `backup`: used only while no non-backup server of the pool is up. Default false. */
  backup: boolean;
  /** `slow_start`: ms over which its weight ramps 10% -> 100% after it comes back up; 0 (the default) = none. */
  slowStart: number;
}

/**
 * A `discover` item of a pool's server list: a DNS name whose records are servers of the pool,
 * looked up again as their TTL runs out (src/balancer/discovery.ts).
 */
export interface Discover {
  /** As written ("api.internal:8080", "_http._tcp.api.internal"): names the entry in logs. */
  name: string;
  /** 'address': the A and AAAA records of `host`, each a server on `port`; 'srv': the SRV records of `host`. */
  kind: 'address' | 'srv';
  /** The DNS name looked up. */
  host: string;
  /** The servers' port (kind 'address'); 0 for 'srv', whose records carry their own. */
  port: number;
  /** `refresh`: the longest time between two lookups, ms. Default 30s. */
  refresh: number;
  /** `weight` as written; null when not: then 1, or an SRV record's own weight. */
  weight: number | null;
  /** `max_connections`, `backup`, `slow_start`: as a server's long form, for every server found. */
  maxConnections: number;
  backup: boolean;
  slowStart: number;
}

/** `balance`: how a pool picks among its servers (interface.md, "Pools: how requests are spread"). */
export type Balance = 'round_robin' | 'least_conn' | 'least_request' | 'least_latency' | 'random' | 'hash';

/** `hash_key`: what `balance: hash` hashes; a request without it is balanced round robin. */
export type HashKey =
  /** `header:NAME` (NAME lower case), `cookie:NAME`, `query:NAME` (both as written). */
  | { from: 'header' | 'cookie' | 'query'; name: string }
  /** `path`: the path without its query; `source`: the client's address. */
  | { from: 'path' | 'source'; name: '' };

/** `sticky`: session affinity by a cookie naming the server. */
export interface Sticky {
  /** `cookie`: the cookie's name. Default "lb_server". */
  cookie: string;
  /** `max_age`: whole seconds; 0 (the default) = a session cookie. */
  maxAge: number;
}

/** `queue`: requests waiting while every candidate server is at its max_connections. */
export interface Queue {
  /** `max`: waiting requests per pool, at least 0; one more gets 503 at once. Default 1024. */
  max: number;
  /** `timeout`: ms a request may wait; then 503. More than 0. Default 5s. */
  timeout: number;
}

/** `outlier`: passive health from real traffic; null (the default) = off. */
export interface Outlier {
  /** `consecutive_failures`: failures in a row that eject a server; 0 = off. Default 5. */
  consecutiveFailures: number;
  /** `count_5xx`: whether a 5xx response counts as a failure. Default false. */
  count5xx: boolean;
  /** `ejection`: ms of the first ejection; doubled for each further one, at most 5 minutes. Default 30s. */
  ejection: number;
  /** `max_ejected`: the share of a pool's servers ejected at once, 0..1 (rounded down, but at least 1 server). Default 0.5. */
  maxEjected: number;
}

/**
 * The pool options: written at the top level (a default for every pool) or on a `hosts` / `paths`
 * entry (that pool only; a mapping's fields are merged over the top-level one's).
 */
export interface Balancing {
  /** `balance`. Default round_robin. */
  balance: Balance;
  /** `hash_key`; null = not set (then `balance: hash` is a config error). */
  hashKey: HashKey | null;
  /** `sticky`; null (the default) = no affinity. */
  sticky: Sticky | null;
  /** `queue`; every field has a default. */
  queue: Queue;
  /** `outlier`; null (the default) = off. */
  outlier: Outlier | null;
  /** `retry_budget`: retries in 10 s <= max(this share of the pool's requests in those 10 s, 3 per second); 0..1. Default 0.2. */
  retryBudget: number;
  /**
   * `send_proxy`: v1 or v2, a PROXY header with the client's address opens every connection to a
   * server of the pool, which then carries that client's requests only; health checks send v1
   * `PROXY UNKNOWN` / v2 LOCAL. 0 (the default) = no header.
   */
  sendProxy: SendProxy;
  /**
   * `backend_tls`: the pool's servers speak HTTPS, and are checked over TLS too; null (the
   * default, or `false`) = plain HTTP. `true` = verified against the default roots, no `ca`.
   */
  backendTls: BackendTls | null;
}

/** `backend_tls`: how connections to a pool's servers are secured; the settings belong to each server. */
export interface BackendTls {
  /** `ca` as written, made absolute (relative to the config file); null (the default) = no roots besides the default ones. */
  ca: string | null;
  /** The certificates of the `ca` file, PEM, one per item; read when the config is loaded. Empty without `ca`. */
  caCerts: string[];
  /** `server_name`: the SNI sent and the name the certificate must hold; null (the default) = the server's host (no SNI for an IP address). */
  serverName: string | null;
  /** `verify`: whether the certificate is checked (chain and name). Default true; false is for tests, and logged. */
  verify: boolean;
}

/** A named list of servers that requests are balanced over, and how. */
export interface Pool {
  /**
   * "www.mango.com" or "*.mango.com" (a host), "/mango" (a path prefix), "shop.test/api" (a path
   * under a host) or "default" (the `servers` pool).
   */
  name: string;
  /** The servers written as addresses, in the order written. */
  servers: PoolServer[];
  /**
   * The `discover` items: their servers come after those above. Empty when none; both are empty
   * only for a hosts entry with `paths` and no `servers` (then the host has no pool of its own).
   */
  discover: Discover[];
  /** A hosts entry's own `paths`, tried first for requests to that host. Empty on any other entry. */
  paths: Pool[];
  /** How requests are spread over them: the entry's options over the top level's. */
  balancing: Balancing;
  /**
   * How its servers are checked: the entry's `healthcheck` fields over the top level's. A server
   * that several pools list is checked once, the way the first of them says (hosts, then paths,
   * then the default pool, each in the order written).
   */
  healthcheck: Healthcheck;
  /** The entry's route rules; DEFAULTS.rules (none) for the default pool and an entry that writes none. */
  rules: RouteRules;
}

/** `request_headers` / `response_headers`: field lines a route changes, names as written. */
export interface HeaderRules {
  /** `set`: each field replaced (every line of that name removed, this one added), in the order written. */
  set: [name: string, value: string][];
  /** `add`: one more line each, beside any the message has. */
  add: [name: string, value: string][];
  /** `remove`: every line of each name removed. */
  remove: string[];
}

/** `redirect`: the route answers every request itself with a redirect. */
export interface Redirect {
  /** `location`: the Location, with `{host}`, `{path}` and `{scheme}` filled in per request. */
  location: string;
  /** `code`: 301, 302, 303, 307 or 308. Default 308. */
  code: 301 | 302 | 303 | 307 | 308;
}

/** What a `hosts` / `paths` entry changes about the requests it routes (interface.md, "Route rules"). */
export interface RouteRules {
  /**
   * What the route's prefix becomes in the target the backend gets: "" for `strip_prefix: true`,
   * "/v2" for `rewrite_prefix: /v2` (a trailing "/" removed); null (the default) = unchanged.
   */
  rewritePrefix: string | null;
  /** `request_headers`; null (the default) = none. */
  requestHeaders: HeaderRules | null;
  /** `response_headers`; null (the default) = none. */
  responseHeaders: HeaderRules | null;
  /** `redirect`; null (the default) = requests go to the servers. */
  redirect: Redirect | null;
  /** `timeouts.connect` / `timeouts.server` of this route, ms; null = the top level's. */
  timeouts: { connect: number | null; server: number | null };
}

/** An address to listen on. */
export interface ListenAddress {
  /** IP address or host name to bind; "" = all interfaces. */
  host: string;
  /** TCP port; 0 = any free port, chosen by the system (the bound one is logged). */
  port: number;
}

/** The admin listener: its address, and the API token when POSTs are allowed. */
export interface AdminListener extends ListenAddress {
  /** The bearer token POSTs must carry, read from `token_file` (its first line); null = a read-only API. */
  token: string | null;
}

/** Where the listener's TLS certificate and key are (PEM files). */
export interface TlsFiles {
  /** `cert`: the certificate chain, PEM; a relative path is relative to the config file. */
  cert: string;
  /** `key`: its private key, PEM. */
  key: string;
}

/** A listener's `tls`: its certificates and the oldest TLS version it speaks. */
export interface ListenerTls {
  /**
   * `certs` (or `cert` and `key`, one pair): picked by the name a client asks for (SNI) among
   * each certificate's names; the first is the default. At least one.
   */
  certs: TlsFiles[];
  /** `min_version`: TLSv1.2 (the default) or TLSv1.3. */
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/** A client-facing listener: an address, TLS when clients speak HTTPS, and what it does with connections. */
export interface Listener extends ListenAddress {
  /** `tls`: terminate TLS here (backends still get plain HTTP); null (the default) = plain HTTP. */
  tls: ListenerTls | null;
  /** `redirect: https`: answer every request with 308 to the same host and target over https; false (the default) = route as usual. */
  redirect: boolean;
  /**
   * `proxy_protocol: true`: every connection starts with a PROXY header (v1 or v2) whose source
   * address is the client; a connection without a valid one is closed unanswered. Default false.
   */
  proxyProtocol: boolean;
}

/** `send_proxy`: the PROXY header version that opens every backend connection; 0 (the default) = none. */
export type SendProxy = 0 | 1 | 2;

/** `healthcheck.type`: how a server is checked. */
export type CheckType =
  /** GET `path`; a status in `expect` within `timeout` passes. */
  | 'http'
  /** A TCP connection that opens within `timeout` passes. */
  | 'tcp'
  /** No active checks: servers are judged by refused connections and `outlier` only. */
  | 'none';

/** `healthcheck`: the active check of every server, run in a worker thread. */
export interface Healthcheck {
  /** `type`. Default http. */
  type: CheckType;
  /** `path` (http only): requested with GET. Default "/healthcheck". */
  path: string;
  /**
   * Whether the config writes `path` (at the top level or on the pool's entry). Not written, a
   * server that answers the default path with 404 has no health page and is checked by a TCP
   * connect instead; written, a 404 fails.
   */
  strictPath: boolean;
  /** `expect` (http only): the statuses that pass, as inclusive [first, last] ranges. Default 200-399. */
  expect: [number, number][];
  /** `host` (http only): the Host header of a check; "" (the default) = the server's "host:port". */
  host: string;
  /** `interval`: ms from one check of a server to the next; more than 0. Default 5s. */
  interval: number;
  /** `timeout`: ms a check may take before it fails; more than 0, may exceed `interval`. Default 1s. */
  timeout: number;
  /** `rise`: passes in a row that bring a down server back; at least 1. Default 2. */
  rise: number;
  /** `fall`: failures in a row that take an up server out; at least 1. Default 2. */
  fall: number;
  /**
   * Not a `healthcheck` key: the `send_proxy` of the pool whose settings check the server, set
   * when the routes are built; a check then opens with a PROXY header that names no client (v1
   * UNKNOWN, v2 LOCAL). Absent or 0 = none.
   */
  sendProxy?: SendProxy;
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
  /** `max_body`: largest request body in bytes; larger gets 413. 0 (the default) = no limit. */
  maxBody: number;
}

/** Everything lb.yaml can say, with every default filled in. Durations are in milliseconds. */
export interface Config {
  /**
   * `listen`: where clients connect, one listener or a list of them (never empty), in the order
   * written. Default 127.0.0.1:8080. A bare port, "*:port" or ":port" = all interfaces (host "").
   * `--host` and `--port` override the first one's. The long form `{address, tls, redirect,
   * proxy_protocol}` adds TLS termination, an https redirect, or the PROXY protocol.
   */
  listen: Listener[];
  /**
   * `admin`: where the status page, /status and /metrics are served. null (the default, or an empty
   * value) = no admin listener. A bare port binds 127.0.0.1 only, never all interfaces.
   */
  admin: AdminListener | null;
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
  /**
   * `request_id`: the field that carries each request's id, to the backend, back to the client
   * and into the access log; a request without a valid one gets a new one. Default
   * "X-Request-ID" (as written); "" = off.
   */
  requestId: string;
  /** `servers`: the default pool, named "default", for requests nothing above matched. null (the default) = 404. */
  servers: Pool | null;
  /**
   * `trusted_proxies`: IPv4/IPv6 addresses or CIDRs, as written. A client connecting from one of
   * them has its address appended to the X-Forwarded-* values it sent; from anywhere else those
   * values are replaced. Empty (the default) = trust no one.
   */
  trustedProxies: string[];
  /**
   * `resolvers`: the DNS servers that `discover` entries are looked up on, as "host:port" (an
   * IPv6 address in brackets), port 53 when not written. Empty (the default) = the system's.
   */
  resolvers: string[];
  /**
   * `log.format`: the access log, one line per request on stdout: "text" (the default), a
   * combined-style line; or "json", one object per line.
   */
  log: { format: 'text' | 'json' };
}

/**
 * Every pool that routes requests, in routing order: each host's own paths then its own servers,
 * the top-level paths, the default pool. A host with paths only has no pool of its own.
 */
export function poolsOf(config: Config): Pool[] {
  const pools: Pool[] = [];
  for (const host of config.hosts) {
    pools.push(...host.paths);
    if (hasOwnPool(host)) pools.push(host);
  }
  pools.push(...config.paths);
  if (config.servers !== null) pools.push(config.servers);
  return pools;
}

/**
 * Whether a hosts entry routes requests itself: it has servers (written or discovered), or it
 * answers them with a redirect. One with paths only has no pool of its own.
 */
export function hasOwnPool(entry: Pool): boolean {
  return entry.servers.length > 0 || entry.discover.length > 0 || entry.rules.redirect !== null;
}

/** Durations are counted in milliseconds, sizes in bytes; these name the larger units. */
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const KIB = 1024;
export const MIB = 1024 * KIB;

/** The defaults, as documented on {@link Config}. */
export const DEFAULTS = {
  listen: { host: '127.0.0.1', port: 8080, tls: null, redirect: false, proxyProtocol: false },
  /** An admin token shorter than this is refused: it could be guessed. */
  minTokenLength: 32,
  /** A bare port in `admin` binds this host only, never all interfaces. */
  adminHost: '127.0.0.1',
  healthcheck: { type: 'http', path: '/healthcheck', strictPath: false, expect: [[200, 399]], host: '', interval: 5 * SECOND, timeout: 1 * SECOND, rise: 2, fall: 2 },
  timeouts: { connect: 3 * SECOND, header: 10 * SECOND, idle: 60 * SECOND, server: 60 * SECOND, drain: 30 * SECOND },
  limits: { maxRequestLine: 8 * KIB, maxHead: 16 * KIB, maxFields: 100, maxConnections: 0, maxBody: 0 },
  requestId: 'X-Request-ID',
  /** A route's rules when its entry writes none, and the default pool's. */
  rules: { rewritePrefix: null, requestHeaders: null, responseHeaders: null, redirect: null, timeouts: { connect: null, server: null } },
  redirectCode: 308,
  log: { format: 'text' },
  server: { weight: 1, maxConnections: 0, backup: false, slowStart: 0 },
  balancing: { balance: 'round_robin', hashKey: null, sticky: null, queue: { max: 1024, timeout: 5 * SECOND }, outlier: null, retryBudget: 0.2, sendProxy: 0, backendTls: null },
  sticky: { cookie: 'lb_server', maxAge: 0 },
  /** `backend_tls: true`, or a mapping's fields where it leaves them out. */
  backendTls: { ca: null, caCerts: [], serverName: null, verify: true },
  outlier: { consecutiveFailures: 5, count5xx: false, ejection: 30 * SECOND, maxEjected: 0.5 },
  /** The longest an outlier's ejection grows to by doubling. */
  maxEjection: 5 * MINUTE,
  /** How often a server name that did not resolve is looked up again, and a server out for a refused connection under `type: none` is tried again. */
  retry: 5 * SECOND,
  /** `discover`'s `refresh`: the longest time between two lookups of an entry. */
  discoverRefresh: 30 * SECOND,
  /** The shortest time between two lookups of an entry, whatever its records' TTL. */
  discoverMinInterval: 1 * SECOND,
  /** A server's weight: at most this. */
  maxWeight: 256,
} as const;
