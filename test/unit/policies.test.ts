// The balancing policies (src/balancer/policies/), without sockets or timers: a view of the
// candidates as plain arrays, a seeded generator for the random draws, a clock passed in.
// Distribution tables, exact orders, invariants over many seeded random cases, and for hash the
// spread and the keys that move when a server leaves and comes back.

import t from 'tap';
import { Backend } from '../../src/balancer/backend.js';
import { Fleet } from '../../src/balancer/fleet.js';
import { Pool } from '../../src/balancer/pool.js';
import { ConsistentHash, TABLE_SIZE } from '../../src/balancer/policies/hash.js';
import { LeastConn } from '../../src/balancer/policies/least-conn.js';
import { LeastLatency } from '../../src/balancer/policies/least-latency.js';
import { LeastRequest } from '../../src/balancer/policies/least-request.js';
import { PeakEwma } from '../../src/balancer/policies/peak-ewma.js';
import type { Candidates, Policy } from '../../src/balancer/policies/policy.js';
import { WeightedRandom } from '../../src/balancer/policies/random.js';
import { xoshiro128 } from '../../src/balancer/policies/random-source.js';
import { RoundRobin } from '../../src/balancer/policies/round-robin.js';
import { Cycle } from '../../src/balancer/policies/cycle.js';
import { stableHash } from '../../src/balancer/policies/stable-hash.js';
import { TwoChoices } from '../../src/balancer/policies/two-choices.js';
import { Logger } from '../../src/log.js';
import { CounterPool } from '../helpers/counter-pool.js';
import { mulberry32 } from '../helpers/prng.js';

/** Candidates as arrays a test sets directly. Position i is named NAMES[i] in the tables below. */
class View implements Candidates {
  readonly weights: number[];
  readonly inFlights: number[];
  readonly out: boolean[];
  readonly ewma: PeakEwma[];

  constructor(weights: number[]) {
    this.weights = [...weights];
    this.inFlights = weights.map(() => 0);
    this.out = weights.map(() => false);
    this.ewma = weights.map(() => new PeakEwma(10_000, 60_000));
  }
  get length(): number {
    return this.weights.length;
  }
  ready(i: number): boolean {
    return !this.out[i];
  }
  weight(i: number): number {
    return this.weights[i]!;
  }
  inFlight(i: number): number {
    return this.inFlights[i]!;
  }
  latency(i: number, now: number): number {
    return this.ewma[i]!.cost(now);
  }
}

const NAMES = 'abcdefghijklmnopqrstuvwxyz';

/** `count` picks in a row, as letters ('-' for none). */
function sequence(policy: Policy, view: Candidates, count: number, key: string | null = null): string {
  let out = '';
  for (let i = 0; i < count; i++) {
    const at = policy.pick(view, 0, key);
    out += at < 0 ? '-' : NAMES[at];
  }
  return out;
}

/** How many times each position was picked in `count` picks. */
function tally(policy: Policy, view: Candidates, count: number, now = 0): number[] {
  const counts = new Array<number>(view.length).fill(0);
  for (let i = 0; i < count; i++) {
    const at = policy.pick(view, now, null);
    if (at >= 0) counts[at]!++;
  }
  return counts;
}

/** Whether every window of `size` consecutive letters of `seq` holds letter i exactly want[i] times. */
function everyWindowHolds(seq: string, size: number, want: number[]): boolean {
  for (let start = 0; start + size <= seq.length; start++) {
    const counts = want.map(() => 0);
    for (const c of seq.slice(start, start + size)) counts[NAMES.indexOf(c)]!++;
    if (counts.some((c, i) => c !== want[i])) return false;
  }
  return true;
}

// --- round_robin ---

t.test('round_robin: 5:1:1 in nginx order, a a b a c a a', async (t) => {
  t.equal(sequence(new RoundRobin(), new View([5, 1, 1]), 14), 'aabacaa' + 'aabacaa');
});

t.test('round_robin: 5:1:1 over 7,000 picks is exactly 5,000 / 1,000 / 1,000', async (t) => {
  t.same(tally(new RoundRobin(), new View([5, 1, 1]), 7000), [5000, 1000, 1000]);
});

