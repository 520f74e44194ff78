// `--pid-file FILE`: the process id, written once the balancer listens and removed when it exits,
// so that a script (`kill -HUP "$(cat lb.pid)"`) finds the running balancer, never a stale one.

import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { systemReason } from './config/error.js';
import { UsageError } from './reason.js';

/** Writes `pid` and a newline to `file`, replacing what was there; throws a one-line UsageError if it cannot. */
export function writePidFile(file: string, pid: number): void {
  try {
    writeFileSync(file, `${pid}\n`);
  } catch (err) {
    throw new UsageError(`--pid-file: cannot write ${file}: ${systemReason(err)}`);
  }
}

/**
 * Removes `file` if it still holds `pid`: one that another balancer has written since (started
 * with the same file while this one drained) is theirs. Synchronous, for process.on('exit'); a
 * file already gone, or unreadable, is left as it is.
 */
export function removePidFile(file: string, pid: number): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(pid)) unlinkSync(file);
  } catch {
    // Nothing to remove, or nothing this process may remove: either way not a reason to fail an exit.
  }
}
