// Child processes for the benchmarks: start one in its own process group, wait (bounded) until
// its port accepts, and kill every one that is still running at the end, on Ctrl-C, on SIGTERM
// and on an uncaught error. Also free ports and a bounded wait for a TCP port.

import { spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a process may take to accept connections after it was started. */
export const READY_TIMEOUT_MS = 15_000;
/** How long a process gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 3_000;
/** Bytes of each child's stdout/stderr kept for error messages. */
const OUTPUT_TAIL = 4096;

/**
 * @typedef {object} Child
 * @property {string} name
 * @property {number} pid          also its process group
 * @property {boolean} exited
 * @property {number | null} exitCode
 * @property {NodeJS.Signals | null} [signal]  the signal that ended it, if one did
 * @property {() => string} output  the last few KiB it wrote to stdout and stderr
 * @property {() => Promise<void>} stop
 * @property {Promise<void>} [exitedPromise]
 */

/** Every child started here and not yet stopped. */
const running = new Set();

/**
 * Starts `command args` in a new process group (so that its own children, like nginx's worker,
 * go with it), and resolves once 127.0.0.1 accepts connections on every one of `ports`.
 * Rejects, having killed it, when it exits first or does not accept within `timeoutMs`.
 * @param {string} name   for messages
 * @param {string} command
 * @param {string[]} args
 * @param {{ ports: number[], cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number }} options
 * @returns {Promise<Child>}
 */
export async function startProcess(name, command, args, { ports, cwd, env, timeoutMs = READY_TIMEOUT_MS }) {
  const proc = spawn(command, args, { cwd, env: env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (/** @type {Buffer} */ chunk) => {
    tail = (tail + chunk.toString()).slice(-OUTPUT_TAIL);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);

  /** @type {Child} */
  const child = {
    name,
    pid: proc.pid ?? -1,
    exited: false,
    exitCode: null,
    output: () => tail.trim(),
    stop: () => stopProcess(proc, child),
  };
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      child.exited = true;
      child.exitCode = code;
      child.signal = signal;
      running.delete(child);
      resolve(undefined);
    });
    proc.once('error', (err) => {
      keep(Buffer.from(`\n${err.message}`));
      child.exited = true;
      running.delete(child);
      resolve(undefined);
    });
  });
  child.exitedPromise = exited;
  running.add(child);

  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    while (!(await canConnect(port, 500))) {
      if (child.exited) {
        throw new Error(`${name} ${describeExit(child)} before listening on ${port}:\n${child.output()}`);
      }
      if (Date.now() > deadline) {
        await child.stop();
        throw new Error(`${name} did not accept connections on ${port} within ${timeoutMs} ms:\n${child.output()}`);
      }
      await sleep(50);
    }
  }
  return child;
}

/** "exited with code 1", "was killed by SIGSEGV". */
export function describeExit(/** @type {Child} */ child) {
  return child.signal ? `was killed by ${child.signal}` : `exited with code ${child.exitCode}`;
}

/**
 * SIGTERM to the child's process group, SIGKILL after a grace period. Resolves once it exited.
 * @param {import('node:child_process').ChildProcess} proc
 * @param {Child & { exitedPromise?: Promise<unknown> }} child
 */
async function stopProcess(proc, child) {
  if (child.exited) return;
  signalGroup(child.pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), STOP_GRACE_MS);
  await child.exitedPromise;
  clearTimeout(timer);
  // A worker that outlived its parent (nginx) goes with the group.
  signalGroup(child.pid, 'SIGKILL');
  proc.stdout?.destroy();
  proc.stderr?.destroy();
}

/** Sends `signal` to the process group `pid` leads; ignores a group that is gone. */
function signalGroup(/** @type {number} */ pid, /** @type {NodeJS.Signals} */ signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Stops every child still running, at once. */
export async function stopAll() {
  await Promise.all([...running].map((child) => child.stop()));
}

/** Synchronous jobs for process 'exit', such as removing a temporary directory. */
const exitJobs = [];

/** Runs `job` (synchronous) when this process exits, however it exits. */
export function atExit(/** @type {() => void} */ job) {
  exitJobs.push(job);
}

/** Synchronous last resort for process 'exit': SIGKILL to every group still running. */
function killAllNow() {
  for (const child of running) signalGroup(child.pid, 'SIGKILL');
  for (const job of exitJobs) {
    try {
      job();
    } catch {
      // Best effort.
    }
  }
}

/**
 * Makes Ctrl-C, SIGTERM and an uncaught error stop every child before exiting, and makes any
 * exit at all SIGKILL what is left.
 */
export function installCleanup() {
  let stopping = false;
  const bail = (/** @type {string} */ why, /** @type {number} */ code) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${why}: stopping ${running.size} process(es)\n`);
    const forced = setTimeout(() => process.exit(code), STOP_GRACE_MS + 2000);
    forced.unref();
    stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail('interrupted', 130));
  process.once('SIGTERM', () => bail('terminated', 143));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    bail('uncaught error', 1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${/** @type {Error} */ (err)?.stack ?? err}\n`);
    bail('unhandled rejection', 1);
  });
  process.on('exit', killAllNow);
}

/**
 * Whether 127.0.0.1:`port` accepts a TCP connection within `timeoutMs`.
 * @param {number} port
 * @param {number} timeoutMs
 * @returns {Promise<boolean>}
 */
export function canConnect(port, timeoutMs) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (/** @type {boolean} */ ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * `n` distinct ports that were free a moment ago on 127.0.0.1 (the system picks them). Another
 * program could take one before it is used; on a benchmark machine that does not happen.
 * @param {number} n
 * @returns {Promise<number[]>}
 */
export async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(undefined));
      });
    }
    return servers.map((s) => /** @type {net.AddressInfo} */ (s.address()).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve(undefined)))));
  }
}