t.test('round_robin: equal weights are a plain cycle; weight 0 gets no request', async (t) => {
  t.equal(sequence(new RoundRobin(), new View([1, 1, 1]), 7), 'abcabca');
  t.equal(sequence(new RoundRobin(), new View([2, 2, 2]), 6), 'abcabc', 'any equal weight');
  t.equal(sequence(new RoundRobin(), new View([1, 0, 1]), 4), 'acac');
  t.equal(sequence(new RoundRobin(), new View([0, 0]), 2), '--', 'no weight anywhere');
  t.equal(sequence(new RoundRobin(), new View([]), 1), '-', 'no server');
});

t.test('round_robin: property: every sum(weights) consecutive picks hold each server exactly its weight', async (t) => {
  const random = mulberry32(1);
  for (let run = 0; run < 300; run++) {
    const n = 1 + Math.floor(random() * 8);
    const weights = Array.from({ length: n }, () => 1 + Math.floor(random() * 12));
    const total = weights.reduce((a, b) => a + b, 0);
    const seq = sequence(new RoundRobin(), new View(weights), total * 3);
    if (!everyWindowHolds(seq, total, weights)) t.fail(`weights ${weights.join(':')}: ${seq}`);
  }
  t.pass('300 random weight vectors, every window of sum(weights) picks');
});

t.test('round_robin: a server that is out has its turns given to the others by weight', async (t) => {
  const view = new View([5, 1, 1]);
  view.out[0] = true;
  t.equal(sequence(new RoundRobin(), view, 6), 'bcbcbc', 'a out: b and c alternate');
  const view2 = new View([5, 1, 1]);
  view2.out[1] = true;
  const seq = sequence(new RoundRobin(), view2, 60);
  t.ok(everyWindowHolds(seq, 6, [5, 0, 1]), `b out: every 6 picks hold 5 a and 1 c: ${seq.slice(0, 12)}`);
});

t.test('round_robin: a long run of turns on a server that is out falls back to the ready ones', async (t) => {
  // 20:1:1 with a out: a's turns come 20 at a time, more than the 3 turns a pick walks.
  const view = new View([20, 1, 1]);
  view.out[0] = true;
  const counts = tally(new RoundRobin(), view, 1000);
  t.same(counts, [0, 500, 500], 'b and c share evenly, a gets none');
});

t.test('round_robin: with every server out nothing is taken, and the order resumes where it was', async (t) => {
  const view = new View([1, 1, 1]);
  const rr = new RoundRobin();
  t.equal(sequence(rr, view, 1), 'a');
  view.out.fill(true);
  t.equal(sequence(rr, view, 3), '---');
  view.out.fill(false);
  t.equal(sequence(rr, view, 3), 'bca', 'b next, as if nothing happened');
});

/** Servers as Candidates with weight 1: up and not tried is ready. */
class PlainView implements Candidates {
  tried: readonly Backend[] | null = null;
  constructor(readonly servers: readonly Backend[]) {}
  get length(): number {
    return this.servers.length;
  }
  ready(i: number): boolean {
    const s = this.servers[i]!;
    return s.up && (this.tried === null || !this.tried.includes(s));
  }
  weight(): number {
    return 1;
  }
  inFlight(): number {
    return 0;
  }
  latency(): number {
    return 0;
  }
}

