// How the workers of `lb --workers N` get their connections (src/cluster/accept-mode.ts): the
// choice for any Node.js version and platform; the primary settling the ports first
// (reserve-ports.ts); and the real program both ways. With reusePort (Node.js 22.12+, 23.1+ on
// Linux) each worker holds a listening socket of its own on the one port, seen in /proc, and
// connections, a replacement worker, SIGHUP and SIGTERM work as cluster.test.ts shows; where it
// is not (a Node.js made to say 22.11.0), the primary holds the one socket, as before.

import http from 'node:http';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startApp, type App } from '../servers/app.js';
import type { Status } from '../src/admin/status.js';
import { acceptMode, hasReusePort, REUSEPORT_PLATFORMS } from '../src/cluster/accept-mode.js';
import { reservePorts } from '../src/cluster/reserve-ports.js';
import { parseConfig } from '../src/config/load.js';
import type { Listener } from '../src/config/schema.js';
import { ProxyServer } from '../src/proxy/proxy-server.js';
import { freePort, HOST, LogCapture, slowRequestArrived, within } from './helpers/net.js';
import { listeningSockets, portsOf } from './helpers/listening-sockets.js';
import { alive, LB, lb } from './helpers/lb-process.js';

/** Starting the program (or a replacement worker) is a process start and its modules: slow on a busy machine (test files run side by side). */
const STARTUP_MS = 60_000;
/** This Node.js, here: whether the workers get sockets of their own. */
const REUSE = acceptMode(process.versions.node, process.platform, undefined).reusePort;
const NO_REUSE = `Node.js ${process.versions.node} on ${process.platform} has no reusePort`;
/** At most this many requests to see every worker answer one (the kernel picks a socket by a hash of the connection). */
const MAX_REQUESTS = 200;

const CLUSTER_LINE = 'connections: the primary accepts them and hands each to a worker in turn (node:cluster)';
const REUSE_LINE = 'connections: each worker accepts on a socket of its own (SO_REUSEPORT), the kernel spreads them';

t.test('the choice: reusePort from Node.js 22.12 and 23.1 on, on Linux and FreeBSD, unless LB_ACCEPT=cluster', async (t) => {
  for (const version of ['20.20.2', '22.0.0', '22.11.0', '23.0.0', '18.19.0']) t.notOk(hasReusePort(version), version);
  for (const version of ['22.12.0', '22.23.5', '23.1.0', '23.11.1', '24.0.0', '25.2.1', '26.0.0', '27.0.0']) t.ok(hasReusePort(version), version);
  t.same(REUSEPORT_PLATFORMS, ['linux', 'freebsd']);
  t.same(acceptMode('24.22.3', 'linux', undefined), { reusePort: true, line: REUSE_LINE });
  t.same(acceptMode('22.12.0', 'freebsd', undefined), { reusePort: true, line: REUSE_LINE });
  t.same(acceptMode('24.22.3', 'linux', 'clustre'), { reusePort: true, line: `${REUSE_LINE}; LB_ACCEPT=clustre ignored (its one value is cluster)` }, 'LB_ACCEPT knows one value, and says so');
  t.same(acceptMode('20.20.2', 'linux', 'x'), { reusePort: false, line: `${CLUSTER_LINE}; Node.js 20.20.2 has no reusePort (22.12 and 23.1 on have it); LB_ACCEPT=x ignored (its one value is cluster)` });
  t.same(acceptMode('24.22.3', 'win32', 'x'), { reusePort: false, line: `${CLUSTER_LINE}; SO_REUSEPORT is not used on win32; LB_ACCEPT=x ignored (its one value is cluster)` });
  t.same(acceptMode('24.22.3', 'linux', ''), { reusePort: true, line: REUSE_LINE }, 'LB_ACCEPT= (empty) is as unset');
  t.same(acceptMode('20.20.2', 'linux', undefined), { reusePort: false, line: `${CLUSTER_LINE}; Node.js 20.20.2 has no reusePort (22.12 and 23.1 on have it)` });
  t.same(acceptMode('22.11.0', 'linux', undefined), { reusePort: false, line: `${CLUSTER_LINE}; Node.js 22.11.0 has no reusePort (22.12 and 23.1 on have it)` });
  for (const platform of ['darwin', 'win32', 'sunos', 'aix', 'openbsd']) {
    t.same(acceptMode('24.22.3', platform, undefined), { reusePort: false, line: `${CLUSTER_LINE}; SO_REUSEPORT is not used on ${platform}` }, platform);
  }
  t.same(acceptMode('24.22.3', 'linux', 'cluster'), { reusePort: false, line: `${CLUSTER_LINE}, as LB_ACCEPT=cluster asks` });
});

/** The listeners of `listen: [...]`, parsed as lb parses them. */
function listeners(...addresses: string[]): Listener[] {
  return parseConfig(`listen: [${addresses.map((a) => JSON.stringify(a)).join(', ')}]\nservers: ["${HOST}:1"]\n`, 'lb.yaml').listen;
}

