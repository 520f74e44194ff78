// The pool's round robin as it was before policies (a counter, then a walk to the first server
// that is up and not tried, going around at most once): the oracle the round_robin policy is
// compared with, since with equal weights it must pick exactly the same servers.

import type { Backend } from '../../src/balancer/backend.js';

export class CounterPool {
  private counter = 0;

  constructor(readonly servers: readonly Backend[]) {}

  pick(tried: readonly Backend[] | null): Backend | null {
    const n = this.servers.length;
    const start = this.counter % n;
    for (let k = 0; k < n; k++) {
      const index = (start + k) % n;
      const server = this.servers[index]!;
      if (server.up && (tried === null || !tried.includes(server))) {
        this.counter = (index + 1) % n;
        return server;
      }
    }
    return null;
  }
}
