// Health checks as a cluster worker sees them: the primary runs the one checker (checks are not
// multiplied by the number of workers) and tells every worker when a server flips; a worker
// tells the primary when a server refuses it a connection, and the primary tells the others.
// The primary's word reaches the servers through their owner, Fleet.setHealth.

import type { Backend } from '../balancer/backend.js';
import type { HealthOwner } from '../balancer/fleet.js';
import type { Snapshot } from '../balancer/snapshot.js';
import type { HealthChecks } from '../health/monitor.js';
import type { UpByLabel } from './messages.js';

/**
 * What a worker knows of the servers' state, by label, and the servers of the configuration in
 * force. The state outlives configurations: a flip that arrives while a reload resolves names is
 * kept here, and the reload's servers take it when their checks start.
 */
export class SharedHealth {
  private readonly up = new Map<string, boolean>();
  private current: RemoteHealth | null = null;

  /** @param reportDown tells the primary that a server refused a connection. */
  constructor(private readonly reportDown: (label: string) => void) {}

  /** The checks of the servers in force in `fleet`, for ProxyServer (its CreateHealthChecks). */
  checksFor(fleet: HealthOwner): HealthChecks {
    return new RemoteHealth(this, fleet);
  }

  /** The primary's view of many servers at once (at start and with each reload). */
  merge(up: UpByLabel): void {
    for (const [label, isUp] of Object.entries(up)) this.up.set(label, isUp);
  }

  /** A flip from the primary: applied to the server in force, and kept for later configurations. */
  set(label: string, up: boolean): void {
    this.up.set(label, up);
    this.current?.apply(label, up);
  }

  /** @internal RemoteHealth's side. */
  started(health: RemoteHealth): void {
    this.current = health;
    for (const [label, up] of this.up) health.apply(label, up);
  }

  /** @internal */
  stopped(health: RemoteHealth): void {
    // A reload starts the new checks while stopping the old ones: keep the new ones in force.
    if (this.current === health) this.current = null;
  }

  /** @internal */
  down(label: string): void {
    this.up.set(label, false);
    this.reportDown(label);
  }
}

class RemoteHealth implements HealthChecks {
  /** The servers checked: those in force when the checks were made (a reload makes new checks). */
  private readonly snapshot: Snapshot;

  constructor(
    private readonly shared: SharedHealth,
    private readonly fleet: HealthOwner,
  ) {
    this.snapshot = fleet.snapshot;
  }

  async start(): Promise<void> {
    this.shared.started(this);
  }

  async stop(): Promise<void> {
    this.shared.stopped(this);
  }

  markDown(server: Backend): void {
    this.shared.down(server.label);
  }

  /** The primary's word on the server labelled `label`, if these checks have it. */
  apply(label: string, up: boolean): void {
    const server = this.snapshot.byLabel.get(label);
    if (server !== undefined) this.fleet.setHealth(server, up, '', 'primary');
  }
}