/** Binds a server to `port` (with `reusePort` where asked); resolves with it, or rejects with the error. */
function bindTo(port: number, reusePort = false): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port, ...(reusePort ? { reusePort: true } : {}) } as net.ListenOptions, () => resolve(server));
  });
}

const closeServer = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** The ports this process listens on. */
const ours = () => portsOf(process.pid);

t.test('the primary settles the ports: a port 0 one held with reusePort until the workers listen, a fixed one checked and let go', async (t) => {
  const off = listeners(`${HOST}:0`);
  const asIs = await reservePorts(off, false);
  t.equal(asIs.listen, off, 'node:cluster’s way: the listeners as they are');
  await asIs.release();

  const fixed = await freePort();
  const before = ours();
  const reserved = await reservePorts(listeners(`${HOST}:0`, `${HOST}:${fixed}`, '0'), true);
  const [ephemeral, kept, everywhere] = reserved.listen.map((l) => l.port);
  t.not(ephemeral, 0, 'port 0 now has its number');
  t.not(everywhere, 0, 'on every interface too');
  t.equal(kept, fixed);
  t.match(reserved.listen[1], { host: HOST, port: fixed, tls: null, redirect: false, proxyProtocol: false }, 'the rest of the listener as it was');
  t.same(ours(), [...before, ephemeral!, everywhere!].sort((a, b) => a - b), 'the port 0 ones are held, the fixed one let go');
  await closeServer(await bindTo(fixed));
  t.pass('the fixed port is free for the workers');
  if (REUSE) {
    await closeServer(await bindTo(ephemeral!, true));
    t.pass('a worker’s reusePort socket joins the held one');
  }
  // A client that comes before the workers listen (none should: nobody knows the port yet) is closed, not left waiting.
  const socket = net.connect(ephemeral!, HOST);
  socket.resume();
  await within(new Promise((resolve) => socket.once('close', resolve)), 'the early client to be closed');
  await reserved.release();
  t.same(ours(), before, 'released');
  await closeServer(await bindTo(ephemeral!));
  t.pass('the port is free once released');
});

t.test('a port another process holds is refused, even with SO_REUSEPORT (another balancer), and nothing stays held', async (t) => {
  const taken = await bindTo(0, true);
  t.teardown(() => closeServer(taken));
  const { port } = taken.address() as net.AddressInfo;
  const before = ours();
  await t.rejects(reservePorts(listeners(`${HOST}:0`, `${HOST}:${port}`), true), {
    message: `listen address ${HOST}:${port} is in use (EADDRINUSE)`,
    code: 'EADDRINUSE',
  });
  t.same(ours(), before, 'the port 0 one held before is let go');
});

t.test('a ProxyServer told to: its listeners have SO_REUSEPORT (another socket joins each)', async (t) => {
  const config = parseConfig(`listen: ["${HOST}:0", "0"]\nhealthcheck: { type: none }\nservers: ["${HOST}:1"]\n`, 'lb.yaml');
  const server = new ProxyServer(config, new LogCapture().logger);
  const addresses = await server.listen(true);
  t.teardown(() => server.close());
  t.match(addresses, [{ address: HOST }, { address: '::' }], 'one on 127.0.0.1, one on every interface');
  for (const { port } of addresses) if (REUSE) await closeServer(await bindTo(port, true));
  t.pass(REUSE ? 'joined' : `${NO_REUSE}: listening is all there is to see`);
});

// ---------------------------------------------------------------------------------------------
// The real program.

interface Reply {
  status: number;
  server: string;
}

/** One request on a fresh connection (so that it may reach any worker). */
function get(port: number, path: string, host = 'x'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: HOST, port, path, headers: { host }, agent: false }, (res) => {
        res.resume().on('end', () => resolve({ status: res.statusCode!, server: String(res.headers['x-server']) }));
      })
      .on('error', reject);
  });
}

async function getStatus(adminPort: number): Promise<Status> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: HOST, port: adminPort, path: '/status', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(JSON.parse(body) as Status));
      })
      .on('error', reject);
  });
}

/** Requests per worker pid, from the status page. */
async function served(adminPort: number): Promise<Map<number, number>> {
  return new Map((await getStatus(adminPort)).workers!.map((w) => [w.pid, w.requests]));
}

/**
 * Requests for `host`, each on its own connection, until every one of `pids` has served more than
 * `before` says; resolves with the answers ("200 a"). Fails after MAX_REQUESTS.
 */
async function untilEachServes(port: number, adminPort: number, pids: number[], host = 'x', before = new Map<number, number>()): Promise<Set<string>> {
  const answers = new Set<string>();
  for (let i = 0; i < MAX_REQUESTS; i++) {
    const reply = await get(port, '/', host);
    answers.add(`${reply.status} ${reply.server}`);
    const now = await served(adminPort);
    if (pids.every((pid) => (now.get(pid) ?? 0) > (before.get(pid) ?? 0))) return answers;
  }
  throw new Error(`${MAX_REQUESTS} requests, and not every worker of ${pids.join(', ')} served one: ${JSON.stringify([...(await served(adminPort))])}`);
}

