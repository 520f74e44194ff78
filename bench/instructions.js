#!/usr/bin/env node
// `npm run bench:instructions`: user-space instructions per request of dist/lb.js, counted by
// callgrind, as bench/NOTES.md's round 3 did by hand. The balancer runs under
// `valgrind --tool=callgrind --smc-check=all-non-file` in front of the nginx backend; wrk
// (`-t1 -c16`) loads it for a warm-up, then for a number of intervals; after each interval
// `callgrind_control -d` dumps the counters (which zeroes them) and the dump's total of
// instructions (Ir) is divided by the requests wrk completed in that interval. The figure is
// the median over the intervals. With --baseline DIR, DIR/dist/lb.js is measured the same way
// right after, in its own valgrind process, and the ratio of the medians is printed. With
// --balance P, this build's config says `balance: P` (the baseline's does not): with
// `--baseline .`, what policy P costs per request against round robin. --scenario picks the
// load, as in `npm run bench`: keep-alive GETs, a new connection per request, 16 KiB POST
// bodies, HTTPS keep-alive, a new TLS connection per request (a certificate made with openssl
// for the run). With --keep-dumps DIR each interval's dump is kept there, for
// callgrind_annotate.
//
// Instruction counts do not depend on how busy the machine is, which wall-clock timings on a
// shared machine do. They cover user space only (JavaScript, V8, Node's C++, libc, all threads
// of the process): not the kernel. Everything runs on 127.0.0.1; every process started is
// stopped, and the temporary directory removed, at the end, on Ctrl-C and on errors.

import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import mri from 'mri';
import { startFastBackend } from './lib/backends.js';
import { balancerYaml, makeCertificate, wrkPostScript } from './lib/configs.js';
import { parseWrk } from './lib/drivers.js';
import { atExit, describeExit, freePorts, installCleanup, startProcess, stopAll } from './lib/processes.js';
import { configRejected } from './lib/targets.js';
import { median } from './lib/report.js';
import { SCENARIOS } from './lib/scenarios.js';
import { describeMachine, findTool, gitRevision, INSTALL_HINT } from './lib/system.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

const USAGE = `Usage: node bench/instructions.js [options]     (npm run bench:instructions; builds nothing)

User-space instructions per request of dist/lb.js under callgrind (see bench/README.md).

Options:
  -b, --baseline DIR   also measure DIR/dist/lb.js (another checkout, built), right after,
                       and print the ratio of the medians (this build / baseline)
  -n, --intervals N    measured intervals per build; the median is reported (default 5)
  -w, --warmup S       seconds of load before the first interval, not counted (default 40)
  -W, --warmup-requests N
                       and at least this many requests: the warm-up goes on, in intervals,
                       until wrk completed them (default 60000: 40 s at the ~1,500 req/s of
                       a quiet machine; a busy one gives the JIT fewer requests in 40 s)
  -i, --interval S     seconds each interval runs (default 8)
  -r, --runs N         valgrind processes per build (default 1); with --baseline they
                       alternate, A B, B A, A B...; the medians of the runs' medians are
                       compared (the same build's median moves ~2-3% between processes)
  -s, --scenario NAME  keepalive (GETs on keep-alive connections), close (Connection: close,
                       a new connection per request), post16k (16 KiB POST bodies, keep-alive),
                       tls (HTTPS keep-alive GETs, TLS ended at the balancer, ECDSA P-256) or
                       tlsclose (a new TLS connection, a handshake, per request)
                       (default keepalive); in close and tlsclose a request is a connection
  -k, --keep-dumps DIR keep each interval's callgrind dump in DIR (made if missing), named
                       callgrind.out.<scenario>.<build>-<run>.<interval>, for callgrind_annotate
  -Y, --yaml TEXT      YAML added to this build's config, not the baseline's, "{servers}"
                       standing for the backends as a flow list: with --baseline, what a
                       setting costs (e.g. route rules on "paths: [{path: /, servers: {servers},
                       ...}]", or 'request_id: ""')
  -B, --balance P      "balance: P" in this build's config, not the baseline's: with
                       --baseline . what policy P costs against round robin (default: none)
  -h, --help           this help
`;

