// The counters behind the status page and /metrics: pure, and as the proxy moves them.

import t from 'tap';
import { Counters, DURATION_BUCKETS, DurationHistogram } from '../src/balancer/stats.js';
import { proxyTest, serverOf } from './helpers/net.js';

t.test('Counters: finished requests by status class; cut ones in class 0', async (t) => {
  const c = new Counters();
  c.inFlight = 5;
  for (const status of [200, 204, 301, 404, 503, 0]) c.finished(status);
  t.same(c.byClass, [1, 0, 2, 1, 1, 1]);
  t.equal(c.inFlight, -1);
});

t.test('DurationHistogram: each observation in the first bucket that holds it', async (t) => {
  const h = new DurationHistogram();
  for (const s of [0.001, 0.005, 0.006, 3, 11]) h.observe(s);
  t.equal(h.counts.length, DURATION_BUCKETS.length + 1);
  t.equal(h.counts[0], 2, '<= 5 ms');
  t.equal(h.counts[1], 1, '<= 10 ms');
  t.equal(h.counts[DURATION_BUCKETS.indexOf(5)], 1, '<= 5 s');
  t.equal(h.counts[DURATION_BUCKETS.length], 1, 'above the last bound');
  t.equal(Math.round(h.sum * 1000), 14012);
});

proxyTest(t, 'the proxy counts requests per pool and server, by status class, with durations', async (t, h) => {
  const [a, b] = await h.backends('a', 'b');
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${a!.address}", "${b!.address}"]
`);
  const client = await h.client(proxy);
  for (let i = 0; i < 4; i++) t.equal((await client.get('/', 'x')).status, 200);
  t.equal((await client.get('/status/503', 'x')).status, 503);
  const sa = serverOf(proxy, a!).stats;
  const sb = serverOf(proxy, b!).stats;
  t.same([sa.requests + sb.requests, sa.inFlight, sb.inFlight], [5, 0, 0]);
  t.same([sa.byClass[2]! + sb.byClass[2]!, sa.byClass[5]! + sb.byClass[5]!], [4, 1]);
  t.equal(proxy.server.durations.counts.reduce((x, y) => x + y, 0), 5, 'five durations observed');
  t.same(proxy.server.pools.map((p) => [p.name, p.stats.requests, p.stats.byClass[2], p.stats.byClass[5]]), [['default', 5, 4, 1]]);
  t.equal(proxy.server.connections, 1, 'the client connection is open');
});
