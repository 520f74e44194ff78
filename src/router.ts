// Routing: which pool a request goes to, by Host first, then by the longest path prefix, then
// the default pool (interface.md, "Routing"). Pure: built once per configuration.

export interface Route<P> {
  /** A path prefix starting with "/" (no trailing "/" unless it is the root). */
  prefix: string;
  pool: P;
}

export class Router<P> {
  private readonly byHost: Map<string, P>;
  /** Longest prefix first, so the first match is the longest. */
  private readonly byPath: Route<P>[];

  constructor(
    hosts: Iterable<[host: string, pool: P]>,
    paths: Route<P>[],
    private readonly fallback: P | null,
  ) {
    this.byHost = new Map(hosts);
    this.byPath = [...paths].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /**
   * The pool for a request, or null (404).
   * @param host the Host as a routing key: lower case, no port ("" when absent)
   * @param path the origin-form target ("/mango/x?y=1")
   */
  route(host: string, path: string): P | null {
    const byHost = this.byHost.get(host);
    if (byHost !== undefined) return byHost;
    for (const route of this.byPath) if (matchesPrefix(path, route.prefix)) return route.pool;
    return this.fallback;
  }
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
