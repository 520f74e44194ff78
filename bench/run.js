#!/usr/bin/env node
// `npm run bench`: drives the same load, in interleaved rounds, against the backend directly, this
// balancer, node-http-proxy and (when installed) HAProxy and nginx, for each scenario of
// lib/scenarios.js; prints the medians as markdown tables and writes the raw results as JSON to
// bench/results/. The policies scenario instead runs the balancer once per balancing policy, and
// HAProxy and nginx once per policy of theirs, in front of a fast and a slow backend. Everything
// runs on 127.0.0.1; every process started is stopped at the end, on Ctrl-C and on errors. See
// bench/README.md.

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import mri from 'mri';
import { startAppBackend, startFastBackend, startPolicyBackend } from './lib/backends.js';
import { balancerYaml, makeCertificate, wrkPostScript } from './lib/configs.js';
import { runAutocannon, runWrk } from './lib/drivers.js';
import { openIdleConnections } from './lib/idle.js';
import { atExit, installCleanup, stopAll } from './lib/processes.js';
import { median, renderReport, summarize, writeResults } from './lib/report.js';
import { BALANCER_POLICIES, CONNECTIONS, PEER_POLICIES, POLICIES, SCENARIOS } from './lib/scenarios.js';
import { isDisturbed, mayRepeat, waitForQuiet } from './lib/quiet.js';
import { describeMachine, detectTools, gitRevision, groupRssKiB, INSTALL_HINT, startCpuMeter } from './lib/system.js';
import { ConfigRejected, configRejected, startTarget, TARGET_NAMES } from './lib/targets.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

const USAGE = `Usage: node bench/run.js [options]     (npm run bench builds first)

Options:
  -D, --driver NAME    wrk or autocannon, or both as "wrk,autocannon"
                       (default: wrk when installed, else autocannon)
  -r, --rounds N       interleaved rounds per scenario; the median is reported (default 2)
  -d, --duration S     seconds each measurement runs (default 5)
  -w, --warmup S       seconds of load per target before round 1, not counted (default 1)
  -s, --scenario NAME  only this scenario; repeat or comma-separate for several
                       (${SCENARIOS.map((s) => s.name).join(', ')};
                       all of them but ${SCENARIOS.filter((s) => s.optIn).map((s) => s.name).join(', ')} by default)
  -t, --target NAME    only these targets; repeat or comma-separate
                       (${TARGET_NAMES.join(', ')})
  -b, --baseline DIR   also run DIR/dist/lb.js (another checkout, built) as target "baseline",
                       with the balancer's config, interleaved with it: an A/B comparison
  -B, --balance P      put "balance: P" in the balancer's config (not the baseline's: with
                       --baseline . the same build in round robin is the baseline); in the
                       policies scenario, only these policies (comma-separate; default
                       ${BALANCER_POLICIES.join(', ')})
  -x, --without TOOL   act as if haproxy, nginx or wrk were not installed (repeat or
                       comma-separate): tries the fallbacks, e.g. the node:net backend
  -R, --report FILE    print the tables of an earlier run's bench/results/*.json, run nothing
  -h, --help           this help
`;

/** Pause between two measurements, so that closing sockets of one do not meet the next. */
const SETTLE_MS = 500;
/** How many times a measurement that other processes disturbed may be repeated (lib/quiet.js). */
const RETRIES = 1;

