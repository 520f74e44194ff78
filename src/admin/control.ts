// The admin API (interface.md, "Runtime control"): GET /servers lists every pool's servers with
// their health, admin state, weight and load; POST /servers/NAME/state and /weight change them.
// A POST needs the bearer token of `admin.token_file` (compared in constant time) and no Origin
// header (no browser page can drive it); without a token_file the API is read-only. What a change
// does is the fleet's (fleet.ts, control); this file reads requests and writes the answers.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { ControlChange } from '../balancer/fleet.js';
import { ADMIN_STATES, type AdminState } from '../balancer/pool.js';
import type { Status } from './status.js';

/** One entry of GET /servers: a server as one pool has it. */
export interface ServerEntry {
  pool: string;
  /** As the config writes it. */
  server: string;
  health: 'up' | 'down';
  admin: AdminState;
  weight: number;
  in_flight: number;
  /** Draining, and no request in flight any more. */
  drained: boolean;
  ejected: boolean;
}

/** Every pool's servers in `status`, as GET /servers lists them; only those `keep` accepts. */
export function serverEntries(status: Status, keep: (pool: string, label: string) => boolean = () => true): ServerEntry[] {
  const byName = new Map(status.servers.map((s) => [s.name, s]));
  const out: ServerEntry[] = [];
  for (const pool of status.pools) {
    for (const m of pool.members) {
      if (!keep(pool.name, m.label)) continue;
      const server = byName.get(m.server)!;
      out.push({
        pool: pool.name,
        server: m.label,
        health: server.up ? 'up' : 'down',
        admin: m.admin,
        weight: m.weight,
        in_flight: server.inFlight,
        drained: m.admin === 'drain' && server.inFlight === 0,
        ejected: m.ejected,
      });
    }
  }
  return out;
}

/** A POST's path: /servers/NAME/state or /servers/NAME/weight (NAME URL-encoded); null for anything else. */
export function parseControlPath(path: string): { name: string; what: 'state' | 'weight' } | null {
  const m = /^\/servers\/([^/]+)\/(state|weight)$/.exec(path);
  if (m === null) return null;
  try {
    return { name: decodeURIComponent(m[1]!), what: m[2] as 'state' | 'weight' };
  } catch {
    return null;
  }
}

/** A POST's body as the change it asks for: `ready`, `drain` or `maint`; a weight 0..256. A string: why it is not one. */
export function parseChange(what: 'state' | 'weight', body: string): ControlChange | string {
  const text = body.trim();
  if (what === 'state') {
    return (ADMIN_STATES as readonly string[]).includes(text) ? { state: text as AdminState } : `expected ready, drain or maint, not ${JSON.stringify(text.slice(0, 40))}`;
  }
  const weight = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  return weight <= 256 ? { weight } : `expected a weight from 0 to 256, not ${JSON.stringify(text.slice(0, 40))}`;
}

/**
 * Whether an Authorization field carries `token` as a bearer token. Both sides are hashed first,
 * so the comparison takes the same time whatever the length or content of a wrong guess.
 */
export function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(m?.[1] ?? ''), digest(token)) && m !== null;
}
