// Which processes hold the listening TCP sockets of a port, read from Linux's /proc: the kernel's
// socket tables (/proc/net/tcp and tcp6) give each listening socket's inode, and a process's file
// descriptors (/proc/PID/fd, links named `socket:[INODE]`) the sockets it holds. Robust where
// `ss -ltnp` is not: no package, no output format that changes between versions.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A socket in the LISTEN state (st 0A in the kernel's table). */
const LISTEN = '0A';

export interface ListeningSocket {
  port: number;
  inode: string;
  /** Those of the pids asked about that hold it. */
  pids: number[];
}

/**
 * The listening sockets on `port` (any address; every port when null), each with those of `pids`
 * that hold it, in no particular order; a socket none of them holds has an empty list.
 */
export function listeningSockets(port: number | null, pids: readonly number[]): ListeningSocket[] {
  const sockets = new Map<string, ListeningSocket>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    // Columns: sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== LISTEN) continue;
      const local = parseInt(cols[1]!.split(':').at(-1)!, 16);
      if (port === null || local === port) sockets.set(cols[9]!, { port: local, inode: cols[9]!, pids: [] });
    }
  }
  for (const pid of pids) {
    for (const fd of fdsOf(pid)) {
      const inode = /^socket:\[(\d+)\]$/.exec(fd)?.[1];
      if (inode !== undefined) sockets.get(inode)?.pids.push(pid);
    }
  }
  return [...sockets.values()];
}

/** The ports process `pid` listens on (one entry per socket), sorted. */
export function portsOf(pid: number): number[] {
  return listeningSockets(null, [pid])
    .filter((s) => s.pids.length > 0)
    .map((s) => s.port)
    .sort((a, b) => a - b);
}

/** Where process `pid`'s file descriptors point; none once it has exited (or a fd closes while read). */
function fdsOf(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  return fds.flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}
