// Starts one stub backend (servers/app.js) for every server a balancer config
// names, and with --with-balancer the balancer in front of them, so the whole
// demo runs from one terminal.
//
//   node servers/demo.js [lb.yaml] [--with-balancer] [--skip 8089[,PORT...]]
//
// --skip lists ports to leave without a backend (default 8089, the port lb.yaml
// uses to show a pool with no server up); `--skip ''` starts every server.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mri from 'mri';
import { parse } from 'yaml';
import { startApp } from './app.js';

/**
 * @typedef {object} DemoServer
 * @property {string} host   as written in the config, brackets removed ("localhost", "::1")
 * @property {number} port
 * @property {string} name   from the first pool naming it: www.mango.com or /mango -> "mango",
 *                           the default pool (or a pool with no usable name) -> "server-<port>"
 */

/** Ports the demo leaves without a backend unless told otherwise. */
const DEFAULT_SKIP = '8089';

/**
 * The distinct servers of a config's pools, in the order routing consults them:
 * `hosts`, then `paths`, then the default `servers` pool.
 * @param {string} configText  YAML, as in lb.yaml
 * @returns {DemoServer[]}
 */
export function serversOf(configText) {
  /** @type {Map<string, DemoServer>} */
  const found = new Map();
  for (const pool of poolsOf(parse(configText))) {
    for (const server of pool.servers) {
      const { host, port } = parseServer(server);
      const key = `${host}:${port}`;
      if (!found.has(key)) found.set(key, { host, port, name: pool.name ?? `server-${port}` });
    }
  }
  return [...found.values()];
}

/**
 * The pools of a parsed config, each with a short name when one can be derived.
 * @param {any} config
 * @returns {{ label: string, name: string | null, servers: string[] }[]}
 */
function poolsOf(config) {
  const pools = [];
  for (const entry of arrayOf(config?.hosts)) {
    pools.push({ label: `host ${entry.host}`, name: nameOfHost(String(entry.host)), servers: arrayOf(entry.servers) });
  }
  for (const entry of arrayOf(config?.paths)) {
    pools.push({ label: `path ${entry.path}`, name: nameOfPath(String(entry.path)), servers: arrayOf(entry.servers) });
  }
  if (config?.servers) pools.push({ label: 'default pool', name: null, servers: arrayOf(config.servers) });
  return pools;
}

/**
 * @param {unknown} value
 * @returns {any[]}
 */
function arrayOf(value) {
  return Array.isArray(value) ? value : [];
}

/**
 * "www.mango.com" -> "mango": the first label once a leading "www." is dropped.
 * @param {string} host
 * @returns {string | null}
 */
function nameOfHost(host) {
  const label = host.toLowerCase().replace(/^www\./, '').split('.')[0];
  return /^[a-z][a-z0-9-]*$/.test(label) ? label : null;
}

/**
 * "/mango/x" -> "mango": the first path segment.
 * @param {string} path
 * @returns {string | null}
 */
function nameOfPath(path) {
  const segment = path.split('/').find((s) => s !== '') ?? '';
  return segment === '' ? null : segment;
}

/**
 * "localhost:8081" -> { host: "localhost", port: 8081 }; "[::1]:8081" -> { host: "::1", ... }.
 * @param {unknown} server
 * @returns {{ host: string, port: number }}
 */
function parseServer(server) {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(String(server));
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) throw new Error(`not a "host:port" server: ${JSON.stringify(server)}`);
  return { host: match[1] ?? match[2], port };
}

/**
 * The address a local client reaches `listen` on: all-interfaces becomes 127.0.0.1.
 * @param {unknown} listen  "host:port", a bare port, or missing
 * @returns {{ host: string, port: number, authority: string }}
 */
function clientAddressOf(listen) {
  const text = String(listen ?? '8080');
  const { host, port } = /^\d+$/.test(text) ? { host: '', port: Number(text) } : parseServer(text);
  const reachable = host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { host: reachable, port, authority: `${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}` };
}

/**
 * Curl commands for each pool, commented with the answer a pool without any
 * running server gets, and a 404 example when there is no default pool.
 * @param {any} config
 * @param {Set<number>} skipped
 * @returns {string[]}
 */