t.test('round_robin with weights 1 (smooth, and the counter the pool uses for equal weights) picks exactly as the round robin before weights did (differential, seeded)', async (t) => {
  const fleet = new Fleet(new Logger('silent'));
  const random = mulberry32(12);
  let picks = 0;
  for (let run = 0; run < 200; run++) {
    const n = 1 + Math.floor(random() * 6);
    const servers = Array.from({ length: n }, (_, i) => new Backend('127.0.0.1', 8081 + i, NAMES[i]!));
    const counter = new CounterPool(servers);
    const pool = new Pool('default', servers);
    const smooth = new RoundRobin();
    const view = new PlainView(servers);
    for (let step = 0; step < 60; step++) {
      // Now and then a server goes down or comes back, and a request is a retry with some tried.
      if (random() < 0.2) {
        const s = servers[Math.floor(random() * n)]!;
        fleet.setHealth(s, !s.up, 'test', 'check');
      }
      const tried = random() < 0.3 ? servers.filter(() => random() < 0.4) : null;
      const expected = counter.pick(tried);
      const got = pool.pick(tried, null, 0);
      view.tried = tried;
      const weighted = smooth.pick(view);
      picks++;
      const name = (i: number) => (i < 0 ? 'null' : servers[i]!.label);
      if ((got < 0 ? null : servers[got]!) !== expected || weighted !== got) {
        t.fail(`run ${run} step ${step}: before ${expected?.label ?? 'null'}, Pool ${name(got)}, smooth ${name(weighted)}`);
        return;
      }
    }
  }
  t.pass(`${picks} picks identical in all three, with servers going down and up and retries`);
  const servers = ['a', 'b', 'c'].map((name, i) => new Backend('127.0.0.1', 9081 + i, name));
  const pool = new Pool('default', servers);
  t.type(pool.policy, Cycle, 'equal weights: the pool counts');
  t.equal(sequence(pool.policy, pool, 6), 'abcabc');
  fleet.setHealth(servers[1]!, false, 'test', 'check');
  t.equal(sequence(pool.policy, pool, 4), 'acac', 'b down: a, c, a, c');
});

// --- least_conn ---

t.test('least_conn: the fewest in flight per unit of weight', async (t) => {
  const view = new View([1, 1, 1]);
  view.inFlights.splice(0, 3, 3, 1, 2);
  t.equal(sequence(new LeastConn(), view, 1), 'b');
  const weighted = new View([4, 1, 1]);
  weighted.inFlights.splice(0, 3, 3, 1, 1);
  t.equal(sequence(new LeastConn(), weighted, 1), 'a', '3/4 beats 1/1');
  weighted.out[0] = true;
  t.equal(sequence(new LeastConn(), weighted, 2), 'bc', 'a is out: b and c tie, round robin');
  weighted.out.fill(true);
  t.equal(sequence(new LeastConn(), weighted, 1), '-');
});

t.test('least_conn: ties go round robin, by weight', async (t) => {
  t.equal(sequence(new LeastConn(), new View([1, 1, 1]), 6), 'abcabc', 'idle, equal weights');
  t.equal(sequence(new LeastConn(), new View([5, 1, 1]), 7), 'aabacaa', 'idle, 5:1:1 as round_robin');
  const view = new View([1, 1, 1]);
  view.inFlights.splice(0, 3, 2, 1, 1);
  t.equal(sequence(new LeastConn(), view, 4), 'bcbc', 'a more loaded: b and c take turns');
});

t.test('least_conn: property: the pick has the lowest in flight per weight of the ready servers', async (t) => {
  const random = mulberry32(2);
  const lc = new LeastConn();
  for (let run = 0; run < 2000; run++) {
    const view = new View(Array.from({ length: 6 }, () => Math.floor(random() * 5)));
    for (let i = 0; i < 6; i++) {
      view.inFlights[i] = Math.floor(random() * 8);
      view.out[i] = random() < 0.2;
    }
    const at = lc.pick(view);
    const usable = [...view.weights.keys()].filter((i) => view.weights[i]! > 0 && !view.out[i]);
    if (usable.length === 0) {
      if (at !== -1) t.fail(`run ${run}: picked ${at} with none usable`);
      continue;
    }
    const ratio = (i: number) => view.inFlights[i]! / view.weights[i]!;
    const min = Math.min(...usable.map(ratio));
    if (!usable.includes(at) || ratio(at) !== min) t.fail(`run ${run}: picked ${at}`);
  }
  t.pass('2000 random weight, in-flight and readiness vectors');
});

// --- least_request (two choices) ---

t.test('two choices: two distinct ready servers, each pair as likely as the others', async (t) => {
  const view = new View([1, 1, 1, 1]);
  const two = new TwoChoices(mulberry32(3));
  const pairs = new Map<string, number>();
  for (let i = 0; i < 12_000; i++) {
    if (two.draw(view) !== 2 || two.first === two.second) t.fail(`drew ${two.first}, ${two.second}`);
    const pair = [two.first, two.second].sort().join('');
    pairs.set(pair, (pairs.get(pair) ?? 0) + 1);
  }
  t.equal(pairs.size, 6, 'all 6 pairs of 4');
  for (const [pair, count] of pairs) t.ok(Math.abs(count - 2000) < 200, `pair ${pair}: ${count} of 12,000 (2,000 expected)`);
});

