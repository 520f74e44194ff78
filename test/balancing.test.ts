// The pool options end to end (interface.md, "Pools: how requests are spread"), each rule shown
// against real backends on loopback: servers that are slow, that fail, that hold requests and
// count how many they have at once. The policies' own arithmetic is in policies.test.ts and
// pool.test.ts; here is what a client and a backend see.

import t from 'tap';
import type net from 'node:net';
import { metricsOf } from '../src/admin/metrics.js';
import { statusOf } from '../src/admin/status.js';
import { stickyId } from '../src/balancer/sticky.js';
import { Harness, proxyTest, q, request, waitFor, within, type Proxy, type RawBackend, type Response } from './helpers/net.js';

const QUIET = 'healthcheck: { interval: 1m }';

/** A test whose servers hold requests until told: the harness' last request would be held too. */
const HOLDING = { alive: false } as const;

/** Sends `count` GETs one after another on one connection; the responses. */
async function sequential(h: Harness, proxy: Proxy, count: number, target = '/', headers: [string, string][] = []): Promise<Response[]> {
  const client = await h.client(proxy);
  const out: Response[] = [];
  for (let i = 0; i < count; i++) out.push(await client.send(request('GET', target, { host: 'pool.test', headers })));
  return out;
}

/** The x-server of each response, as one string of first letters ("aaba"). */
function servedBy(responses: Response[]): string {
  return responses.map((r) => r.header('x-server')?.[0] ?? '?').join('');
}

/** How many of `responses` came from the server named `name`. */
function countOf(responses: Response[], name: string): number {
  return responses.filter((r) => r.header('x-server') === name).length;
}

/**
 * A raw backend answering each request head with `status`, `x-server: NAME`, after `delayMs`;
 * or holding it (`hold`) until the test calls release(). It counts requests in flight at once.
 */
interface Controlled {
  backend: RawBackend;
  inFlight: number;
  maxInFlight: number;
  /** Request targets in the order received. */
  targets: string[];
  /** Answers the oldest held request. */
  release(): void;
}

async function controlled(h: Harness, name: string, options: { status?: number; delayMs?: number; hold?: boolean; reset?: boolean } = {}): Promise<Controlled> {
  const { status = 200, delayMs = 0, hold = false, reset = false } = options;
  const held: (() => void)[] = [];
  const state: Controlled = {
    backend: undefined as unknown as RawBackend,
    inFlight: 0,
    maxInFlight: 0,
    targets: [],
    release: () => held.shift()?.(),
  };
  const answer = (socket: net.Socket) => {
    state.inFlight--;
    if (!socket.destroyed) socket.write(`HTTP/1.1 ${status} X\r\nx-server: ${name}\r\nContent-Length: 2\r\n\r\nok`);
  };
  state.backend = await h.rawBackend((socket) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
        state.targets.push(text.slice(0, end).split(' ')[1] ?? '');
        text = text.slice(end + 4);
        if (reset) {
          socket.destroy();
          return;
        }
        state.inFlight++;
        state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
        if (hold) held.push(() => answer(socket));
        else if (delayMs > 0) setTimeout(() => answer(socket), delayMs);
        else answer(socket);
      }
    });
  });
  return state;
}

t.test('round_robin with weights: every 4 picks of 3:1 are a a b a', (t) =>
  proxyTest(t, 'weights', async (t, h) => {
    const [a, b] = await h.backends('a', 'b');
    const proxy = await h.proxy(`${QUIET}\nservers:\n  - { address: ${q(a!)}, weight: 3 }\n  - ${q(b!)}`);
    t.equal(servedBy(await sequential(h, proxy, 8)), 'aabaaaba');
  }),
);

t.test('least_conn: a server holding a request gets no more while another is idle', (t) =>
  proxyTest(t, 'least_conn', async (t, h) => {
    const hold = await controlled(h, 'hold', { hold: true });
    const [fast] = await h.backends('fast');
    const proxy = await h.proxy(`${QUIET}\nbalance: least_conn\nservers: [${q(hold.backend)}, ${q(fast!)}]`);
    const first = await h.client(proxy);
    const held = first.send(request('GET', '/held', { host: 'pool.test' }));
    await waitFor('the first request at the holding server', () => hold.targets.length === 1);
    const rest = await sequential(h, proxy, 6);
    t.equal(countOf(rest, 'fast'), 6, 'one in flight at "hold", none at "fast": every request goes to "fast"');
    hold.release();
    t.equal((await within(held, 'the held response')).header('x-server'), 'hold');
  }, HOLDING),
);

