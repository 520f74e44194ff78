// The retry budget (src/balancer/retry-budget.ts): retries in the last 10 s at most
// max(ratio x requests in those 10 s, 3 per second), with time passed in.

import t from 'tap';
import { RetryBudget } from '../../src/balancer/retry-budget.js';

/** How many retries in a row fit at `now`. */
function retriesThatFit(budget: RetryBudget, now: number, bound = 100_000): number {
  let n = 0;
  while (n < bound && budget.tryRetry(now)) n++;
  return n;
}

t.test('with few requests, 3 per second of the window: 30', async (t) => {
  const budget = new RetryBudget(0.2);
  for (let i = 0; i < 10; i++) budget.request(1000);
  t.equal(retriesThatFit(budget, 1000), 30);
  t.equal(budget.tryRetry(5000), false, 'still spent 4 s later: the window is 10 s');
  t.equal(retriesThatFit(budget, 11_000), 30, 'the second they were counted in has left the window');
});

t.test('with many requests, the ratio of them', async (t) => {
  const budget = new RetryBudget(0.2);
  for (let i = 0; i < 1000; i++) budget.request(500);
  t.equal(retriesThatFit(budget, 500), 200, '20% of 1000');
  for (let i = 0; i < 500; i++) budget.request(3500);
  t.equal(retriesThatFit(budget, 3500), 100, 'the 500 more add 100 more');
  t.equal(retriesThatFit(budget, 10_600), 0, 'at 10.6 s second 0 has left: 20% of the 500 left is the 100 taken at 3.5 s');
  t.equal(retriesThatFit(budget, 13_600), 30, 'at 13.6 s nothing is left in the window: the floor');
});

t.test('a ratio of 0 allows the floor only; a clock that goes back clears nothing', async (t) => {
  const budget = new RetryBudget(0);
  for (let i = 0; i < 1000; i++) budget.request(20_000);
  t.equal(retriesThatFit(budget, 20_000), 30);
  t.equal(budget.tryRetry(15_000), false, 'an earlier time counts in the newest second');
  t.equal(retriesThatFit(budget, 1_000_000), 30, 'a long pause clears every bucket, once');
});
