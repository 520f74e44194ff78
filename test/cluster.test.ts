// `lb --workers N`, on the real program: the workers all serve (on node:cluster's shared
// listener, or each on its own SO_REUSEPORT socket where this Node.js has it:
// cluster-accept.test.ts); one health checker (in the primary) whose flips every worker follows;
// a passive failure seen by one worker takes the server out of all of them; the status page adds
// up every worker's counters; SIGHUP reloads every worker while a request in flight completes; a
// worker that dies is replaced; SIGTERM drains every worker and exits 0. And the edges: an
// address in use, a worker that stops answering, a replacement that cannot start.

import type { Worker } from 'node:cluster';
import http from 'node:http';
import https from 'node:https';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startApp, type App } from '../servers/app.js';
import type { Status } from '../src/admin/status.js';
import type { Backend } from '../src/balancer/backend.js';
import { buildSnapshot } from '../src/balancer/snapshot.js';
import { ClusterPrimary } from '../src/cluster/primary.js';
import { parseConfig } from '../src/config/load.js';
import type { HealthMonitor } from '../src/health/monitor.js';
import { selfSigned } from './helpers/certificate.js';
import { HOST, LogCapture, slowRequestArrived, WAIT_MS, within } from './helpers/net.js';
import { alive, LB, lb } from './helpers/lb-process.js';
import { ticketChain } from './helpers/ticket-chain.js';

/** Starting the program (or a replacement worker) is a process start and its modules: slow on a busy machine (test files run side by side). */
const STARTUP_MS = 60_000;

interface Reply {
  status: number;
  server: string;
  body: string;
}

/** One request on a fresh connection (so that it may reach any worker). */
function get(port: number, path: string, host = 'x', ca?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options = { host: HOST, port, path, headers: { host }, agent: false, ca };
    const req = (ca === undefined ? http : https).get(options, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, server: String(res.headers['x-server']), body }));
    });
    req.on('error', reject);
  });
}

/** `n` requests one after the other, each on its own connection: which servers answered. */
async function spread(port: number, n: number, host = 'x'): Promise<string[]> {
  const servers: string[] = [];
  for (let i = 0; i < n; i++) {
    const reply = await get(port, '/', host);
    servers.push(`${reply.status} ${reply.server}`);
  }
  return servers;
}

