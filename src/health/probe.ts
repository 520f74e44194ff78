// One health check on a fresh connection: `GET <path>` judged by its status line alone, or a TCP
// connect that must open; either opens with a PROXY header when the server's pool sends them. A
// failure's reason names the check and the setting that changes it, for the DOWN line:
// `GET /healthcheck -> 500 (healthcheck.path, healthcheck.expect)`.

import net from 'node:net';
import { hostPort } from '../config/address.js';
import type { Healthcheck, SendProxy } from '../config/schema.js';
import { formatDuration } from '../config/values.js';
import { LOCAL_HEADER } from '../http/proxy-header.js';

export interface ProbeTarget {
  host: string;
  port: number;
  /** send_proxy: the PROXY protocol version whose "no client" header (v1 UNKNOWN, v2 LOCAL) opens the check; 0 or absent = none. */
  sendProxy?: SendProxy;
}

/** What a probe needs of a server's check settings. */
export type ProbeCheck = Pick<Healthcheck, 'path' | 'expect' | 'host' | 'timeout'>;

export interface ProbeResult {
  ok: boolean;
  /** What was seen: "GET /healthcheck -> 200", "TCP connect: ECONNREFUSED", ... */
  reason: string;
  /** The status an HTTP check got; 0 when none. */
  status: number;
}

/** Runs `GET check.path` on `target`; a status in `check.expect` within `check.timeout` passes. Never rejects. */
export function probeHttp(target: ProbeTarget, check: ProbeCheck): Promise<ProbeResult> {
  const what = `GET ${check.path}`;
  const host = check.host === '' ? hostPort(target.host, target.port) : check.host;
  return connect(target, check.timeout, what, 'connect ', (socket, done) => {
    let head = '';
    socket.write(`GET ${check.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: mango-lb-health\r\nConnection: close\r\n\r\n`);
    socket.on('data', (chunk: Buffer) => {
      // Only the status line matters: "HTTP/1.1 200 OK".
      head += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
      const m = /^HTTP\/1\.\d (\d{3})(?: |\r)/.exec(head);
      if (m !== null) {
        const status = Number(m[1]);
        const ok = check.expect.some(([from, to]) => status >= from && status <= to);
        done({ ok, status, reason: `${what} -> ${status}${ok ? '' : ' (healthcheck.path, healthcheck.expect)'}` });
      } else if (head.length >= 13 || head.includes('\n')) {
        done({ ok: false, status: 0, reason: `${what}: not an HTTP response (healthcheck.type)` });
      }
    });
    socket.on('close', () => done({ ok: false, status: 0, reason: `${what}: closed without a response` }));
  });
}

/** Opens a TCP connection to `target` and closes it: open within `timeout` passes. `what` names the check. Never rejects. */
export function probeTcp(target: ProbeTarget, timeout: number, what = 'TCP connect'): Promise<ProbeResult> {
  return connect(target, timeout, what, '', (_, done) => done({ ok: true, status: 0, reason: `${what}: open` }));
}

/**
 * A connection to `target`: `onOpen` runs once it is open and says the result with `done`; an
 * error or the timeout first says its own (an error before the connection opens after
 * `connectWord`). The socket is destroyed once the result is known.
 */
function connect(
  target: ProbeTarget,
  timeout: number,
  what: string,
  connectWord: string,
  onOpen: (socket: net.Socket, done: (result: ProbeResult) => void) => void,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const socket = net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => done({ ok: false, status: 0, reason: `${what}: no answer within ${formatDuration(timeout)} (healthcheck.timeout)` }), timeout);

    function done(result: ProbeResult): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }

    socket.setNoDelay(true);
    socket.on('connect', () => {
      connected = true;
      // A server behind send_proxy expects a PROXY header first: one that says "our own connection".
      if (target.sendProxy) socket.write(LOCAL_HEADER[target.sendProxy]);
      onOpen(socket, done);
    });
    // A socket's errors carry a code: "connect ECONNREFUSED", "ECONNRESET".
    socket.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, status: 0, reason: `${what}: ${connected ? '' : connectWord}${err.code}` }));
  });
}
