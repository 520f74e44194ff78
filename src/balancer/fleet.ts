// The one owner of the servers' run-time state: the snapshot in force, the one function that
// writes a server's health (setHealth), which logs, closes idle connections and tells whoever
// listens, and the one that applies the admin API's changes (control: drain, maint, ready, a
// weight), which logs them too.

import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { Backend, Pooled } from './backend.js';
import type { AdminState, Pool } from './pool.js';
import { Snapshot } from './snapshot.js';

/**
 * Who saw what setHealth is told. It decides whether the change is logged in this process and
 * what listeners pass on:
 * - 'check': this process's health checks; logged here.
 * - 'passive': a connection from this process failed; logged here, and the checks must hear of
 *   it even when the server is down already (they start counting `rise` passes again).
 * - 'worker': a cluster worker's passive failure, reported to the primary; the worker logged it.
 * - 'primary': the primary's word to a cluster worker; the primary logged it.
 */
export type HealthSource = 'check' | 'passive' | 'worker' | 'primary';

/** One call of setHealth, as listeners see it. */
export interface HealthChange {
  up: boolean;
  /** Why it went down ("connect ECONNREFUSED", "status 500"); "" when not known here. */
  reason: string;
  source: HealthSource;
  /** Whether the server's state changed; false when it was so already. */
  changed: boolean;
}

export type HealthListener<C extends Pooled = Pooled> = (server: Backend<C>, change: HealthChange) => void;

/**
 * What health checks need of the owner: the snapshot in force (whose servers they check) and the
 * one writer. Fleet<C> is one, for any kind of pooled connection C.
 */
export interface HealthOwner {
  readonly snapshot: Snapshot;
  setHealth(server: Backend, up: boolean, reason: string, source: HealthSource): void;
}

/** What the admin API changes of a server in a pool. */
export type ControlChange = { state: AdminState } | { weight: number };

/** A server of a pool that a change applied to. */
export interface Controlled<C extends Pooled = Pooled> {
  pool: Pool<Backend<C>>;
  /** Its position in the pool. */
  i: number;
}

/**
 * What `control` did: the servers it changed, or why it changed none: no pool of that name, or
 * no server of that name (in the pool asked for).
 */
export type ControlResult<C extends Pooled = Pooled> = { changed: Controlled<C>[] } | { unknown: 'pool' | 'server' };

/** Backend.up and upSince as only this file may see them: writable. */
type Writable = { up: boolean; upSince: number };

export class Fleet<C extends Pooled = Pooled> implements HealthOwner {
  private current: Snapshot<C>;
  /** The snapshot before the current one: a check of a server it dropped may still report. */
  private previous: Snapshot<C> | null = null;
  private readonly listeners: HealthListener<C>[] = [];

  constructor(
    private readonly logger: Logger,
    snapshot: Snapshot<C> = new Snapshot<C>([]),
  ) {
    this.current = snapshot;
  }

  /** The servers, pools and router in force. */
  get snapshot(): Snapshot<C> {
    return this.current;
  }

  /** The servers in force, one per distinct address. */
  get servers(): readonly Backend<C>[] {
    return this.current.servers;
  }

  /**
   * Puts `next` in force. The servers it no longer has are retired: their idle connections close
   * now, their busy ones once their request is done. Those it carried over keep theirs, with their state.
   */
  use(next: Snapshot<C>): void {
    const dropped = this.current.servers.filter((s) => !next.has(s));
    this.previous = this.current;
    this.current = next;
    for (const server of dropped) {
      server.retired = true;
      server.closeIdle();
    }
  }

  /** Calls `listener` after every setHealth, whatever its source, changed or not. */
  onHealth(listener: HealthListener<C>): void {
    this.listeners.push(listener);
  }

  /**
   * The one writer of a server's health. A change is applied once: the server goes in or out of
   * rotation, loses its idle connections when it goes down, and the line is logged where it was
   * seen (see HealthSource). Listeners hear of every call.
   */
  setHealth(server: Backend<C>, up: boolean, reason: string, source: HealthSource): void {
    const changed = server.up !== up;
    if (changed) {
      (server as Writable).up = up;
      if (!up) server.closeIdle();
      else (server as Writable).upSince = Math.max(1, performance.now());
      if (source === 'check' || source === 'passive') this.log(server, up, reason);
    }
    const change: HealthChange = { up, reason, source, changed };
    for (const listener of this.listeners) listener(server, change);
    // Requests waiting for a slot may go to a server that came up.
    if (changed && up) server.slotFreed(performance.now());
  }

  /**
   * Applies an admin change to the server `name` (as the config writes it, or its address) in
   * every pool that lists it, or in pool `poolName` only. `by`: who asked, for the log line
   * ("the admin API (127.0.0.1)"); null when the change was logged where it was asked (a cluster
   * worker following its primary).
   */
  control(name: string, poolName: string | null, change: ControlChange, by: string | null): ControlResult<C> {
    const pools = this.current.pools.filter((p) => poolName === null || p.name === poolName);
    if (pools.length === 0) return { unknown: 'pool' };
    const changed: Controlled<C>[] = [];
    const t = performance.now();
    for (const pool of pools) {
      const i = pool.servers.findIndex((s, k) => pool.names[k] === name || s.name === name);
      if (i < 0) continue;
      const what = 'state' in change ? `${pool.stateOf(i)} -> ${change.state}` : `weight ${pool.weights[i]} -> ${change.weight}`;
      if ('state' in change) pool.setState(i, change.state, t);
      else pool.setWeight(i, change.weight, t);
      if (by !== null) this.logger.info(`server ${pool.servers[i]!.name} (pool ${pool.name}): ${what}, by ${by}`);
      changed.push({ pool, i });
    }
    return changed.length === 0 ? { unknown: 'server' } : { changed };
  }

  /**
   * What the admin API changed, as changes that make another fleet with the same config the same
   * (a cluster's new worker): [pool, server as the config writes it, change].
   */
  controls(): [string, string, ControlChange][] {
    const out: [string, string, ControlChange][] = [];
    for (const pool of this.current.pools) {
      pool.names.forEach((name, i) => {
        if (pool.states[i] !== 0) out.push([pool.name, name, { state: pool.stateOf(i) }]);
        if (pool.weightSet[i] === 1) out.push([pool.name, name, { weight: pool.weights[i]! }]);
      });
    }
    return out;
  }

  /** Closes every idle connection (shutdown). */
  closeIdle(): void {
    for (const server of this.current.servers) server.closeIdle();
  }

  private log(server: Backend<C>, up: boolean, reason: string): void {
    const pools = this.current.has(server) || this.previous === null ? this.current.poolsOf(server) : this.previous.poolsOf(server);
    const name = `server ${server.name} (pool ${pools.join(', ')})`;
    if (up) this.logger.info(`${name} UP`);
    else this.logger.warn(`${name} DOWN: ${reason}`);
  }
}

/** What a change did, by pool and server name (what the admin API answers with). */
export function namesOf<C extends Pooled>(result: ControlResult<C>): { changed: { pool: string; label: string }[] } | { unknown: 'pool' | 'server' } {
  if ('unknown' in result) return result;
  return { changed: result.changed.map((c) => ({ pool: c.pool.name, label: c.pool.names[c.i]! })) };
}