t.test('two choices: only ready servers are drawn, also when most are out', async (t) => {
  const view = new View(new Array(20).fill(1));
  view.out.fill(true);
  view.out[3] = false;
  view.out[17] = false;
  const two = new TwoChoices(mulberry32(4));
  for (let i = 0; i < 200; i++) {
    if (two.draw(view) !== 2) t.fail('two ready, two drawn');
    if (![3, 17].includes(two.first) || ![3, 17].includes(two.second) || two.first === two.second) t.fail(`${two.first}, ${two.second}`);
  }
  view.out[17] = true;
  t.equal(two.draw(view), 1, 'one ready: one drawn');
  t.equal(two.first, 3);
  t.equal(two.second, -1);
  view.out[3] = true;
  t.equal(two.draw(view), 0, 'none ready');
  t.equal(new TwoChoices(mulberry32(4)).draw(new View([])), 0, 'no server');
  t.equal(new TwoChoices(mulberry32(4)).draw(new View([1])), 1, 'one server');
});

t.test('least_request: of the two drawn, the one with fewer in flight per weight', async (t) => {
  const view = new View([1, 1]);
  view.inFlights.splice(0, 2, 5, 2);
  t.same(tally(new LeastRequest(mulberry32(5)), view, 100), [0, 100], 'with two servers, always the less loaded');
  view.inFlights.splice(0, 2, 1, 4);
  t.same(tally(new LeastRequest(mulberry32(5)), view, 100), [100, 0]);
  const weighted = new View([4, 1]);
  weighted.inFlights.splice(0, 2, 3, 1);
  t.same(tally(new LeastRequest(mulberry32(5)), weighted, 100), [100, 0], '3/4 beats 1/1');
  const one = new View([1, 1]);
  one.out[0] = true;
  t.same(tally(new LeastRequest(mulberry32(5)), one, 10), [0, 10], 'one ready');
  one.out[1] = true;
  t.equal(new LeastRequest(mulberry32(5)).pick(one), -1, 'none ready');
});

t.test('least_request: idle servers split by weight; equal ones evenly', async (t) => {
  const counts = tally(new LeastRequest(mulberry32(6)), new View([3, 1]), 40_000);
  t.ok(Math.abs(counts[0]! - 30_000) < 600, `3:1 idle: ${counts.join(' / ')} of 40,000`);
  const even = tally(new LeastRequest(mulberry32(6)), new View([1, 1, 1, 1, 1]), 50_000);
  for (const c of even) t.ok(Math.abs(c - 10_000) < 500, `5 equal: ${even.join(' / ')}`);
});

t.test('least_request: property: never the most loaded server when another is less loaded', async (t) => {
  const random = mulberry32(7);
  const lr = new LeastRequest(random);
  for (let run = 0; run < 5000; run++) {
    const n = 2 + Math.floor(random() * 8);
    const view = new View(Array.from({ length: n }, () => 1 + Math.floor(random() * 4)));
    for (let i = 0; i < n; i++) view.inFlights[i] = Math.floor(random() * 10);
    const ratio = (i: number) => view.inFlights[i]! / view.weights[i]!;
    const ratios = view.weights.map((_, i) => ratio(i));
    const at = lr.pick(view);
    if (ratio(at) === Math.max(...ratios) && Math.min(...ratios) < ratio(at)) {
      // The most loaded can win only against another as loaded: it never beats a lighter one.
      const asLoaded = ratios.filter((r) => r === ratio(at)).length;
      if (asLoaded < 2) t.fail(`run ${run}: picked the uniquely most loaded ${at} of ${ratios.join(',')}`);
    }
  }
  t.pass('5000 random cases');
});

// --- least_latency ---

