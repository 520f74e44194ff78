// The backends every target proxies to, two ports each so round robin has two servers:
//   fast  nginx returning "Hello, world!" from its config (and /1mib from a file), or, when nginx
//         is not installed, bench/lib/fast-responder.js (node:net) in its own process;
//   app   the stub application of servers/app.js (node:http, a JSON answer), in a child process.

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nginxBackendConfig } from './configs.js';
import { freePorts, startProcess } from './processes.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * @typedef {object} Backend
 * @property {'fast' | 'app'} role
 * @property {string} kind       what serves it: 'nginx', 'node:net responder' or 'servers/app.js'
 * @property {number[]} ports
 * @property {number} pid        the process group to measure or kill
 * @property {() => Promise<void>} stop
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
