// Outlier ejection (src/balancer/outlier.ts): consecutive failures eject, the time doubles up to
// 5 minutes, at most max_ejected of the pool is out at once (at least 1), time passed in.

import t from 'tap';
import { OutlierDetector } from '../../src/balancer/outlier.js';

const SETTINGS = { consecutiveFailures: 3, count5xx: false, ejection: 1000, maxEjected: 0.5 };

t.test('consecutive failures eject; a success in between resets the run', async (t) => {
  const o = new OutlierDetector(SETTINGS, 4);
  t.equal(o.failed(0, 0), 0);
  t.equal(o.failed(0, 0), 0);
  o.succeeded(0);
  t.equal(o.failed(0, 0), 0, 'the run started again');
  t.equal(o.failed(0, 0), 0);
  t.equal(o.failed(0, 0), 1000, 'the third in a row ejects for `ejection`');
  t.equal(o.ejected[0], 1);
  t.equal(o.failed(0, 0), 0, 'an ejected server is not ejected again');
});

t.test('each further ejection doubles, up to 5 minutes; good behaviour for 5 minutes resets it', async (t) => {
  const o = new OutlierDetector({ ...SETTINGS, consecutiveFailures: 1, ejection: 60_000 }, 2);
  const times = [];
  let now = 0;
  for (let k = 0; k < 5; k++) {
    const ms = o.failed(0, now);
    times.push(ms);
    now += ms;
    o.restore(0, now);
  }
  t.same(times, [60_000, 120_000, 240_000, 300_000, 300_000]);
  t.equal(o.ejections[0], 5);
  now += 300_000;
  t.equal(o.failed(0, now), 60_000, 'back for 5 minutes: the first ejection time again');
  o.restore(0, now);
  o.restore(0, now);
  t.equal(o.ejected[0], 0, 'restoring twice is harmless');
});

t.test('max_ejected caps how many are out at once, rounded down but at least 1', async (t) => {
  const o = new OutlierDetector({ ...SETTINGS, consecutiveFailures: 1 }, 5);
  t.equal(o.cap, 2, '50% of 5, rounded down');
  t.equal(o.failed(0, 0), 1000);
  t.equal(o.failed(1, 0), 1000);
  t.equal(o.failed(2, 0), 0, 'a third would pass the cap');
  o.restore(0, 10);
  t.equal(o.failed(2, 10), 1000, 'room again once one is back');
  t.equal(new OutlierDetector({ ...SETTINGS, maxEjected: 0.1 }, 3).cap, 1, 'at least one');
  t.equal(new OutlierDetector({ ...SETTINGS, consecutiveFailures: 0 }, 3).failed(0, 0), 0, '0 failures: off');
});
