// One health check on a fresh connection: `GET <path>` judged by its status line alone, or a TCP
// connect that must open; either opens with a PROXY header when the server's pool sends them, and
// goes over TLS when it has backend_tls (a failed handshake or certificate check fails the check).
// A failure's reason names the check and the setting that changes it, for the DOWN line:
// `GET /healthcheck -> 500 (healthcheck.path, healthcheck.expect)`.

import net from 'node:net';
import type tls from 'node:tls';
import { hostPort } from '../config/address.js';
import type { BackendTls, Healthcheck, SendProxy } from '../config/schema.js';
import { formatDuration } from '../config/values.js';
import { LOCAL_HEADER } from '../http/proxy-header.js';
import { backendTlsOptions, connectTls } from '../proxy/backend-tls.js';

export interface ProbeTarget {
  host: string;
  port: number;
  /** send_proxy: the PROXY protocol version whose "no client" header (v1 UNKNOWN, v2 LOCAL) opens the check; 0 or absent = none. */
  sendProxy?: SendProxy;
  /** backend_tls: the server's settings, and its host as the config writes it (the default name checked); null or absent = plain TCP. */
  tls?: { settings: BackendTls; host: string } | null;
}

/** The TLS options of each target's settings, made at its first check rather than at every one. */
const tlsOptions = new WeakMap<object, tls.ConnectionOptions>();

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

/**
 * Opens a TCP connection to `target` (and does the TLS handshake with backend_tls, as HAProxy's
 * L6 check does) and closes it: open within `timeout` passes. `what` names the check. Never rejects.
 */
export function probeTcp(target: ProbeTarget, timeout: number, what = target.tls ? 'TLS connect' : 'TCP connect'): Promise<ProbeResult> {
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
    /** TLS: the TCP connection opened, so an error before the handshake's end is TLS's. */
    let opened = false;
    let settled = false;
    const secure = target.tls;
    let socket: net.Socket;
    if (secure) {
      let options = tlsOptions.get(secure);
      if (options === undefined) tlsOptions.set(secure, (options = backendTlsOptions(secure.settings, secure.host)));
      // A server behind send_proxy expects a PROXY header first, in clear: one that says "our own connection".
      socket = connectTls(options, target.host, target.port, target.sendProxy ? LOCAL_HEADER[target.sendProxy] : null);
      socket.once('connect', () => (opened = true));
    } else {
      socket = net.connect({ host: target.host, port: target.port });
    }
    const timer = setTimeout(() => done({ ok: false, status: 0, reason: `${what}: no answer within ${formatDuration(timeout)} (healthcheck.timeout)` }), timeout);

    function done(result: ProbeResult): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }

    socket.setNoDelay(true);
    socket.on(secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      // A server behind send_proxy expects a PROXY header first: one that says "our own connection".
      if (target.sendProxy && !secure) socket.write(LOCAL_HEADER[target.sendProxy]);
      onOpen(socket, done);
    });
    // A socket's errors carry a code: "connect ECONNREFUSED", "ECONNRESET"; so do TLS's:
    // "TLS UNABLE_TO_VERIFY_LEAF_SIGNATURE", "TLS ERR_TLS_CERT_ALTNAME_INVALID".
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const stage = connected ? '' : opened ? 'TLS ' : connectWord;
      done({ ok: false, status: 0, reason: `${what}: ${stage}${err.code}` });
    });
  });
}
