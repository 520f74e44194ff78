// Overload (issue 17, item 5), on the real program so that its memory is its own (/proc): at
// `limits.max_connections` and beyond, with 10,000 idle connections, and with clients that never
// read what they asked for. Through each, the balancer keeps serving other clients, its memory
// stays bounded, and it never crashes (it stops with exit 0 at the end). The program runs from its
// TypeScript sources here, so its RSS starts high (the loader's compiler): what counts is what the
// load adds. bench/memory.js measures the built program.

import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startApp } from '../servers/app.js';
import { LB, lb } from './helpers/lb-process.js';
import { HOST, RawClient, request, waitFor, within } from './helpers/net.js';

/** Starting the program is a process start and its modules: slow on a busy machine (test files run side by side). */
const STARTUP_MS = 60_000;
const MiB = 1024 * 1024;

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

/** The real balancer with `yaml` (listen on a free port); `stop()` checks that it exits 0 (killed in teardown if still there). */
async function balancer(t: Test, yaml: string) {
  const app = await startApp({ name: 'app' });
  t.teardown(() => app.close());
  const file = join(t.testdir({}), 'lb.yaml');
  writeFileSync(file, `listen: ${HOST}:0\nhealthcheck: { interval: 1m }\nservers: ["${HOST}:${app.port}"]\n${yaml}`);
  const run = lb([LB, file]);
  const [, port] = await within(run.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the balancer to listen', STARTUP_MS);
  t.teardown(() => {
    run.child.kill('SIGKILL');
  });
  const stop = async () => {
    run.child.kill('SIGTERM');
    const exit = await within(run.exit, 'the balancer to stop', 30_000);
    t.equal(exit.code, 0, 'never crashed: it stops cleanly, exit 0');
  };
  return { port: Number(port), pid: run.child.pid!, stop };
}

/** A GET on a new connection is answered 200: the balancer still serves. */
async function served(port: number): Promise<boolean> {
  const client = await RawClient.connect(port);
  try {
    const res = await client.send(request('GET', '/', { host: 'x.test', headers: [['Connection', 'close']] }), { timeoutMs: 10_000 });
    return res.status === 200;
  } finally {
    client.destroy();
  }
}

/** `n` connections to `port` that send nothing, opened in batches; each one's close is noted. */
async function idleConnections(port: number, n: number) {
  const sockets: net.Socket[] = [];
  let closed = 0;
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, () => {
      const socket = net.connect(port, HOST);
      socket.on('error', () => {});
      socket.on('close', () => closed++);
      sockets.push(socket);
      return new Promise<void>((resolve) => {
        socket.once('connect', () => resolve());
        socket.once('close', () => resolve());
      });
    });
    await within(Promise.all(batch), 'a batch of connections', 30_000);
  }
  return { sockets, closed: () => closed, destroy: () => sockets.forEach((s) => s.destroy()) };
}

t.test('limits.max_connections: connections beyond it are closed at once, without an answer; those within are served; a freed place takes a new one', async (t) => {
  const { port, stop } = await balancer(t, 'limits: { max_connections: 20 }\ntimeouts: { idle: 5m, header: 5m }\n');
  const first = await idleConnections(port, 19);
  t.ok(await served(port), 'the 20th connection is served');
  const held = await idleConnections(port, 1);
  held.sockets.push(...first.sockets);
  const beyond = await idleConnections(port, 10);
  await waitFor('the connections beyond the limit to be closed', () => beyond.closed() === 10, 10_000);
  t.pass('10 connections beyond the limit: closed');
  t.equal(held.closed() + first.closed(), 0, 'those within it stay');
  held.sockets[0]!.destroy();
  await waitFor('the freed place', () => held.closed() === 1, 5000);
  t.ok(await within(retryServed(port), 'a place to free', 10_000), 'a freed place takes a new connection, served');
  held.destroy();
  await stop();
});

/** A new connection served, tried again (at most 20 times) while the balancer still counts a closed one. */
async function retryServed(port: number): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    try {
      if (await served(port)) return true;
    } catch {
      // closed at once: the freed place is not counted free yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

t.test('10,000 idle connections: others are still served; memory per idle connection reported and bounded', async (t) => {
  const { port, pid, stop } = await balancer(t, 'timeouts: { idle: 5m, header: 5m }\n');
  t.ok(await served(port), 'served before');
  const before = rssOf(pid);
  const idle = await idleConnections(port, 10_000);
  t.teardown(() => idle.destroy());
  t.equal(idle.closed(), 0, 'all 10,000 open');
  const start = Date.now();
  t.ok(await served(port), 'a new client is served beside them');
  const took = Date.now() - start;
  const after = rssOf(pid);
  const perConnection = (after - before) / 10_000;
  t.comment(`RSS ${(before / MiB).toFixed(1)} MiB -> ${(after / MiB).toFixed(1)} MiB with 10,000 idle connections: ${(perConnection / 1024).toFixed(1)} KiB each; a request beside them took ${took} ms`);
  t.ok(after - before < 200 * MiB, 'under 200 MiB for 10,000 idle connections');
  idle.destroy();
  await waitFor('the balancer to let them go', () => idle.closed() === 10_000, 30_000);
  t.ok(await served(port), 'served after');
  await stop();
});

t.test('clients that never read their responses: the balancer stops reading for them (backpressure), memory stays bounded, others are served', async (t) => {
  const { port, pid, stop } = await balancer(t, '');
  const before = rssOf(pid);
  const stuck: RawClient[] = [];
  // Each asks for 20 MiB and reads none of it: 400 MiB in all, were it buffered.
  for (let i = 0; i < 20; i++) {
    const client = await RawClient.connect(port);
    client.socket.pause();
    client.socket.write(request('GET', `/bytes?n=${20 * MiB}`, { host: 'x.test' }));
    stuck.push(client);
  }
  t.teardown(() => stuck.forEach((c) => c.destroy()));
  // Let the transfers fill every buffer on the way.
  let peak = 0;
  for (let i = 0; i < 10; i++) {
    t.ok(await served(port), `served beside them (${i + 1})`);
    peak = Math.max(peak, rssOf(pid));
  }
  t.comment(`RSS ${(before / MiB).toFixed(1)} MiB -> peak ${(peak / MiB).toFixed(1)} MiB with 20 clients not reading 20 MiB each`);
  t.ok(peak - before < 150 * MiB, 'far from the 400 MiB asked for: bounded by socket buffers, not the bodies');
  stuck.forEach((c) => c.destroy());
  t.ok(await served(port), 'served once they are gone');
  await stop();
});
