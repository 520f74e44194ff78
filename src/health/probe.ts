// One health check: GET <path> on a fresh connection, judged by the status line alone.
// 2xx and 3xx pass; a refused or reset connection, a timeout or any other status fails.

import net from 'node:net';
import { hostPort } from '../config/address.js';

export interface ProbeTarget {
  host: string;
  port: number;
}

export interface ProbeResult {
  ok: boolean;
  /** Why it failed ("status 500", "connect ECONNREFUSED", "timeout after 1000ms"), or "status 200". */
  reason: string;
}

/** Runs one check of `target`; never rejects. */
export function probe(target: ProbeTarget, path: string, timeout: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    let head = '';
    const socket = net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => done(false, `timeout after ${timeout}ms`), timeout);

    function done(ok: boolean, reason: string): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok, reason });
    }

    socket.setNoDelay(true);
    socket.on('connect', () => {
      connected = true;
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostPort(target.host, target.port)}\r\nUser-Agent: mango-lb-health\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      // Only the status line matters: "HTTP/1.1 200 OK".
      head += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
      const m = /^HTTP\/1\.\d (\d{3})(?: |\r)/.exec(head);
      if (m !== null) {
        const status = Number(m[1]);
        done(status >= 200 && status < 400, `status ${status}`);
      } else if (head.length >= 13 || head.includes('\n')) done(false, 'invalid status line');
    });
    // A socket's errors carry a code: "connect ECONNREFUSED", "ECONNRESET".
    socket.on('error', (err: NodeJS.ErrnoException) => done(false, `${connected ? '' : 'connect '}${err.code}`));
    socket.on('close', () => done(false, 'closed without a response'));
  });
}