/** Connections wrk keeps busy (under valgrind the balancer answers ~1,500 req/s). */
const CONNECTIONS = 16;
/** How long node under callgrind may take to accept connections (it starts ~50x slower). */
const START_TIMEOUT_MS = 180_000;
/** How long one `callgrind_control -d`, and then the dump file, may take. */
const DUMP_TIMEOUT_MS = 60_000;
/** Beyond its duration, how long wrk may take before it counts as hung. */
const WRK_GRACE_MS = 30_000;
/** The longest a warm-up may go on for --warmup-requests; then the intervals start anyway. */
const WARMUP_LIMIT_MS = 10 * 60_000;
/** A request without a response within this many seconds counts as a wrk timeout. */
const REQUEST_TIMEOUT_S = 5;
/** The scenarios of `npm run bench` this can measure (the others need another backend or idle clients). */
const MEASURABLE = ['keepalive', 'close', 'post16k', 'tls', 'tlsclose'];
/** The wrk and callgrind_control processes running now: killed on any exit. */
const helpers = new Set();

function fail(/** @type {string} */ message) {
  process.stderr.write(`bench:instructions: ${message}\n`);
  process.exit(2);
}

/** Writes one progress line to stderr. */
function say(/** @type {string} */ line) {
  process.stderr.write(`${line}\n`);
}