t.test('least_request: two choices; the server with a request in flight loses to the idle one', (t) =>
  proxyTest(t, 'least_request', async (t, h) => {
    const hold = await controlled(h, 'hold', { hold: true });
    const [fast] = await h.backends('fast');
    const proxy = await h.proxy(`${QUIET}\nbalance: least_request\nservers: [${q(hold.backend)}, ${q(fast!)}]`);
    // Ties are split at random: send until one request is held (at most a few dozen).
    const client = await h.client(proxy);
    const pending: Promise<Response>[] = [];
    for (let i = 0; i < 50 && hold.targets.length === 0; i++) {
      const other = await h.client(proxy);
      pending.push(other.send(request('GET', '/maybe-held', { host: 'pool.test' })));
      await waitFor('the request answered or held', () => hold.targets.length > 0 || fast!.requests > i);
    }
    t.equal(hold.targets.length, 1, 'one request is held');
    const rest: Response[] = [];
    for (let i = 0; i < 6; i++) rest.push(await client.send(request('GET', '/', { host: 'pool.test' })));
    t.equal(countOf(rest, 'fast'), 6);
    hold.release();
    await within(Promise.all(pending), 'every response');
  }, HOLDING),
);

t.test('least_latency: the fast server takes most requests; one that fails fast is not "fast"', (t) =>
  proxyTest(t, 'least_latency', async (t, h) => {
    // 300 ms, far above a stall of the quick server's answer on a machine busy with other test
    // files: one such stall, taken at once as its peak, would hand the next requests to "slow".
    const slow = await controlled(h, 'slow', { delayMs: 300 });
    const quick = await controlled(h, 'quick', { delayMs: 2 });
    const proxy = await h.proxy(`${QUIET}\nbalance: least_latency\nservers: [${q(slow.backend)}, ${q(quick.backend)}]`);
    const responses = await sequential(h, proxy, 20);
    t.ok(countOf(responses, 'slow') <= 2, `the 300 ms server is tried at most twice: ${servedBy(responses)}`);

    const failing = await controlled(h, 'failing', { status: 500 });
    const ok = await controlled(h, 'ok', { delayMs: 20 });
    const second = await h.proxy(`${QUIET}\nbalance: least_latency\nservers: [${q(failing.backend)}, ${q(ok.backend)}]`);
    const answers = await sequential(h, second, 20);
    t.ok(countOf(answers, 'failing') <= 2, `a server answering 500 at once counts as slow (timeouts.server): ${servedBy(answers)}`);
  }),
);

t.test('random: weighted; both servers serve', (t) =>
  proxyTest(t, 'random', async (t, h) => {
    const [a, b] = await h.backends('a', 'b');
    const proxy = await h.proxy(`${QUIET}\nbalance: random\nservers:\n  - ${q(a!)}\n  - { address: ${q(b!)}, weight: 0 }`);
    t.equal(countOf(await sequential(h, proxy, 10), 'a'), 10, 'weight 0: no requests');
    const both = await h.proxy(`${QUIET}\nbalance: random\nservers: [${q(a!)}, ${q(b!)}]`);
    const responses = await sequential(h, both, 60);
    t.ok(countOf(responses, 'a') > 5 && countOf(responses, 'b') > 5, `60 picks: ${servedBy(responses)}`);
  }),
);

