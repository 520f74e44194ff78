// The fuzzer's loop (test/fuzz.test.ts): inputs `from` to `to` of a seed, each made and checked
// as helpers/fuzz.ts says, with what they did tallied. The test runs it in a worker thread of
// plain JavaScript, the build's (compiled.mjs), so that the 20,000 inputs of `npm test` run at
// full speed: the test process measures coverage, and V8's counters in every block of a loop
// this hot made it take twice the CPU. What the fuzzer finds is its failures, not coverage: the
// parsers' own tests cover them.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  Progress,
  Rng,
  checkBody,
  checkHead,
  compareWithLlhttp,
  explainLlhttpRejection,
  inputSeed,
  makeBodyInput,
  makeHeadInput,
  makeRequestParser,
  makeResponseInput,
  makeResponseParser,
  needsExplaining,
  newTally,
  type Tally,
  type Watchdog,
} from './fuzz.js';

/** Stop collecting after this many failing inputs (the count goes on). */
const MAX_REPORTED = 10;

export interface Failure {
  index: number;
  kind: string;
  input: Buffer;
  problem: string;
}

export interface FuzzResult {
  tallies: Record<'request' | 'response' | 'body', Tally & { inputs: number }>;
  /** How llhttp read the request heads we read, by category, with a few examples each. */
  llhttp: Map<string, { count: number; examples: string[] }>;
  /** The first MAX_REPORTED failing inputs, and how many failed in all. */
  failures: Failure[];
  failed: number;
  seconds: number;
}

/** Runs inputs `from` (included) to `to` (excluded) of `seed`, telling the watchdog of each. */
export function fuzzInputs(seed: number, from: number, to: number, watched: Watchdog['shared']): FuzzResult {
  const progress = new Progress(watched);
  const tallies: Record<'request' | 'response' | 'body', Tally & { inputs: number }> = {
    request: { ...newTally(), inputs: 0 },
    response: { ...newTally(), inputs: 0 },
    body: { ...newTally(), inputs: 0 },
  };
  const llhttp = new Map<string, { count: number; examples: string[] }>();
  const failures: Failure[] = [];
  let failed = 0;

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
      progress.begin(index, input);
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
      progress.begin(index, input);
      tallies.response.inputs++;
      problem = checkHead(rng, input, makeResponseParser, null, tallies.response);
    } else {
      const body = makeBodyInput(rng);
      kind = body.kind;
      input = body.bytes;
      progress.begin(index, input);
      tallies.body.inputs++;
      problem = checkBody(rng, input, body.end, tallies.body);
    }
    if (problem !== null) {
      failed++;
      if (failures.length < MAX_REPORTED) failures.push({ index, kind, input, problem });
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { tallies, llhttp, failures, failed, seconds };
}

/** In the worker: workerData names the run, the result goes back as the one message. */
if (!isMainThread && (workerData as { fuzz?: unknown } | null)?.fuzz === true) {
  const { seed, from, to, watched } = workerData as { seed: number; from: number; to: number; watched: Watchdog['shared'] };
  parentPort!.postMessage(fuzzInputs(seed, from, to, watched));
}
