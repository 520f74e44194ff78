// From measurements to what is printed and kept: the median of the rounds per target, the
// ratio of the balancer to each peer (in the policies scenario: of each policy to the balancer's
// round robin), markdown tables, and the raw JSON under bench/results/.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SLOW_DELAY_MS } from './backends.js';
import { DISTURBED_CPU } from './quiet.js';
import { BALANCER_POLICIES, POLICIES } from './scenarios.js';

/**
 * @typedef {object} Row   one scenario x driver x target, over all rounds
 * @property {string} scenario
 * @property {string} title
 * @property {string} driver
 * @property {string} target   the target's name; in the policies scenario, with its policy: "balancer least_conn"
 * @property {string | null} [balance]  the policy its config set, in the target's own words; null: its default
 * @property {string | null} [note]     how its config differs from what was asked, when it does
 * @property {import('./drivers.js').Measurement[]} rounds
 * @property {number} rps      median over the rounds used
 * @property {number} p50      median over the rounds used, ms
 * @property {number} p99      median over the rounds used, ms
 * @property {number} errors   summed over all rounds
 * @property {number} roundsUsed  rounds the medians are of (the undisturbed ones, if any)
 * @property {number} cpu      the target's CPU during the load, % of one core, median
 * @property {number} othersCpu   CPU of processes outside the benchmark during the load, median
 * @property {number} perCore  median over rounds of req/s ÷ (target CPU / 100 %)
 * @property {{ before: number | null, during: number | null } | null} rssKiB  idle scenario only, median
 * @property {{ before: number | null, during: number | null }[] | null} rssRounds  idle scenario, per round
 * @property {{ opened: number, failed: number, stillOpen: number }[] | null} idle  per round
 * @property {string | null} failure   why it has no figures (crash, start failure), else null
 * @property {number} [fastShare]  policies scenario: the fast backend's share of the requests, 0..1, median
 */

