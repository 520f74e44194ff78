// The backends every target proxies to, two ports each so round robin has two servers:
//   fast    nginx returning "Hello, world!" from its config (and /1mib from a file), or, when
//           nginx is not installed, bench/lib/fast-responder.js (node:net) in its own process;
//   app     the stub application of servers/app.js (node:http, a JSON answer), in a child process;
//   policy  for the policies scenario: one fast port and one slow port (every response
//           SLOW_DELAY_MS late), both bench/lib/fast-responder.js, which counts the requests
//           each port got, so a measurement can say which share the fast server was given.

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nginxBackendConfig } from './configs.js';
import { freePorts, startProcess } from './processes.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** How late the policy backend's slow port answers every request, in ms. */
export const SLOW_DELAY_MS = 50;
/** Bound on asking the policy backend for its counts. */
const COUNTS_TIMEOUT_MS = 5_000;

/**
 * @typedef {object} Backend
 * @property {'fast' | 'app' | 'policy'} role
 * @property {string} kind       what serves it: 'nginx', 'node:net responder' or 'servers/app.js'
 * @property {number[]} ports    for `policy`: the fast port, then the slow one
 * @property {number} pid        the process group to measure or kill
 * @property {() => Promise<void>} stop
 * @property {() => Promise<RequestCounts>} [requestCounts]  `policy` only: requests each port
 *   has got since it started (not counting health checks)
 */

/**
 * @typedef {object} RequestCounts
 * @property {number} fast
 * @property {number} slow
 */

/**
 * Starts the fast backend: nginx when `nginx` (its path) is given, else the node responder.
 * @param {string | null} nginx
 * @param {string} dir  a private directory for nginx's files
 * @returns {Promise<Backend>}
 */
export async function startFastBackend(nginx, dir) {
  const ports = await freePorts(2);
  if (nginx) {
    // nginx's worker may run as another user (nobody, when started as root): it must be able
    // to read the 1 MiB file (`dir`'s parent must be readable too).
    mkdirSync(path.join(dir, 'www'), { recursive: true, mode: 0o755 });
    writeFileSync(path.join(dir, 'www', '1mib'), Buffer.alloc(1024 * 1024, 'x'), { mode: 0o644 });
    chmodSync(dir, 0o755);
    const conf = path.join(dir, 'nginx-backend.conf');
    writeFileSync(conf, nginxBackendConfig(dir, ports));
    const child = await startProcess('nginx (backend)', nginx, ['-p', dir, '-c', conf, '-e', path.join(dir, 'nginx-backend.error.log')], {
      ports,
    });
    return { role: 'fast', kind: 'nginx', ports, pid: child.pid, stop: child.stop };
  }
  const child = await startProcess('node responder (backend)', process.execPath, [path.join(here, 'fast-responder.js'), ...ports.map(String)], {
    ports,
  });
  return { role: 'fast', kind: 'node:net responder', ports, pid: child.pid, stop: child.stop };
}

/**
 * Starts two instances of servers/app.js in one child process.
 * @returns {Promise<Backend>}
 */
export async function startAppBackend() {
  const ports = await freePorts(2);
  const child = await startProcess('servers/app.js (backend)', process.execPath, [path.join(here, 'app-backend.js'), ...ports.map(String)], {
    ports,
  });
  return { role: 'app', kind: 'servers/app.js', ports, pid: child.pid, stop: child.stop };
}

/**
 * Starts the policies scenario's backends: a fast port and a slow port (SLOW_DELAY_MS late),
 * both in one node:net responder process, which counts the requests of each.
 * @returns {Promise<Backend>}
 */
export async function startPolicyBackend() {
  const [fast, slow] = await freePorts(2);
  const args = [path.join(here, 'fast-responder.js'), String(fast), `${slow}:${SLOW_DELAY_MS}`];
  const child = await startProcess('node responder (fast and slow backend)', process.execPath, args, { ports: [fast, slow] });
  return {
    role: 'policy',
    kind: `node:net responder, one port answering at once, one ${SLOW_DELAY_MS} ms late`,
    ports: [fast, slow],
    pid: child.pid,
    stop: child.stop,
    requestCounts: async () => {
      const counts = await getJson(fast, '/counts');
      return { fast: Number(counts[fast]), slow: Number(counts[slow]) };
    },
  };
}

/**
 * GET `path` from 127.0.0.1:`port` on a connection of its own; the body parsed as JSON. Rejects
 * on an error, a status other than 200, or no whole answer within COUNTS_TIMEOUT_MS.
 * @param {number} port
 * @param {string} path
 * @returns {Promise<Record<string, unknown>>}
 */
function getJson(port, path) {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path, agent: false, signal: AbortSignal.timeout(COUNTS_TIMEOUT_MS) };
    const req = http.get(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path} on port ${port}: status ${res.statusCode}`));
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(new Error(`GET ${path} on port ${port}: ${/** @type {Error} */ (err).message}`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', (err) => reject(new Error(`GET ${path} on port ${port}: ${err.message}`)));
  });
}
