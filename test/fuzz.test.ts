// The fuzzer: random and mutated request heads, response heads and chunked bodies (helpers/fuzz.ts),
// each fed whole, split at 2 or 3 random places, and byte by byte when short. The parsers must
// never throw, never loop, make a bounded number of calls, and read every split the same; a head
// or body made valid by the grammar must read as what it is. Request heads are also read by
// Node's own parser (llhttp, strict), in process: where both read a message, they must read the
// same method, target, fields and body; where llhttp rejects (or still waits) and we read the
// message, one of the known differences (LLHTTP_DIFFERENCES in helpers/fuzz.ts) must explain it.
// The inputs run in a worker thread (helpers/fuzz-run.ts); this test reports what they did.
//
//   npm test                                   a short pass: 20000 inputs, the fixed seed 20261121
//   npm run fuzz                               a long one: 1000000 inputs, a new seed (FUZZ_INPUTS, FUZZ_SEED)
//   FUZZ_SEED=123 FUZZ_ONLY=4567 npm run fuzz  replays one input of a run (both are printed)
//   FUZZ_VERBOSE=1                             also prints examples of each comparison with llhttp
//   FUZZ_STALL_MS=10000                        how long one input may run before it counts as a loop

import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { LLHTTP_DIFFERENCES, Watchdog } from './helpers/fuzz.js';
import { fuzzInputs, type FuzzResult } from './helpers/fuzz-run.js';

// `npm test` runs a fixed seed, so that CI is reproducible; `npm run fuzz` a new one each time.
const seedText = process.env.FUZZ_SEED ?? '20261121';
const seed = seedText === 'random' ? randomInt(2 ** 32) : Number(seedText) >>> 0;
const inputs = Number(process.env.FUZZ_INPUTS ?? 20_000);
const only = process.env.FUZZ_ONLY !== undefined ? Number(process.env.FUZZ_ONLY) : null;
/** A call that has not returned after this long is taken for an endless loop. */
const stallMs = Number(process.env.FUZZ_STALL_MS ?? 10_000);

/**
 * The inputs run in a worker thread of the build's JavaScript (helpers/fuzz-run.ts says why);
 * in this thread when there is no build (a process started without src-from-build.mjs).
 */
function runInputs(seed: number, from: number, to: number, watched: Watchdog['shared']): Promise<FuzzResult> {
  const build = process.env['LB_TEST_BUILD'];
  if (build === undefined || build === '') return Promise.resolve(fuzzInputs(seed, from, to, watched));
  const { NODE_OPTIONS: _hooks, ...env } = process.env;
  const worker = new Worker(join(build, 'test', 'helpers', 'fuzz-run.js'), { execArgv: [], env, workerData: { fuzz: true, seed, from, to, watched } });
  return new Promise((resolve, reject) => {
    worker.once('message', (result: FuzzResult) => {
      for (const f of result.failures) f.input = Buffer.from(f.input);
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the fuzzer's worker exited (${code}) before its result`)));
  });
}

function show(input: Buffer): string {
  const text = input.toString('latin1');
  return JSON.stringify(text.length > 2000 ? text.slice(0, 2000) + '...' : text);
}

t.test('the parsers never throw, never loop, and read every split alike', async (t) => {
  t.comment(`seed ${seed}, ${only === null ? `${inputs} inputs` : `input ${only} only`}`);
  const watchdog = new Watchdog(seed, stallMs);
  t.teardown(() => watchdog.stop());
  const from = only ?? 0;
  const to = only === null ? inputs : only + 1;
  const { tallies, llhttp, failures, failed, seconds } = await runInputs(seed, from, to, watchdog.shared);
  const run = to - from;

  t.comment(`seed ${seed}: ${run} inputs in ${seconds.toFixed(2)} s, ${Math.round(run / seconds)} inputs/s`);
  for (const [name, tally] of Object.entries(tallies)) {
    const outcomes = [...tally.outcomes].sort((a, b) => b[1] - a[1]).slice(0, 12);
    t.comment(`  ${name}: ${tally.inputs} inputs, ${tally.calls} parser calls; ${outcomes.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  t.comment(`  against llhttp: ${[...llhttp].sort((a, b) => b[1].count - a[1].count).map(([k, v]) => `${k}: ${v.count}`).join('; ')}`);
  for (const d of LLHTTP_DIFFERENCES) {
    if ([...llhttp.keys()].some((k) => k.startsWith('known:') && k.includes(d.name))) {
      t.comment(`  known difference "${d.name}": ${d.reason}`);
    }
  }
  if (process.env.FUZZ_VERBOSE) {
    for (const [k, v] of llhttp) for (const e of v.examples) t.comment(`  e.g. ${k}, ${e}`);
  }

  for (const f of failures) {
    t.fail(`input ${f.index} (${f.kind}): ${f.problem}\n  replay: FUZZ_SEED=${seed} FUZZ_ONLY=${f.index} npm run fuzz\n  input: ${show(f.input)}`);
  }
  t.equal(failed, 0, `no input of ${run} failed (seed ${seed})`);
});
