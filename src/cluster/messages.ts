// What the primary and the workers of a cluster (`lb --workers N`) say to each other over the
// IPC channel node:cluster gives every worker. Messages are JSON: a Config travels as it is.
//
//   worker                                  primary
//     ready              ------------------>            its message handler is set
//                        <------------------  start      the configuration, who is up, how to bind,
//                                                         the secret of the TLS session tickets
//     listening | failed ------------------>            bound the listeners, or not
//                        <------------------  health     a server flipped (the one checker)
//     down               ------------------>            a server refused a connection (passive)
//                        <------------------  reload     a new configuration, a new ticket secret
//     reloaded           ------------------>
//                        <------------------  status     counters, for the status page
//     status             ------------------>
//                        <------------------  control    an admin API change (drain, weight, ...)
//     controlled         ------------------>            applied: the API answers once all have
//                        <------------------  discovered DNS discovery found other servers
//                        <------------------  stop       drain, then exit 0

import type { AddressInfo } from 'node:net';
import type { Status } from '../admin/status.js';
import type { Discovered } from '../balancer/discovery.js';
import type { ControlChange } from '../balancer/fleet.js';
import type { Config } from '../config/schema.js';
import type { LogLevel } from '../log.js';

/** Whether each server is up, by its label ("host:port" as the config wrote it). */
export type UpByLabel = Record<string, boolean>;

/** The admin API's changes so far, for a worker that starts: [pool, server as the config writes it, change]. */
export type Controls = [string, string, ControlChange][];

export type ToWorker =
  /**
   * reusePort: bind sockets of its own with SO_REUSEPORT (accept-mode.ts), at config's ports.
   * ticketSecret (base64): what every worker makes its session ticket keys from, the same in all,
   * new with each reload (tls-contexts.ts, listenerTicketKeys).
   */
  | { type: 'start'; config: Config; logLevel: LogLevel; up: UpByLabel; controls: Controls; discovered: Discovered; reusePort: boolean; ticketSecret: string }
  | { type: 'control'; id: number; name: string; pool: string | null; change: ControlChange }
  | { type: 'health'; label: string; up: boolean }
  | { type: 'reload'; id: number; config: Config; up: UpByLabel; discovered: Discovered; ticketSecret: string }
  | { type: 'discovered'; discovered: Discovered }
  | { type: 'status'; id: number }
  | { type: 'stop' };

export type ToPrimary =
  | { type: 'ready' }
  | { type: 'listening'; addresses: AddressInfo[] }
  | { type: 'failed'; reason: string }
  | { type: 'down'; label: string }
  | { type: 'reloaded'; id: number; error: string | null }
  | { type: 'status'; id: number; status: Status }
  | { type: 'controlled'; id: number };
