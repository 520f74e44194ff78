// A pool: the servers one route sends to. It combines round robin (where to start) with health
// (who can take a request), going around at most once, as Pingora's selection does.

import type { Backend } from './backend.js';
import { RoundRobin } from './round-robin.js';
import { Counters } from './stats.js';

export class Pool<B extends Backend = Backend> {
  private readonly order = new RoundRobin();
  /** What happened to the requests routed here. */
  readonly stats = new Counters();

  constructor(
    /** "www.mango.com", "/mango" or "default". */
    readonly name: string,
    readonly servers: readonly B[],
  ) {}

  /**
   * The next server in round-robin order that is up and not in `tried`; null when every server
   * is down or was tried already. A down server's turn goes to the servers that are up, evenly:
   * with a, b, c and b down, requests go a, c, a, c.
   */
  pick(tried: readonly B[] | null): B | null {
    const n = this.servers.length;
    const start = this.order.start(n);
    for (let k = 0; k < n; k++) {
      const index = (start + k) % n;
      const server = this.servers[index]!;
      if (server.up && (tried === null || !tried.includes(server))) {
        this.order.taken(index, n);
        return server;
      }
    }
    return null;
  }
}