/** The median of numbers (NaN ignored; NaN when none are left). */
export function median(/** @type {number[]} */ values) {
  const xs = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/**
 * Fills in a row's medians and error total from its rounds. Rounds that other processes
 * disturbed (lib/quiet.js) are left out of the medians when at least one round was not.
 * @param {Row} row
 */
export function summarize(row) {
  const quiet = row.rounds.filter((m) => !m.disturbed);
  const used = quiet.length > 0 ? quiet : row.rounds;
  row.roundsUsed = used.length;
  row.rps = median(used.map((m) => m.rps));
  row.p50 = median(used.map((m) => m.p50));
  row.p99 = median(used.map((m) => m.p99));
  row.errors = row.rounds.reduce((sum, m) => sum + m.errors, 0);
  row.cpu = median(used.map((m) => m.cpu?.target ?? NaN));
  row.othersCpu = median(used.map((m) => m.cpu?.others ?? NaN));
  row.perCore = median(used.map((m) => (m.cpu?.target ? (m.rps * 100) / m.cpu.target : NaN)));
  if (row.rounds.some((m) => m.backendRequests)) row.fastShare = median(used.map((m) => fastShare(m.backendRequests)));
  return row;
}

/** The fast backend's share of the requests the two backends counted; NaN when none. */
function fastShare(/** @type {import('./backends.js').RequestCounts | undefined} */ counts) {
  const total = counts ? counts.fast + counts.slow : 0;
  return counts && total > 0 ? counts.fast / total : NaN;
}

const int = (/** @type {number} */ x) => (Number.isNaN(x) ? '-' : Math.round(x).toLocaleString('en-US'));
const ms = (/** @type {number} */ x) => (Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const ratio = (/** @type {number} */ a, /** @type {number} */ b) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
const mib = (/** @type {number | null} */ kib) => (kib === null ? '-' : (kib / 1024).toFixed(1));
const percent = (/** @type {number | undefined} */ x) => (x === undefined || Number.isNaN(x) ? '-' : `${(x * 100).toFixed(1)}%`);
/** The others-CPU cell, saying when disturbed rounds were left out. */
const others = (/** @type {Row} */ row) =>
  `${int(Math.max(0, row.othersCpu))}${row.roundsUsed < row.rounds.length ? ` (${row.roundsUsed} of ${row.rounds.length} rounds)` : ''}`;

/**
 * The balancer's row for the same scenario and driver as `row`.
 * @param {Row[]} rows
 * @param {Row} row
 */
function balancerOf(rows, row) {
  return rows.find((r) => r.scenario === row.scenario && r.driver === row.driver && r.target === 'balancer');
}

/**
 * The main table: one line per scenario, driver and target, with the balancer's req/s divided
 * by that target's in the last column.
 * @param {Row[]} rows
 */
export function resultsTable(rows) {
  const lines = [
    '| scenario | driver | target | req/s | p50 ms | p99 ms | errors | target CPU % | req/s per core | others CPU % | balancer ÷ target |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const lb = balancerOf(rows, row);
    const last = row.failure ? `failed: ${row.failure.split('\n')[0]}` : row.target === 'balancer' ? '1.00x' : ratio(lb?.rps ?? NaN, row.rps);
    const target = row.balance ? `${row.target} (balance: ${row.balance})` : row.target;
    lines.push(
      `| ${row.title} | ${row.driver} | ${target} | ${int(row.rps)} | ${ms(row.p50)} | ${ms(row.p99)} | ${row.failure ? '-' : row.errors} | ${int(row.cpu)} | ${int(row.perCore)} | ${others(row)} | ${last} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The ratios alone: the balancer's figure ÷ each other target's, one line per scenario and
 * driver.
 * @param {Row[]} rows
 * @param {string[]} targets  the targets that ran, in order
 * @param {'rps' | 'perCore'} figure  req/s, or req/s per core of the target
 */
export function ratioTable(rows, targets, figure) {
  // Per core, `direct` would compare the balancer with the backend's own CPU: no use.
  const others = targets.filter((t) => t !== 'balancer' && (figure === 'rps' || t !== 'direct'));
  const lines = [
    `| scenario | driver | ${others.map((t) => `÷ ${t}`).join(' | ')} |`,
    `|---|---|${others.map(() => '---:').join('|')}|`,
  ];
  const seen = new Set();
  for (const row of rows) {
    const key = `${row.scenario}/${row.driver}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const lb = balancerOf(rows, row);
    const cells = others.map((t) => {
      const peer = rows.find((r) => r.scenario === row.scenario && r.driver === row.driver && r.target === t);
      return peer ? ratio(lb?.[figure] ?? NaN, peer[figure]) : '-';
    });
    lines.push(`| ${row.title} | ${row.driver} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * The policies scenario: one line per driver and target/policy, with the fast backend's share
 * of the requests, and req/s and p99 against the balancer's round robin (the first of
 * BALANCER_POLICIES) under the same driver.
 * @param {Row[]} rows  the policies scenario's rows
 */
export function policiesTable(rows) {
  const lines = [
    `| driver | target / policy | req/s | p50 ms | p99 ms | fast server's share | req/s ÷ balancer ${BALANCER_POLICIES[0]} | p99 ÷ balancer ${BALANCER_POLICIES[0]} | errors | target CPU % | others CPU % | note |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const reference = rows.find((r) => r.driver === row.driver && r.target === `balancer ${BALANCER_POLICIES[0]}` && !r.failure);
    const note = row.failure ? row.failure.split('\n')[0] : (row.note ?? '');
    if (row.failure) {
      lines.push(`| ${row.driver} | ${row.target} | - | - | - | - | - | - | - | - | - | ${note} |`);
      continue;
    }
    lines.push(
      `| ${row.driver} | ${row.target} | ${int(row.rps)} | ${ms(row.p50)} | ${ms(row.p99)} | ${percent(row.fastShare)} | ` +
        `${ratio(row.rps, reference?.rps ?? NaN)} | ${ratio(row.p99, reference?.p99 ?? NaN)} | ${row.errors} | ${int(row.cpu)} | ${others(row)} | ${note} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Memory in the idle scenario: each target's RSS before the idle connections were opened and
 * while they and the load were running (median over rounds), and how many stayed open.
 * @param {Row[]} rows
 */
export function memoryTable(rows) {
  const idleRows = rows.filter((r) => r.rssKiB !== null);
  if (idleRows.length === 0) return '';
  const lines = [
    '| driver | target | RSS before, MiB | RSS with 1,000 idle + 64 busy, MiB | idle connections opened / still open after the load (fewest of any round) |',
    '|---|---|---:|---:|---:|',
  ];
  for (const row of idleRows) {
    const idle = row.idle ?? [];
    const opened = idle.length ? Math.min(...idle.map((i) => i.opened)) : '';
    const still = idle.length ? Math.min(...idle.map((i) => i.stillOpen)) : '';
    const who = row.target === 'direct' ? 'direct (the backend)' : row.target;
    lines.push(`| ${row.driver} | ${who} | ${mib(row.rssKiB?.before ?? null)} | ${mib(row.rssKiB?.during ?? null)} | ${opened === '' ? '-' : opened} / ${still === '' ? '-' : still} |`);
  }
  return lines.join('\n');
}

/**
 * Writes everything measured as JSON to bench/results/<name>.json and returns the path.
 * @param {string} dir
 * @param {object} report
 */
export function writeResults(dir, report) {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z');
  const file = path.join(dir, `bench-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/**
 * Everything printed at the end of a run, from what writeResults keeps: a heading with the date
 * and the machine, the results, the ratios, and memory in the idle scenario; then the policies
 * scenario's table, when it ran.
 * @param {{ date: string, revision?: string | null, machine: ReturnType<typeof import('./system.js').describeMachine>, tools: Record<string, string>,
 *   options: { rounds: number, duration: number, connections: number }, targets: string[], backends: { fast: string | null, policy?: string | null },
 *   rows: Row[] }} report
 */
export function renderReport(report) {
  const { machine, tools, options } = report;
  const versions =
    `${report.date.slice(0, 10)}, balancer at ${report.revision ?? '?'}, ${machine.cores} cores (${machine.cpu}), Node ${machine.node}` +
    `${tools.haproxy ? `, ${tools.haproxy}` : ''}${tools.nginx ? `, ${tools.nginx}` : ''}`;
  const rounds = `${options.connections} connections; median of ${options.rounds} round(s) of ${options.duration} s`;
  const policyRows = report.rows.filter((r) => r.scenario === POLICIES);
  const rows = report.rows.filter((r) => r.scenario !== POLICIES);
  const out = [];
  if (rows.length > 0) out.push(...targetTables(report, rows, `${versions}; fast backend: ${report.backends.fast ?? '-'}; ${rounds}`));
  if (policyRows.length > 0) {
    out.push(
      `\n## Policies: ${versions}; backends: ${report.backends.policy ?? '-'}; ${rounds}\n`,
      policiesTable(policyRows),
      "\nfast server's share: of the requests the two backends counted during the measurement, the share the fast one got" +
        ` (the other answers every request ${SLOW_DELAY_MS} ms late).` +
        `\nreq/s and p99 ÷ balancer ${BALANCER_POLICIES[0]}: that row's figure ÷ the balancer's with \`balance: ${BALANCER_POLICIES[0]}\`` +
        ' (req/s above 1 and p99 below 1: better than it).',
    );
  }
  return `${out.join('\n')}\n`;
}

/**
 * The tables of every scenario but the policies one: results, ratios, memory in the idle
 * scenario.
 * @param {Parameters<typeof renderReport>[0]} report
 * @param {Row[]} rows
 * @param {string} heading
 */
function targetTables(report, rows, heading) {
  const out = [
    `\n## Results: ${heading}\n`,
    resultsTable(rows),
    "\ntarget CPU %: what the target's processes used during the load, in % of one core (direct: the backend's)." +
      '\nreq/s per core: req/s ÷ (target CPU % / 100), what the target does with the CPU it got.' +
      `\nothers CPU %: processes outside the benchmark; from ${DISTURBED_CPU} up a measurement counts as disturbed,` +
      " is repeated once while the run's budget for that lasts, and is left out of the medians if another round was not.",
    "\nbalancer req/s ÷ each target's req/s (above 1: the balancer is faster):\n",
    ratioTable(rows, report.targets, 'rps'),
    "\nbalancer req/s per core ÷ each target's (above 1: the balancer does more with one core):\n",
    ratioTable(rows, report.targets, 'perCore'),
  ];
  const memory = memoryTable(rows);
  if (memory) out.push('\nMemory in the idle scenario (VmRSS from /proc, summed over the process group):\n', memory);
  return out;
}
