// Routing: which pool a request goes to (interface.md, "Routing"): by Host first (an exact name,
// else the longest wildcard that covers it; within a host, its own paths before its own servers),
// then by the longest path prefix, then the default pool. Pure: built once per configuration.

export interface Route<P> {
  /** A path prefix starting with "/" (no trailing "/" unless it is the root). */
  prefix: string;
  pool: P;
}

/** What a `hosts` entry routes: its own paths (tried first), then its own pool; null: it has none. */
export interface HostRoutes<P> {
  paths: Route<P>[];
  pool: P | null;
}

export class Router<P> {
  private readonly byHost = new Map<string, HostRoutes<P>>();
  /** Wildcard hosts by what follows their "*." ("mango.com"); null when there are none, so exact-only configs pay nothing. */
  private readonly byWildcard: Map<string, HostRoutes<P>> | null = null;
  /** Longest prefix first, so the first match is the longest. */
  private readonly byPath: Route<P>[];

  constructor(
    /** "www.mango.com" or "*.mango.com", with what each routes. */
    hosts: Iterable<[host: string, routes: HostRoutes<P>]>,
    paths: Route<P>[],
    private readonly fallback: P | null,
  ) {
    for (const [host, routes] of hosts) {
      const sorted = { paths: longestFirst(routes.paths), pool: routes.pool };
      if (!host.startsWith('*.')) this.byHost.set(host, sorted);
      else (this.byWildcard ??= new Map()).set(host.slice(2), sorted);
    }
    this.byPath = longestFirst(paths);
  }

  /**
   * The pool for a request, or null (404).
   * @param host the Host as a routing key: lower case, no port ("" when absent)
   * @param path the origin-form target ("/mango/x?y=1")
   */
  route(host: string, path: string): P | null {
    const exact = this.byHost.get(host);
    const byHost = exact === undefined ? null : inHost(exact, path);
    if (byHost !== null) return byHost;
    if (this.byWildcard !== null) {
      const byWildcard = this.wildcard(host, path);
      if (byWildcard !== null) return byWildcard;
    }
    return longestPrefix(this.byPath, path) ?? this.fallback;
  }

  /**
   * The pool of the longest wildcard that covers `host` and routes `path`: its suffixes after
   * each dot, longest first, each one map lookup ("a.b.mango.com": "b.mango.com", then
   * "mango.com", then "com"). A wildcard covers one label or more, never the bare name.
   */
  private wildcard(host: string, path: string): P | null {
    for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
      const routes = this.byWildcard!.get(host.slice(dot + 1));
      // A host whose paths all miss and that has no servers of its own routes as if it had not
      // matched: a shorter wildcard may.
      const pool = routes === undefined ? null : inHost(routes, path);
      if (pool !== null) return pool;
    }
    return null;
  }
}

/** A host's own paths, then its own pool. */
function inHost<P>(routes: HostRoutes<P>, path: string): P | null {
  return routes.paths.length === 0 ? routes.pool : (longestPrefix(routes.paths, path) ?? routes.pool);
}

function longestPrefix<P>(routes: Route<P>[], path: string): P | null {
  for (const route of routes) if (matchesPrefix(path, route.prefix)) return route.pool;
  return null;
}

function longestFirst<P>(routes: Route<P>[]): Route<P>[] {
  return [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
}

/**
 * Whether `prefix` is a prefix of `path` on a segment boundary: "/mango" matches "/mango",
 * "/mango/", "/mango/x" and "/mango?x=1", but not "/mangoes".
 */
export function matchesPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length || prefix.endsWith('/')) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 0x2f /* / */ || next === 0x3f /* ? */;
}