function fail(/** @type {string} */ message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/** Reads and checks the command line. */
function parseOptions(/** @type {string[]} */ argv, /** @type {import('./lib/system.js').Tools} */ tools) {
  const args = mri(argv, {
    string: ['driver', 'scenario', 'target', 'rounds', 'duration', 'warmup', 'without', 'report', 'baseline', 'balance'],
    boolean: ['help'],
    // mri's `unknown` knows only names that have an alias.
    alias: { D: 'driver', r: 'rounds', d: 'duration', w: 'warmup', s: 'scenario', t: 'target', x: 'without', R: 'report', b: 'baseline', B: 'balance', h: 'help' },
    unknown: (flag) => fail(`unknown option ${flag}\n\n${USAGE}`),
  });
  if (args._.length > 0) fail(`unexpected argument ${args._[0]}\n\n${USAGE}`);
  if (args.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (args.report) {
    // Only print the tables of an earlier run.
    const report = JSON.parse(readFileSync(String(args.report), 'utf8'));
    for (const row of report.rows) summarize(row);
    process.stdout.write(renderReport(report));
    process.exit(0);
  }
  const list = (/** @type {unknown} */ v) => [v ?? []].flat().flatMap((x) => String(x).split(',')).filter(Boolean);
  const number = (/** @type {string} */ name, /** @type {number} */ dflt, /** @type {number} */ min) => {
    const n = args[name] === undefined ? dflt : Number(args[name]);
    if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}`);
    return n;
  };

  for (const tool of list(args.without)) {
    if (tool !== 'haproxy' && tool !== 'nginx' && tool !== 'wrk') fail(`--without takes haproxy, nginx or wrk, not ${tool}`);
    tools[tool] = null;
    delete tools.versions[tool];
  }
  const drivers = list(args.driver);
  if (drivers.length === 0) drivers.push(tools.wrk ? 'wrk' : 'autocannon');
  for (const d of drivers) {
    if (d !== 'wrk' && d !== 'autocannon') fail(`--driver must be wrk or autocannon, not ${d}`);
    if (d === 'wrk' && !tools.wrk) fail(`wrk is not installed (${INSTALL_HINT}); use --driver autocannon`);
  }
  const scenarioNames = list(args.scenario);
  for (const s of scenarioNames) if (!SCENARIOS.some((x) => x.name === s)) fail(`unknown scenario ${s}`);
  const targetNames = list(args.target);
  for (const t of targetNames) if (!TARGET_NAMES.includes(t)) fail(`unknown target ${t}`);
  const baseline = args.baseline ? String(args.baseline) : null;
  if (baseline !== null && !existsSync(path.join(baseline, 'dist', 'lb.js'))) fail(`--baseline ${baseline}: no dist/lb.js there (build it first)`);
  if (baseline === null && targetNames.includes('baseline')) fail('target baseline needs --baseline DIR');
  // "baseline" runs only when asked for with --baseline.
  const defaultTargets = TARGET_NAMES.filter((t) => t !== 'baseline' || baseline !== null);
  const scenarios = scenarioNames.length > 0 ? SCENARIOS.filter((s) => scenarioNames.includes(s.name)) : SCENARIOS.filter((s) => !s.optIn);
  // The config reader judges the names (lb --check, before each balancer starts); here only
  // their form, so that nothing odd lands in the YAML.
  const balance = list(args.balance);
  for (const b of balance) if (!/^[a-z][a-z_]*$/.test(b)) fail(`--balance ${b}: a policy is a word like least_conn`);
  if (balance.length > 1 && scenarios.some((s) => s.name !== POLICIES)) fail(`--balance takes one policy, except with --scenario ${POLICIES} alone`);

  return {
    drivers,
    rounds: Math.floor(number('rounds', 2, 1)),
    duration: Math.floor(number('duration', 5, 1)),
    warmup: Math.floor(number('warmup', 1, 0)),
    scenarios,
    targets: targetNames.length > 0 ? TARGET_NAMES.filter((t) => targetNames.includes(t)) : defaultTargets,
    baseline,
    balance,
  };
}

/** Writes one progress line to stderr. */
function say(/** @type {string} */ line) {
  process.stderr.write(`${line}\n`);
}

async function main() {
  installCleanup();
  const tools = detectTools();
  const options = parseOptions(process.argv.slice(2), tools);
  if (!existsSync(path.join(repo, 'dist', 'lb.js'))) fail('dist/lb.js is missing: run `npm run build` (npm run bench does)');

  // Peers and drivers that are not installed are skipped, with a line saying how to get them.
  const skipped = [];
  const targets = options.targets.filter((t) => {
    if ((t === 'haproxy' || t === 'nginx') && !tools[t]) {
      skipped.push(t);
      say(`skipping ${t}: not installed (${INSTALL_HINT})`);
      return false;
    }
    return true;
  });
  if (!tools.wrk) say(`driving with autocannon only: wrk is not installed (${INSTALL_HINT})`);
  if (!tools.nginx) say(`fast backend: the node:net responder, since nginx is not installed (${INSTALL_HINT})`);

  const machine = describeMachine();
  const revision = gitRevision(repo);
  say(`balancer: dist/ built from ${revision ?? 'an unknown revision'}`);
  if (options.baseline) say(`baseline: ${options.baseline}/dist/ built from ${gitRevision(options.baseline) ?? 'an unknown revision'}`);
  say(`machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, load average ${machine.loadAverage.join(' ')}`);
  for (const [tool, version] of Object.entries(tools.versions)) say(`${tool}: ${version}`);
  const perTarget = options.rounds * (options.duration + SETTLE_MS / 1000 + 0.5) + options.warmup + SETTLE_MS / 1000;
  const runs = options.scenarios.reduce((n, s) => n + variantsOf(s, targets, options).length, 0);
  const estimate = options.drivers.length * runs * perTarget;
  say(
    `${options.scenarios.length} scenario(s), ${runs} target(s) and policies in all, x ${options.drivers.join('+')} x ` +
      `${options.rounds} round(s) of ${options.duration} s: about ${Math.ceil(estimate / 60)} min, ` +
      `more while other processes keep the machine busy\n`,
  );
  if (options.scenarios.some((s) => s.name === POLICIES)) {
    const left = targets.filter((t) => !(t === 'balancer' || t in PEER_POLICIES));
    if (left.length > 0) say(`${POLICIES}: not run there: ${left.join(', ')} (only the balancer, haproxy and nginx have policies to compare)`);
  }

  const dir = mkdtempSync(path.join(os.tmpdir(), 'mango-bench-'));
  // nginx's worker may run as another user (nobody, when started as root): it must be able to
  // reach its files and temp directories under here.
  chmodSync(dir, 0o755);
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  // Outside the policies scenario a rejected --balance would leave the balancer's rows empty
  // after minutes of the others': ask the reader first.
  const plain = options.scenarios.some((s) => s.name !== POLICIES) && targets.includes('balancer');
  if (plain && options.balance.length === 1) {
    const file = path.join(dir, 'balance-check.yaml');
    writeFileSync(file, balancerYaml(1, [2], options.balance[0]));
    const rejected = await configRejected(repo, file);
    if (rejected !== null) fail(`--balance ${options.balance[0]}: this build's config reader rejects it: ${rejected}`);
  }
  /** @type {import('./lib/report.js').Row[]} */
  const rows = [];
  /** @type {Record<string, string>} */
  const logs = {};
  const started = new Date();
  /** @type {Record<'fast' | 'app' | 'policy', import('./lib/backends.js').Backend | null>} */
  const backends = { fast: null, app: null, policy: null };
  try {
    const needs = new Set(options.scenarios.map((s) => s.backend));
    if (needs.has('fast')) backends.fast = await startFastBackend(tools.nginx, path.join(dir, 'fast'));
    if (needs.has('app')) backends.app = await startAppBackend();
    if (needs.has('policy')) backends.policy = await startPolicyBackend();
    for (const b of Object.values(backends)) if (b) say(`backend ${b.role}: ${b.kind} on ports ${b.ports.join(', ')}`);

    const certificate = options.scenarios.some((s) => s.tls) ? makeCertificate(dir) : null;
    for (const scenario of options.scenarios) {
      const backend = /** @type {import('./lib/backends.js').Backend} */ (backends[scenario.backend]);
      say(`\n== ${scenario.name}: ${scenario.title} (backend ${backend.kind})`);
      const tls = scenario.tls ? certificate : null;
      await runScenario(scenario, { backend, targets, tools, options, dir, rows, logs, tls });
    }
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }

  const report = {
    date: started.toISOString(),
    revision,
    machine: { ...machine, loadAverageAtEnd: os.loadavg() },
    tools: tools.versions,
    options: { ...options, scenarios: options.scenarios.map((s) => s.name), connections: CONNECTIONS },
    targets,
    skipped,
    backends: { fast: backends.fast?.kind ?? null, app: backends.app?.kind ?? null, policy: backends.policy?.kind ?? null },
    rows,
    logs,
  };
  process.stdout.write(renderReport(report));
  const file = writeResults(path.join(here, 'results'), report);
  say(`\nraw results: ${path.relative(process.cwd(), file)}`);
}

/**
 * @typedef {object} Variant   one process the load runs against: a target, and the policy its config sets
 * @property {string} label    the row's target: the target's name, or in the policies scenario
 *   the name and the policy ("balancer least_conn", "haproxy leastconn")
 * @property {string} target   one of TARGET_NAMES
 * @property {string | null} balance  the policy in the target's own config words; null: its default
 */

/**
 * What runs in `scenario`: each target once; in the policies scenario the balancer once per
 * policy of --balance (default: every one of BALANCER_POLICIES) and HAProxy and nginx once per
 * policy of PEER_POLICIES, the other targets not at all. Outside it, --balance goes to the
 * balancer alone: the baseline, another build, may not know the setting, and with `--baseline .`
 * it is the same build in its default policy to compare with.
 * @param {import('./lib/scenarios.js').Scenario} scenario
 * @param {string[]} targets
 * @param {{ balance: string[] }} options
 * @returns {Variant[]}
 */
function variantsOf(scenario, targets, options) {
  if (scenario.name !== POLICIES) {
    // Only the proxies terminate TLS.
    return targets.filter((t) => !scenario.tls || (t !== 'direct' && t !== 'node-http-proxy')).map((t) => ({ label: t, target: t, balance: t === 'balancer' ? (options.balance[0] ?? null) : null }));
  }
  return targets.flatMap((t) => {
    if (t === 'balancer') {
      const policies = options.balance.length > 0 ? options.balance : BALANCER_POLICIES;
      return policies.map((p) => ({ label: `balancer ${p}`, target: t, balance: p }));
    }
    return (PEER_POLICIES[t] ?? []).map(({ label, balance }) => ({ label, target: t, balance }));
  });
}

/**
 * Starts a variant. The balancer's round robin is its default policy, so when this build's
 * config reader rejects `balance: round_robin` (it did before the policies landed) it runs
 * without the line, and says so in the row's note; any other policy it rejects is unsupported
 * (ConfigRejected).
 * @param {Variant} variant
 * @param {Parameters<typeof startTarget>[1]} env
 * @returns {Promise<{ target: import('./lib/targets.js').Target, note: string | null }>}
 */
async function startVariant(variant, env) {
  try {
    return { target: await startTarget(variant.target, { ...env, balance: variant.balance }), note: null };
  } catch (err) {
    if (!(err instanceof ConfigRejected && variant.target === 'balancer' && variant.balance === BALANCER_POLICIES[0])) throw err;
    say(`  ${variant.label}: the config reader rejects \`balance: ${variant.balance}\` (${err.message}): running without it, its default`);
    const note = `no \`balance:\` in its config (this build rejects it; round robin is its default)`;
    return { target: await startTarget(variant.target, { ...env, balance: null }), note };
  }
}

/**
 * One scenario: starts every target (every variant) in front of the scenario's backend, warms
 * each up, runs the rounds (every target once per round, in order), and stops the targets.
 * @param {import('./lib/scenarios.js').Scenario} scenario
 * @param {{ backend: import('./lib/backends.js').Backend, targets: string[], tools: import('./lib/system.js').Tools,
 *   options: ReturnType<typeof parseOptions>, dir: string, rows: import('./lib/report.js').Row[], logs: Record<string, string>,
 *   tls?: import('./lib/configs.js').Certificate | null }} ctx
 */
async function runScenario(scenario, { backend, targets, tools, options, dir, rows, logs, tls = null }) {
  const wrkScript = path.join(dir, `${scenario.name}.lua`);
  if (scenario.bodyBytes > 0) writeFileSync(wrkScript, wrkPostScript(scenario.bodyBytes));

  // Each target in its own process, fresh for every scenario.
  /** @type {Map<string, import('./lib/targets.js').Target>} */
  const running = new Map();
  /** Every variant, in order, with its note, or why it is not running. */
  /** @type {Map<string, { variant: Variant, note: string | null, failure: string | null }>} */
  const variants = new Map();
  for (const variant of variantsOf(scenario, targets, options)) {
    const name = variant.label;
    const targetDir = mkdtempSync(path.join(dir, `${scenario.name}-${name.replace(/[^\w.-]+/g, '_')}-`));
    chmodSync(targetDir, 0o755);
    const env = { backendPorts: backend.ports, backendPid: backend.pid, dir: targetDir, tools, baseline: options.baseline ?? undefined, tls };
    try {
      const { target, note } = await startVariant(variant, env);
      running.set(name, target);
      variants.set(name, { variant, note, failure: null });
    } catch (err) {
      const why = /** @type {Error} */ (err).message;
      const rejected = err instanceof ConfigRejected;
      say(`  ${name}: ${rejected ? 'not run, its config rejected' : 'could not start'}: ${why}`);
      // A policy this build's config reader does not know is a row saying so, not a crash; the
      // reader's list of what it expects instead stays in the line above.
      const failure = rejected ? `unsupported by this build: ${why.split(';')[0]}` : why;
      variants.set(name, { variant, note: null, failure });
    }
  }

  for (const driver of options.drivers) {
    /** @param {number} port @param {number} duration */
    const drive = (port, duration) => {
      /** @type {import('./lib/drivers.js').Load} */
      const load = {
        port,
        path: scenario.path,
        connections: CONNECTIONS,
        duration,
        method: scenario.method,
        bodyBytes: scenario.bodyBytes,
        closeEach: scenario.closeEach,
        wrkScript: scenario.bodyBytes > 0 ? wrkScript : null,
        tls: tls !== null,
      };
      return driver === 'wrk' ? runWrk(/** @type {string} */ (tools.wrk), load) : runAutocannon(load);
    };

    /** @type {Map<string, import('./lib/report.js').Row>} */
    const byTarget = new Map();
    // Rows in the variants' order, those that did not start included.
    for (const [name, { variant, note, failure }] of variants) {
      const row = { ...emptyRow(scenario, driver, variant, note), failure };
      if (!failure) byTarget.set(name, row);
      rows.push(row);
    }

    for (const [name, target] of running) {
      if (options.warmup === 0) break;
      await drive(target.port, options.warmup).catch((err) => say(`  ${name}: warmup failed: ${err.message}`));
      await sleep(SETTLE_MS);
    }

    for (let round = 1; round <= options.rounds; round++) {
      for (const [name, target] of running) {
        const row = /** @type {import('./lib/report.js').Row} */ (byTarget.get(name));
        if (row.failure) continue;
        const label = `  ${driver} round ${round}/${options.rounds} ${name.padEnd(16)}`;
        try {
          const result = await measureUndisturbed(scenario, target, backend, options.duration, () => drive(target.port, options.duration));
          record(row, result);
          say(`${label}${describe(result.m)}`);
        } catch (err) {
          row.failure = /** @type {Error} */ (err).message;
          say(`${label}FAILED: ${row.failure}`);
        }
        if (target.exited()) {
          row.failure = `${name} ${target.exitReason()} during the run`;
          logs[`${scenario.name}/${name}`] = target.output();
          say(`  ${name} ${target.exitReason().toUpperCase()} during the run. Its last output:\n${target.output() || '(none)'}`);
        }
        await sleep(SETTLE_MS);
      }
    }
    for (const row of byTarget.values()) summarize(row);
  }

  for (const [name, target] of running) {
    const output = target.output();
    if (output) {
      logs[`${scenario.name}/${name}`] = output;
      say(`  ${name} wrote to stdout/stderr:\n    ${output.split('\n').slice(-10).join('\n    ')}`);
    }
    await target.stop();
  }
}

/** One progress line's figures. */
function describe(/** @type {import('./lib/drivers.js').Measurement} */ m) {
  const cpu = m.cpu;
  return (
    `${Math.round(m.rps).toString().padStart(7)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms  errors ${m.errors}` +
    (m.errors > 0 ? ` ${JSON.stringify(m.errorDetail)}` : '') +
    `  CPU % target ${cpu?.target ?? '-'} backend ${cpu?.backend ?? '-'} driver ${cpu?.driver ?? '-'} others ${cpu?.others ?? '-'}` +
    (m.backendRequests ? `  fast server ${fastPercent(m.backendRequests)}` : '') +
    (m.attempts && m.attempts > 1 ? `  (attempt ${m.attempts})` : '') +
    (m.disturbed ? '  DISTURBED' : '')
  );
}

/** "93.1% (41,000 of 44,030)": the fast backend's share of the requests both counted. */
function fastPercent(/** @type {import('./lib/backends.js').RequestCounts} */ counts) {
  const total = counts.fast + counts.slow;
  const share = total > 0 ? `${((counts.fast * 100) / total).toFixed(1)}%` : '-';
  return `${share} (${counts.fast.toLocaleString('en-US')} of ${total.toLocaleString('en-US')})`;
}

/**
 * @typedef {object} Result
 * @property {import('./lib/drivers.js').Measurement} m
 * @property {number | null} rssBefore   idle scenario: the target's RSS before the idle connections
 * @property {number | null} rssDuring   idle scenario: after the load, idle connections still open
 * @property {{ opened: number, failed: number, stillOpen: number } | null} idle
 */

/**
 * Measures once, after waiting for other processes to be quiet; repeats a measurement they
 * disturbed anyway, RETRIES times at most and while the run's budget for that lasts, and
 * keeps the last, marked if it was disturbed.
 * @param {import('./lib/scenarios.js').Scenario} scenario
 * @param {import('./lib/targets.js').Target} target
 * @param {import('./lib/backends.js').Backend} backend
 * @param {number} seconds  how long one measurement takes
 * @param {() => Promise<import('./lib/drivers.js').Measurement>} drive
 * @returns {Promise<Result>}
 */
async function measureUndisturbed(scenario, target, backend, seconds, drive) {
  for (let attempt = 1; ; attempt++) {
    await waitForQuiet(backend.pid);
    const result = await measureOnce(scenario, target, backend, drive);
    result.m.attempts = attempt;
    result.m.disturbed = isDisturbed(result.m.cpu);
    if (!result.m.disturbed || attempt > RETRIES || !mayRepeat(seconds * 1000 + SETTLE_MS)) return result;
    say(`  (${target.name}: other processes used ${result.m.cpu?.others}% of a core meanwhile: measuring again)`);
    await sleep(SETTLE_MS);
  }
}

/**
 * One measurement of one target: the scenario's idle connections held open around it, the CPU
 * each part used during it, for the idle scenario the target's memory before the idle
 * connections were opened and after the load, and for a backend that counts its requests
 * (the policies scenario's) how many each backend got.
 * @param {import('./lib/scenarios.js').Scenario} scenario
 * @param {import('./lib/targets.js').Target} target
 * @param {import('./lib/backends.js').Backend} backend
 * @param {() => Promise<import('./lib/drivers.js').Measurement>} drive
 * @returns {Promise<Result>}
 */
async function measureOnce(scenario, target, backend, drive) {
  const backendPid = backend.pid;
  const rssBefore = scenario.idle > 0 ? groupRssKiB(target.pid) : null;
  const idle = scenario.idle > 0 ? await openIdleConnections(target.port, scenario.idle, scenario.path) : null;
  try {
    if (idle && idle.failed > 0) say(`  ${target.name}: ${idle.failed} of ${scenario.idle} idle connections could not be opened`);
    // `direct` is the backend itself: its CPU is the target's.
    const direct = target.name === 'direct';
    // Counted outside the CPU meter's interval: asking costs the backend a request each time.
    const countsBefore = backend.requestCounts ? await backend.requestCounts() : null;
    const meter = startCpuMeter(direct ? null : target.pid, backendPid);
    const m = await drive();
    m.cpu = meter.read();
    if (direct) m.cpu.target = m.cpu.backend;
    // A request counts when it reaches its backend, so the ones the slow backend still holds
    // when the driver stops are in (and not in the driver's count): up to 64 of thousands.
    if (backend.requestCounts && countsBefore) {
      const after = await backend.requestCounts();
      m.backendRequests = { fast: after.fast - countsBefore.fast, slow: after.slow - countsBefore.slow };
    }
    return {
      m,
      rssBefore,
      rssDuring: idle ? groupRssKiB(target.pid) : null,
      idle: idle ? { opened: idle.opened, failed: idle.failed, stillOpen: idle.stillOpen() } : null,
    };
  } finally {
    idle?.close();
  }
}

/**
 * Adds a result to its row.
 * @param {import('./lib/report.js').Row} row
 * @param {Result} result
 */
function record(row, { m, rssBefore, rssDuring, idle }) {
  row.rounds.push(m);
  if (idle) {
    (row.idle ??= []).push(idle);
    (row.rssRounds ??= []).push({ before: rssBefore, during: rssDuring });
    const known = (/** @type {(number | null)[]} */ xs) => /** @type {number[]} */ (xs.filter((x) => x !== null));
    const before = known(row.rssRounds.map((r) => r.before));
    const during = known(row.rssRounds.map((r) => r.during));
    row.rssKiB = { before: before.length ? median(before) : null, during: during.length ? median(during) : null };
  }
}

/**
 * @param {import('./lib/scenarios.js').Scenario} scenario
 * @param {string} driver
 * @param {Variant} variant
 * @param {string | null} note  how the variant's config differs from what was asked
 * @returns {import('./lib/report.js').Row}
 */
function emptyRow(scenario, driver, variant, note) {
  return {
    scenario: scenario.name,
    title: scenario.title,
    driver,
    target: variant.label,
    balance: variant.balance,
    note,
    rounds: [],
    rps: NaN,
    p50: NaN,
    p99: NaN,
    errors: 0,
    cpu: NaN,
    perCore: NaN,
    othersCpu: NaN,
    roundsUsed: 0,
    rssKiB: null,
    rssRounds: null,
    idle: null,
    failure: null,
  };
}

await main();
