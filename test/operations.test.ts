// Operations, on the real program: SIGHUP reloads the configuration while a slow request in
// flight completes; an invalid reload keeps the old configuration serving; SIGTERM lets a
// request in flight finish, then exits 0; past timeouts.drain what is left is cut.

import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startApp, type App } from '../servers/app.js';
import { parseConfig } from '../src/config/load.js';
import { HOST, proxyTest, serverOf, slowRequestArrived, waitFor, within } from './helpers/net.js';
import { LB, lb } from './helpers/lb-process.js';

/** Starting the program is a process start and its modules: slow on a busy machine (test files run side by side). */
const STARTUP_MS = 30_000;

/** GET through the balancer; resolves with status, x-server and body. */
function get(port: number, path: string, host: string): Promise<{ status: number; server: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, server: String(res.headers['x-server']), body }));
    });
    req.on('error', reject);
  });
}

async function apps(t: Test, ...names: string[]): Promise<App[]> {
  const out: App[] = [];
  for (const name of names) out.push(await startApp({ name }));
  t.teardown(() => Promise.all(out.map((a) => a.close())));
  return out;
}

const yaml = (hosts: [string, App][]) =>
  `listen: 127.0.0.1:0\nhealthcheck: { interval: 1m }\nhosts:\n` +
  hosts.map(([host, app]) => `  - host: ${host}\n    servers: ["${HOST}:${app.port}"]\n`).join('');