t.test('hash: a key stays on its server, two balancers agree, a server out moves only its keys', (t) =>
  proxyTest(t, 'hash', async (t, h) => {
    const [a, b, c] = await h.backends('a', 'b', 'c');
    const config = `${QUIET}\nbalance: hash\nhash_key: header:X-User\nservers: [${q(a!)}, ${q(b!)}, ${q(c!)}]`;
    const one = await h.proxy(config);
    const two = await h.proxy(config);
    const keys = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    const where = async (proxy: Proxy): Promise<string[]> => {
      const client = await h.client(proxy);
      const out = [];
      for (const key of keys) out.push((await client.send(request('GET', '/', { host: 'pool.test', headers: [['X-User', key]] }))).header('x-server')!);
      return out;
    };
    const first = await where(one);
    t.same(await where(one), first, 'the same key, the same server');
    t.same(await where(two), first, 'another balancer with the same config: the same servers');
    t.ok(new Set(first).size === 3, 'the keys are spread over all three');
    const keyless = await sequential(h, one, 3);
    t.equal(keyless.length, 3, 'a request without the key is balanced round robin');
    await c!.close();
    const after = await where(one);
    keys.forEach((key, i) => {
      if (first[i] !== 'c') t.equal(after[i], first[i], `${key} stays on ${first[i]}`);
      else t.not(after[i], 'c', `${key} moves off c`);
    });
  }, { alive: false }),
);