/** A POST to the admin API with the bearer token: its status and body. */
function post(port: number, path: string, body: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, path, method: 'POST', agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const TOKEN = 'cluster-test-token-0123456789abcdef';

async function getStatus(adminPort: number): Promise<Status> {
  return JSON.parse((await get(adminPort, '/status')).body) as Status;
}

/** Polls /status until `cond` holds; fails after WAIT_MS. */
async function statusUntil(adminPort: number, what: string, cond: (status: Status) => boolean): Promise<Status> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const status = await getStatus(adminPort);
    if (cond(status)) return status;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function apps(t: Test, ...names: string[]): Promise<App[]> {
  const out: App[] = [];
  for (const name of names) out.push(await startApp({ name }));
  t.teardown(() => Promise.all(out.map((a) => a.close())));
  return out;
}

/** POST to a stub app's /admin/healthy or /admin/unhealthy. */
function setHealth(app: App, state: 'healthy' | 'unhealthy'): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port: app.port, path: `/admin/${state}`, method: 'POST', agent: false }, (res) => {
      res.resume().on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

const count = (text: string, pattern: RegExp): number => (text.match(new RegExp(pattern, 'g')) ?? []).length;

/** Starts `lb CONFIG --workers 2`, CONFIG in `dir`; resolves with the process, its port and its admin port. */
async function cluster(t: Test, yaml: string, dir = t.testdir({})) {
  const file = join(dir, 'lb.yaml');
  writeFileSync(file, yaml);
  const proc = lb([LB, file, '--workers', '2']);
  t.teardown(() => {
    // A worker left behind would keep its port: the test kills the primary's workers too.
    for (const pid of workerPids(proc.output())) if (alive(pid)) process.kill(pid, 'SIGKILL');
    proc.child.kill('SIGKILL');
  });
  const port = Number((await within(proc.until(/listening on https?:\/\/127\.0\.0\.1:(\d+)/), 'the listening line', STARTUP_MS))[1]);
  const admin = /status page on http:\/\/127\.0\.0\.1:(\d+)\//.exec(proc.output());
  return { proc, file, port, adminPort: admin === null ? 0 : Number(admin[1]) };
}

/** Every worker pid the primary named so far. */
function workerPids(output: string): number[] {
  const pids = [...output.matchAll(/worker processes: ([\d, ]+)/g)].flatMap((m) => m[1]!.split(', ').map(Number));
  return [...pids, ...[...output.matchAll(/worker (\d+) started/g)].map((m) => Number(m[1]))];
}

t.test('--workers 2: both serve, one checker, flips and reloads reach every worker, a dead worker is replaced, SIGTERM drains all', async (t) => {
  const [a, b, c] = await apps(t, 'a', 'b', 'c');
  const yaml = (hosts: string) =>
    `listen: 127.0.0.1:0\nadmin: { address: 127.0.0.1:0, token_file: token }\nhealthcheck: { interval: 100ms, rise: 1, fall: 1 }\n` +
    `servers: ["${HOST}:${a!.port}", "${HOST}:${b!.port}"]\n${hosts}`;
  const dir = t.testdir({ token: `${TOKEN}\n` });
  const { proc, file, port, adminPort } = await cluster(t, yaml(''), dir);
  const [, first, second] = /2 worker processes: (\d+), (\d+)/.exec(proc.output())!.map(Number);

  t.test('both workers take connections; the status page adds their counters up', async (t) => {
    const answers = await spread(port, 8);
    t.same(answers.filter((s) => !/^200 [ab]$/.test(s)), [], 'every request answered by a or b');
    // With SO_REUSEPORT (cluster-accept.test.ts) the kernel picks a worker by a hash of each
    // connection, not in turn: a few more requests, one at a time, until each worker has served.
    let status = await getStatus(adminPort);
    for (let i = 0; i < 200 && !status.workers!.every((w) => w.requests > 0); i++) {
      t.equal((await get(port, '/')).status, 200);
      status = await getStatus(adminPort);
    }
    t.same(status.workers!.map((w) => w.pid).sort(), [first, second].sort(), 'both workers report');
    t.ok(status.workers!.every((w) => w.requests > 0), `each worker served some: ${JSON.stringify(status.workers)}`);
    t.equal(status.pools[0]!.requests, status.workers!.reduce((n, w) => n + w.requests, 0), 'the pool counts every worker’s requests');
    t.ok(status.pools[0]!.requests >= 8);
    t.equal(status.servers.reduce((n, s) => n + s.responses['2xx'], 0), status.pools[0]!.responses['2xx']);
    t.equal(status.durations.count, status.pools[0]!.requests, 'every request in the duration histogram');
    t.ok(status.servers.every((s) => s.lastCheck?.ok === true), 'the primary’s checker reports each server’s last check');
    const metrics = (await get(adminPort, '/metrics')).body;
    t.match(metrics, `lb_pool_requests_total{pool="default",class="2xx"} ${status.pools[0]!.responses['2xx']}`);
    t.same(status.responses, [{ pool: 'default', status: 200, code: '', source: 'server', count: status.pools[0]!.responses['2xx'] }], 'lb_responses_total, added up');
    t.match(metrics, `lb_responses_total{pool="default",status="200",code="",source="server"} ${status.pools[0]!.responses['2xx']}`);
    t.match(metrics, 'lb_workers 2');
    t.match((await get(adminPort, '/')).body, /<dt>workers<\/dt><dd id="workers">2<\/dd>/, 'the page shows the workers');
    t.equal(count(proc.output(), /health checker running in worker thread/), 1, 'one health checker, not one per worker');
  });

  t.test('a flip of the one checker reaches every worker', async (t) => {
    // The primary tells every worker of a flip as it logs it, and a worker handles its messages
    // in order: once every worker has answered a status request sent after it, each has the flip.
    // (node:cluster hands connections over behind those messages; with SO_REUSEPORT a connection
    // reaches a worker straight from the kernel, maybe before the worker has read the flip.)
    await setHealth(a!, 'unhealthy');
    await within(proc.until(/server 127\.0\.0\.1:\d+ \(pool default\) DOWN: GET \/healthcheck -> 500 \(healthcheck\.path, healthcheck\.expect\)/), 'a down');
    t.equal((await getStatus(adminPort)).workers!.length, 2, 'both workers answered after the flip');
    t.same(new Set(await spread(port, 8)), new Set(['200 b']), 'no worker sends to a');
    await setHealth(a!, 'healthy');
    await within(proc.until(/server 127\.0\.0\.1:\d+ \(pool default\) UP/), 'a up');
    t.equal((await getStatus(adminPort)).workers!.length, 2, 'both workers answered after the flip');
    t.same(new Set(await spread(port, 8)), new Set(['200 a', '200 b']), 'a is back in every worker');
    t.equal(count(proc.output(), /DOWN: GET \/healthcheck -> 500/), 1, 'logged once, by the primary');
  });

  t.test('SIGHUP: an added host is routed by every worker, while a slow request in flight completes', async (t) => {
    const arrived = slowRequestArrived(a!, b!);
    const slow = get(port, '/slow?ms=600');
    await arrived;
    writeFileSync(file, yaml(`hosts:\n  - host: www.c.com\n    servers: ["${HOST}:${c!.port}"]\n`));
    proc.child.kill('SIGHUP');
    await within(proc.until(/SIGHUP: reloaded/), 'the reload');
    t.same(new Set(await spread(port, 6, 'www.c.com')), new Set(['200 c']), 'the new host, in every worker');
    const done = await slow;
    t.equal(done.status, 200, 'the request in flight completed');
    t.equal(count(proc.output(), /health checker running in worker thread/), 2, 'the one checker moved to the new server list');

    writeFileSync(file, 'servers: [8083\n');
    proc.child.kill('SIGHUP');
    await within(proc.until(/ERROR SIGHUP: .*lb\.yaml.*; keeping the running configuration/), 'the rejected reload');
    writeFileSync(file, yaml('hosts:\n  - host: www.d.com\n    servers: ["no-such-host.invalid:80"]\n'));
    proc.child.kill('SIGHUP');
    await within(proc.until(/ERROR SIGHUP: getaddrinfo \w+ no-such-host\.invalid; keeping the running configuration/), 'the failed lookup');
    t.same(new Set(await spread(port, 4, 'www.c.com')), new Set(['200 c']), 'still serving the last good configuration');
  });

  t.test('the admin API: a drain reaches every worker before the API answers', async (t) => {
    const drained = await post(adminPort, `/servers/${encodeURIComponent(`${HOST}:${a!.port}`)}/state`, 'drain', TOKEN);
    t.equal(drained.status, 200, drained.body);
    t.match(JSON.parse(drained.body), { servers: [{ pool: 'default', server: `${HOST}:${a!.port}`, admin: 'drain' }] });
    t.same(new Set(await spread(port, 8)), new Set(['200 b']), 'no worker sends new requests to a');
    t.match(proc.output(), /server 127\.0\.0\.1:\d+ \(pool default\): ready -> drain, by the admin API \(127\.0\.0\.1\)/);
  });

  t.test('a worker that dies is replaced, and follows the admin API\'s changes made before it; the others serve meanwhile', async (t) => {
    process.kill(first!, 'SIGKILL');
    const [, replacement] = (await within(proc.until(/worker (\d+) started/), 'the replacement', STARTUP_MS)).map(Number);
    t.match(proc.output(), new RegExp(`ERROR worker ${first} exited \\(SIGKILL\\); starting another in 100 ms`));
    t.same(new Set(await spread(port, 8)), new Set(['200 b']), 'a still drains, in the replacement too');
    t.equal((await post(adminPort, `/servers/${HOST}:${a!.port}/state`, 'ready', TOKEN)).status, 200);
    t.same(new Set(await spread(port, 6)), new Set(['200 a', '200 b']));
    const status = await getStatus(adminPort);
    t.same(status.workers!.map((w) => w.pid).sort(), [second, replacement].sort(), 'the replacement reports');
  });

  t.test('SIGTERM: a request in flight finishes, every worker exits, then the primary, with 0', async (t) => {
    const arrived = slowRequestArrived(a!, b!);
    const slow = get(port, '/slow?ms=400');
    await arrived;
    proc.child.kill('SIGTERM');
    const res = await slow;
    t.equal(res.status, 200, 'the request in flight got its response');
    const { code } = await within(proc.exit, 'the exit', 15_000);
    t.equal(code, 0);
    t.same(workerPids(proc.output()).filter(alive), [], 'no worker left');
  });
});

t.test('a passive failure in one worker takes the server out of all; a worker that stops answering is left out, then killed at stop', async (t) => {
  const [a, c] = await apps(t, 'a', 'c');
  const { proc, port, adminPort } = await cluster(
    t,
    `listen: 127.0.0.1:0\nadmin: { address: 127.0.0.1:0, token_file: token }\nhealthcheck: { interval: 1m }\ntimeouts: { drain: 200ms }\n` +
      `servers: ["${HOST}:${a!.port}", "${HOST}:${c!.port}"]\n`,
    t.testdir({ token: `${TOKEN}\n` }),
  );
  const [, first, second] = /2 worker processes: (\d+), (\d+)/.exec(proc.output())!.map(Number);
  const down = new RegExp(`WARN worker (\\d+): server 127\\.0\\.0\\.1:${c!.port} \\(pool default\\) DOWN: connect ECONNREFUSED`);
  await statusUntil(adminPort, 'the first checks', (s) => s.servers.every((server) => server.lastCheck?.ok === true));
  await c!.close();

  // One request at a time until a worker is refused by c (it retries on a): that worker logs it,
  // tells the primary, and the primary tells the other worker.
  for (let i = 0; i < 8 && !down.test(proc.output()); i++) t.equal((await get(port, '/')).server, 'a');
  const refused = Number((await within(proc.until(down), 'the passive failure'))[1]);
  t.ok([first, second].includes(refused), 'the line names the worker');
  await statusUntil(adminPort, 'the primary to take c out', (s) => !s.servers[1]!.up);
  t.pass('the primary has c out');
  t.same(new Set(await spread(port, 8)), new Set(['200 a']), 'no worker tries c again');
  t.equal(count(proc.output(), down), 1, 'only the worker that was refused saw it');

  // Stall the other one (a process killed with SIGKILL writes no coverage report).
  const stopped = refused === first ? second! : first!;
  process.kill(stopped, 'SIGSTOP');
  t.teardown(() => alive(stopped) && process.kill(stopped, 'SIGKILL'));
  const stalled = await getStatus(adminPort);
  t.same(stalled.workers!.map((w) => w.pid), [refused], 'the status page leaves out a worker that does not answer');
  const change = await post(adminPort, `/servers/${HOST}:${a!.port}/weight`, '2', TOKEN);
  t.equal(change.status, 200, 'the admin API answers without the stalled worker');
  await within(proc.until(new RegExp(`ERROR admin API: worker ${stopped} did not confirm the change within 1000 ms`)), 'the change to give up on it');
  t.equal((await post(adminPort, '/servers/nosuch:1/state', 'drain', TOKEN)).status, 404, 'an unknown server: no worker is asked');
  proc.child.kill('SIGHUP');
  await within(proc.until(new RegExp(`ERROR reload: worker ${stopped} did not answer within 5000 ms`)), 'the reload to give up on it', 15_000);
  await within(proc.until(/SIGHUP: reloaded/), 'the reload of the others');

  proc.child.kill('SIGTERM');
  const { code, stderr } = await within(proc.exit, 'the exit', 15_000);
  t.equal(code, 0);
  t.match(stderr, 'WARN stop: 1 worker(s) still running 2000 ms past the drain timeout, killing them');
  t.notOk(alive(stopped), 'the stalled worker was killed');
});

t.test('an address in use: one line, exit 1, either way the workers get connections', async (t) => {
  const taken = http.createServer();
  await new Promise<void>((resolve) => taken.listen(0, HOST, resolve));
  t.teardown(() => taken.close());
  const { port } = taken.address() as { port: number };
  const dir = t.testdir({ 'lb.yaml': `listen: 127.0.0.1:${port}\nservers: ["${HOST}:1"]\n` });
  // node:cluster's way binds in the primary, when a worker asks: the worker's listen fails, and
  // says so as one process would. With SO_REUSEPORT (cluster-accept.test.ts) the primary finds
  // the port taken before it starts any worker. Where there is no reusePort, both are the first.
  for (const accept of ['cluster', 'default']) {
    const proc = lb([LB, join(dir, 'lb.yaml'), '-w', '2'], undefined, { ...process.env, LB_ACCEPT: accept });
    t.teardown(() => proc.child.kill('SIGKILL'));
    const { code, stderr } = await within(proc.exit, 'the exit', STARTUP_MS);
    t.equal(code, 1, accept);
    t.equal(stderr, `lb: listen address 127.0.0.1:${port} is in use (EADDRINUSE)\n`, accept);
  }
});

t.test('TLS: workers serve HTTPS; a replacement that cannot read the certificate is retried until it can', async (t) => {
  const [a] = await apps(t, 'a');
  const dir = t.testdir({});
  const { cert, key } = selfSigned(dir);
  const pem = readFileSync(cert, 'utf8');
  const { proc, port } = await cluster(
    t,
    `listen:\n  address: 127.0.0.1:0\n  tls: { cert: "${cert}", key: "${key}" }\nhealthcheck: { interval: 1m }\nservers: ["${HOST}:${a!.port}"]\n`,
    dir,
  );
  const [, first] = /2 worker processes: (\d+), (\d+)/.exec(proc.output())!.map(Number);
  t.same(await get(port, '/', HOST, pem).then((r) => [r.status, r.server]), [200, 'a'], 'HTTPS through a worker');
  // The workers seal tickets with the same keys (the primary's secret): a ticket one gave resumes
  // on the other. Connections reach the workers in turn (node:cluster) or as the kernel spreads
  // them (SO_REUSEPORT); with keys of their own, a chain this long would cross and fail.
  const { resumed } = await ticketChain(port, null, 8);
  t.same(resumed, [false, true, true, true, true, true, true, true], 'every connection after the first resumed, whichever worker it reached');

  rmSync(cert);
  process.kill(first!, 'SIGKILL');
  await within(proc.until(new RegExp(`ERROR worker \\d+: listen\\.tls\\.cert: cannot read ${cert.replace(/[.\\/]/g, '\\$&')}: ENOENT`)), 'the failed replacement', STARTUP_MS);
  await within(proc.until(/ERROR worker \d+ exited \(code 1\); starting another in 200 ms/), 'another try, later', STARTUP_MS);
  writeFileSync(cert, pem);
  await within(proc.until(/worker \d+ started/), 'a replacement, once the file is back', STARTUP_MS);
  t.same(await get(port, '/', HOST, pem).then((r) => r.status), 200);

  // Ctrl-C in a terminal: SIGINT to every process at once; each worker also gets the primary's stop.
  const workers = workerPids(proc.output()).filter(alive);
  t.equal(workers.length, 2);
  for (const pid of workers) process.kill(pid, 'SIGINT');
  proc.child.kill('SIGINT');
  const { code, stderr } = await within(proc.exit, 'the exit', 15_000);
  t.equal(code, 0);
  t.notMatch(stderr, /exited \(code 0\); starting another/, 'workers that stop are not replaced once stopping');
  t.same(workers.filter(alive), []);
});

t.test('the primary in process: a passive failure is relayed once; a worker that exits owes no reply', async (t) => {
  const config = parseConfig(`servers: ["${HOST}:1", "${HOST}:2"]\n`, 'lb.yaml');
  const log = new LogCapture();
  const primary = new ClusterPrimary(config, log.logger, 2);
  primary['fleet'].use(await buildSnapshot(config));
  const marked: string[] = [];
  primary['health'] = { markDown: (server: Backend) => marked.push(server.label) } as unknown as HealthMonitor;
  const sent: unknown[] = [];
  const replies: unknown[] = [];
  // A stand-in for the worker with just what markDown and onExit use of it.
  const worker: Pick<Worker, 'isConnected' | 'send'> = {
    isConnected: () => true,
    send: (message: unknown) => {
      sent.push(message);
      return true;
    },
  };
  const member = {
    worker: worker as Worker,
    pid: 1,
    started: true,
    listening: true,
    pending: new Map([[7, (reply: unknown) => replies.push(reply)]]),
  };
  primary['members'].add(member);
  primary['markDown'](`${HOST}:1`);
  t.same(sent, [{ type: 'health', label: `${HOST}:1`, up: false }], 'every worker is told');
  primary['markDown'](`${HOST}:1`);
  primary['markDown']('gone.example:80');
  t.equal(sent.length, 1, 'a second report of a server already out, or of one no longer configured, changes nothing');
  t.same(marked, [`${HOST}:1`, `${HOST}:1`], 'the checks hear of each report, to count `rise` passes again');
  t.same(log.lines, [], 'the worker that saw it logged it, not the primary');
  // A flip of the primary's own checks goes through the same owner: logged here, and every worker told.
  primary['fleet'].setHealth(primary['fleet'].snapshot.byLabel.get(`${HOST}:2`)!, false, 'status 500', 'check');
  t.same(sent[1], { type: 'health', label: `${HOST}:2`, up: false });
  t.match(log.lines, [/WARN server 127\.0\.0\.1:2 \(pool default\) DOWN: status 500$/]);
  t.equal(marked.length, 2, 'a check’s own flip is not sent back to the checks');
  const logged = log.lines.length;
  primary['onExit'](member, 1, null);
  t.same(replies, [null], 'a request it had not answered gets null');
  t.equal(primary['members'].size, 0);
  t.same(log.lines.slice(logged), [], 'a worker exiting while the primary is not running is not news');
});
