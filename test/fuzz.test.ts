// The fuzzer: random and mutated request heads, response heads and chunked bodies (helpers/fuzz.ts),
// each fed whole, split at 2 or 3 random places, and byte by byte when short. The parsers must
// never throw, never loop, make a bounded number of calls, and read every split the same; a head
// or body made valid by the grammar must read as what it is. Request heads are also read by
// Node's own parser (llhttp, strict), in process: where both read a message, they must read the
// same method, target, fields and body; where llhttp rejects (or still waits) and we read the
// message, one of the known differences (LLHTTP_DIFFERENCES in helpers/fuzz.ts) must explain it.
//
//   npm test                                   a short pass: 20000 inputs, the fixed seed 20261121
//   npm run fuzz                               a long one: 1000000 inputs, a new seed (FUZZ_INPUTS, FUZZ_SEED)
//   FUZZ_SEED=123 FUZZ_ONLY=4567 npm run fuzz  replays one input of a run (both are printed)
//   FUZZ_VERBOSE=1                             also prints examples of each comparison with llhttp
//   FUZZ_STALL_MS=10000                        how long one input may run before it counts as a loop

import { randomInt } from 'node:crypto';
import t from 'tap';
import {
  Rng,
  Watchdog,
  checkBody,
  checkHead,
  compareWithLlhttp,
  explainLlhttpRejection,
  needsExplaining,
  LLHTTP_DIFFERENCES,
  inputSeed,
  makeBodyInput,
  makeHeadInput,
  makeRequestParser,
  makeResponseInput,
  makeResponseParser,
  newTally,
  type Tally,
} from './helpers/fuzz.js';

// `npm test` runs a fixed seed, so that CI is reproducible; `npm run fuzz` a new one each time.
const seedText = process.env.FUZZ_SEED ?? '20261121';
const seed = seedText === 'random' ? randomInt(2 ** 32) : Number(seedText) >>> 0;
const inputs = Number(process.env.FUZZ_INPUTS ?? 20_000);
const only = process.env.FUZZ_ONLY !== undefined ? Number(process.env.FUZZ_ONLY) : null;
/** A call that has not returned after this long is taken for an endless loop. */
const stallMs = Number(process.env.FUZZ_STALL_MS ?? 10_000);
/** Stop collecting after this many failing inputs (the count goes on). */
const MAX_REPORTED = 10;

interface Failure {
  index: number;
  kind: string;
  input: Buffer;
  problem: string;
}

function show(input: Buffer): string {
  const text = input.toString('latin1');
  return JSON.stringify(text.length > 2000 ? text.slice(0, 2000) + '...' : text);
}

t.test('the parsers never throw, never loop, and read every split alike', async (t) => {
  t.comment(`seed ${seed}, ${only === null ? `${inputs} inputs` : `input ${only} only`}`);
  const watchdog = new Watchdog(seed, stallMs);
  t.teardown(() => watchdog.stop());
  const tallies: Record<'request' | 'response' | 'body', Tally & { inputs: number }> = {
    request: { ...newTally(), inputs: 0 },
    response: { ...newTally(), inputs: 0 },
    body: { ...newTally(), inputs: 0 },
  };
  const llhttp = new Map<string, { count: number; examples: string[] }>();
  const failures: Failure[] = [];
  let failed = 0;

  const from = only ?? 0;
  const to = only === null ? inputs : only + 1;
  const started = process.hrtime.bigint();
  for (let index = from; index < to; index++) {
    const rng = new Rng(inputSeed(seed, index));
    const r = rng.int(100);
    let kind: string;
    let input: Buffer;
    let problem: string | null;
    if (r < 60) {
      const head = makeHeadInput(rng);
      kind = `request ${head.kind}`;
      input = head.bytes;
      watchdog.begin(index, input);
      tallies.request.inputs++;
      problem = checkHead(rng, input, makeRequestParser, head.valid, tallies.request);
      if (problem === null) {
        let { category, detail } = compareWithLlhttp(input);
        if (needsExplaining(category)) {
          // We read what llhttp rejects or has not seen end: only a known difference may explain it.
          const known = explainLlhttpRejection(input);
          if (known === null) problem = `we read what llhttp does not, and no known difference explains it: ${category}\n  ${detail}`;
          else category = `known: ${known.join(' + ')}`;
        } else if (category.startsWith('DIFFER')) {
          problem = `llhttp and we read it differently: ${category}\n  ${detail}`;
        }
        let seen = llhttp.get(category);
        if (seen === undefined) llhttp.set(category, (seen = { count: 0, examples: [] }));
        seen.count++;
        if (seen.examples.length < 4 && detail !== '') seen.examples.push(`input ${index}: ${JSON.stringify(input.toString('latin1').slice(0, 300))}\n  ${detail}`);
      }
    } else if (r < 70) {
      const res = makeResponseInput(rng);
      kind = res.kind;
      input = res.bytes;
      watchdog.begin(index, input);
      tallies.response.inputs++;
      problem = checkHead(rng, input, makeResponseParser, null, tallies.response);
    } else {
      const body = makeBodyInput(rng);
      kind = body.kind;
      input = body.bytes;
      watchdog.begin(index, input);
      tallies.body.inputs++;
      problem = checkBody(rng, input, body.end, tallies.body);
    }
    if (problem !== null) {
      failed++;
      if (failures.length < MAX_REPORTED) failures.push({ index, kind, input, problem });
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
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
