#!/usr/bin/env node
// Where a `node --cpu-prof` profile's time went: reads one or more .cpuprofile files (V8's
// sampling profiler, as Chrome DevTools reads them) and prints, by self time, the top
// functions (name and file:line) and the files (or Node's own modules, node:net,
// node:_tls_wrap...). Given several files, it sums their samples. Self time is the share of
// samples whose top frame is that function; time in C++ called from JavaScript (a binding and
// the syscall it makes: writeBuffer, writev, close) counts to that JavaScript function.
// "(idle)" is more than the event loop waiting: Node marks the isolate idle from libuv's
// prepare phase to its check phase, so C++ that a poll callback runs before or without
// entering JavaScript (accepting, reading, and OpenSSL's handshake and decryption inside
// TLSWrap's read) is sampled as (idle) too, not as (program). Use perf or callgrind for that
// part; the shares here are given with and without (idle). Reads files only; starts nothing.
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/lb.js lb.yaml    # then load it, then stop it
//   node bench/cpu-profile-top.js /tmp/prof/*.cpuprofile --top 25

import { readFileSync } from 'node:fs';
import path from 'node:path';
import mri from 'mri';

const USAGE = `Usage: node bench/cpu-profile-top.js FILE.cpuprofile... [options]

Self time of a node --cpu-prof profile, by function and by file (see the opening comment).

Options:
  -t, --top N     rows in each table (default 30)
  -r, --root DIR  shorten file:// URLs under DIR to paths relative to it (default: the current
                  directory)
  -h, --help      this help
`;

function fail(/** @type {string} */ message) {
  process.stderr.write(`cpu-profile-top: ${message}\n`);
  process.exit(2);
}

const args = mri(process.argv.slice(2), {
  string: ['top', 'root'],
  boolean: ['help'],
  alias: { t: 'top', r: 'root', h: 'help' },
  unknown: (flag) => fail(`unknown option ${flag}\n\n${USAGE}`),
});
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const files = args._.map(String);
if (files.length === 0) fail(`no profile given\n\n${USAGE}`);
const top = args.top === undefined ? 30 : Number(args.top);
if (!Number.isInteger(top) || top < 1) fail('--top must be a whole number >= 1');
const root = path.resolve(args.root === undefined ? '.' : String(args.root));

/**
 * @typedef {object} ProfileNode
 * @property {number} id
 * @property {{ functionName: string, url: string, lineNumber: number }} callFrame
 * @property {number} [hitCount]
 */

/** Where a frame's code is: a path under --root, a node: module, or the URL as it is. */
function where(/** @type {string} */ url) {
  if (url === '') return '';
  if (url.startsWith('file://')) {
    const file = new URL(url).pathname;
    const rel = path.relative(root, file);
    return rel.startsWith('..') ? file : rel;
  }
  return url;
}

/** Samples per function ("name file:line") and per file, summed over every profile. */
const byFunction = new Map();
const byFile = new Map();
let samples = 0;
let idle = 0;
let microseconds = 0;
for (const file of files) {
  /** @type {{ nodes: ProfileNode[], samples: number[], startTime: number, endTime: number }} */
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  /** @type {Map<number, ProfileNode>} */
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  microseconds += profile.endTime - profile.startTime;
  for (const id of profile.samples) {
    const node = nodes.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const file = where(url);
    // lineNumber is 0-based in the profile.
    const fn = file === '' ? name : `${name} ${file}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + 1);
    const group = file === '' ? name : file;
    byFile.set(group, (byFile.get(group) ?? 0) + 1);
    samples++;
    if (name === '(idle)') idle++;
  }
}
if (samples === 0) fail('no samples in the profile(s)');

/** A markdown table of the `top` largest entries of `counts`. */
function table(/** @type {string} */ title, /** @type {Map<string, number>} */ counts) {
  const busy = samples - idle;
  const rows = [...counts].sort((a, b) => b[1] - a[1]).slice(0, top);
  const pct = (/** @type {number} */ n, /** @type {number} */ of) => (of > 0 ? `${((n / of) * 100).toFixed(1)}%` : '-');
  const lines = [`| ${title} | samples | share | share of busy (not idle) |`, '|---|---:|---:|---:|'];
  for (const [name, n] of rows) lines.push(`| \`${name.replaceAll('|', '\\|')}\` | ${n} | ${pct(n, samples)} | ${name === '(idle)' ? '' : pct(n, busy)} |`);
  return lines.join('\n');
}

process.stdout.write(
  `${files.length} profile(s), ${(microseconds / 1e6).toFixed(1)} s, ${samples} samples, ${((idle / samples) * 100).toFixed(1)}% idle\n\n` +
    `${table('function (self time)', byFunction)}\n\n${table('file or module (self time)', byFile)}\n`,
);
