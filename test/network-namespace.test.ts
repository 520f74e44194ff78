// A backend behind a real link (issue 17, item 2b): it runs in a network namespace this test
// makes, joined to the test's own by a veth pair. The test takes the link down and up (`ip link
// set ... down`: packets vanish, nothing is refused) and throttles it with the tbf qdisc, then
// removes all it made. What the client gets: a 504 or 503 within the configured timeouts, never a
// hang; health takes the server out and brings it back; bodies through a throttled link arrive
// byte-exact. Needs root and iproute2 (`.ci/run` installs it); skipped with the reason otherwise.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { proxyTest, request, sha256, waitEvent, type Harness, type Proxy, type Response } from './helpers/net.js';

const APP = fileURLToPath(new URL('../servers/app.js', import.meta.url));

/** Why this machine cannot make namespaces, or null. */
function unable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('ip', ['-V']).error !== undefined) return 'iproute2 (the ip command) is not installed';
  if (spawnSync('tc', ['-V']).error !== undefined) return 'tc (iproute2) is not installed';
  // Root in a container may still lack CAP_NET_ADMIN: try.
  const probe = `lbp${process.pid}`;
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (made.status !== 0) return `cannot make a network namespace here: ${made.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

function tc(...args: string[]): void {
  const r = spawnSync('tc', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tc ${args.join(' ')}: ${r.stderr}`);
}

const why = unable();
if (why !== null) t.plan(0, why);
else {
  // Names and a subnet of this run's own: runs side by side do not meet.
  const id = process.pid % 250;
  const ns = `lbt${process.pid}`;
  const outside = `lbo${process.pid}`.slice(0, 15);
  const inside = `lbi${process.pid}`.slice(0, 15);
  const here = `10.213.${id}.1`;
  const there = `10.213.${id}.2`;
  ip('netns', 'add', ns);
  t.teardown(() => {
    spawnSync('ip', ['link', 'del', outside]);
    spawnSync('ip', ['netns', 'del', ns]);
  });
  ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
  ip('link', 'set', inside, 'netns', ns);
  ip('addr', 'add', `${here}/24`, 'dev', outside);
  ip('link', 'set', outside, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${there}/24`, 'dev', inside);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');

  /** servers/app.js inside the namespace; resolves with it and its port. */
  const startApp = async (): Promise<{ child: ChildProcess; port: number }> => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, APP, '--name', 'far', '--port', '0', '--host', there], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = String(await waitEvent<Buffer>(child.stdout!, 'data', 'the backend in the namespace to listen'));
    return { child, port: Number(/:(\d+)\//.exec(line)![1]) };
  };

  const ask = async (h: Harness, proxy: Proxy, bytes: Buffer): Promise<Response> => {
    const client = await h.client(proxy);
    const res = await client.send(bytes, { timeoutMs: 10_000 });
    client.destroy();
    return res;
  };

  proxyTest(t, 'the link goes down: 504 within timeouts.server, then 503 once health takes it out; the link comes back, and so does the server', async (t, h) => {
    const { child, port } = await startApp();
    t.teardown(() => child.kill('SIGKILL'));
    const proxy = await h.proxy(`
healthcheck: { interval: 200ms, timeout: 300ms, rise: 1, fall: 1 }
timeouts: { connect: 500ms, server: 800ms }
servers: ["${there}:${port}"]
`);
    t.equal((await ask(h, proxy, request('GET', '/', { host: 'x.test' }))).status, 200, 'through the link');
    ip('link', 'set', outside, 'down');
    const start = Date.now();
    const res = await ask(h, proxy, request('POST', '/sha256', { host: 'x.test', body: 'x' }));
    const took = Date.now() - start;
    // Down: a pooled connection's request goes nowhere (504 after timeouts.server), a new one
    // cannot connect (503 after timeouts.connect); either is an answer within the timeouts.
    t.ok(res.status === 504 || res.status === 503, `an answer: ${res.status} after ${took} ms`);
    t.ok(took < 2500, 'within the timeouts');
    await proxy.log.waitFor(`server ${there}:${port} (pool default) DOWN`);
    t.equal((await ask(h, proxy, request('GET', '/', { host: 'x.test' }))).status, 503, 'out: 503');
    ip('link', 'set', outside, 'up');
    await proxy.log.waitFor(`server ${there}:${port} (pool default) UP`, 10_000);
    t.equal((await ask(h, proxy, request('GET', '/', { host: 'x.test' }))).status, 200, 'back');
  });

  proxyTest(t, 'a throttled link (tbf): bodies take longer and arrive byte-exact', async (t, h) => {
    const { child, port } = await startApp();
    t.teardown(() => child.kill('SIGKILL'));
    const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${there}:${port}"]
`);
    tc('qdisc', 'add', 'dev', outside, 'root', 'tbf', 'rate', '8mbit', 'burst', '32kb', 'latency', '400ms');
    t.teardown(() => spawnSync('tc', ['qdisc', 'del', 'dev', outside, 'root']));
    const n = 1_500_000;
    const start = Date.now();
    const res = await ask(h, proxy, request('GET', `/bytes?n=${n}`, { host: 'x.test' }));
    const took = Date.now() - start;
    t.equal(res.status, 200);
    t.equal(sha256(res.body), res.header('x-sha256'), 'byte-exact');
    // The throttle is on the namespace's way in (our side's egress): uploads are slowed.
    const body = Buffer.alloc(1_000_000, 9);
    const upStart = Date.now();
    const up = await ask(h, proxy, request('POST', '/sha256', { host: 'x.test', body }));
    const upTook = Date.now() - upStart;
    t.equal(up.json().sha256, sha256(body), 'the upload, byte-exact');
    t.ok(upTook >= 700, `1 MB up an 8 Mbit/s link: ${upTook} ms (download ${took} ms)`);
  });
}
