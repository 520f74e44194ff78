#!/usr/bin/env node
// `node bench/accept.js` (after a build): how `lb --workers N` takes new connections, node:cluster's
// way (LB_ACCEPT=cluster: the primary accepts and hands each to a worker) against each worker on a
// socket of its own with SO_REUSEPORT, on a new connection per request (wrk -t1 -c64 with
// `Connection: close`) in front of the node:net responder, in interleaved rounds. Per measurement:
// req/s, and the CPU of each of the balancer's processes (primary, workers) from /proc/PID/stat,
// so req/s per core of the balancer. Needs wrk, and a Node.js with reusePort (22.12+ or 23.1+)
// first on the PATH: on another, both runs take node:cluster's way, and the script says so.
//
//   PATH=/path/to/node24/bin:$PATH node bench/accept.js [--rounds 2] [--duration 10] [--workers 2]

import { readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mri from 'mri';
import { startFastBackend } from './lib/backends.js';
import { balancerYaml } from './lib/configs.js';
import { runWrk } from './lib/drivers.js';
import { atExit, freePorts, installCleanup, startProcess, stopAll } from './lib/processes.js';
import { waitForQuiet } from './lib/quiet.js';
import { findTool, startCpuMeter } from './lib/system.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
/** Not counted: lets the JIT settle in every process before a measurement. */
const WARMUP_S = 2;
/** How long the workers may take to listen once the port accepts (startProcess waits for one only). */
const WORKERS_TIMEOUT_MS = 10_000;

const args = mri(process.argv.slice(2), { string: ['rounds', 'duration', 'workers'] });
const rounds = Number(args.rounds ?? 2);
const duration = Number(args.duration ?? 10);
const workers = Number(args.workers ?? 2);
const wrk = findTool('wrk');
if (wrk === null) {
  process.stderr.write('bench/accept.js needs wrk (apt-get install -y wrk)\n');
  process.exit(2);
}

/** CPU seconds (user + system) process `pid` has used so far; 0 once gone. */
function cpuSeconds(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const stat = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks (USER_HZ: 100 on Linux).
    return (Number(stat[11]) + Number(stat[12])) / 100;
  } catch {
    return 0;
  }
}

/** The processes of group `pgid` (the balancer's primary and its workers). */
function groupPids(pgid) {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const text = readFileSync(`/proc/${e}/stat`, 'utf8');
        return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** How many sockets listen on 127.0.0.1:`port` (one per worker with SO_REUSEPORT, one in all with node:cluster). */
function listeningCount(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((line) => {
      const cols = line.trim().split(/\s+/);
      return cols[1] === `0100007F:${hex}` && cols[3] === '0A';
    }).length;
}

installCleanup();
const dir = mkdtempSync(path.join(os.tmpdir(), 'lb-accept-'));
atExit(() => rmSync(dir, { recursive: true, force: true }));
const backend = await startFastBackend(null, dir);

/** One measurement of `mode`: a balancer started for it, warmed up, measured, stopped. */
async function measure(mode) {
  const [port] = await freePorts(1);
  const file = path.join(dir, `lb-${mode}.yaml`);
  writeFileSync(file, balancerYaml(port, backend.ports));
  const env = { ...process.env, LB_ACCEPT: mode === 'cluster' ? 'cluster' : '' };
  const lb = await startProcess(`lb (${mode})`, process.execPath, [path.join(repo, 'dist', 'lb.js'), file, '--workers', String(workers), '--log-level', 'warn'], {
    ports: [port],
    env,
  });
  // The port accepts once one worker listens; every worker's socket, with SO_REUSEPORT.
  const wanted = mode === 'cluster' ? 1 : workers;
  const deadline = Date.now() + WORKERS_TIMEOUT_MS;
  while (listeningCount(port) < wanted || groupPids(lb.pid).length < workers + 1) {
    if (Date.now() > deadline) throw new Error(`${mode}: ${listeningCount(port)} listening socket(s), ${groupPids(lb.pid).length} processes`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const load = { port, path: '/', connections: 64, method: 'GET', bodyBytes: 0, closeEach: true, wrkScript: null };
  await runWrk(wrk, { ...load, duration: WARMUP_S });
  // Others' work on a shared machine: waited out (bounded), and reported with the figures.
  await waitForQuiet(backend.pid);
  const pids = groupPids(lb.pid).sort((a, b) => (a === lb.pid ? -1 : b === lb.pid ? 1 : a - b));
  const before = pids.map(cpuSeconds);
  const meter = startCpuMeter(lb.pid, backend.pid);
  const result = await runWrk(wrk, { ...load, duration });
  const cpu = meter.read();
  const used = pids.map((pid, i) => (cpuSeconds(pid) - before[i]) / result.seconds);
  const sockets = listeningCount(port);
  await lb.stop();
  const cores = used.reduce((a, b) => a + b, 0);
  return { mode, sockets, rps: result.rps, errors: result.errors, p99: result.p99, cores, perProcess: used, perCore: result.rps / cores, cpu };
}

const rows = [];
for (let round = 1; round <= rounds; round++) {
  // Interleaved, and the order swapped each round: neither way always runs on a warmer machine.
  const order = round % 2 === 1 ? ['cluster', 'reuseport'] : ['reuseport', 'cluster'];
  for (const mode of order) {
    const row = await measure(mode);
    rows.push({ round, ...row });
    process.stderr.write(
      `round ${round} ${mode}: ${Math.round(row.rps)} req/s, ${row.sockets} listening socket(s), balancer ${row.cores.toFixed(2)} cores ` +
        `(primary ${row.perProcess[0].toFixed(2)}, workers ${row.perProcess.slice(1).map((c) => c.toFixed(2)).join(' ')}), ` +
        `${Math.round(row.perCore)} req/s per core, errors ${row.errors}, backend ${row.cpu.backend}%, wrk ${row.cpu.driver}%, others ${row.cpu.others}%\n`,
    );
  }
}
await backend.stop();
await stopAll();

process.stdout.write(`\nNode.js ${process.versions.node}, ${os.cpus().length} cores, --workers ${workers}, wrk -t1 -c64 -H 'Connection: close', ${duration} s each\n\n`);
process.stdout.write('| round | accept | listening sockets | req/s | p99 ms | balancer CPU (cores) | primary | workers | req/s per balancer core | wrk | backend | others | errors |\n');
process.stdout.write('|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n');
for (const r of rows) {
  process.stdout.write(
    `| ${r.round} | ${r.mode} | ${r.sockets} | ${Math.round(r.rps).toLocaleString('en')} | ${r.p99.toFixed(1)} | ${r.cores.toFixed(2)} | ${r.perProcess[0].toFixed(2)} | ` +
      `${r.perProcess.slice(1).map((c) => c.toFixed(2)).join(', ')} | ${Math.round(r.perCore).toLocaleString('en')} | ` +
      `${r.cpu.driver}% | ${r.cpu.backend}% | ${r.cpu.others}% | ${r.errors} |\n`,
  );
}