t.test('peak EWMA: a slower response is taken at once; faster ones pull it down by elapsed time', async (t) => {
  const e = new PeakEwma(10_000, 60_000);
  t.equal(e.cost(0), 0, 'no response yet: 0');
  e.observe(100, 0);
  t.equal(e.cost(0), 100);
  e.observe(300, 0);
  t.equal(e.cost(0), 300, 'the peak at once');
  e.observe(100, 0);
  t.equal(e.cost(0), 300, 'a faster response at the same instant does not count');
  e.observe(100, 10_000);
  // At 10 s the estimate has decayed to 300/e; the new response weighs 1 - 1/e.
  t.ok(Math.abs(e.cost(10_000) - (300 / Math.E + 100 * (1 - 1 / Math.E))) < 1e-9, `${e.cost(10_000)}`);
});

t.test('peak EWMA: left alone, the estimate decays towards 0 (the server is tried again)', async (t) => {
  const e = new PeakEwma(10_000, 60_000);
  e.observe(500, 1000);
  t.ok(Math.abs(e.cost(11_000) - 500 / Math.E) < 1e-9, '1/e after one decay time');
  t.ok(e.cost(101_000) < 0.03, 'about 0 after ten');
  t.equal(e.cost(0), 500, 'a clock that went back reads no decay');
});

t.test('peak EWMA: a failure counts as an answer that took the penalty (timeouts.server)', async (t) => {
  const e = new PeakEwma(10_000, 60_000);
  e.observe(2, 0);
  e.fail(1);
  t.equal(e.cost(1), 60_000);
});

t.test('least_latency: a server that fails fast is not preferred over a slow one that answers', async (t) => {
  const view = new View([1, 1]);
  const ll = new LeastLatency(mulberry32(9));
  let now = 0;
  const counts = [0, 0];
  for (let i = 0; i < 2000; i++) {
    now += 10;
    const at = ll.pick(view, now);
    counts[at]!++;
    // a fails in 1 ms (say, 503 at once); b answers in 50 ms.
    if (at === 0) view.ewma[0]!.fail(now + 1);
    else view.ewma[1]!.observe(50, now + 50);
  }
  t.ok(counts[1]! > 1900, `b (slow, answers) ${counts[1]}, a (fails fast) ${counts[0]} of 2,000`);
});

t.test('least_latency: the faster server takes most requests; in flight counts too', async (t) => {
  const view = new View([1, 1, 1]);
  view.ewma[0]!.observe(5, 0);
  view.ewma[1]!.observe(50, 0);
  view.ewma[2]!.observe(50, 0);
  const counts = tally(new LeastLatency(mulberry32(10)), view, 3000);
  // a wins every draw it is in (2 of 3 pairs); b and c share the pairs without a.
  t.ok(Math.abs(counts[0]! - 2000) < 100, `a (5 ms) ${counts[0]}, b ${counts[1]}, c ${counts[2]} of 3,000`);
  view.inFlights[0] = 20; // (20 + 1) x 5 > (0 + 1) x 50
  const loaded = tally(new LeastLatency(mulberry32(10)), view, 3000);
  t.equal(loaded[0], 0, `a with 20 in flight loses to idle b and c: ${loaded.join(' / ')}`);
});

t.test('least_latency: with no latency yet, in flight decides, then weight', async (t) => {
  const view = new View([1, 1]);
  view.inFlights[0] = 3;
  t.same(tally(new LeastLatency(mulberry32(11)), view, 50), [0, 50]);
  const idle = tally(new LeastLatency(mulberry32(11)), new View([3, 1]), 40_000);
  t.ok(Math.abs(idle[0]! - 30_000) < 600, `3:1 idle: ${idle.join(' / ')}`);
  const one = new View([1, 1]);
  one.out[1] = true;
  t.same(tally(new LeastLatency(mulberry32(11)), one, 10), [10, 0], 'one ready');
});

// --- random ---

t.test('random: weighted, 5:1:1 over 70,000 picks within 2% of each share', async (t) => {
  const counts = tally(new WeightedRandom(mulberry32(13)), new View([5, 1, 1]), 70_000);
  const want = [50_000, 10_000, 10_000];
  for (let i = 0; i < 3; i++) t.ok(Math.abs(counts[i]! - want[i]!) < 0.02 * want[i]!, `${counts.join(' / ')}`);
});

