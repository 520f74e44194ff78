// What the machine has: which of haproxy, nginx and wrk are installed (and their versions), the
// CPU and Node version for the report, and the resident memory of a process group (/proc).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The one line printed for a peer or driver that is not installed. */
export const INSTALL_HINT = 'apt-get install -y haproxy nginx wrk';

/** Directories searched for the tools, PATH first (sbin is often missing from a user's PATH). */
const SEARCH_DIRS = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];

/**
 * The path of executable `name`, or null when it is not installed.
 * @param {string} name
 * @returns {string | null}
 */
export function findTool(name) {
  for (const dir of SEARCH_DIRS) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The first line a tool prints for `args`, on stdout or stderr (nginx -v writes to stderr,
 * wrk -v exits 1).
 * @param {string} file
 * @param {string[]} args
 */
function firstLine(file, args) {
  const run = spawnSync(file, args, { encoding: 'utf8', timeout: 5000 });
  return `${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n')[0]?.trim() ?? '';
}

/**
 * @typedef {object} Tools
 * @property {string | null} haproxy  path, or null when not installed
 * @property {string | null} nginx
 * @property {string | null} wrk
 * @property {Record<string, string>} versions  one line per installed tool
 */

/** @returns {Tools} */
export function detectTools() {
  const haproxy = findTool('haproxy');
  const nginx = findTool('nginx');
  const wrk = findTool('wrk');
  /** @type {Record<string, string>} */
  const versions = {};
  if (haproxy) versions.haproxy = firstLine(haproxy, ['-v']).replace(/ - https?:.*$/, '');
  if (nginx) versions.nginx = firstLine(nginx, ['-v']).replace(/^nginx version: /, '');
  if (wrk) versions.wrk = firstLine(wrk, ['-v']).replace(/ Copyright.*$/, '');
  return { haproxy, nginx, wrk, versions };
}

/** The machine, for the report. */
export function describeMachine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpu = line.split(':')[1]?.trim() ?? cpu;
  } catch {
    // Not Linux: keep os.cpus().
  }
  return {
    cores: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * The commit the repository is at, with "+changes" when files differ from it (what `dist/`
 * was built from, as far as git can tell); null outside a git checkout.
 * @param {string} dir
 * @returns {string | null}
 */
export function gitRevision(dir) {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8', timeout: 5000 });
  if (head.status !== 0) return null;
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd: dir, encoding: 'utf8', timeout: 5000 });
  return `${head.stdout.trim()}${status.stdout.trim() ? '+changes in src/' : ''}`;
}

/**
 * VmRSS of one process in KiB, from /proc/<pid>/status; null when unavailable.
 * @param {number} pid
 * @returns {number | null}
 */
export function rssKiB(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The processes of process group `pgid` (nginx's master and worker), each with the fields of
 * /proc/<pid>/stat after "(comm)"; empty when /proc is not there.
 * @param {number} pgid
 * @returns {{ pid: number, stat: string[] }[]}
 */
function groupProcesses(pgid) {
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let text;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime stime ...; comm may hold spaces and parentheses, so split after the last ")".
    const stat = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(stat[2]) === pgid) found.push({ pid: Number(entry), stat });
  }
  return found;
}

/**
 * The summed VmRSS of every process in process group `pgid`, in KiB; null when unknown.
 * @param {number} pgid
 * @returns {number | null}
 */
export function groupRssKiB(pgid) {
  let total = null;
  for (const { pid } of groupProcesses(pgid)) {
    const rss = rssKiB(pid);
    if (rss !== null) total = (total ?? 0) + rss;
  }
  return total;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux), asked once. */
let userHz = 0;
function ticksPerSecond() {
  if (userHz === 0) {
    try {
      userHz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      userHz = 100;
    }
  }
  return userHz;
}

/**
 * CPU seconds (user + system) used so far by the processes of group `pgid` still running;
 * null when unknown. Two readings around a measurement give the CPU it took.
 * @param {number} pgid
 * @returns {number | null}
 */
export function groupCpuSeconds(pgid) {
  const processes = groupProcesses(pgid);
  if (processes.length === 0) return null;
  let ticks = 0;
  for (const { stat } of processes) ticks += Number(stat[11]) + Number(stat[12]);
  return ticks / ticksPerSecond();
}

/**
 * CPU seconds all cores have spent busy since boot (the first line of /proc/stat: user, nice,
 * system, irq and softirq; not idle, iowait or steal); null when unknown. Interrupt and softirq
 * time counts because the kernel charges it, tick by tick, to the process that was running
 * (much of it is loopback TCP here), so the per-process times include it too.
 * @returns {number | null}
 */
export function machineBusySeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    // proc(5): cpu  user nice system idle iowait irq softirq steal ...
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq) / ticksPerSecond();
  } catch {
    return null;
  }
}

/**
 * CPU seconds used so far by this process and by its children that have exited and were
 * waited for (/proc/self/stat utime, stime, cutime, cstime): autocannon runs in here, and each
 * wrk run is such a child once it has finished. The targets and backends, also children, count
 * only once they have exited, after every measurement.
 * @returns {number | null}
 */
export function selfAndReapedSeconds() {
  try {
    const text = readFileSync('/proc/self/stat', 'utf8');
    const stat = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(stat[11]) + Number(stat[12]) + Number(stat[13]) + Number(stat[14])) / ticksPerSecond();
  } catch {
    return null;
  }
}

/**
 * @typedef {object} CpuReading   CPU used during a measurement, in % of one core (null: unknown)
 * @property {number | null} target    the target's process group
 * @property {number | null} backend   the backend's process group
 * @property {number | null} driver    the load generator (and this script)
 * @property {number | null} machine   every process on the machine
 * @property {number | null} others    every process not counted above: someone else's work
 */

/**
 * Starts counting CPU for a measurement; `read()` returns what each part used since, per
 * second of wall time.
 * @param {number | null} targetPgid   null when the target is the backend itself
 * @param {number} backendPgid
 */
export function startCpuMeter(targetPgid, backendPgid) {
  const sample = () => ({
    target: targetPgid === null ? 0 : groupCpuSeconds(targetPgid),
    backend: groupCpuSeconds(backendPgid),
    driver: selfAndReapedSeconds(),
    machine: machineBusySeconds(),
  });
  const start = sample();
  const startedAt = performance.now();
  return {
    /** @returns {CpuReading} */
    read() {
      const end = sample();
      const seconds = (performance.now() - startedAt) / 1000;
      /** @param {'target' | 'backend' | 'driver' | 'machine'} k */
      const used = (k) => {
        const a = start[k];
        const b = end[k];
        return a === null || b === null || seconds <= 0 ? null : ((b - a) / seconds) * 100;
      };
      const target = targetPgid === null ? null : used('target');
      const [backend, driver, machine] = [used('backend'), used('driver'), used('machine')];
      const ours = [target ?? 0, backend, driver];
      // Slightly negative values are the noise of tick-based accounting: 0.
      const others = machine === null || ours.includes(null) ? null : Math.max(0, machine - ours.reduce((x, y) => (x ?? 0) + (y ?? 0), 0));
      const round = (/** @type {number | null} */ x) => (x === null ? null : Math.round(x));
      return { target: round(target), backend: round(backend), driver: round(driver), machine: round(machine), others: round(others) };
    },
  };
}