t.test('SIGHUP: an added host is routed, while a slow request in flight completes', async (t) => {
  const [mango, apple] = await apps(t, 'mango', 'apple');
  const dir = t.testdir({});
  const file = join(dir, 'lb.yaml');
  writeFileSync(file, yaml([['www.mango.com', mango!]]));
  const proc = lb([LB, file]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const port = Number((await within(proc.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the listening line', STARTUP_MS))[1]);

  t.equal((await get(port, '/', 'www.apple.com')).status, 404, 'apple is not routed yet');
  const slow = get(port, '/slow?ms=500', 'www.mango.com');
  await within(proc.until(/"GET \/ HTTP\/1\.1" 404 \d+ "[^"]*" "[^"]*" www\.apple\.com /), 'the 404 to be logged', STARTUP_MS);

  writeFileSync(file, yaml([['www.mango.com', mango!], ['www.apple.com', apple!]]));
  proc.child.kill('SIGHUP');
  await within(proc.until(/SIGHUP: reloaded/), 'the reload', STARTUP_MS);
  const res = await get(port, '/', 'www.apple.com');
  t.same([res.status, res.server], [200, 'apple'], 'the new host is routed');
  const done = await slow;
  t.same([done.status, done.server], [200, 'mango'], 'the request in flight completed undisturbed');

  // An invalid config: the reason is logged and the old one keeps serving.
  writeFileSync(file, 'hosts:\n  - host: www.apple.com\n    servers: [8083]\n');
  proc.child.kill('SIGHUP');
  await within(proc.until(/ERROR SIGHUP: .*lb\.yaml:3:15: .*; keeping the running configuration/), 'the rejected reload', STARTUP_MS);
  t.same((await get(port, '/', 'www.apple.com')).status, 200, 'still serving with the last good config');
  t.same((await get(port, '/', 'www.mango.com')).status, 200);

  // A config that loads but fails what a start checks (a certificate that is not there): the same.
  writeFileSync(file, yaml([['www.apple.com', apple!]]).replace('listen: 127.0.0.1:0\n', 'listen:\n  address: 127.0.0.1:0\n  tls:\n    cert: nope.pem\n    key: nope.key\n'));
  proc.child.kill('SIGHUP');
  await within(proc.until(/ERROR SIGHUP: .*lb\.yaml:4:11: listen\.tls\.cert: .*nope\.pem.*; keeping the running configuration/), 'the reload the preflight stopped', STARTUP_MS);
  t.same((await get(port, '/', 'www.mango.com')).status, 200, 'still serving with the last good config');

  proc.child.kill('SIGTERM');
  t.equal((await proc.exit).code, 0);
});

t.test('SIGTERM: a request in flight finishes, new connections are refused, exit 0', async (t) => {
  const [mango] = await apps(t, 'mango');
  const dir = t.testdir({ 'lb.yaml': yaml([['www.mango.com', mango!]]) });
  const proc = lb([LB, 'lb.yaml'], dir);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const port = Number((await within(proc.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the listening line', STARTUP_MS))[1]);
  const slow = get(port, '/slow?ms=400', 'www.mango.com');
  await slowRequestArrived(mango!);
  proc.child.kill('SIGTERM');
  await within(proc.until(/SIGTERM: closing/), 'closing', STARTUP_MS);
  const res = await slow;
  t.same([res.status, res.server], [200, 'mango'], 'the request in flight got its whole response');
  const { code, stdout, stderr } = await proc.exit;
  t.equal(code, 0);
  t.match(stderr, /INFO closed\n$/);
  t.match(stdout, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/slow\?ms=400 HTTP\/1\.1" 200 /, 'stdout: the access line');
  t.equal(stdout.split('\n').length, 2, 'and nothing else');
  await t.rejects(get(port, '/', 'www.mango.com'), 'the listener is gone');
});

t.test('SIGTERM: past timeouts.drain, requests still in flight are cut and the process exits', async (t) => {
  const [mango] = await apps(t, 'mango');
  const dir = t.testdir({ 'lb.yaml': yaml([['www.mango.com', mango!]]) + 'timeouts: { drain: 200ms }\n' });
  const proc = lb([LB, 'lb.yaml'], dir);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const port = Number((await within(proc.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the listening line', STARTUP_MS))[1]);
  const slow = get(port, '/slow?ms=20000', 'www.mango.com').catch((err: Error) => err);
  await slowRequestArrived(mango!);
  const started = Date.now();
  proc.child.kill('SIGTERM');
  const { code, stderr } = await proc.exit;
  t.equal(code, 0);
  t.ok(Date.now() - started < 10_000, 'did not wait for the 20 s request');
  t.match(stderr, /drain: [1-9]\d* connection\(s\) still busy after 200 ms, closing them/);
  t.type(await slow, Error, 'the cut request saw its connection end');
});

proxyTest(t, 'reload in process: servers that remain keep their state; removed ones lose their idle connections', async (t, h) => {
  const [a, b, c] = await h.backends('a', 'b', 'c');
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${a!.address}", "${b!.address}"]
`);
  const client = await h.client(proxy);
  for (let i = 0; i < 2; i++) t.equal((await client.get('/', 'x')).status, 200);
  const kept = serverOf(proxy, a!);
  const removed = serverOf(proxy, b!);
  t.equal(removed.idle.length, 1, 'b has a pooled connection');
  proxy.server['fleet'].setHealth(kept, false, 'status 500', 'check'); // as if its checks had failed

  const next = parseConfig(
    `listen: 127.0.0.2:0\nhealthcheck: { interval: 1m }\nservers: ["${a!.address}", "${c!.address}"]\n` +
      'timeouts: { connect: 500ms }\nlimits: { max_connections: 10 }\nlog: { format: json }\n',
    'next.yaml',
  );
  await proxy.server.reload(next);
  t.equal(serverOf(proxy, a!), kept, 'the same server object: state, counters and connections kept');
  t.equal(kept.up, false, 'still down until its checks say otherwise');
  t.equal(removed.idle.length, 0, 'the removed server’s idle connections are closed');
  t.same(proxy.server.servers.map((s) => s.port), [a!.port, c!.port]);
  t.equal((await client.get('/', 'x')).header('x-server'), 'c', 'requests go to the servers that are up now');
  await waitFor('a JSON access line', () => proxy.log.lines.some((l) => l.startsWith('{"time"') && l.includes('"server":"' + c!.address)));
  t.pass('log.format json took effect for the next request');
  t.ok(proxy.log.matching('reload: listen stays 127.0.0.1:').length === 1, 'a new listen address needs a restart');
  await t.rejects(proxy.server.reload(parseConfig('servers: ["no-such-host.invalid:80"]\n', 'bad.yaml')), 'a name that does not resolve fails the reload');
  await proxy.server.reload(parseConfig(`servers: ["${a!.address}", "${c!.address}"]\ntimeouts: { connect: 500ms }\nlog: { format: json }\n`, 'same.yaml'));
  t.pass('a reload without limits.max_connections lifts the limit');
  t.same(proxy.server.servers.map((s) => s.port), [a!.port, c!.port], 'and changes nothing');
});

proxyTest(t, 'admin: configured, the status page listens beside the proxy and stops with it', async (t, h) => {
  const [a] = await h.backends('a');
  const proxy = await h.proxy(`
admin: "[::1]:0"
healthcheck: { interval: 1m }
servers: ["${a!.address}"]
`);
  const [, port] = /status page on http:\/\/\[::1\]:(\d+)\//.exec(proxy.log.matching('status page on')[0]!)!;
  const status = await new Promise<{ servers: { name: string; up: boolean }[] }>((resolve, reject) =>
    http.get({ host: '::1', port: Number(port), path: '/status', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject),
  );
  t.same(status.servers.map((s) => [s.name, s.up]), [[a!.address, true]]);
  // No client connection yet: the timer wheel is not running, and a new resolution waits for one.
  await proxy.server.reload(parseConfig(`admin: 127.0.0.1:1\ntimeouts: { connect: 100ms }\nservers: ["${a!.address}"]\n`, 'next.yaml'));
  t.equal(proxy.log.matching('reload: the admin listener stays as it was').length, 1);
  await proxy.server.close();
  await t.rejects(
    new Promise((resolve, reject) => http.get({ host: '::1', port: Number(port), path: '/status', agent: false }, resolve).on('error', reject)),
    'the admin listener closed with the proxy',
  );
}, { alive: false });