/** Reads and checks the command line. */
function parseOptions(/** @type {string[]} */ argv) {
  const args = mri(argv, {
    string: ['baseline', 'intervals', 'warmup', 'warmup-requests', 'interval', 'runs', 'scenario', 'balance', 'yaml', 'keep-dumps'],
    boolean: ['help'],
    // mri's `unknown` knows only names that have an alias.
    alias: { b: 'baseline', n: 'intervals', w: 'warmup', W: 'warmup-requests', i: 'interval', r: 'runs', s: 'scenario', B: 'balance', Y: 'yaml', k: 'keep-dumps', h: 'help' },
    unknown: (flag) => fail(`unknown option ${flag}\n\n${USAGE}`),
  });
  if (args._.length > 0) fail(`unexpected argument ${args._[0]}\n\n${USAGE}`);
  if (args.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const number = (/** @type {string} */ name, /** @type {number} */ dflt, /** @type {number} */ min) => {
    const n = args[name] === undefined ? dflt : Number(args[name]);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number >= ${min}`);
    return n;
  };
  const scenarioName = args.scenario === undefined ? 'keepalive' : String(args.scenario);
  if (!MEASURABLE.includes(scenarioName)) fail(`--scenario must be one of ${MEASURABLE.join(', ')}, not ${scenarioName}`);
  const scenario = /** @type {import('./lib/scenarios.js').Scenario} */ (SCENARIOS.find((s) => s.name === scenarioName));
  const baseline = args.baseline ? path.resolve(String(args.baseline)) : null;
  const balance = args.balance ? String(args.balance) : null;
  // Only the form here; the config reader judges the name (main, before anything starts).
  if (balance !== null && !/^[a-z][a-z_]*$/.test(balance)) fail(`--balance ${balance}: a policy is a word like least_conn`);
  return {
    baseline,
    balance,
    yaml: args.yaml ? String(args.yaml) : null,
    keepDumps: args['keep-dumps'] ? path.resolve(String(args['keep-dumps'])) : null,
    intervals: number('intervals', 5, 1),
    warmup: number('warmup', 40, 0),
    warmupRequests: number('warmup-requests', 60_000, 0),
    interval: number('interval', 8, 1),
    runs: number('runs', 1, 1),
    scenario,
  };
}

/**
 * Runs `file args` (wrk, callgrind_control) with a time limit, killed on any exit of this
 * process; resolves with its stdout, rejects when it fails or runs out of time.
 * @param {string} file
 * @param {string[]} args
 * @param {number} timeoutMs
 * @returns {Promise<string>}
 */
function run(file, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      helpers.delete(child);
      if (err) {
        const why = err.killed ? `did not finish within ${timeoutMs / 1000} s` : `failed: ${err.message}`;
        reject(new Error(`${path.basename(file)} ${args.join(' ')} ${why}\n${stdout}${stderr}`.trim()));
      } else {
        resolve(stdout);
      }
    });
    helpers.add(child);
  });
}

/**
 * @typedef {object} Load  what wrk sends, from the scenario
 * @property {boolean} closeEach         `Connection: close`: a new connection per request
 * @property {string | null} wrkScript   the Lua script of POST bodies, or null for GETs
 * @property {boolean} tls               HTTPS (wrk checks no certificate; it offers its last session)
 */

/**
 * One wrk run of `seconds` against `port`, as the scenario says.
 * @param {string} wrk
 * @param {number} port
 * @param {number} seconds
 * @param {Load} load
 */
async function drive(wrk, port, seconds, load) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', `${REQUEST_TIMEOUT_S}s`];
  if (load.closeEach) args.push('-H', 'Connection: close');
  if (load.wrkScript !== null) args.push('-s', load.wrkScript);
  args.push(`${load.tls ? 'https' : 'http'}://127.0.0.1:${port}/`);
  const out = await run(wrk, args, seconds * 1000 + WRK_GRACE_MS);
  try {
    return parseWrk(out);
  } catch (err) {
    throw new Error(`${/** @type {Error} */ (err).message} in wrk output:\n${out}`);
  }
}

/**
 * The total of instructions in a callgrind dump: its `totals:` line (`summary:` in older
 * formats), the first event being Ir, the only one collected here. Null while the file is
 * not complete (the totals come last).
 * @param {string} file
 * @returns {number | null}
 */
function dumpTotal(file) {
  const text = readFileSync(file, 'utf8');
  const match = /^(?:totals|summary):\s*(\d+)/m.exec(text);
  return match ? Number(match[1]) : null;
}

/**
 * @typedef {object} Callgrind
 * @property {number} pid        of valgrind, which is the balancer's process (and group)
 * @property {string} dir        where its dumps (callgrind.out.<pid>.<n>) and vgdb's FIFOs go
 * @property {string} vgdbPrefix
 */

/**
 * Dumps the counters of the process under callgrind (which zeroes them) and returns the
 * dump's total of instructions since the previous dump; removes the dump file, having copied
 * it to `keepAs` when given.
 * @param {string} control  path of callgrind_control
 * @param {Callgrind} cg
 * @param {() => boolean} exited
 * @param {string | null} [keepAs]
 * @returns {Promise<number>}
 */
async function dump(control, cg, exited, keepAs = null) {
  await run(control, [`--vgdb-prefix=${cg.vgdbPrefix}`, '-d', String(cg.pid)], DUMP_TIMEOUT_MS);
  const prefix = `callgrind.out.${cg.pid}.`;
  const deadline = Date.now() + DUMP_TIMEOUT_MS;
  for (;;) {
    // Every dump is removed once read, so a numbered file here is the new one.
    const names = readdirSync(cg.dir).filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)));
    if (names.length > 1) throw new Error(`more than one dump in ${cg.dir}: ${names.join(', ')}`);
    if (names.length === 1) {
      const file = path.join(cg.dir, names[0]);
      const total = dumpTotal(file);
      if (total !== null) {
        // Copied, not renamed: the kept dumps may be on another file system than the temp dir.
        if (keepAs !== null) copyFileSync(file, keepAs);
        rmSync(file, { force: true });
        return total;
      }
    }
    if (exited()) throw new Error('the balancer exited while its counters were being dumped');
    if (Date.now() > deadline) throw new Error(`no complete dump ${prefix}<n> in ${cg.dir} within ${DUMP_TIMEOUT_MS / 1000} s of callgrind_control -d`);
    await sleep(100);
  }
}

/**
 * @typedef {object} Interval
 * @property {number} instructions
 * @property {number} requests   completed by wrk
 * @property {number} rps
 * @property {number} errors     wrk's socket errors and non-2xx/3xx responses
 * @property {number} perRequest
 */

/**
 * @typedef {object} BuildResult
 * @property {string} label
 * @property {number} run       1, 2...: which of the --runs processes of this build
 * @property {string} root
 * @property {string | null} revision
 * @property {{ seconds: number, requests: number, errors: number, complete: boolean }} warm
 * @property {Interval[]} intervals
 * @property {number} median
 * @property {number} min
 * @property {number} max
 * @property {number} seconds   how long measuring this build took, start to stop
 */

/**
 * Starts `root`/dist/lb.js under callgrind in front of the backend, warms it up, measures the
 * intervals and stops it.
 * @param {string} label
 * @param {number} run
 * @param {string} root
 * @param {{ dir: string, backendPorts: number[], tools: Record<'valgrind' | 'control' | 'wrk', string>, options: ReturnType<typeof parseOptions>,
 *   load: Load, certificate: import('./lib/configs.js').Certificate | null }} ctx
 * @returns {Promise<BuildResult>}
 */