function tryLines(config, skipped) {
  const base = `http://${clientAddressOf(config?.listen).authority}`;
  /** @type {[string, string][]} */
  const lines = [];
  for (const pool of poolsOf(config)) {
    const down = pool.servers.every((s) => skipped.has(parseServer(s).port));
    const note = down ? '# 503 No backend servers available.' : '';
    const flag = down ? '-i ' : '';
    if (pool.label.startsWith('host ')) lines.push([`curl ${flag}-H 'Host: ${pool.label.slice(5)}' ${base}/`, note]);
    else if (pool.label.startsWith('path ')) lines.push([`curl ${flag}${base}${pool.label.slice(5)}`, note]);
    else lines.push([`curl ${flag}${base}/anything`, note]);
  }
  if (!config?.servers) lines.push([`curl -i -H 'Host: www.unknown.com' ${base}/`, '# 404 Not Found']);
  const width = Math.max(...lines.map(([command]) => command.length));
  return lines.map(([command, note]) => (note ? `${command.padEnd(width)}   ${note}` : command));
}

/**
 * Resolves once something accepts connections on host:port, or after `ms`.
 * @param {string} host
 * @param {number} port
 * @param {number} ms
 * @returns {Promise<boolean>}
 */
async function waitForListener(host, port, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const up = await new Promise((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** @param {string} message */
function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

async function main() {
  const args = mri(process.argv.slice(2), {
    boolean: ['with-balancer', 'help'],
    string: ['skip'],
    alias: { h: 'help' },
    // mri's `unknown` only knows names that appear in `alias` or `default`.
    default: { skip: DEFAULT_SKIP, 'with-balancer': false },
    unknown: (flag) => fail(`unknown option ${flag} (try --help)`),
  });
  if (args.help) {
    console.log('usage: node servers/demo.js [lb.yaml] [--with-balancer] [--skip 8089[,PORT...]]');
    return;
  }
  const configPath = args._[0] ?? 'lb.yaml';
  const skipped = new Set(
    [args.skip].flat().join(',').split(',').filter((s) => s.trim() !== '').map(Number),
  );

  /** @type {any} */
  let config;
  /** @type {DemoServer[]} */
  let servers;
  try {
    const text = readFileSync(configPath, 'utf8');
    config = parse(text);
    servers = serversOf(text);
  } catch (err) {
    return fail(`${configPath}: ${/** @type {Error} */ (err).message.split('\n')[0].replace(/:$/, '')}`);
  }

  /** @type {import('./app.js').App[]} */
  const apps = [];
  const closeApps = () => Promise.all(apps.map((app) => app.close()));
  for (const { host, port, name } of servers) {
    if (skipped.has(port)) {
      console.log(`skipped ${name} on ${host}:${port} (--skip): its pool answers 503`);
      continue;
    }
    try {
      // The balancer resolves "localhost" to its IPv4 address; listen where it will connect.
      const listenHost = host === 'localhost' ? '127.0.0.1' : host;
      apps.push(await startApp({ name, port, host: listenHost, log: console.log }));
    } catch (err) {
      await closeApps();
      return fail(`cannot start ${name} on ${host}:${port}: ${/** @type {Error} */ (err).message}`);
    }
    console.log(`started ${name} on ${apps[apps.length - 1].url}`);
  }
  if (apps.length > 0) {
    const url = apps[Math.min(1, apps.length - 1)].url;
    console.log(`take one down and back: curl -X POST ${url}admin/unhealthy   (then ${url}admin/healthy)`);
  }

  if (!args['with-balancer']) {
    for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
      process.once(signal, () => closeApps().then(() => process.exit(0)));
    }
    return;
  }

  const lbPath = fileURLToPath(new URL('../dist/lb.js', import.meta.url));
  if (!existsSync(lbPath)) {
    await closeApps();
    return fail(`${lbPath} not found: run \`npm run build\` first`);
  }
  // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and the
  // balancer would get SIGINT twice (from the terminal and forwarded from here), the second of
  // which means "exit without draining". This process forwards each signal once.
  const balancer = spawn(process.execPath, [lbPath, configPath], { stdio: 'inherit', detached: true });
  /** @type {NodeJS.Signals | null} */
  let forwarded = null;
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.on(signal, () => {
      forwarded = signal;
      balancer.kill(signal);
    });
  }
  let exited = false;
  balancer.once('exit', async (code, signal) => {
    exited = true;
    await closeApps();
    process.exit(code ?? (signal === forwarded ? 0 : 1));
  });

  const { host, port } = clientAddressOf(config?.listen);
  if ((await waitForListener(host, port, 10_000)) && !exited) {
    console.log('\ntry:');
    for (const line of tryLines(config, skipped)) console.log(`  ${line}`);
    console.log('');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