async function apps(t: Test, ...names: string[]): Promise<App[]> {
  const out: App[] = [];
  for (const name of names) out.push(await startApp({ name }));
  t.teardown(() => Promise.all(out.map((a) => a.close())));
  return out;
}

/** Starts `lb CONFIG --workers 2` (node options `nodeArgs` first); resolves with the process, its ports and its pids. */
async function cluster(t: Test, yaml: string, nodeArgs: string[] = []) {
  const dir = t.testdir({});
  const file = join(dir, 'lb.yaml');
  writeFileSync(file, yaml);
  const proc = lb([...nodeArgs, LB, file, '--workers', '2']);
  const workers = (): number[] => [...proc.output().matchAll(/worker processes: (\d+), (\d+)|worker (\d+) started/g)].flatMap((m) => m.slice(1).filter(Boolean).map(Number));
  t.teardown(() => {
    // A worker left behind would keep its port.
    for (const pid of workers()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    proc.child.kill('SIGKILL');
  });
  const port = Number((await within(proc.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the listening line', STARTUP_MS))[1]);
  const adminPort = Number(/status page on http:\/\/127\.0\.0\.1:(\d+)\//.exec(proc.output())![1]);
  return { proc, file, port, adminPort, primary: proc.child.pid!, workers };
}

/** Who holds each listening socket of `port`, sorted: one list of pids per socket. */
function holders(port: number, pids: number[]): number[][] {
  return listeningSockets(port, pids)
    .map((s) => s.pids.sort((a, b) => a - b))
    .sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
}

const sorted = (pids: number[]): number[][] => pids.map((pid) => [pid]).sort((a, b) => a[0]! - b[0]!);

t.test('SO_REUSEPORT: a socket per worker, connections reach each, a replacement binds its own, SIGHUP reloads all, SIGTERM drains', { skip: REUSE ? false : NO_REUSE }, async (t) => {
  const [a, c] = await apps(t, 'a', 'c');
  const yaml = (hosts: string) => `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nhealthcheck: { interval: 1m }\nservers: ["${HOST}:${a!.port}"]\n${hosts}`;
  const { proc, file, port, adminPort, primary, workers } = await cluster(t, yaml(''));
  const [first, second] = workers();
  t.match(proc.output(), new RegExp(`INFO ${REUSE_LINE.replace(/[()]/g, '\\$&')}\n`), 'the way is logged');
  t.equal(proc.output().split(REUSE_LINE).length, 2, 'once');
  t.same(holders(port, [primary, first!, second!]), sorted([first!, second!]), 'two listening sockets, one in each worker, none left in the primary');

  t.same(await untilEachServes(port, adminPort, [first!, second!]), new Set(['200 a']), 'the kernel spreads connections over both');

  process.kill(first!, 'SIGKILL');
  const replacement = Number((await within(proc.until(/worker (\d+) started/), 'the replacement', STARTUP_MS))[1]);
  t.same(holders(port, [primary, second!, replacement]), sorted([second!, replacement]), 'the replacement binds a socket of its own');

  writeFileSync(file, yaml(`hosts:\n  - host: www.c.com\n    servers: ["${HOST}:${c!.port}"]\n`));
  const before = await served(adminPort);
  proc.child.kill('SIGHUP');
  await within(proc.until(/SIGHUP: reloaded/), 'the reload');
  t.same(await untilEachServes(port, adminPort, [second!, replacement], 'www.c.com', before), new Set(['200 c']), 'every worker routes the new host');
  t.notMatch(proc.output(), /reload: listen stays/, 'the workers’ listeners are the primary’s, port included');

  const arrived = slowRequestArrived(a!);
  const slow = get(port, '/slow?ms=400');
  await arrived;
  proc.child.kill('SIGTERM');
  t.equal((await slow).status, 200, 'the request in flight got its response');
  t.equal((await within(proc.exit, 'the exit', 15_000)).code, 0);
  t.same(holders(port, []), [], 'no socket left on the port');
});

t.test('without reusePort (a Node.js that says 22.11.0): node:cluster’s way, the one socket in the primary', async (t) => {
  const [a] = await apps(t, 'a');
  const older = 'Object.defineProperty(process, "versions", { value: { ...process.versions, node: "22.11.0" } })';
  const { proc, port, adminPort, primary, workers } = await cluster(
    t,
    `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nhealthcheck: { interval: 1m }\nservers: ["${HOST}:${a!.port}"]\n`,
    [`--import=data:text/javascript,${encodeURIComponent(older)}`],
  );
  const [first, second] = workers();
  t.match(proc.output(), `INFO ${CLUSTER_LINE}; Node.js 22.11.0 has no reusePort (22.12 and 23.1 on have it)\n`);
  t.same(holders(port, [primary, first!, second!]), [[primary]], 'one listening socket, the primary’s');
  t.same(await untilEachServes(port, adminPort, [first!, second!]), new Set(['200 a']), 'handed to both workers');
  proc.child.kill('SIGTERM');
  t.equal((await within(proc.exit, 'the exit', 15_000)).code, 0);
});
