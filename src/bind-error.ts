// Why a listener could not bind, in words that name which one (the client-facing `listen` or the
// `admin` address) and its address as the config gives it: `admin address 127.0.0.1:9000 is in
// use (EADDRINUSE)`, where the system's own `listen EADDRINUSE 127.0.0.1:9000` fits either.

import { formatListen } from './config/address.js';
import type { ListenAddress } from './config/schema.js';

/** What the common failures mean for an address; any other code "cannot be bound". */
const WHY: Record<string, string> = {
  EADDRINUSE: 'is in use',
  EACCES: 'needs privileges this user does not have (a port below 1024?)',
  EADDRNOTAVAIL: 'is not an address of this machine',
  ENOTFOUND: 'does not resolve',
  EAI_AGAIN: 'does not resolve',
};

/**
 * The error to report for `err`, raised binding the `role` listener to `address`: one line, with
 * the system's code kept (also as `code`). An error without a code is returned as it is.
 */
export function bindError(role: 'listen' | 'admin', address: ListenAddress, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return err;
  const message = `${role} address ${formatListen(address)} ${WHY[code] ?? 'cannot be bound'} (${code})`;
  return Object.assign(new Error(message, { cause: err }), { code });
}
