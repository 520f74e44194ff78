// The targets the load is driven against, each in its own process in front of the same two
// backend ports: the backend directly, this balancer (dist/lb.js), node-http-proxy, and, when
// installed, HAProxy and nginx. A target is started per scenario and stopped after it. The
// balancer, HAProxy and nginx may be given a balancing policy (their own word for it); a
// balancer whose config reader rejects its config (`lb --check`) is not started.

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { balancerYaml, haproxyConfig, nginxProxyConfig } from './configs.js';
import { describeExit, freePorts, startProcess } from './processes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

/** Every target, in the order each round runs them. */
export const TARGET_NAMES = ['direct', 'balancer', 'baseline', 'node-http-proxy', 'haproxy', 'nginx'];

/** Bound on `lb --check`: it only reads the config file. */
const CHECK_TIMEOUT_MS = 15_000;

/**
 * The balancer's config reader rejected the config written for it: a setting this build does
 * not know (such as `balance:` before the reader took it), not a crash.
 */
export class ConfigRejected extends Error {}

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
 * @param {{ backendPorts: number[], backendPid: number, dir: string, tools: import('./system.js').Tools, baseline?: string,
 *   balance?: string | null, tls?: import('./configs.js').Certificate | null }} env
 *   dir: a private directory for config files; baseline: for `baseline`, another checkout whose
 *   dist/lb.js runs with the balancer's config (an A/B comparison inside one interleaved run);
 *   balance: the balancing policy in the target's own words (balancer: `balance: least_conn`,
 *   HAProxy: `balance leastconn`, nginx: `least_conn;`), null or absent for its default;
 *   tls: the certificate clients see (the TLS scenarios), null or absent for plain HTTP
 * @returns {Promise<Target>}
 * @throws {ConfigRejected} when the balancer's config reader rejects its config
 */
export async function startTarget(name, { backendPorts, backendPid, dir, tools, baseline, balance = null, tls = null }) {
  if (tls !== null && (name === 'direct' || name === 'node-http-proxy')) throw new Error(`${name} does not terminate TLS here`);
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
    writeFileSync(file, balancerYaml(port, backendPorts, balance, tls));
    // Only a config with something beyond the defaults may be rejected: asking costs ~0.2 s.
    if (balance !== null) {
      const rejected = await configRejected(root, file);
      if (rejected !== null) throw new ConfigRejected(rejected);
    }
    child = await startProcess(name, process.execPath, [path.join(root, 'dist', 'lb.js'), file, '--log-level', 'warn'], { ports, cwd: root });
  } else if (name === 'node-http-proxy') {
    const args = [path.join(here, 'node-http-proxy.js'), String(port), ...backendPorts.map(String)];
    child = await startProcess('node-http-proxy', process.execPath, args, { ports, cwd: repo });
  } else if (name === 'haproxy') {
    if (!tools.haproxy) throw new Error('haproxy is not installed');
    const file = path.join(dir, 'haproxy.cfg');
    writeFileSync(file, haproxyConfig(port, backendPorts, balance ?? undefined, tls));
    // -db: stay in the foreground, one process (no master-worker, no daemon).
    child = await startProcess('haproxy', tools.haproxy, ['-db', '-f', file], { ports });
  } else if (name === 'nginx') {
    if (!tools.nginx) throw new Error('nginx is not installed');
    const nginxDir = path.join(dir, 'nginx-proxy');
    mkdirSync(nginxDir, { recursive: true });
    const file = path.join(nginxDir, 'nginx-proxy.conf');
    writeFileSync(file, nginxProxyConfig(nginxDir, port, backendPorts, balance, tls));
    const args = ['-p', nginxDir, '-c', file, '-e', path.join(nginxDir, 'nginx-proxy.error.log')];
    child = await startProcess('nginx (proxy)', tools.nginx, args, { ports });
  } else {
    throw new Error(`unknown target ${name}`);
  }
  return { name, port, pid: child.pid, stop: child.stop, output: child.output, exited: () => child.exited, exitReason: () => describeExit(child) };
}

/**
 * What `ROOT/dist/lb.js FILE --check` says against the config, or null when it accepts it.
 * Only a config error (exit code 1 with the reader's message) counts as rejected; anything else
 * (a timeout, a crash) throws, as a start failure.
 * @param {string} root  the checkout whose dist/lb.js reads the config
 * @param {string} file
 * @returns {Promise<string | null>}
 */
export function configRejected(root, file) {
  const args = [path.join(root, 'dist', 'lb.js'), file, '--check'];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, timeout: CHECK_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(null);
      const said = `${stderr}${stdout}`.trim();
      // The reader's messages read "lb: FILE:LINE:COL: ..."; where in a generated file says little.
      if (err.code === 1 && said !== '') return resolve(said.split('\n')[0].replace(/^lb: /, '').replace(`${file}:`, '').replace(/^\d+:\d+: /, ''));
      reject(new Error(`${args.join(' ')} failed: ${err.message}\n${said}`));
    });
  });
}