t.test('random: servers out or without weight get nothing; none ready: -1', async (t) => {
  const view = new View([1, 0, 1, 1]);
  view.out[2] = true;
  const counts = tally(new WeightedRandom(mulberry32(14)), view, 1000);
  t.equal(counts[1], 0);
  t.equal(counts[2], 0);
  t.equal(counts[0]! + counts[3]!, 1000);
  view.out.fill(true);
  t.equal(new WeightedRandom(mulberry32(14)).pick(view), -1);
  t.equal(new WeightedRandom(() => 0.9999999999999999).pick(new View([0.1, 0.2, 0.3])), 2, 'a draw at the very top lands on the last');
});

t.test('random source: xoshiro128** seeded by SplitMix32, numbers in [0, 1)', async (t) => {
  // Computed apart from this code, from the reference algorithm (whose state 1, 2, 3, 4 gives
  // the published 11520, 0, 5927040).
  const r = xoshiro128(1);
  t.same([r(), r(), r()].map((x) => x * 4294967296), [2442144158, 3238099751, 3819917871]);
  const draws = Array.from({ length: 100_000 }, xoshiro128(2));
  t.ok(draws.every((x) => x >= 0 && x < 1), 'in [0, 1)');
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  t.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean.toFixed(4)}`);
  t.not(xoshiro128(2)(), xoshiro128(3)(), 'another seed, another stream');
});

t.test('the random policies: the same seed gives the same picks', async (t) => {
  const view = new View([1, 2, 3, 1, 1]);
  t.equal(sequence(new LeastRequest(mulberry32(8)), view, 50), sequence(new LeastRequest(mulberry32(8)), view, 50));
  t.equal(sequence(new LeastLatency(mulberry32(8)), view, 50), sequence(new LeastLatency(mulberry32(8)), view, 50));
  t.equal(sequence(new WeightedRandom(mulberry32(8)), view, 50), sequence(new WeightedRandom(mulberry32(8)), view, 50));
});

// --- hash ---

/** 10,000 keys as a header value might carry them. */
const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
const serverNames = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:8080`);

/** How many keys two mappings send to different servers (t.same on 10,000 names costs 80 ms under coverage). */
const movedBetween = (a: readonly string[], b: readonly string[]): number => KEYS.filter((_, k) => a[k] !== b[k]).length;

/** The name each key goes to. */
function mapping(names: readonly string[], view: View = new View(names.map(() => 1))): string[] {
  const hash = new ConsistentHash(names);
  return KEYS.map((key) => names[hash.pick(view, 0, key)]!);
}

t.test('stable hash: fixed values (the same in every process and version)', async (t) => {
  // FNV-1a then fmix32, computed apart from this code (FNV-1a of "a" is the published 0xe40c292c).
  t.equal(stableHash(''), 0xab3e7c0b);
  t.equal(stableHash('a'), 0x1a80b1b3);
  t.equal(stableHash('user-1'), 0x778f8aec);
  t.equal(stableHash('user-1'), stableHash('user-1'));
  t.not(stableHash('user-1'), stableHash('user-2'));
  t.not(stableHash('user-1', 1), stableHash('user-1'), 'another seed, another hash');
});

t.test('hash: a key always reaches the same server, whatever the order of the names, in a fresh instance', async (t) => {
  const names = serverNames(5);
  const first = mapping(names);
  t.equal(movedBetween(mapping(names), first), 0, 'a fresh instance');
  const shuffled = [names[3]!, names[0]!, names[4]!, names[2]!, names[1]!];
  t.equal(movedBetween(mapping(shuffled), first), 0, 'the names in another order');
  const hash = new ConsistentHash(names);
  const view = new View([1, 1, 1, 1, 1]);
  const again = KEYS.map((key) => names[hash.pick(view, 0, key)]!);
  t.equal(movedBetween(again, first), 0, 'the same instance, asked again');
  // Pinned: a change of hash or table that moves keys shows here.
  t.same(first.slice(0, 4), ['10.0.0.1:8080', '10.0.0.1:8080', '10.0.0.4:8080', '10.0.0.2:8080'], 'pinned: user-0..3');
});

