// Health checks as a cluster worker sees them: the primary runs the one checker (checks are not
// multiplied by the number of workers) and tells every worker when a server flips; a worker
// tells the primary when a server refuses it a connection, and the primary tells the others.

import type { Backend } from '../balancer/backend.js';
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

  /** The checks of one configuration's servers, for ProxyServer (its CreateHealthChecks). */
  checksFor(servers: readonly Backend[]): HealthChecks {
    return new RemoteHealth(this, servers);
  }

  /** The primary's view of many servers at once (at start and with each reload). */
  merge(up: UpByLabel): void {
    for (const [label, isUp] of Object.entries(up)) this.up.set(label, isUp);
  }

  /** A flip from the primary: applied to the server in force, and kept for later configurations. */
  set(label: string, up: boolean): void {
    this.up.set(label, up);
    if (this.current !== null) applyTo(this.current.servers, label, up);
  }

  /** @internal RemoteHealth's side. */
  started(health: RemoteHealth): void {
    this.current = health;
    for (const [label, up] of this.up) applyTo(health.servers, label, up);
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
  constructor(
    private readonly shared: SharedHealth,
    readonly servers: readonly Backend[],
  ) {}

  async start(): Promise<void> {
    this.shared.started(this);
  }

  async stop(): Promise<void> {
    this.shared.stopped(this);
  }

  markDown(server: Backend): void {
    this.shared.down(server.label);
  }
}

/** Sets the state of the server labelled `label`, if `servers` has it; a server going down drops its idle connections. */
function applyTo(servers: readonly Backend[], label: string, up: boolean): void {
  const server = servers.find((s) => s.label === label);
  if (server === undefined || server.up === up) return;
  server.up = up;
  if (!up) server.closeIdle();
}
