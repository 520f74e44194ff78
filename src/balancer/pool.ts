// A pool: the servers one route sends to. It combines round robin (where to start) with health
// (who can take a request), going around at most once, as Pingora's selection does.

import type { Backend } from './backend.js';
import { RoundRobin } from './round-robin.js';

export class Pool<B extends Backend = Backend> {
  private readonly order = new RoundRobin();

  constructor(
    /** "www.mango.com", "/mango" or "default". */
    readonly name: string,
    readonly servers: readonly B[],
  ) {}

  /**
   * The next server in round-robin order that is up and not in `tried`; null when every server
   * is down or was tried already. Each call moves the round robin one step.
   */
  pick(tried: readonly B[] | null): B | null {
    const n = this.servers.length;
    const start = this.order.next(n);
    for (let k = 0; k < n; k++) {
      const server = this.servers[(start + k) % n]!;
      if (server.up && (tried === null || !tried.includes(server))) return server;
    }
    return null;
  }
}
