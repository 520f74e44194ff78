// The targets the load is driven against, each in its own process in front of the same two
// backend ports: the backend directly, this balancer (dist/lb.js), node-http-proxy, and, when
// installed, HAProxy and nginx. A target is started per scenario and stopped after it.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { balancerYaml, haproxyConfig, nginxProxyConfig } from './configs.js';
import { describeExit, freePorts, startProcess } from './processes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

/** Every target, in the order each round runs them. */
export const TARGET_NAMES = ['direct', 'balancer', 'baseline', 'node-http-proxy', 'haproxy', 'nginx'];

/**
 * @typedef {object} Target
 * @property {string} name    one of TARGET_NAMES
 * @property {number} port    where the load goes
 * @property {number} pid     the process group of the proxy (`direct`: of the backend)
 * @property {() => Promise<void>} stop
 * @property {() => string} output   the end of what it wrote to stdout and stderr
 * @property {() => boolean} exited
 * @property {() => string} exitReason  "exited with code 1", "was killed by SIGSEGV"
 */

/**
 * Starts target `name` in front of `backendPorts`.
 * @param {string} name
 * @param {{ backendPorts: number[], backendPid: number, dir: string, tools: import('./system.js').Tools, baseline?: string }} env
 *   dir: a private directory for config files; baseline: for `baseline`, another checkout whose
 *   dist/lb.js runs with the balancer's config (an A/B comparison inside one interleaved run)
 * @returns {Promise<Target>}
 */
export async function startTarget(name, { backendPorts, backendPid, dir, tools, baseline }) {
  if (name === 'direct') {
    // The first backend port: what one backend serves with no proxy in between.
    return { name, port: backendPorts[0], pid: backendPid, stop: async () => {}, output: () => '', exited: () => false, exitReason: () => '' };
  }
  const [port] = await freePorts(1);
  const ports = [port];
  let child;
  if (name === 'balancer' || name === 'baseline') {
    const root = name === 'balancer' ? repo : path.resolve(String(baseline));
    const file = path.join(dir, 'balancer.yaml');
    writeFileSync(file, balancerYaml(port, backendPorts));
    child = await startProcess(name, process.execPath, [path.join(root, 'dist', 'lb.js'), file, '--log-level', 'warn'], { ports, cwd: root });
  } else if (name === 'node-http-proxy') {
    const args = [path.join(here, 'node-http-proxy.js'), String(port), ...backendPorts.map(String)];
    child = await startProcess('node-http-proxy', process.execPath, args, { ports, cwd: repo });
  } else if (name === 'haproxy') {
    if (!tools.haproxy) throw new Error('haproxy is not installed');
    const file = path.join(dir, 'haproxy.cfg');
    writeFileSync(file, haproxyConfig(port, backendPorts));
    // -db: stay in the foreground, one process (no master-worker, no daemon).
    child = await startProcess('haproxy', tools.haproxy, ['-db', '-f', file], { ports });
  } else if (name === 'nginx') {
    if (!tools.nginx) throw new Error('nginx is not installed');
    const nginxDir = path.join(dir, 'nginx-proxy');
    mkdirSync(nginxDir, { recursive: true });
    const file = path.join(nginxDir, 'nginx-proxy.conf');
    writeFileSync(file, nginxProxyConfig(nginxDir, port, backendPorts));
    const args = ['-p', nginxDir, '-c', file, '-e', path.join(nginxDir, 'nginx-proxy.error.log')];
    child = await startProcess('nginx (proxy)', tools.nginx, args, { ports });
  } else {
    throw new Error(`unknown target ${name}`);
  }
  return { name, port, pid: child.pid, stop: child.stop, output: child.output, exited: () => child.exited, exitReason: () => describeExit(child) };
}
