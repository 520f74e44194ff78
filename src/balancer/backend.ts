// One backend server as the balancer sees it at run time: its address, whether it is up, and the
// idle keep-alive connections to it that wait to be reused. Shared by every pool that lists it,
// and by successive snapshots while the config lists it; its state is written by fleet.ts.

import { hostPort } from '../config/address.js';
import { Counters } from './stats.js';

/** The least a pooled connection must offer: being taken out of the pool or closed. */
export interface Pooled {
  /** Whether the connection can still carry a request (not closed, no unexpected bytes). */
  readonly reusable: boolean;
  destroy(): void;
}

export class Backend<C extends Pooled = Pooled> {
  /**
   * Whether the server takes requests. Read-only but to Fleet.setHealth (fleet.ts), the one
   * writer, through which the health checks and passive failures go.
   */
  readonly up: boolean = true;
  /** Idle connections, the most recently used last (reused first: it is the least likely stale). */
  readonly idle: C[] = [];
  /** What happened to the requests sent here. */
  readonly stats = new Counters();
  /** The last health check: passed or not, why, and when (ms since the epoch); null before the first. */
  lastCheck: { ok: boolean; reason: string; at: number } | null = null;

  constructor(
    /** Address to connect to (an IP address once resolved). */
    readonly host: string,
    readonly port: number,
    /** "host:port" as the config wrote it. */
    readonly label: string,
  ) {}

  /** "127.0.0.1:8081", the name used in logs. */
  get name(): string {
    return hostPort(this.host, this.port);
  }

  /** Takes the most recently pooled connection that is still usable, or null. */
  takeIdle(): C | null {
    for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
      if (c.reusable) return c;
      c.destroy();
    }
    return null;
  }

  /** Removes a pooled connection that closed while idle. */
  forget(connection: C): void {
    const i = this.idle.indexOf(connection);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Closes every idle connection (shutdown, or the server went down). */
  closeIdle(): void {
    for (const c of this.idle.splice(0)) c.destroy();
  }
}
