// Starts one stub backend (servers/app.js) for every server a balancer config
// names, and with --with-balancer the balancer in front of them, so the whole
// demo runs from one terminal.
//
//   node servers/demo.js [lb.yaml] [--with-balancer] [--skip 8089[,PORT...]] [--lb FILE]
//
// --skip lists ports to leave without a backend (default 8089, the port lb.yaml
// uses to show a pool with no server up); `--skip ''` starts every server.
// --lb is the balancer's program (default dist/lb.js; the tests run src/lb.ts).
//
// The balancer is a child process: its pid is printed, SIGHUP to this process
// reloads it, SIGINT and SIGTERM stop it (and then the backends), and it stops
// by itself when this process is gone, however it went (exit-with-parent.cjs).
// A balancer that does not start (its port is taken, say) ends the demo: its
// own error line, then this process exits non-zero.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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
 * The URL a local client reaches the balancer on, from the address its
 * "listening on" line names: all interfaces become 127.0.0.1.
 * @param {string} url  "http://127.0.0.1:8080", "https://[::]:8443"
 * @returns {string}
 */
function clientUrlOf(url) {
  return url.replace(/^(https?:\/\/)(?:0\.0\.0\.0|\[::\]):/, '$1127.0.0.1:');
}

/**
 * Curl commands for each pool, commented with the answer a pool without any
 * running server gets, and a 404 example when there is no default pool.
 * @param {any} config
 * @param {Set<number>} skipped
 * @param {string} base  the balancer's URL, as clientUrlOf gives it
 * @returns {string[]}
 */
function tryLines(config, skipped, base) {
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

/** @param {string} message */
function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

async function main() {
  const args = mri(process.argv.slice(2), {
    boolean: ['with-balancer', 'help'],
    string: ['skip', 'lb'],
    alias: { h: 'help' },
    // mri's `unknown` only knows names that appear in `alias` or `default`.
    default: { skip: DEFAULT_SKIP, 'with-balancer': false, lb: '' },
    unknown: (flag) => fail(`unknown option ${flag} (try --help)`),
  });
  if (args.help) {
    console.log('usage: node servers/demo.js [lb.yaml] [--with-balancer] [--skip 8089[,PORT...]] [--lb FILE]');
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
      console.log(`skipped ${name} on ${host}:${port} (--skip)`);
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

  const lbPath = args.lb === '' ? fileURLToPath(new URL('../dist/lb.js', import.meta.url)) : resolve(args.lb);
  if (!existsSync(lbPath)) {
    await closeApps();
    return fail(`${lbPath} not found: run \`npm run build\` first`);
  }
  const balancer = startBalancer(lbPath, configPath);
  console.log(`balancer pid ${balancer.pid}: kill -HUP ${balancer.pid} reloads ${configPath} (so does kill -HUP ${process.pid}, this demo)`);

  /** @type {NodeJS.Signals | null} */
  let forwarded = null;
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.on(signal, () => {
      forwarded = signal;
      balancer.kill(signal);
    });
  }
  // Without a handler SIGHUP would end this process; the balancer reloads instead.
  process.on('SIGHUP', () => balancer.kill('SIGHUP'));

  let listening = false;
  let seen = '';
  /** @param {string} text */
  const watch = (text) => {
    if (listening) return;
    seen += text;
    const url = /listening on (https?:\/\/\S+)/.exec(seen)?.[1];
    if (url === undefined) return;
    listening = true;
    console.log('\ntry:');
    for (const line of tryLines(config, skipped, clientUrlOf(url))) console.log(`  ${line}`);
    console.log('');
  };
  // Its output is passed on as it comes; operational lines are read for "listening on".
  balancer.stdout.setEncoding('utf8').on('data', (text) => {
    process.stdout.write(text);
    watch(text);
  });
  balancer.stderr.setEncoding('utf8').on('data', (text) => {
    process.stderr.write(text);
    watch(text);
  });

  // 'close', not 'exit': its last lines (the reason it did not start) are passed on first.
  balancer.once('close', async (code, signal) => {
    const how = signal === null ? `exit code ${code}` : signal;
    if (!listening) console.error(`demo: the balancer did not start (${how}); stopping the backends`);
    else if (forwarded === null) console.error(`demo: the balancer stopped (${how}); stopping the backends`);
    await closeApps();
    process.exit(listening && code === 0 ? 0 : code || 1);
  });
}

/**
 * The balancer, as a child process that stops when this one is gone: in its
 * own process group, since Ctrl-C in a terminal signals the whole foreground
 * group and it would get SIGINT twice (from the terminal and forwarded from
 * here), the second of which means "exit without draining"; with
 * exit-with-parent.cjs preloaded, watching a pipe from this process on its
 * stdin, since a process whose parent dies keeps running (and its port).
 * @param {string} lbPath
 * @param {string} configPath
 */
function startBalancer(lbPath, configPath) {
  const preload = fileURLToPath(new URL('exit-with-parent.cjs', import.meta.url));
  // This process's own node options too: the tests run it, and src/lb.ts, with their module hooks.
  return spawn(process.execPath, [...process.execArgv, '--require', preload, lbPath, configPath], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
