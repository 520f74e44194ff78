// The balancer when the network between it and a backend misbehaves (issue 17, item 2): a
// fault-injecting relay (test/helpers/fault-relay.ts) for latency, bandwidth, a stall, a reset
// mid-response, one-byte writes and a half-close; and a backend frozen with SIGSTOP mid-response
// and mid-request-body. For each: what the client gets (intact bytes, or a 502/504 or a cut
// connection within the configured timeout, never a hang), that health checks or outlier
// detection take the server out and bring it back, and that no connection is left behind.
// Real links taken down and throttled are in network-namespace.test.ts.

import { createHash, randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { spawnApp } from './helpers/app-process.js';
import { FaultRelay } from './helpers/fault-relay.js';
import { proxyTest, request, serverOf, sha256, waitFor, type Harness, type Proxy, type Response } from './helpers/net.js';

const TIMEOUTS = 'timeouts: { connect: 500ms, server: 800ms }';

/** A proxy in front of a relay to a stub backend; `healthcheck` may slow its checks (which cross the relay too). */
async function relayed(t: Test, h: Harness, more = '', healthcheck = '{ interval: 200ms, timeout: 300ms, rise: 1, fall: 1 }'): Promise<{ relay: FaultRelay; proxy: Proxy }> {
  const backend = await h.backend('b');
  const relay = await FaultRelay.start(backend.port);
  t.teardown(() => relay.close());
  const proxy = await h.proxy(`
healthcheck: ${healthcheck}
${TIMEOUTS}
servers: ["${relay.address}"]
${more}`);
  // The first round of checks runs at start: through a faulty relay it would take the server down.
  await proxy.log.waitFor(`check ${relay.address}`, 15_000);
  return { relay, proxy };
}

/** No connection through the relay but those the balancer keeps idle in its pool. */
async function nothingLeft(t: Test, proxy: Proxy, relay: FaultRelay): Promise<void> {
  const server = serverOf(proxy, relay);
  await waitFor('only pooled connections left', () => proxy.server.connections === 0 && relay.open === server.idle.length, 5000);
  t.pass(`no connection left behind (${server.idle.length} pooled)`);
}

/** One request on a new connection (a 502 or 504 closes the client's connection). */
async function ask(h: Harness, proxy: Proxy, bytes: Buffer): Promise<Response> {
  const client = await h.client(proxy);
  const res = await client.send(bytes, { timeoutMs: 5000 });
  client.destroy();
  return res;
}

function checkDownload(t: Test, res: Response, n: number, what: string): void {
  t.equal(res.status, 200, `${what}: 200`);
  t.equal(res.body.length, n, `${what}: every byte`);
  t.equal(sha256(res.body), res.header('x-sha256'), `${what}: byte-exact (sha256)`);
}

proxyTest(t, 'latency with jitter, a bandwidth limit, one byte per write: bodies arrive byte-exact both ways', async (t, h) => {
  const { relay, proxy } = await relayed(t, h);
  const upload = randomBytes(200_000);
  const toxics = [
    { latency: 20, jitter: 15 },
    { bandwidth: 2_000_000 },
    { slice: true },
  ];
  for (const toxic of toxics) {
    relay.toxics = toxic;
    const what = JSON.stringify(toxic);
    const client = await h.client(proxy);
    // One byte per write is tens of thousands of writes through the relay: on a machine busy
    // with the test files beside this one, more than the default 5 s.
    const bound = { timeoutMs: 30_000 };
    checkDownload(t, await client.send(request('GET', '/bytes?n=20000&chunked=1', { host: 'x.test' }), bound), 20_000, `${what}, chunked download`);
    checkDownload(t, await client.send(request('GET', '/bytes?n=30000', { host: 'x.test' }), bound), 30_000, `${what}, download with a length`);
    const res = await client.send(request('POST', '/sha256', { host: 'x.test', body: upload }), bound);
    t.equal(res.json().sha256, createHash('sha256').update(upload).digest('hex'), `${what}: the upload arrives byte-exact`);
    client.destroy();
  }
  relay.toxics = {};
  await nothingLeft(t, proxy, relay);
});

proxyTest(t, 'a stall: 504 within timeouts.server; health checks take the server out and bring it back', async (t, h) => {
  const { relay, proxy } = await relayed(t, h);
  relay.toxics = { stall: true };
  const start = Date.now();
  const res = await ask(h, proxy, request('GET', '/', { host: 'x.test' }));
  const took = Date.now() - start;
  t.equal(res.status, 504, 'a stalled backend: 504');
  t.ok(took >= 700 && took < 2500, `within timeouts.server (800ms): ${took} ms`);
  await proxy.log.waitFor(`server ${relay.address} (pool default) DOWN`);
  t.equal((await ask(h, proxy, request('GET', '/', { host: 'x.test' }))).status, 503, 'out: 503 at once');
  relay.toxics = {};
  await proxy.log.waitFor(`server ${relay.address} (pool default) UP`);
  t.equal((await ask(h, proxy, request('GET', '/', { host: 'x.test' }))).status, 200, 'back: 200');
  await nothingLeft(t, proxy, relay);
});

proxyTest(t, 'a reset inside the response head: 502 (a POST is not retried); twice in a row ejects the server (outlier); it comes back', async (t, h) => {
  // Checks would cross the resetting relay too and take the server down first: outlier detection alone here.
  const { relay, proxy } = await relayed(t, h, 'outlier: { consecutive_failures: 2, ejection: 500ms }', '{ interval: 1m }');
  relay.toxics = { resetAfter: 10 };
  for (let i = 0; i < 2; i++) {
    const res = await ask(h, proxy, request('POST', '/sha256', { host: 'x.test', body: 'abc' }));
    t.equal(res.status, 502, `reset after 10 bytes of response: 502 (${i + 1})`);
  }
  await proxy.log.waitFor(`${relay.address} (pool default) ejected for`);
  t.equal((await ask(h, proxy, request('GET', '/', { host: 'x.test' }))).status, 503, 'ejected: 503');
  relay.toxics = {};
  await proxy.log.waitFor('back after its ejection');
  t.equal((await ask(h, proxy, request('GET', '/', { host: 'x.test' }))).status, 200, 'back: 200');
  await nothingLeft(t, proxy, relay);
});

proxyTest(t, 'a reset or a half-close mid-body: the client gets a 502 (when nothing was sent yet) or its connection cut short, never a hang; the backend connection is not reused', async (t, h) => {
  const { relay, proxy } = await relayed(t, h);
  for (const toxic of [{ resetAfter: 2000 }, { halfCloseAfter: 2000 }]) {
    relay.toxics = toxic;
    const client = await h.client(proxy);
    client.socket.write('GET /bytes?n=100000 HTTP/1.1\r\nHost: x.test\r\n\r\n');
    await client.waitEnd(5000);
    t.ok(client.bytesReceived > 0 && client.bytesReceived < 100_000, `${JSON.stringify(toxic)}: cut short (${client.bytesReceived} bytes), not a hang`);
    relay.toxics = {};
    const before = relay.accepted;
    const next = await h.client(proxy);
    checkDownload(t, await next.get('/bytes?n=5000', 'x.test'), 5000, 'the next request');
    t.ok(relay.accepted > before, 'on a new backend connection');
    next.destroy();
  }
  await nothingLeft(t, proxy, relay);
});

t.test('a backend frozen with SIGSTOP', async (t) => {
  await proxyTest(t, 'mid-response: the client connection is cut within timeouts.server; health takes it out; SIGCONT brings it back', async (t, h) => {
    const app = await spawnApp('frozen', 0);
    t.teardown(() => {
      app.kill('SIGCONT');
      app.kill('SIGKILL');
    });
    // Two missed checks take it out: on a loaded machine one check of the thawed app may still
    // miss its second, and with fall 1 the request after UP met a 503.
    const proxy = await h.proxy(`
healthcheck: { interval: 200ms, timeout: 1s, rise: 1, fall: 2 }
${TIMEOUTS}
servers: ["127.0.0.1:${app.port}"]
`);
    const client = await h.client(proxy);
    client.socket.write('GET /bytes?n=200000000 HTTP/1.1\r\nHost: x.test\r\n\r\n');
    await waitFor('the response to begin', () => client.bytesReceived > 0, 5000);
    app.kill('SIGSTOP');
    const frozenAt = Date.now();
    await client.waitEnd(10_000);
    t.ok(client.bytesReceived < 200_000_000, `cut after ${Date.now() - frozenAt} ms (${client.bytesReceived} bytes)`);
    await proxy.log.waitFor(`server 127.0.0.1:${app.port} (pool default) DOWN`);
    app.kill('SIGCONT');
    await proxy.log.waitFor(`server 127.0.0.1:${app.port} (pool default) UP`, 10_000);
    const next = await h.client(proxy);
    checkDownload(t, await next.get('/bytes?n=5000', 'x.test'), 5000, 'after SIGCONT');
  });

  await proxyTest(t, 'mid-request-body: 504 within timeouts.server of the last byte it took', async (t, h) => {
    const app = await spawnApp('frozen', 0);
    t.teardown(() => {
      app.kill('SIGCONT');
      app.kill('SIGKILL');
    });
    const proxy = await h.proxy(`
healthcheck: { interval: 1m }
${TIMEOUTS}
servers: ["127.0.0.1:${app.port}"]
`);
    const client = await h.client(proxy);
    const size = 64 * 1024 * 1024;
    client.socket.write(`POST /sha256 HTTP/1.1\r\nHost: x.test\r\nContent-Length: ${size}\r\n\r\n`);
    const piece = Buffer.alloc(64 * 1024, 7);
    // Writes until the socket pushes back: the backend, frozen, stops reading, and so does the balancer.
    app.kill('SIGSTOP');
    let sent = 0;
    for (let i = 0; i < size / piece.length && client.socket.write(piece); i++) sent += piece.length;
    const res = await client.read({ timeoutMs: 10_000 });
    t.equal(res.status, 504, `504 after ${sent} bytes written`);
    app.kill('SIGCONT');
  });
});