async function measureBuild(label, run, root, { dir, backendPorts, tools, options, load, certificate }) {
  const started = Date.now();
  const revision = gitRevision(root);
  const buildDir = mkdtempSync(path.join(dir, `${label.replace(/\W+/g, '-')}-${run}-`));
  const [port] = await freePorts(1);
  const config = path.join(buildDir, 'balancer.yaml');
  // --balance is this build's alone: the baseline is what it is compared with.
  const servers = JSON.stringify(backendPorts.map((p) => `127.0.0.1:${p}`));
  const extra = label === 'this build' && options.yaml !== null ? `${options.yaml.replaceAll('{servers}', servers)}\n` : '';
  writeFileSync(config, balancerYaml(port, backendPorts, label === 'this build' ? options.balance : null, certificate) + extra);
  const vgdbPrefix = path.join(buildDir, 'vgdb-pipe');
  const args = [
    '--tool=callgrind',
    // V8 writes and rewrites machine code in anonymous memory.
    '--smc-check=all-non-file',
    `--callgrind-out-file=${path.join(buildDir, 'callgrind.out.%p')}`,
    // vgdb's FIFOs (callgrind_control talks to the process through them) in the temp dir too.
    `--vgdb-prefix=${vgdbPrefix}`,
    process.execPath,
    path.join(root, 'dist', 'lb.js'),
    config,
    // As bench/run.js: no access log line per request.
    '--log-level',
    'warn',
  ];
  const runs = options.runs > 1 ? ` (run ${run}/${options.runs})` : '';
  say(`${label}${runs}: ${root}/dist/ (${revision ?? 'unknown revision'}) under callgrind on port ${port}`);
  const child = await startProcess(`${label} (callgrind)`, tools.valgrind, args, { ports: [port], cwd: root, timeoutMs: START_TIMEOUT_MS });
  say(`  started in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${child.pid})`);
  /** @type {Callgrind} */
  const cg = { pid: child.pid, dir: buildDir, vgdbPrefix };
  const alive = () => {
    if (child.exited) throw new Error(`${label} ${describeExit(child)} under callgrind. Its last output:\n${child.output()}`);
  };

  // Warm-up: --warmup seconds, then more intervals until wrk completed --warmup-requests (on a
  // busy machine the balancer answers fewer requests a second, and the JIT needs requests).
  const warm = { seconds: 0, requests: 0, errors: 0, complete: true };
  const warmDeadline = Date.now() + WARMUP_LIMIT_MS;
  while (warm.seconds < options.warmup || warm.requests < options.warmupRequests) {
    if (Date.now() > warmDeadline) {
      warm.complete = false;
      say(`  warm-up: STOPPED after ${WARMUP_LIMIT_MS / 60_000} min with ${fmt(warm.requests)} requests of ${fmt(options.warmupRequests)}; measuring anyway`);
      break;
    }
    const seconds = warm.seconds < options.warmup ? options.warmup - warm.seconds : options.interval;
    const m = await drive(tools.wrk, port, seconds, load);
    alive();
    warm.seconds += seconds;
    warm.requests += m.requests;
    warm.errors += m.errors;
    say(`  warm-up: ${seconds} s, ${fmt(m.requests)} requests (${Math.round(m.rps)} req/s), ${m.errors} errors; ${fmt(warm.requests)} requests in ${warm.seconds} s so far`);
  }
  // Zero the counters: what ran before (start, warm-up) is not counted.
  await dump(tools.control, cg, () => child.exited);

  /** @type {Interval[]} */
  const intervals = [];
  for (let i = 1; i <= options.intervals; i++) {
    const m = await drive(tools.wrk, port, options.interval, load);
    alive();
    const keepAs = options.keepDumps === null ? null : path.join(options.keepDumps, `callgrind.out.${options.scenario.name}.${label.replace(/\W+/g, '-')}-${run}.${i}`);
    const instructions = await dump(tools.control, cg, () => child.exited, keepAs);
    if (m.requests === 0) throw new Error(`${label}: wrk completed no request in interval ${i}`);
    const interval = { instructions, requests: m.requests, rps: m.rps, errors: m.errors, perRequest: instructions / m.requests };
    intervals.push(interval);
    say(
      `  interval ${i}/${options.intervals}: ${fmt(instructions)} instructions / ${fmt(m.requests)} requests = ` +
        `${fmt(interval.perRequest)} per ${perWhat(options)}  (${Math.round(m.rps)} req/s` +
        `${m.errors > 0 ? `, ${m.errors} ERRORS ${JSON.stringify(m.errorDetail)}` : ''})`,
    );
  }
  await child.stop();
  rmSync(buildDir, { recursive: true, force: true });
  const per = intervals.map((x) => x.perRequest);
  const seconds = (Date.now() - started) / 1000;
  const result = { label, run, root, revision, warm, intervals, median: median(per), min: Math.min(...per), max: Math.max(...per), seconds };
  say(`  ${label}${runs}: median ${fmt(result.median)} instructions per ${perWhat(options)}, spread ${spread(result)} (${Math.round(seconds)} s)`);
  return result;
}

