// The one owner of the servers' run-time state: the snapshot in force, and the one function that
// writes a server's health (setHealth), which logs, closes idle connections and tells whoever
// listens. Admin state (drain, maint), weights and discovery belong here too, as more writers.

import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { Backend, Pooled } from './backend.js';
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
   * Puts `next` in force. The servers it no longer has close their idle connections; those it
   * carried over keep theirs, with their state.
   */
  use(next: Snapshot<C>): void {
    const dropped = this.current.servers.filter((s) => !next.has(s));
    this.previous = this.current;
    this.current = next;
    for (const server of dropped) server.closeIdle();
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
