// One backend server as the balancer sees it at run time: its address, whether it is up, and the
// idle keep-alive connections to it that wait to be reused. Shared by every pool that lists it,
// and by successive snapshots while the config lists it; its state is written by fleet.ts.

import { hostPort } from '../config/address.js';
import type { BackendTlsClient } from '../proxy/backend-tls.js';
import { Counters } from './stats.js';

/** Who waits for a slot on a server: a pool with a queue (pool.ts). */
export interface SlotListener {
  /** A request to the server ended, or the server came up: a waiting request may go. `t`: now(). */
  slotFreed(t: number): void;
  /** Requests waiting now. */
  readonly waitingCount: number;
}

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
  readonly up: boolean;
  /** Idle connections, the most recently used last (reused first: it is the least likely stale). */
  readonly idle: C[] = [];
  /** What happened to the requests sent here. */
  readonly stats = new Counters();
  /**
   * When the server last came up (ms, the proxy's monotonic now()); 0 when it has been up since
   * the start (slow start ramps only a server that comes back).
   */
  readonly upSince: number = 0;
  /** The pools with a queue that list this server: told when a slot frees. */
  private listeners: SlotListener[] = [];
  /**
   * The snapshot in force no longer has it (a reload dropped it, or its DNS record went): the
   * requests in flight finish, and their connections close instead of waiting in `idle`.
   */
  retired = false;
  /** The last health check: passed or not, why, and when (ms since the epoch); null before the first. */
  lastCheck: { ok: boolean; reason: string; at: number } | null = null;

  constructor(
    /** Address to connect to: an IP address once resolved, the config's host name until then. */
    public host: string,
    readonly port: number,
    /** "host:port" as the config wrote it. */
    readonly label: string,
    /**
     * Whether its name resolved. A name that did not resolve at start leaves the server down
     * until the health checker's lookups find it (resolvedTo).
     */
    public resolved = true,
    /** backend_tls: how its connections are secured, and its last session; null = plain TCP. */
    readonly tls: BackendTlsClient | null = null,
  ) {
    this.up = resolved;
  }

  /** Its name resolved at last: connections go to `address` from now on. */
  resolvedTo(address: string): void {
    this.host = address;
    this.resolved = true;
  }

  /** "127.0.0.1:8081", the name used in logs. */
  get name(): string {
    return hostPort(this.host, this.port);
  }

  /** `listener` is told when a slot frees on this server. */
  listen(listener: SlotListener): void {
    this.listeners.push(listener);
  }

  /**
   * A new snapshot is being built: the pools of the last one stop listening, but for those with
   * requests still waiting (they finish with the pool they started with).
   */
  keepWaitingListeners(): void {
    this.listeners = this.listeners.filter((l) => l.waitingCount > 0);
  }

  /** A request to this server ended, or it came up: the pools waiting for a slot may send one. */
  slotFreed(t: number): void {
    const listeners = this.listeners;
    for (let k = 0; k < listeners.length; k++) listeners[k]!.slotFreed(t);
  }

  /** Whether any pool waits for this server's slots: then each request's end is told (slotFreed). */
  get limited(): boolean {
    return this.listeners.length > 0;
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