/** "request", or "request (= connection)" where every request has a connection of its own. */
function perWhat(/** @type {ReturnType<typeof parseOptions>} */ options) {
  return options.scenario.closeEach ? 'request (= per connection)' : 'request';
}

/** 12,345 */
function fmt(/** @type {number} */ n) {
  return Math.round(n).toLocaleString('en-US');
}

/** The intervals' range around the median: "-0.4% / +0.7%". */
function spread(/** @type {BuildResult} */ r) {
  const pct = (/** @type {number} */ x) => {
    const d = (x / r.median - 1) * 100;
    return `${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(1)}%`;
  };
  return `${pct(r.min)} / ${pct(r.max)}`;
}

/** The markdown table printed at the end. */
function renderTable(/** @type {BuildResult[]} */ results, /** @type {ReturnType<typeof parseOptions>} */ options) {
  const n = options.intervals;
  const lines = [
    `Instructions per request (user space, callgrind), ${options.scenario.title}, wrk -t1 -c${CONNECTIONS}: ` +
      (options.scenario.closeEach ? 'one request per connection, so per request is per connection too; ' : '') +
      `warm-up of at least ${options.warmup} s and ${fmt(options.warmupRequests)} requests, ${n} intervals of ${options.interval} s, median` +
      (options.balance === null ? '' : `; this build with \`balance: ${options.balance}\`${options.baseline === null ? '' : ', the baseline without'}`) +
      (options.yaml === null ? '' : `; this build's config adds \`${options.yaml}\``),
    '',
    `| build | run | dist/ from | ${Array.from({ length: n }, (_, i) => `#${i + 1}`).join(' | ')} | median | spread (min / max) | req/s (median) | errors | warm-up |`,
    `|---|---:|---|${'---:|'.repeat(n)}---:|---:|---:|---:|---:|`,
  ];
  const ordered = [...results].sort((x, y) => (x.label === y.label ? x.run - y.run : x.label === 'this build' ? -1 : 1));
  for (const r of ordered) {
    const rps = median(r.intervals.map((x) => x.rps));
    const errors = r.intervals.reduce((a, x) => a + x.errors, 0);
    lines.push(
      `| ${r.label} | ${r.run} | ${r.revision ?? '?'} | ${r.intervals.map((x) => fmt(x.perRequest)).join(' | ')} | **${fmt(r.median)}** | ${spread(r)} | ${fmt(rps)} | ${errors} | ` +
        `${fmt(r.warm.requests)} requests in ${r.warm.seconds} s${r.warm.complete ? '' : ' (STOPPED: too few)'} |`,
    );
  }
  const mine = results.filter((r) => r.label === 'this build');
  const base = results.filter((r) => r.label === 'baseline');
  lines.push('');
  if (base.length > 0) {
    for (let run = 1; run <= options.runs && options.runs > 1; run++) {
      const a = mine.find((r) => r.run === run);
      const b = base.find((r) => r.run === run);
      if (a && b) lines.push(`run ${run}: this build / baseline ${(a.median / b.median).toFixed(3)}x`);
    }
  }
  const a = median(mine.map((r) => r.median));
  const many = options.runs > 1 ? `, median of ${mine.length} runs' medians` : '';
  if (base.length > 0) {
    const b = median(base.map((r) => r.median));
    lines.push(`this build / baseline: **${(a / b).toFixed(3)}x** (${fmt(a)} / ${fmt(b)} instructions per ${perWhat(options)}${many})`);
  } else if (options.runs > 1) {
    lines.push(`this build: **${fmt(a)}** instructions per ${perWhat(options)}${many}`);
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  installCleanup();
  // wrk and callgrind_control are not in processes.js's list: killed here on any exit.
  atExit(() => {
    for (const child of helpers) child.kill('SIGKILL');
  });
  const options = parseOptions(process.argv.slice(2));
  if (!existsSync(path.join(repo, 'dist', 'lb.js'))) fail('dist/lb.js is missing: run `npm run build` first (this benchmark builds nothing)');
  if (options.baseline !== null && !existsSync(path.join(options.baseline, 'dist', 'lb.js'))) {
    fail(`--baseline ${options.baseline}: no dist/lb.js there (build it first)`);
  }
  const valgrind = findTool('valgrind');
  const control = findTool('callgrind_control');
  const wrk = findTool('wrk');
  const nginx = findTool('nginx');
  if (!valgrind || !control) fail('valgrind (with callgrind_control) is not installed: apt-get install -y valgrind');
  if (!wrk || !nginx) fail(`wrk and nginx are needed (${INSTALL_HINT})`);
  const tools = { valgrind: /** @type {string} */ (valgrind), control: /** @type {string} */ (control), wrk: /** @type {string} */ (wrk) };

  const machine = describeMachine();
  say(`machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, load average ${machine.loadAverage.join(' ')}`);
  const builds = (options.baseline === null ? 1 : 2) * options.runs;
  const perBuild = 30 + options.warmup + options.intervals * (options.interval + 3);
  say(
    `${options.scenario.name}: ${builds} valgrind process(es) x (${options.warmup} s warm-up + ${options.intervals} x ${options.interval} s): ` +
      `about ${Math.ceil((builds * perBuild) / 60)} min on a quiet machine, more on a busy one (the warm-up goes on until ` +
      `${fmt(options.warmupRequests)} requests)\n`,
  );

  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mango-instructions-'));
  // nginx's worker may run as another user (nobody, when started as root).
  chmodSync(dir, 0o755);
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  if (options.balance !== null) {
    // Minutes under valgrind are not spent on a config the reader rejects.
    const file = path.join(dir, 'balance-check.yaml');
    writeFileSync(file, balancerYaml(1, [2], options.balance));
    const rejected = await configRejected(repo, file);
    if (rejected !== null) fail(`--balance ${options.balance}: this build's config reader rejects it: ${rejected}`);
  }
  /** @type {BuildResult[]} */
  const results = [];
  try {
    const backend = await startFastBackend(nginx, path.join(dir, 'fast'));
    if (backend.kind !== 'nginx') throw new Error(`the backend is ${backend.kind}, not nginx`);
    say(`backend: nginx on ports ${backend.ports.join(', ')}`);
    const certificate = options.scenario.tls ? makeCertificate(dir) : null;
    /** @type {Load} */
    const load = { closeEach: options.scenario.closeEach, wrkScript: null, tls: certificate !== null };
    if (options.scenario.bodyBytes > 0) {
      load.wrkScript = path.join(dir, `${options.scenario.name}.lua`);
      writeFileSync(load.wrkScript, wrkPostScript(options.scenario.bodyBytes));
    }
    if (options.keepDumps !== null) mkdirSync(options.keepDumps, { recursive: true });
    const ctx = { dir, backendPorts: backend.ports, tools, options, load, certificate };
    for (let run = 1; run <= options.runs; run++) {
      /** @type {[string, string][]} */
      const order = [['this build', repo]];
      if (options.baseline !== null) order.push(['baseline', options.baseline]);
      // A B, then B A: neither build is always the first.
      if (run % 2 === 0) order.reverse();
      for (const [label, root] of order) results.push(await measureBuild(label, run, root, ctx));
    }
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`\n${renderTable(results, options)}`);
  say(`\ndone in ${Math.round((Date.now() - started) / 1000)} s`);
}

try {
  await main();
} catch (err) {
  // The processes are stopped and the temp dir is gone (main's finally); one message, exit 1.
  process.stderr.write(`bench:instructions: ${/** @type {Error} */ (err).message}\n`);
  process.exit(1);
}