t.test('sticky: a cookie keeps a client on its server, on any balancer with the same config', (t) =>
  proxyTest(t, 'sticky', async (t, h) => {
    const [a, b] = await h.backends('a', 'b');
    const config = `${QUIET}\nsticky: { cookie: lb_server }\nservers: [${q(a!)}, ${q(b!)}]`;
    const one = await h.proxy(config);
    const two = await h.proxy(config);
    const [first] = await sequential(h, one, 1);
    const cookie = first!.header('set-cookie')!;
    t.match(cookie, /^lb_server=[0-9a-f]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
    const id = cookie.split(';')[0]!;
    // 16 hex digits hold no address; the id is the one its server's name makes, on any process.
    t.ok([a!, b!].some((s) => id === `lb_server=${stickyId(s.address)}`), 'the id is its server name\'s hash');
    const server = first!.header('x-server');
    const again = await sequential(h, one, 5, '/', [['Cookie', `theme=dark; ${id}`]]);
    t.same(again.map((r) => r.header('x-server')), Array(5).fill(server), 'with the cookie: its server every time');
    t.same(again.map((r) => r.header('set-cookie')), Array(5).fill(undefined), 'and no new cookie');
    const elsewhere = await sequential(h, two, 4, '/', [['Cookie', id]]);
    t.same(elsewhere.map((r) => r.header('x-server')), Array(4).fill(server), 'the other balancer honours it too');
    const bogus = await sequential(h, one, 2, '/', [['Cookie', 'lb_server=0000000000000000']]);
    t.ok(bogus.every((r) => r.header('set-cookie')?.startsWith('lb_server=')), 'an id of no server: balanced, and a new cookie');
    await (server === 'a' ? a! : b!).close();
    const moved = await sequential(h, one, 2, '/', [['Cookie', id]]);
    t.ok(moved.every((r) => r.status === 200 && r.header('x-server') !== server), 'its server gone: elsewhere');
    t.not(moved[0]!.header('set-cookie'), undefined, 'with a cookie for the new server');
    const lasting = await h.proxy(`${QUIET}\nsticky: { cookie: S, max_age: 3600 }\nservers: [${q(server === 'a' ? b! : a!)}]`);
    t.match((await sequential(h, lasting, 1))[0]!.header('set-cookie'), /^S=[0-9a-f]{16}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
  }, { alive: false }),
);

t.test('max_connections and the queue: never more in flight than the limit; first come first served; full and timed out get 503', (t) =>
  proxyTest(t, 'queue', async (t, h) => {
    const counting = await controlled(h, 'counting', { hold: true });
    const proxy = await h.proxy(`${QUIET}\nlog: { format: json }\nqueue: { max: 2, timeout: 10s }\nservers:\n  - { address: ${q(counting.backend)}, max_connections: 1 }`);
    const send = async (target: string) => (await h.client(proxy)).send(request('GET', target, { host: 'pool.test' }));
    const r1 = send('/1');
    await waitFor('the first request at the server', () => counting.targets.length === 1);
    const r2 = send('/2');
    await waitFor('the second waiting', () => proxy.server.snapshot.pools[0]!.waitingCount === 1);
    const r3 = send('/3');
    await waitFor('the third waiting', () => proxy.server.snapshot.pools[0]!.waitingCount === 2);
    const full = await send('/4');
    t.equal(full.status, 503, 'the queue is full: 503 at once');
    t.equal(full.header('retry-after'), '1');
    await proxy.log.waitFor('"code":"QUEUE_FULL"');
    t.equal(counting.targets.length, 1, 'the server has one request');
    for (let k = 2; k <= 3; k++) {
      counting.release();
      await waitFor(`request ${k} at the server`, () => counting.targets.length === k);
    }
    counting.release();
    const responses = await within(Promise.all([r1, r2, r3]), 'the three responses');
    t.same(responses.map((r) => r.status), [200, 200, 200]);
    t.same(counting.targets, ['/1', '/2', '/3'], 'first come, first served');
    t.equal(counting.maxInFlight, 1, 'never more than max_connections at the server');
    const status = statusOf(proxy.server, 0, Date.now());
    t.match(status.pools[0], { waiting: 0, queued: 2, queueFull: 1, queueTimeouts: 0, members: [{ maxConnections: 1 }] });

    // A client whose connection is reset while it waits is taken out of the queue: its request
    // never goes out. (A FIN is a half-close: the request still gets its response, as HAProxy
    // does without abortonclose.)
    const leaving = await h.client(proxy);
    const r5 = send('/5');
    await waitFor('the fifth at the server', () => counting.targets.length === 4);
    await leaving.write(request('GET', '/gone', { host: 'pool.test' }));
    await waitFor('the leaving request waiting', () => proxy.server.snapshot.pools[0]!.waitingCount === 1);
    leaving.socket.resetAndDestroy();
    await waitFor('the queue empty once its client left', () => proxy.server.snapshot.pools[0]!.waitingCount === 0);
    counting.release();
    t.equal((await within(r5, 'the fifth response')).status, 200);
    t.notOk(counting.targets.includes('/gone'), 'the request of a client that left is not sent');

    const short = await h.proxy(`${QUIET}\nlog: { format: json }\nqueue: { timeout: 100ms }\nservers:\n  - { address: ${q(counting.backend)}, max_connections: 1 }`);
    const held = (await h.client(short)).send(request('GET', '/held', { host: 'pool.test' }));
    await waitFor('the held request at the server', () => counting.targets.length === 5);
    const late = await (await h.client(short)).send(request('GET', '/late', { host: 'pool.test' }));
    t.equal(late.status, 503, 'waited longer than queue.timeout: 503');
    await short.log.waitFor('"code":"QUEUE_TIMEOUT"');
    t.match(metricsOf(statusOf(short.server, 0, Date.now())), /lb_pool_queue_rejected_total\{pool="default",reason="timeout"\} 1/);
    counting.release();
    t.equal((await within(held, 'the held response')).status, 200);
  }, HOLDING),
);

t.test('backup: used only while no other server is up', (t) =>
  proxyTest(t, 'backup', async (t, h) => {
    const [main, spare] = await h.backends('main', 'spare');
    const proxy = await h.proxy(`${QUIET}\nservers:\n  - ${q(main!)}\n  - { address: ${q(spare!)}, backup: true }`);
    t.equal(countOf(await sequential(h, proxy, 4), 'main'), 4, 'the backup rests while main is up');
    await main!.close();
    t.equal(countOf(await sequential(h, proxy, 3), 'spare'), 3, 'main refused: the backup serves');
  }),
);

t.test('slow start: a server that comes back up ramps its weight', (t) =>
  proxyTest(t, 'slow start', async (t, h) => {
    const [a, b] = await h.backends('a', 'b');
    const proxy = await h.proxy(`healthcheck: { interval: 50ms, rise: 1, fall: 1 }\nservers:\n  - { address: ${q(a!)}, slow_start: 1m }\n  - ${q(b!)}`);
    const weight = () => statusOf(proxy.server, 0, Date.now()).pools[0]!.members[0]!.weight;
    t.equal(weight(), 1, 'up since the start: no ramp');
    a!.setHealthy(false);
    await proxy.log.waitFor(`server ${a!.address} (pool default) DOWN`);
    a!.setHealthy(true);
    await proxy.log.waitFor(`server ${a!.address} (pool default) UP`);
    t.ok(weight() >= 0.1 && weight() < 0.2, `just back: about 10% (${weight()})`);
  }),
);

t.test('outlier: consecutive 5xx eject a server for a while, logged and shown; then it is back', (t) =>
  proxyTest(t, 'outlier', async (t, h) => {
    const bad = await controlled(h, 'bad', { status: 500 });
    const good = await controlled(h, 'good');
    const proxy = await h.proxy(
      `${QUIET}\noutlier: { consecutive_failures: 2, count_5xx: true, ejection: 300ms }\nservers: [${q(bad.backend)}, ${q(good.backend)}]`,
    );
    const first = await sequential(h, proxy, 4);
    t.equal(servedBy(first), 'bgbg', 'round robin until the second 500');
    await proxy.log.waitFor(`server ${bad.backend.address} (pool default) ejected for 300ms: 2 failures in a row, the last status 500`);
    const status = statusOf(proxy.server, 0, Date.now());
    t.match(status.pools[0]!.members[0], { ejected: true, ejections: 1 });
    t.match(metricsOf(status), new RegExp(`lb_pool_server_ejected\\{pool="default",server="${bad.backend.address}"\\} 1`));
    const during = await sequential(h, proxy, 4);
    t.equal(servedBy(during), 'gggg', 'ejected: out of the pool');
    await proxy.log.waitFor(`server ${bad.backend.address} (pool default) back after its ejection`);
    const after = await sequential(h, proxy, 4);
    t.ok(countOf(after, 'bad') >= 1, `back in the pool: ${servedBy(after)}`);
  }),
);

t.test('outlier: a reset, a refused connection and a timeout count as failures too; a limited server that fails frees its slot', (t) =>
  proxyTest(t, 'outlier failures', async (t, h) => {
    const reset = await controlled(h, 'reset', { reset: true });
    const good = await controlled(h, 'good');
    const silent = await h.rawBackend(); // takes the request, never answers
    const gone = await h.backend('gone');
    // admin: the checks' results are kept, so that the test can wait for the first one.
    const proxy = await h.proxy(`admin: 127.0.0.1:0
${QUIET}
timeouts: { server: 300ms }
outlier: { consecutive_failures: 1, ejection: 1m }
hosts:
  - { host: reset.test, servers: [{ address: ${q(reset.backend)}, max_connections: 1 }, ${q(good.backend)}] }
  - { host: refused.test, servers: [${q(gone)}, ${q(good.backend)}] }
  - { host: silent.test, servers: [${q(silent)}] }
`);
    await waitFor('the first health check', () => proxy.server.servers.every((s) => s.lastCheck !== null));
    await gone.close(); // up at start, refusing now
    const client = await h.client(proxy);
    t.equal((await client.get('/', 'reset.test')).header('x-server'), 'good', 'reset, then retried');
    t.equal((await client.get('/', 'refused.test')).header('x-server'), 'good', 'refused, then tried elsewhere');
    t.equal((await (await h.client(proxy)).get('/', 'silent.test')).status, 504);
    const status = statusOf(proxy.server, 0, Date.now());
    t.same(status.pools.map((p) => p.members[0]!.ejections), [1, 1, 1], 'each the first server of its pool, each ejected');
    t.equal(status.servers.find((s) => s.name === reset.backend.address)!.inFlight, 0, 'the failed request left the limited server');
  }),
);

t.test('retry_budget: once retries pass the budget, a failed request is not retried: 502', (t) =>
  proxyTest(t, 'retry budget', async (t, h) => {
    const reset = await controlled(h, 'reset', { reset: true });
    const good = await controlled(h, 'good');
    const proxy = await h.proxy(`${QUIET}\nlog: { format: json }\nretry_budget: 0%\nservers: [${q(reset.backend)}, ${q(good.backend)}]`);
    const responses = await sequential(h, proxy, 80);
    const ok = responses.filter((r) => r.status === 200).length;
    const refused = responses.filter((r) => r.status === 502).length;
    t.equal(ok + refused, 80, 'every request is answered, 200 or 502');
    t.ok(ok >= 30, `at least 3 retries per second of the window are allowed: ${ok}`);
    t.ok(refused >= 1, `beyond the budget, 502: ${refused}`);
    await proxy.log.waitFor('"code":"RETRY_BUDGET"');
    t.equal(statusOf(proxy.server, 0, Date.now()).pools[0]!.retriesDenied, refused);
  }),
);