t.test('hash: spread (max / mean load of 10,000 keys) and disruption, N = 2..10', async (t) => {
  const lines: string[] = [];
  for (let n = 2; n <= 10; n++) {
    const names = serverNames(n);
    const before = mapping(names);
    const loads = names.map((name) => before.filter((s) => s === name).length);
    const spread = Math.max(...loads) / (KEYS.length / n);
    t.ok(spread < 1.1, `N=${n}: max/mean ${spread.toFixed(3)}`);

    // Out (down, drained, weight 0): the table stays; only its keys move, and come back.
    const out = n - 1;
    const view = new View(names.map(() => 1));
    view.out[out] = true;
    const during = mapping(names, view);
    const movedOut = movedBetween(during, before);
    const itsKeys = before.filter((s) => s === names[out]).length;
    t.equal(movedOut, itsKeys, `N=${n}, one out: only its ${itsKeys} keys move`);
    t.ok(movedOut / KEYS.length <= 1 / n + 0.02);
    view.out[out] = false;
    t.equal(movedBetween(mapping(names, view), before), 0, `N=${n}: back in, they come back`);

    // Removed from the config: a table without its name.
    const fewer = names.filter((_, i) => i !== out);
    const without = mapping(fewer);
    const movedRemoved = movedBetween(without, before);
    const strangers = KEYS.filter((_, k) => without[k] !== before[k] && before[k] !== names[out]).length;
    t.ok(movedRemoved / KEYS.length <= 1 / n + 0.02, `N=${n}, one removed: ${movedRemoved} moved (1/N = ${KEYS.length / n})`);
    t.equal(movedBetween(mapping(names), before), 0, `N=${n}: added back, the same table`);
    lines.push(
      `N=${n}: max/mean ${spread.toFixed(3)}; one out: ${movedOut} moved (${((100 * movedOut) / KEYS.length).toFixed(2)}%, only its own); ` +
        `one removed: ${movedRemoved} moved (${((100 * movedRemoved) / KEYS.length).toFixed(2)}%, ${strangers} of other servers)`,
    );
  }
  t.comment(lines.join('\n'));
});

t.test('hash: a retry (the first server tried) goes to the same next server for a key', async (t) => {
  const names = serverNames(4);
  const hash = new ConsistentHash(names);
  const view = new View([1, 1, 1, 1]);
  const first = hash.pick(view, 0, 'user-42');
  view.out[first] = true;
  const second = hash.pick(view, 0, 'user-42');
  t.not(second, first);
  t.equal(new ConsistentHash(names).pick(view, 0, 'user-42'), second);
});

t.test('hash: a request without a key is balanced round robin', async (t) => {
  t.equal(sequence(new ConsistentHash(serverNames(3)), new View([1, 1, 1]), 6), 'abcabc');
  t.equal(sequence(new ConsistentHash([]), new View([]), 1, 'user-1'), '-', 'no server');
});

t.test('hash: when most servers are out, the key still finds a ready one; none ready: -1', async (t) => {
  // 200 servers, one ready: most keys walk past 64 slots of servers that are out.
  const names = serverNames(200);
  const hash = new ConsistentHash(names);
  const view = new View(names.map(() => 1));
  view.out.fill(true);
  view.out[123] = false;
  for (const key of KEYS.slice(0, 200)) if (hash.pick(view, 0, key) !== 123) t.fail(key);
  view.weights[123] = 0;
  t.equal(hash.pick(view, 0, 'user-1'), -1, 'weight 0: no new requests');
});

t.test('hash: the table is filled evenly, and at most 65,534 servers', async (t) => {
  const names = serverNames(7);
  const started = performance.now();
  const hash = new ConsistentHash(names);
  const ms = performance.now() - started;
  const table = (hash as unknown as { table: Uint16Array }).table;
  const share = names.map((_, i) => table.filter((p) => p === i).length);
  t.ok(Math.max(...share) - Math.min(...share) <= 1, `slots per server: ${share.join(', ')} of ${TABLE_SIZE}`);
  t.comment(`table of ${TABLE_SIZE} slots for 7 servers built in ${ms.toFixed(1)} ms`);
  t.throws(() => new ConsistentHash(new Array<string>(65_535).fill('x')), RangeError);
});
